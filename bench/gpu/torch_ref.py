# The workloads of bench/gpu/kiln.mjs written with PyTorch (eager), timed the same way: the host
# clock around a loop, synchronized, median of 5 repetitions. Prints one JSON object.
#   python3 bench/gpu/torch_ref.py
import json
import math
import sys
import time

import torch

dev = torch.device("cuda")
rows = []


def log(*a):
    print("[torch]", *a, file=sys.stderr, flush=True)


def timed(fn, warmup=3, iters=10, reps=5):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    ms = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        torch.cuda.synchronize()
        ms.append((time.perf_counter() - t0) * 1e3 / iters)
    ms.sort()
    return ms[len(ms) // 2]


def gemm(n, tf32):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    a = torch.randn(n, n, device=dev)
    b = torch.randn(n, n, device=dev)
    ms = timed(lambda: a @ b, iters=5 if n >= 8192 else 20)
    torch.backends.cuda.matmul.allow_tf32 = False
    tflops = 2 * n**3 / (ms * 1e-3) / 1e12
    rows.append({"name": f"sgemm {n} {'tf32' if tf32 else 'fp32'}", "unit": "TFLOP/s", "value": tflops, "ms": ms})
    log(f"sgemm {n} {'tf32' if tf32 else 'fp32'}: {ms:.3f} ms, {tflops:.1f} TFLOP/s")


def add():
    n = 64 * 2**20
    a = torch.rand(n, device=dev)
    b = torch.rand(n, device=dev)
    ms = timed(lambda: a + b, iters=50)
    gbs = 3 * 4 * n / (ms * 1e-3) / 1e9
    rows.append({"name": "add 64M float32", "unit": "GB/s", "value": gbs, "ms": ms})
    log(f"add 64M: {ms:.3f} ms, {gbs:.0f} GB/s")


def mlp(batch):
    dims = [784, 256, 256, 10]
    params = []
    for i in range(3):
        bound = 1 / math.sqrt(dims[i])
        params.append(((torch.rand(dims[i], dims[i + 1], device=dev) * 2 - 1) * bound).requires_grad_())
        params.append(((torch.rand(dims[i + 1], device=dev) * 2 - 1) * bound).requires_grad_())
    x = torch.randn(batch, 784, device=dev)
    y = torch.randint(0, 10, (batch,), device=dev)
    lr = 0.01
    state = {}

    def step():
        w1, b1, w2, b2, w3, b3 = params
        h1 = torch.relu(x @ w1 + b1)
        h2 = torch.relu(h1 @ w2 + b2)
        logits = h2 @ w3 + b3
        loss = -logits.log_softmax(1).gather(1, y.unsqueeze(1)).mean()
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(g * lr)
        state["loss"] = loss

    ms = timed(step, warmup=5, iters=20)
    loss = state["loss"].item()
    rows.append({"name": f"MLP 784-256-256-10 SGD step, batch {batch}", "unit": "ms", "value": ms, "ms": ms, "loss": loss})
    log(f"MLP batch {batch}: {ms:.3f} ms/step (loss {loss:.4f})")


log(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}")
for name, task in [
    ("sgemm 4096 fp32", lambda: gemm(4096, False)),
    ("sgemm 4096 tf32", lambda: gemm(4096, True)),
    ("sgemm 8192 fp32", lambda: gemm(8192, False)),
    ("sgemm 8192 tf32", lambda: gemm(8192, True)),
    ("add 64M", add),
    ("MLP 128", lambda: mlp(128)),
    ("MLP 4096", lambda: mlp(4096)),
]:
    try:
        task()
    except Exception as e:  # a failed row must not lose the others
        log(f"{name} failed: {e}")
        rows.append({"name": name, "unit": "", "value": None, "error": str(e)})

print(json.dumps({"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "rows": rows}))

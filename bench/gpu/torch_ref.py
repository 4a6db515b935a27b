# The workloads of bench/gpu/kiln.mjs written with PyTorch (eager, its defaults: cuDNN for
# convolutions and the LSTM, TF32 allowed in cuDNN convolutions but not in matmuls), timed the
# same way: the host clock around a loop, synchronized, median of 5 repetitions. Prints one JSON
# object.
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


def tiny_ops():
    a = torch.rand(16, device=dev)
    b = torch.rand(16, device=dev)

    def chain():
        c = a
        for _ in range(100):
            c = c + b

    ms = timed(chain, iters=20)
    us = ms * 1e3 / 100
    rows.append({"name": "tiny add, per op (host overhead)", "unit": "us", "value": us, "ms": ms})
    log(f"tiny add: {us:.2f} us/op")


def adam_step(make):
    """A workload's model on the device and one Adam training step of it (PyTorch defaults)."""
    torch.manual_seed(0)
    model, x, y, loss = make()
    model.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss(model, x, y).backward()
        opt.step()

    return step, lambda: loss(model, x, y)


def train_step(name, make, iters=20):
    """One training step with torch.nn and Adam, as kiln.mjs's trainStep."""
    step, evaluate = adam_step(make)
    ms = timed(step, warmup=5, iters=iters)
    with torch.no_grad():
        final = evaluate().item()
    rows.append({"name": name, "unit": "ms", "value": ms, "ms": ms, "loss": final})
    log(f"{name}: {ms:.3f} ms/step (loss {final:.4f})")


nn = torch.nn
F = torch.nn.functional


def ce(m, x, y):
    return F.cross_entropy(m(x), y)


def mlp(batch):
    def make():
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
        return model, torch.randn(batch, 784, device=dev), torch.randint(0, 10, (batch,), device=dev), ce

    return make


def cnn(batch):
    def make():
        model = nn.Sequential(
            nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1024, 10))
        return model, torch.randn(batch, 1, 28, 28, device=dev), torch.randint(0, 10, (batch,), device=dev), ce

    return make


def lstm():
    model = nn.ModuleDict({"lstm": nn.LSTM(128, 256), "head": nn.Linear(256, 128)})

    def loss(m, xs, ys):
        _, (h, _) = m["lstm"](xs)
        return F.mse_loss(m["head"](h[0]), ys)

    return model, torch.randn(32, 32, 128, device=dev), torch.randn(32, 128, device=dev), loss


def transformer():
    model = nn.TransformerEncoderLayer(512, 8, dim_feedforward=2048, batch_first=True)
    return (model, torch.randn(32, 256, 512, device=dev), torch.randn(32, 256, 512, device=dev),
            lambda m, xs, ys: F.mse_loss(m(xs), ys))


log(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}")
for name, task in [
    ("sgemm 4096 fp32", lambda: gemm(4096, False)),
    ("sgemm 4096 tf32", lambda: gemm(4096, True)),
    ("sgemm 8192 fp32", lambda: gemm(8192, False)),
    ("sgemm 8192 tf32", lambda: gemm(8192, True)),
    ("add 64M float32", add),
    ("tiny add, per op (host overhead)", tiny_ops),
    *[(name, lambda name=name, make=make, iters=iters: train_step(name, make, iters)) for name, make, iters in [
        ("MLP 784-256-256-10 Adam step, batch 128", mlp(128), 20),
        ("MLP 784-256-256-10 Adam step, batch 4096", mlp(4096), 20),
        ("LeNet CNN Adam step, batch 64", cnn(64), 20),
        ("LeNet CNN Adam step, batch 1024", cnn(1024), 10),
        ("LSTM 128->256, 32 steps, batch 32, Adam step", lstm, 10),
        ("Transformer encoder layer d512 h8 ff2048, seq 256, batch 32, Adam step", transformer, 10),
    ]],
]:
    try:
        task()
    except Exception as e:  # a failed row must not lose the others
        log(f"{name} failed: {e}")
        rows.append({"name": name, "unit": "", "value": None, "error": str(e)})

print(json.dumps({"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "rows": rows}))


def profile_transformer():
    """Where PyTorch's Transformer step spends device time (to stderr, for the log)."""
    step, _ = adam_step(transformer)
    for _ in range(5):
        step()
    torch.cuda.synchronize()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        for _ in range(3):
            step()
        torch.cuda.synchronize()
    log("Transformer step, 3 steps, device time by kernel:")
    log(prof.key_averages().table(sort_by="cuda_time_total", row_limit=30, max_name_column_width=70))


try:
    profile_transformer()
except Exception as e:  # the profile is extra information only
    log(f"profile failed: {e}")

// Training in a worker thread while the main thread stays responsive.
//
// kiln's native calls are synchronous: a training loop on the main thread blocks its event loop
// (timers, I/O, an Electron window) for as long as it runs. Moved into a worker_threads worker,
// the same loop leaves the main thread free; each worker loads kiln on its own (tensors belong to
// the thread that made them; send plain arrays across).
//
// This trains a small MLP on y = sin(3x) in a worker, measures the main thread's event-loop delay
// meanwhile (perf_hooks.monitorEventLoopDelay), then runs the same training on the main thread
// for contrast.
//
//   node examples/worker-training.mjs [steps]     (in a checkout: after `npm run build:ts`)
import { once } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

function trainModel(kiln, steps, report) {
  const { nn, optim } = kiln;
  kiln.manualSeed(0);
  const x = kiln.linspace(-1, 1, 256).reshape([256, 1]);
  const y = x.mul(3).sin();
  const model = new nn.Sequential(new nn.Linear(1, 64), new nn.Tanh(), new nn.Linear(64, 64), new nn.Tanh(), new nn.Linear(64, 1));
  const opt = new optim.Adam(model.parameters(), { lr: 0.01 });
  let loss = NaN;
  for (let step = 1; step <= steps; step++) {
    kiln.tidy(() => {
      opt.zeroGrad();
      const l = nn.functional.mseLoss(model.forward(x), y);
      l.backward();
      opt.step();
      loss = l.item();
    });
    if (step % 100 === 0 || step === steps) report(step, loss);
  }
  return loss;
}

const ms = (ns) => `${(ns / 1e6).toFixed(1)} ms`;
// The histogram records each interval of its 10 ms sampling timer: an idle loop reads about 10 ms.
function summary(h) {
  return `p50 ${ms(h.percentile(50))}, p99 ${ms(h.percentile(99))}, max ${ms(h.max)} (10 ms = idle)`;
}

if (isMainThread) {
  const steps = Number(process.argv[2] ?? 600);

  // 1. In a worker. A 10 ms timer keeps ticking; the histogram samples the loop's delay.
  const delay = monitorEventLoopDelay({ resolution: 10 });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  delay.enable();
  const t0 = performance.now();
  const worker = new Worker(new URL(import.meta.url), { workerData: { steps } });
  worker.on('message', (m) => console.log(`  [worker] step ${String(m.step).padStart(4)}  loss ${m.loss.toFixed(5)}`));
  worker.on('error', (e) => {
    console.error(e);
    process.exitCode = 1;
  });
  console.log(`training ${steps} steps in a worker thread...`);
  await once(worker, 'exit');
  const workerMs = performance.now() - t0;
  delay.disable();
  clearInterval(timer);
  console.log(`main thread while the worker trained (${(workerMs / 1000).toFixed(1)} s):`);
  console.log(`  event-loop delay ${summary(delay)}; the 10 ms timer fired ${ticks} times (about ${Math.floor(workerMs / 10)} expected)`);

  // 2. The same training on the main thread, for contrast.
  const kiln = await import('kiln');
  const blocked = monitorEventLoopDelay({ resolution: 10 });
  ticks = 0;
  const timer2 = setInterval(() => ticks++, 10);
  blocked.enable();
  const t1 = performance.now();
  // let the loop turn once before blocking it, so the histogram sees the stall
  await new Promise((r) => setTimeout(r, 20));
  trainModel(kiln, steps, (step, loss) => step === steps && console.log(`training on the main thread instead: final loss ${loss.toFixed(5)}`));
  await new Promise((r) => setTimeout(r, 20));
  const mainMs = performance.now() - t1;
  blocked.disable();
  clearInterval(timer2);
  console.log(`main thread while it trained itself (${(mainMs / 1000).toFixed(1)} s):`);
  console.log(`  event-loop delay ${summary(blocked)}; the 10 ms timer fired ${ticks} times`);
} else {
  const kiln = await import('kiln');
  trainModel(kiln, workerData.steps, (step, loss) => parentPort.postMessage({ step, loss }));
}

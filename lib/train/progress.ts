// The terminal progress bar of fit() (cli-progress): epoch, batch, ETA, running loss and metric.
// When stderr is not a terminal it stays quiet and prints one summary line per epoch instead.
import { createRequire } from 'node:module';

import type cliProgressType from 'cli-progress';

// Loaded on first use: requiring it at import time would add to every program's start-up.
const loadCliProgress = () => createRequire(import.meta.url)('cli-progress') as typeof cliProgressType;

export interface Progress {
  startEpoch(epoch: number, epochs: number, batches: number): void;
  update(batch: number, values: Record<string, number>): void;
  endEpoch(summary: string): void;
  stop(): void;
}

function fmt(v: number): string {
  return Math.abs(v) >= 1000 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : v.toFixed(4);
}

export function formatValues(values: Record<string, number>): string {
  return Object.entries(values).map(([k, v]) => `${k} ${fmt(v)}`).join(' | ');
}

export function createProgress(mode: 'bar' | 'lines' | 'silent', stream: NodeJS.WriteStream = process.stderr): Progress {
  if (mode === 'silent') return { startEpoch() {}, update() {}, endEpoch() {}, stop() {} };
  if (mode === 'lines' || !stream.isTTY) {
    return {
      startEpoch() {},
      update() {},
      endEpoch(summary) {
        stream.write(summary + '\n');
      },
      stop() {},
    };
  }
  let bar: cliProgressType.SingleBar | null = null;
  let label = '';
  return {
    startEpoch(epoch, epochs, batches) {
      label = `Epoch ${epoch}/${epochs}`;
      const cliProgress = loadCliProgress();
      bar = new cliProgress.SingleBar({
        format: `${label} |{bar}| {value}/{total} | ETA {eta_formatted} | {metrics}`,
        barsize: 24,
        hideCursor: true,
        clearOnComplete: true,
        stream,
        etaBuffer: 50,
        fps: 10,
      }, cliProgress.Presets.shades_classic);
      bar.start(batches, 0, { metrics: '' });
    },
    update(batch, values) {
      bar?.update(batch, { metrics: formatValues(values) });
    },
    endEpoch(summary) {
      bar?.stop();
      bar = null;
      stream.write(summary + '\n');
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}

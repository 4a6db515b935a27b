// Neural-network primitives (fused native kernels with derivative rules made of primitives) and
// their functional wrappers, for lib/nn.
export {
  convP, convTransposeP, convWeightGradP, convNd, conv1d, conv2d, conv3d,
  convTransposeNd, convTranspose1d, convTranspose2d, convTranspose3d, tuple,
} from './conv.js';
export type { ConvGeometry, ConvOptions, ConvTransposeOptions, ConvPadding, IntOrTuple } from './conv.js';
export {
  maxPoolIndicesP, maxPoolP, maxPoolGradP, avgPoolP, avgPoolTransposeP,
  maxPool1d, maxPool2d, maxPool3d, maxPool1dWithIndices, maxPool2dWithIndices, maxPool3dWithIndices,
  adaptiveMaxPool1d, adaptiveMaxPool2d, adaptiveMaxPool2dWithIndices,
  avgPool1d, avgPool2d, avgPool3d, adaptiveAvgPool1d, adaptiveAvgPool2d, adaptiveAvgPool3d,
} from './pool.js';
export type { PoolGeometry, MaxPoolOptions, AvgPoolOptions, AdaptiveSize } from './pool.js';
export {
  lstmCellP, lstmCellBackwardP, lstmCell, lstmGates, lstmCellReference, lstmCellBackwardReference,
  gruCellP, gruCellBackwardP, gruCell, gruGates, gruCellReference, gruCellBackwardReference,
} from './rnn.js';
export { normalizeP, normalizeBackwardP, momentsP, normalize, normalizeBackwardReference, batchNorm, layerNorm, groupNorm } from './norm.js';
export type { BatchNormOptions } from './norm.js';
export { layerNormP, layerNormBackwardP, layerNormReference, layerNormBackwardReference, fusedLayerNorm, fusedLayerNormApplies } from './layer-norm.js';
export {
  softmaxP, logSoftmaxP, softmax, logSoftmax,
  softmaxBackwardP, logSoftmaxBackwardP, softmaxBackwardReference, logSoftmaxBackwardReference,
  crossEntropyMeanP, crossEntropyMeanBackwardP, crossEntropyMean, crossEntropyMeanReference, crossEntropyMeanBackwardReference,
} from './softmax.js';
export { dropoutP, fusedDropout } from './dropout.js';
export type { DropoutAttrs } from './dropout.js';

// nn.functional: every layer and loss as a plain function of tensors.
export { relu, sigmoid, tanh, leakyRelu, elu, gelu, silu, softplus, softmax, logSoftmax } from './activation.js';
export { linear, bilinear } from './linear.js';
export {
  conv1d, conv2d, conv3d, convTranspose1d, convTranspose2d, convTranspose3d,
  maxPool1d, maxPool2d, maxPool3d, maxPool1dWithIndices, maxPool2dWithIndices,
  avgPool1d, avgPool2d, avgPool3d, adaptiveAvgPool1d, adaptiveAvgPool2d, adaptiveAvgPool3d, adaptiveMaxPool1d, adaptiveMaxPool2d,
} from './conv.js';
export type { ConvOptions, ConvTransposeOptions, PoolOptions, AvgPoolOptions, AdaptiveSize, IntOrPair, Padding } from './conv.js';
export { pad } from './padding.js';
export type { PadMode } from './padding.js';
export { batchNorm, layerNorm, groupNorm, dropout, embedding, oneHot } from './normalization.js';
export type { BatchNormOptions } from './normalization.js';
export {
  crossEntropy, nllLoss, mseLoss, l1Loss, smoothL1Loss, huberLoss, bceLoss, bceWithLogits, klDiv,
  cosineSimilarity, cosineEmbeddingLoss, marginRankingLoss,
} from './loss.js';
export type { Reduction, NllOptions, CrossEntropyOptions } from './loss.js';
export { scaledDotProductAttention, attentionWeights, causalMask, multiHeadAttentionForward } from './attention.js';
export type { SdpaOptions, MhaOptions, MhaParams } from './attention.js';
export { rnnCell, lstmCell, gruCell, rnnForward } from './rnn.js';
export type { RnnConfig, RnnMode, RnnWeights } from './rnn.js';

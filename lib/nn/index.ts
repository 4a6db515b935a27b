// kiln.nn: modules, layers, losses, initialization and the functional namespace.
export { Module, Parameter, Sequential, ModuleList, ModuleDict } from './module.js';
export type { StateDict, StateDictLoadResult } from './module.js';
export * as functional from './functional/index.js';
export * as init from './init.js';
export { Linear, Bilinear, Identity, Flatten, Unflatten } from './layers/linear.js';
export type { LayerOptions } from './layers/linear.js';
export { Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d } from './layers/conv.js';
export type { ConvLayerOptions, ConvTransposeLayerOptions, PaddingMode } from './layers/conv.js';
export { MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool2d } from './layers/pooling.js';
export { BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm, Dropout, Embedding } from './layers/normalization.js';
export type { BatchNormLayerOptions } from './layers/normalization.js';
export { ReLU, LeakyReLU, ELU, GELU, SiLU, Sigmoid, Tanh, Softplus, Softmax, LogSoftmax } from './layers/activation.js';
export {
  CrossEntropyLoss, NLLLoss, MSELoss, L1Loss, SmoothL1Loss, HuberLoss, BCELoss, BCEWithLogitsLoss, KLDivLoss,
} from './layers/loss.js';
export { RNN, LSTM, GRU } from './layers/rnn.js';
export type { LstmOptions, RnnOptions } from './layers/rnn.js';
export {
  MultiheadAttention, TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder, TransformerDecoder, Transformer,
} from './layers/transformer.js';
export type {
  MultiheadAttentionOptions, TransformerLayerOptions, EncoderLayerCallOptions, DecoderLayerCallOptions, Activation,
  EncoderCallOptions, TransformerOptions, TransformerCallOptions, EncoderLayerLike, DecoderLayerLike, NormLike,
} from './layers/transformer.js';

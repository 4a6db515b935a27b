// Convolutions and pooling for nn: the fused native primitives of lib/ops/nn (conv, its
// transpose and weight gradient; max pooling by argmax + gather; average pooling and its
// adjoint), re-exported under nn.functional with the layer-facing types.
export {
  conv1d, conv2d, conv3d, convTranspose1d, convTranspose2d, convTranspose3d,
  maxPool1d, maxPool2d, maxPool3d, maxPool1dWithIndices, maxPool2dWithIndices,
  avgPool1d, avgPool2d, avgPool3d, adaptiveAvgPool1d, adaptiveAvgPool2d, adaptiveAvgPool3d,
  adaptiveMaxPool1d, adaptiveMaxPool2d, tuple,
} from '../../ops/nn/index.js';
export type {
  ConvOptions, ConvTransposeOptions, MaxPoolOptions as PoolOptions, AvgPoolOptions, AdaptiveSize,
  IntOrTuple as IntOrPair, ConvPadding as Padding,
} from '../../ops/nn/index.js';

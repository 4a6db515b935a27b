// The portable float32 convolution kernels: see conv-isa-cases.ts.
import { runCases } from './conv-isa-cases.js';

process.env.KILN_CONV_ISA = 'portable';
runCases('portable');

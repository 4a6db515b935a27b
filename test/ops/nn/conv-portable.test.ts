// The portable float32 convolution kernels: see conv-isa-cases.ts.
import { runCases, runPoolCases } from './conv-isa-cases.js';

process.env.KILN_NN_ISA = 'portable';
runCases('portable');
runPoolCases('portable');

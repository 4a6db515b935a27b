// The AVX2 float32 convolution kernels (portable ones on a CPU without AVX2): see conv-isa-cases.ts.
import * as kiln from '../../../lib/index.js';
import { runCases, runPoolCases } from './conv-isa-cases.js';

process.env.KILN_NN_ISA = kiln.backendInfo().cpu.features.includes('avx2') ? 'avx2' : 'portable';
runCases(process.env.KILN_NN_ISA);
runPoolCases(process.env.KILN_NN_ISA);

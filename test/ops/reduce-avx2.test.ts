// The reductions with the AVX2 SIMD kernels (the portable ones on a CPU without AVX2): see
// reduce-cases.ts.
import * as kiln from '../../lib/index.js';
import { runReductionCases } from './reduce-cases.js';

process.env.KILN_SIMD = kiln.backendInfo().cpu.features.includes('avx2') ? 'avx2' : 'portable';
runReductionCases(process.env.KILN_SIMD);

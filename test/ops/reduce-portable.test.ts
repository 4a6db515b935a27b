// The reductions with the portable (non-SIMD) kernels: see reduce-cases.ts.
import * as kiln from '../../lib/index.js';
import { runReductionCases } from './reduce-cases.js';

process.env.KILN_SIMD = 'portable';
runReductionCases(process.env.KILN_SIMD);

// Both kernel builds, instantiated once for the kernel test suites.

import { compileKernels, instantiateKernels, type Kernels } from '../../build/js/kernels/index.js';

export const simd = await instantiateKernels((await compileKernels('simd')).module);
export const scalar = await instantiateKernels((await compileKernels('scalar')).module);
export const BUILDS: ReadonlyArray<readonly [string, Kernels]> = [
  ['simd', simd],
  ['scalar', scalar],
];

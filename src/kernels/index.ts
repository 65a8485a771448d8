// Host side of the AssemblyScript kernels (assembly/). Platform neutral: usable from Node, Deno
// and browsers; no Node API is imported at top level.
export { DType, KernelDType, Rounding } from './codes.js';
export type { KernelExports, KernelFlavor } from './types.js';
export { Kernels } from './kernels.js';
export { simdSupported, kernelWasmUrl, bindingsUrl, compileKernels, instantiateKernels } from './loader.js';
export { PACKINGS, packedTensorBytes } from './packings.js';
export type { Packing, PackingId, PackKernel } from './packings.js';

// Kernel exports. Built twice from this source (asconfig.json): with SIMD (`ASC_FEATURE_SIMD`
// true) and without; both builds export exactly the same functions with bit-identical results.
// All pointers are byte offsets into linear memory; kernels never allocate: the host owns
// everything above heapBase(). dtype and rounding codes are in codes.ts; other codes act as F32 /
// none (the host passes only valid codes).

export function heapBase(): usize { return __heap_base; }

export { widen } from './widen';
export { absSum } from './absmean';
export { firstNonFinite } from './finite';
export { quantize } from './quantize';
export { packRows, quantizePackRows } from './pack/bitnet-rs';
export { varintEncodeU32 } from './varint';
export { convertFloats } from './convert';
export { packHfU8 } from './pack/hf-u8';
export { unpackHfU8 } from './unpack/hf-u8';
export { packMsInt2 } from './pack/ms-int2';
export { packTq2_0 } from './pack/tq2_0';
export { packTq1_0 } from './pack/tq1_0';
export { packI2s } from './pack/i2_s';
export { packQ2_0 } from './pack/q2_0';
export { countRows } from './count';
export { ternaryBf16 } from './dequant';
export { quantizeQ8_0 } from './q8_0';
export { unpackI2s, unpackTq2_0, unpackQ2_0, i2sToHfU8 } from './unpack/gguf';
export { sha256Blocks, sha256Scratch } from './sha256';

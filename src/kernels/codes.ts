// The kernels' numeric codes: the only TypeScript copy (the only AssemblyScript copy is
// assembly/codes.ts). test/kernels.test.ts pins every code by what the kernels do with it.
// Platform neutral.

/**
 * Element dtype codes, as the kernels take them (little-endian elements). Named `KernelDType`
 * to tell it from the safetensors dtype strings; `DType` is the same table under its older name.
 */
export const KernelDType = { F32: 0, BF16: 1, F16: 2 } as const;
export type KernelDType = (typeof KernelDType)[keyof typeof KernelDType];

/** The same table as `KernelDType`. */
export const DType = KernelDType;
export type DType = KernelDType;

/**
 * Rounding applied to each product y = f32(x * s) before ternarization, emulating arithmetic in
 * the input dtype: none for F32 input (`F32`, alias `NONE`), BF16 / F16 significand rounding
 * (round to nearest even).
 */
export const Rounding = { NONE: 0, F32: 0, BF16: 1, F16: 2 } as const;
export type Rounding = (typeof Rounding)[keyof typeof Rounding];

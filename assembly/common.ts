// Shared element decoding for all kernels.
//
// Inside the kernels the dtype is a TYPE PARAMETER, so every dtype gets its own compiled loop with
// no dtype test inside (a runtime code passed to @inline helpers was not folded away by Binaryen):
//   f32 = F32, u16 = BF16, i16 = F16 (i16 is only a tag: signedness tells the two 16-bit formats apart).
// The exported functions map the runtime dtype code to one of these instantiations.

/** 2^112 as f32: moves an f16 exponent (bias 15) to the f32 bias (127) by a multiply. */
const F16_REBIAS: f32 = reinterpret<f32>(0x77800000);

/** Bytes per element of the dtype tag T. */
// @ts-ignore: decorator
@inline export function elemSize<T>(): usize {
  return sizeof<T>();
}

/**
 * IEEE half bits -> f32 bits, exact for every input. The 15 magnitude bits are put in f32 position
 * and multiplied by 2^112: that rebiases normals and, being exact, also normalises subnormals.
 * Exponent 31 (Inf/NaN) lands on 143 and is forced to 255 with the mantissa kept (NaN stays NaN).
 */
// @ts-ignore: decorator
@inline export function halfToF32Bits(h: u32): u32 {
  let mag = reinterpret<u32>(reinterpret<f32>((h & 0x7FFF) << 13) * F16_REBIAS);
  mag = (h & 0x7C00) == 0x7C00 ? mag | 0x7F800000 : mag;
  return mag | ((h & 0x8000) << 16);
}

/** Bits of element i as f32 (no arithmetic on the value, so NaN payloads survive). */
// @ts-ignore: decorator
@inline export function loadBits<T>(src: usize, i: usize): u32 {
  if (sizeof<T>() == 4) return load<u32>(src + (i << 2));
  let h = <u32>load<u16>(src + (i << 1));
  return isSigned<T>() ? halfToF32Bits(h) : h << 16; // F16 : BF16 (a 16-bit left shift)
}

/** Element i widened to f32. */
// @ts-ignore: decorator
@inline export function loadF32<T>(src: usize, i: usize): f32 {
  return reinterpret<f32>(loadBits<T>(src, i));
}

/** The SIMD twin of halfToF32Bits: 4 halves (zero-extended in i32 lanes) -> f32x4 bits. */
// @ts-ignore: decorator
@inline export function halfToF32x4(h: v128): v128 {
  let mag = f32x4.mul(i32x4.shl(v128.and(h, i32x4.splat(0x7FFF)), 13), f32x4.splat(F16_REBIAS));
  let infNan = i32x4.eq(v128.and(h, i32x4.splat(0x7C00)), i32x4.splat(0x7C00));
  mag = v128.or(mag, v128.and(infNan, i32x4.splat(0x7F800000)));
  return v128.or(mag, i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16));
}

/** Elements i..i+3 widened to f32x4 (only called in SIMD builds). */
// @ts-ignore: decorator
@inline export function loadF32x4<T>(src: usize, i: usize): v128 {
  if (sizeof<T>() == 4) return v128.load(src + (i << 2));
  let h = v128.load16x4_u(src + (i << 1));
  return isSigned<T>() ? halfToF32x4(h) : i32x4.shl(h, 16); // F16 : BF16
}

// Scalar float helpers for the host side (scales, tests, synthetic data): bf16 and f16
// encodings and round-to-nearest-even into them, on f32 values held in JS numbers.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0];
}

export function f32FromBits(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0];
}

export function bf16ToF32(h: number): number {
  return f32FromBits((h & 0xffff) << 16);
}

/** f32 -> bf16 bits, round to nearest even; NaN stays a quiet NaN. */
export function f32ToBf16(x: number): number {
  const u = f32Bits(x);
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The f32 value nearest to x that bf16 can hold (ties to even). */
export function roundBf16(x: number): number {
  return bf16ToF32(f32ToBf16(x));
}

export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 31) return man ? NaN : sign * Infinity;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}

/** Round half to even of a finite number to an integer. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** f32 -> f16 bits, round to nearest even, with f16's overflow to infinity and subnormals. */
export function f32ToF16(x: number): number {
  x = Math.fround(x);
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (Number.isNaN(x)) return 0x7e00;
  if (a >= 65520) return sign | 0x7c00; // 65520 is the tie between 65504 and 2^16: even side overflows
  if (a < 2 ** -14) return sign | roundHalfEven(a * 2 ** 24); // subnormal: quantum 2^-24 (may carry to 0x400, still right)
  const u = f32Bits(a);
  const r = (u + 0xfff + ((u >>> 13) & 1)) >>> 13; // f32 bits rounded to 10 mantissa bits
  const exp = (r >>> 10) - 127 + 15;
  return sign | (exp << 10) | (r & 0x3ff);
}

export function roundF16(x: number): number {
  return f16ToF32(f32ToF16(x));
}

/**
 * x (any double) rounded once to the nearest bf16 value, ties to even. Going through f32 first could
 * round twice: when f32 rounding lands exactly on a bf16 tie, the side x was on decides.
 */
export function roundF64ToBf16(x: number): number {
  const f = Math.fround(x);
  const u = f32Bits(f);
  if (f !== x && Number.isFinite(f) && (u & 0xffff) === 0x8000) {
    const up = Math.abs(x) > Math.abs(f); // the exact value lies beyond the tie: away from zero
    return bf16ToF32(((u >>> 16) + (up ? 1 : 0)) & 0xffff);
  }
  return roundBf16(f);
}

/** x (any double) rounded once to the nearest f16 value, ties to even (see roundF64ToBf16). */
export function roundF64ToF16(x: number): number {
  const f = Math.fround(x);
  const u = f32Bits(f);
  const a = Math.abs(f);
  // an f32 normal in f16's normal range whose 13 dropped bits are exactly a tie, made by rounding x
  if (f !== x && a >= 2 ** -14 && a < 65504 && (u & 0x1fff) === 0x1000) {
    const up = Math.abs(x) > a;
    return f32FromBits(up ? u + 0x1000 : u - 0x1000);
  }
  return roundF16(f);
}

// Ternary rows back to BF16, as Microsoft's gpu/convert_checkpoint.py makes its prefill weights
// (quant_weight_fp16: round(w * s) clamped, divided by s, in BF16; docs/formats.md 5): a value is
// +-scale or zero, and a zero keeps the sign of the source value it was rounded from (rounding -0.3
// gives -0.0). So out = sign | (q != 0 ? bits : 0), the sign from the source's top bit where a source is
// given (src != 0, its dtype `dtype`), else from q (a packed source keeps no sign for its zeros: +0).

import { BF16, F16 } from './codes';

export function ternaryBf16(q: usize, n: u32, bits: u32, dtype: u32, src: usize, dst: usize): void {
  let i: usize = 0;
  const end = <usize>n;
  const half = dtype == BF16 || dtype == F16;
  if (ASC_FEATURE_SIMD) {
    const mag = i16x8.splat(<i16>bits);
    const top = i16x8.splat(<i16>0x8000);
    for (; i + 8 <= end; i += 8) {
      const v = v128.load8x8_s(q + i); // -1 becomes 0xffff: its top bit is the sign
      let sign: v128;
      if (src == 0) sign = v;
      else if (half) sign = v128.load(src + (i << 1));
      else sign = i16x8.narrow_i32x4_u(i32x4.shr_u(v128.load(src + (i << 2)), 16), i32x4.shr_u(v128.load(src + (i << 2), 16), 16));
      const out = v128.or(v128.and(sign, top), v128.and(i16x8.ne(v, i16x8.splat(0)), mag));
      v128.store(dst + (i << 1), out);
    }
  }
  for (; i < end; i++) {
    const v = load<i8>(q + i);
    let sign: u32;
    if (src == 0) sign = v < 0 ? 0x8000 : 0;
    else if (half) sign = <u32>load<u16>(src + (i << 1)) & 0x8000;
    else sign = (load<u32>(src + (i << 2)) >>> 16) & 0x8000;
    store<u16>(dst + (i << 1), <u16>(sign | (v != 0 ? bits : 0)));
  }
}

// bincode 2 (config::standard) varints for u32: v < 251 -> 1 byte; v < 2^16 -> 0xFB + u16 LE;
// else 0xFC + u32 LE. Scalar in both builds (no SIMD gain worth the code).

/** Encodes n u32 values from src at dst; returns the number of bytes written. */
export function varintEncodeU32(src: usize, n: u32, dst: usize): u32 {
  let out = dst;
  let i: usize = 0;
  let end = <usize>n;
  // Branch-free bulk: every value stores 8 bytes and advances by its real length (1, 3 or 5); the
  // spill is overwritten by the following values. The last 8 values are written exactly, so
  // nothing lands beyond the returned length (8 values write at least the 8 - 1 spilled bytes).
  if (end > 8) {
    for (; i < end - 8; i++) {
      let v = load<u32>(src + (i << 2));
      let mid = v >= 251;
      let big = v >= 65536;
      let tagged = (<u64>v << 8) | <u64>(big ? 0xFC : 0xFB);
      store<u64>(out, mid ? tagged : <u64>v);
      out += 1 + (<usize>mid << 1) + (<usize>big << 1);
    }
  }
  for (; i < end; i++) {
    let v = load<u32>(src + (i << 2));
    if (v < 251) {
      store<u8>(out, <u8>v);
      out += 1;
    } else if (v < 65536) {
      store<u8>(out, 0xFB);
      store<u16>(out + 1, <u16>v);
      out += 3;
    } else {
      store<u8>(out, 0xFC);
      store<u32>(out + 1, v);
      out += 5;
    }
  }
  return <u32>(out - dst);
}

// The GGUF 2-bit ternary types back to i8 values (the inverses of pack/i2_s.ts, pack/tq2_0.ts and
// pack/q2_0.ts; docs/gguf.md 4 and 7), for a .gguf read as the input. `n` values (whole blocks) from
// `src` to `dst`; the code is value + 1, so code 3 is no value: it is written as 2 and a non-zero
// number is returned (0: every code is a value). The host then names the block with its own decoder.

/** I2_S: value 32k + m of each 128-value block (32 bytes) at bits 6 - 2k of byte m. */
export function unpackI2s(src: usize, n: u32, dst: usize): i32 {
  let bad: i32 = 0;
  let blocks = <usize>n >> 7;
  for (let b: usize = 0; b < blocks; b++) {
    let s = src + (b << 5);
    let d = dst + (b << 7);
    if (ASC_FEATURE_SIMD) {
      let three = i8x16.splat(3);
      let one = i8x16.splat(1);
      for (let m: usize = 0; m < 32; m += 16) {
        let v = v128.load(s + m);
        for (let k: u32 = 0; k < 4; k++) {
          let c = v128.and(i8x16.shr_u(v, 6 - 2 * k), three);
          v128.store(d + (<usize>k << 5) + m, i8x16.sub(c, one));
          bad += <i32>i8x16.bitmask(i8x16.eq(c, three));
        }
      }
    } else {
      for (let m: usize = 0; m < 32; m++) {
        let x = <u32>load<u8>(s + m);
        for (let k: u32 = 0; k < 4; k++) {
          let c = (x >> (6 - 2 * k)) & 3;
          store<i8>(d + (<usize>k << 5) + m, <i8>(c - 1));
          if (c == 3) bad++;
        }
      }
    }
  }
  return bad;
}

/** TQ2_0: 66-byte blocks of 256 values, qs[64] then fp16 d; value 128h + 32k + m at bits 2k of qs[32h + m]. */
export function unpackTq2_0(src: usize, n: u32, dst: usize): i32 {
  let bad: i32 = 0;
  let blocks = <usize>n >> 8;
  for (let b: usize = 0; b < blocks; b++) {
    let s = src + b * 66;
    let d = dst + (b << 8);
    for (let h: usize = 0; h < 2; h++) {
      if (ASC_FEATURE_SIMD) {
        let three = i8x16.splat(3);
        let one = i8x16.splat(1);
        for (let m: usize = 0; m < 32; m += 16) {
          let v = v128.load(s + (h << 5) + m);
          for (let k: u32 = 0; k < 4; k++) {
            let c = v128.and(i8x16.shr_u(v, 2 * k), three);
            v128.store(d + (h << 7) + (<usize>k << 5) + m, i8x16.sub(c, one));
            bad += <i32>i8x16.bitmask(i8x16.eq(c, three));
          }
        }
      } else {
        for (let m: usize = 0; m < 32; m++) {
          let x = <u32>load<u8>(s + (h << 5) + m);
          for (let k: u32 = 0; k < 4; k++) {
            let c = (x >> (2 * k)) & 3;
            store<i8>(d + (h << 7) + (<usize>k << 5) + m, <i8>(c - 1));
            if (c == 3) bad++;
          }
        }
      }
    }
  }
  return bad;
}

/** Q2_0: 18-byte blocks of 64 values, fp16 d then 16 bytes; value j at bits 2(j % 4) of byte 2 + j / 4. */
export function unpackQ2_0(src: usize, n: u32, dst: usize): i32 {
  let bad: i32 = 0;
  let blocks = <usize>n >> 6;
  for (let b: usize = 0; b < blocks; b++) {
    let s = src + b * 18 + 2;
    let d = dst + (b << 6);
    for (let i: usize = 0; i < 16; i++) {
      let x = <u32>load<u8>(s + i);
      if ((x & (x >> 1) & 0x55) != 0) bad++;
      // four codes to four bytes, each minus 1: (0x80 | c) - 1 never borrows, and ^ 0x80 leaves c - 1 as an i8
      let spread = (x & 3) | (((x >> 2) & 3) << 8) | (((x >> 4) & 3) << 16) | ((x >> 6) << 24);
      store<u32>(d + (i << 2), ((spread | 0x80808080) - 0x01010101) ^ 0x80808080);
    }
  }
  return bad;
}

/**
 * I2_S straight into hf-u8 (pack/hf-u8.ts), with no i8 values between: four bands of I2_S bytes (band
 * q: rows q*R + r0 .., `n` bytes of whole 32-byte blocks each) to 4n bytes, byte 128b + 32k + m holding
 * at bits 2q the code band q stores at bits 6 - 2k of its byte 32b + m. Both store value + 1, so the
 * codes move as they are; returns non-zero when some code is 3 (no value), for the host to name it.
 */
export function i2sToHfU8(b0: usize, b1: usize, b2: usize, b3: usize, n: u32, dst: usize): i32 {
  let blocks = <usize>n >> 5;
  if (ASC_FEATURE_SIMD) {
    let three = i8x16.splat(3);
    let odd = i8x16.splat(0x55);
    let bad = i8x16.splat(0);
    for (let b: usize = 0; b < blocks; b++) {
      let s = b << 5;
      let d = dst + (b << 7);
      for (let m: usize = 0; m < 32; m += 16) {
        let v0 = v128.load(b0 + s + m);
        let v1 = v128.load(b1 + s + m);
        let v2 = v128.load(b2 + s + m);
        let v3 = v128.load(b3 + s + m);
        // a code 3 has both of its bits set
        bad = v128.or(bad, v128.and(v128.and(v0, i8x16.shr_u(v0, 1)), odd));
        bad = v128.or(bad, v128.and(v128.and(v1, i8x16.shr_u(v1, 1)), odd));
        bad = v128.or(bad, v128.and(v128.and(v2, i8x16.shr_u(v2, 1)), odd));
        bad = v128.or(bad, v128.and(v128.and(v3, i8x16.shr_u(v3, 1)), odd));
        for (let k: u32 = 0; k < 4; k++) {
          let sh = 6 - 2 * k;
          let c = v128.and(i8x16.shr_u(v0, sh), three);
          c = v128.or(c, i8x16.shl(v128.and(i8x16.shr_u(v1, sh), three), 2));
          c = v128.or(c, i8x16.shl(v128.and(i8x16.shr_u(v2, sh), three), 4));
          c = v128.or(c, i8x16.shl(i8x16.shr_u(v3, sh), 6));
          v128.store(d + (<usize>k << 5) + m, c);
        }
      }
    }
    return <i32>v128.any_true(bad);
  } else {
    let bad: u32 = 0;
    for (let b: usize = 0; b < blocks; b++) {
      let s = b << 5;
      let d = dst + (b << 7);
      for (let m: usize = 0; m < 32; m++) {
        let x0 = <u32>load<u8>(b0 + s + m);
        let x1 = <u32>load<u8>(b1 + s + m);
        let x2 = <u32>load<u8>(b2 + s + m);
        let x3 = <u32>load<u8>(b3 + s + m);
        bad |= ((x0 & (x0 >> 1)) | (x1 & (x1 >> 1)) | (x2 & (x2 >> 1)) | (x3 & (x3 >> 1))) & 0x55;
        for (let k: u32 = 0; k < 4; k++) {
          let sh = 6 - 2 * k;
          store<u8>(d + (<usize>k << 5) + m, <u8>(((x0 >> sh) & 3) | (((x1 >> sh) & 3) << 2) | (((x2 >> sh) & 3) << 4) | (((x3 >> sh) & 3) << 6)));
        }
      }
    }
    return <i32>bad;
  }
}

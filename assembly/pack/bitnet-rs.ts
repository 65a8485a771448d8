// packRows / quantizePackRows: 16 ternary values per u32, element k of a group at bits 2k..2k+1
// (least significant first), +1 -> 0b01, -1 -> 0b10, 0 -> 0b00. Each row starts on a fresh word
// (the engine reads rows at a stride of ceil(cols / 16) words); the last word's tail is zero.
import { BF16, F16 } from '../codes';
import { elemSize, loadF32, loadF32x4 } from '../common';
import { quantThreshold } from '../quantize';

/** Words per packed row. */
// @ts-ignore: decorator
@inline function wordsPerRow(cols: u32): usize {
  return (<usize>cols + 15) >> 4;
}

/** 2-bit code of one i8: +1 -> 1, -1 -> 2, anything else 0. */
// @ts-ignore: decorator
@inline function codeOf(v: i32): u32 {
  return <u32>(v == 1) | (<u32>(v == -1) << 1);
}

/** Packs rows*cols i8 ternary values; returns how many were not in {-1, 0, 1} (packed as 0). */
export function packRows(src: usize, rows: u32, cols: u32, dst: usize): u32 {
  let wpr = wordsPerRow(cols);
  let full = <usize>cols >> 4;
  let bad: u32 = 0;
  for (let r: usize = 0; r < <usize>rows; r++) {
    let p = src + r * <usize>cols;
    let out = dst + ((r * wpr) << 2);
    let g: usize = 0;
    if (ASC_FEATURE_SIMD) {
      for (; g < full; g++) {
        let v = v128.load(p + (g << 4));
        let pos = i8x16.eq(v, i8x16.splat(1));
        let neg = i8x16.eq(v, i8x16.splat(-1));
        // interleave bytes pos0 neg0 pos1 neg1 ..., so the sign-bit mask is the packed word.
        let lo = i8x16.bitmask(i8x16.shuffle(pos, neg, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23));
        let hi = i8x16.bitmask(i8x16.shuffle(pos, neg, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31));
        store<u32>(out + (g << 2), <u32>lo | (<u32>hi << 16));
        // v + 1 > 2 (unsigned) <=> v not in {-1, 0, 1}
        bad += popcnt<u32>(i8x16.bitmask(i8x16.gt_u(i8x16.add(v, i8x16.splat(1)), i8x16.splat(2))));
      }
    }
    for (; g < wpr; g++) {
      // scalar groups (all of them in the scalar build), and the partial last group of a row
      let q = p + (g << 4);
      let k = min(<usize>cols - (g << 4), 16);
      let w: u32 = 0;
      for (let j: usize = 0; j < k; j++) {
        let v = <i32>load<i8>(q + j);
        w |= codeOf(v) << (<u32>j << 1);
        bad += <u32>(<u32>(v + 1) > 2);
      }
      store<u32>(out + (g << 2), w);
    }
  }
  return bad;
}

/** Fused quantize + packRows, identical output; the converter's hot path. */
export function quantizePackRows(dtype: u32, rounding: u32, src: usize, rows: u32, cols: u32, s: f32, dst: usize): void {
  let t = quantThreshold(rounding);
  if (dtype == BF16) quantizePackOf<u16>(src, rows, cols, s, t, dst);
  else if (dtype == F16) quantizePackOf<i16>(src, rows, cols, s, t, dst);
  else quantizePackOf<f32>(src, rows, cols, s, t, dst);
}

function quantizePackOf<T>(src: usize, rows: u32, cols: u32, s: f32, t: f32, dst: usize): void {
  let wpr = wordsPerRow(cols);
  let full = <usize>cols >> 4;
  for (let r: usize = 0; r < <usize>rows; r++) {
    let p = src + r * <usize>cols * elemSize<T>();
    let out = dst + ((r * wpr) << 2);
    let g: usize = 0;
    if (ASC_FEATURE_SIMD) {
      let sv = f32x4.splat(s);
      let tp = f32x4.splat(t);
      let tn = f32x4.splat(-t);
      // the low byte of each i16 lane comes from the "positive" mask, the high byte from "negative"
      let hiByte = i16x8.splat(<i16>0xFF00);
      for (; g < full; g++) {
        let i = g << 4;
        let y0 = f32x4.mul(loadF32x4<T>(p, i), sv);
        let y1 = f32x4.mul(loadF32x4<T>(p, i + 4), sv);
        let y2 = f32x4.mul(loadF32x4<T>(p, i + 8), sv);
        let y3 = f32x4.mul(loadF32x4<T>(p, i + 12), sv);
        let pos01 = i16x8.narrow_i32x4_s(f32x4.gt(y0, tp), f32x4.gt(y1, tp));
        let neg01 = i16x8.narrow_i32x4_s(f32x4.lt(y0, tn), f32x4.lt(y1, tn));
        let pos23 = i16x8.narrow_i32x4_s(f32x4.gt(y2, tp), f32x4.gt(y3, tp));
        let neg23 = i16x8.narrow_i32x4_s(f32x4.lt(y2, tn), f32x4.lt(y3, tn));
        // bytes pos0 neg0 pos1 neg1 ...: their sign bits are the 2-bit codes in order
        let lo = i8x16.bitmask(v128.bitselect(neg01, pos01, hiByte));
        let hi = i8x16.bitmask(v128.bitselect(neg23, pos23, hiByte));
        store<u32>(out + (g << 2), <u32>lo | (<u32>hi << 16));
      }
    }
    for (; g < wpr; g++) {
      let i = g << 4;
      let k = min(<usize>cols - i, 16);
      let w: u32 = 0;
      for (let j: usize = 0; j < k; j++) {
        let y = loadF32<T>(p, i + j) * s;
        w |= (<u32>(y > t) | (<u32>(y < -t) << 1)) << (<u32>j << 1);
      }
      store<u32>(out + (g << 2), w);
    }
  }
}

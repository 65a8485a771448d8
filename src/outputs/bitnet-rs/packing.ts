// The bitnet-rs packing, shared by its two file formats: stacked projections streamed row chunk by
// row chunk as u32 words (16 values a word, value i at bits 2i; +1 = 01, -1 = 10; each row on a
// fresh word), with one scale per output row.

import type { TernaryWeight } from '../../model/plan.js';
import { ternaryShape } from '../../model/plan.js';
import type { FloatDType } from '../../quant/rule.js';
import { roundBf16, roundF16 } from '../../quant/floats.js';
import type { WeightStream } from '../../stream/weights.js';
import { CorruptFileError } from '../../errors.js';
import { PACKINGS } from '../../kernels/packings.js';

/** u32 words a row of `cols` values takes. */
export const wordsPerRow = (cols: number): number => PACKINGS['bitnet-rs'].bytes(1, cols) / 4;

const roundRowScale: Record<FloatDType, (x: number) => number> = { F32: Math.fround, BF16: roundBf16, F16: roundF16 };

/**
 * Streams the stacked rows of `parts` as packed words; `onWords(ptr, count)` gets each chunk (in wasm
 * memory, reused). Returns one scale per row, each rounded once to `scaleDtype`; `varintBytes` > 0
 * reserves a buffer of that many bytes per row, passed as the third argument.
 */
export function packBitnetRsRows(
  s: WeightStream,
  parts: TernaryWeight[],
  scaleDtype: FloatDType,
  onWords: (ptr: number, count: number, extra: number) => void,
  extraBytesPerRow = 0,
): Float32Array {
  const cols = ternaryShape(parts[0]).cols;
  const wpr = wordsPerRow(cols);
  const scales = new Float32Array(parts.reduce((n, p) => n + ternaryShape(p).rows, 0));
  let row0 = 0;
  for (const part of parts) {
    const t = s.ternary(part, { words: wpr * 4, extra: extraBytesPerRow });
    for (let r = 0; r < t.rows; r += t.rowsPerChunk) {
      const n = Math.min(t.rowsPerChunk, t.rows - r);
      t.packed(PACKINGS['bitnet-rs'], r, n, t.buffers.words);
      onWords(t.buffers.words, n * wpr, t.buffers.extra);
    }
    // per-row (seed) scales are f32 values: rounding them to the dtype is one rounding
    if (t.rowScales) for (let r = 0; r < t.rows; r++) scales[row0 + r] = roundRowScale[scaleDtype](t.rowScales[r]);
    else scales.fill(t.scaleAs(scaleDtype), row0, row0 + t.rows);
    row0 += t.rows;
    t.done();
  }
  return scales;
}

/**
 * The inverse of the packing: rows x cols values from rows * wordsPerRow(cols) words; code 11 and
 * non-zero padding are refused (the index counted from row `row0` of the tensor).
 */
export function unpackBitnetRsWords(words: Uint32Array, rows: number, cols: number, file: string, tensor: string, row0 = 0): Int8Array {
  const wpr = wordsPerRow(cols);
  if (words.length !== rows * wpr) throw new CorruptFileError({ file, tensor }, `${rows * wpr} packed words for [${rows}, ${cols}]`, `${words.length}`);
  return PACKINGS['bitnet-rs'].unpack(new Uint8Array(words.buffer, words.byteOffset, words.byteLength), rows, cols, { file, tensor, row0, tensorRows: row0 + rows });
}

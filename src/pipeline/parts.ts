// Writes one output file (one "part") by streaming its tensors through the wasm kernels.
// Platform neutral: reading and writing go through the TensorSource and ByteSink interfaces,
// so the same code runs in a Node worker, in Deno, or in a browser.
//
// Memory stays bounded whatever the model's size: a tensor is read in chunks of whole rows
// into wasm memory. The per-projection absmean needs every element before the first one can
// be quantized, so a projection is read twice: pass 1 sums |w|, pass 2 quantizes and packs.

import { BincodeWriter, type BincodeFlavor } from '../formats/bincode.js';
import type { TensorInfo } from '../formats/safetensors.js';
import { DType, Rounding, type Kernels } from '../kernels/index.js';
import type { BlockPlan, LinearPlan } from '../model/layout.js';
import { absmeanScale, rowScale, type FloatDType, type ScaleGranularity } from '../quant/rule.js';
import { InvalidTernaryWeightError } from '../errors.js';

export interface TensorSource {
  /** Fills `dst` with the bytes of `file` starting at `position`, or throws. */
  readExactly(file: string, dst: Uint8Array, position: number): void;
}

export interface ByteSink {
  /** Consumes `bytes` before returning: the view points into wasm memory and is reused. */
  write(bytes: Uint8Array): void;
}

export interface PartOptions {
  bincode: BincodeFlavor;
  granularity: ScaleGranularity;
  /** Input bytes read per chunk (rounded to whole rows, at least one row). */
  chunkBytes: number;
}

export interface PartContext {
  kernels: Kernels;
  source: TensorSource;
  options: PartOptions;
  /** Called after every chunk read, for progress. */
  onBytesRead(bytes: number): void;
}

export type PartTask =
  | { kind: 'embedding'; file: string; tensor: TensorInfo }
  | { kind: 'norm'; file: string; tensor: TensorInfo }
  | { kind: 'lm_head'; file: string; linear: LinearPlan }
  | { kind: 'block'; file: string; block: BlockPlan };

export function writePart(ctx: PartContext, task: PartTask, sink: ByteSink): void {
  const w = new PartWriter(ctx, sink);
  switch (task.kind) {
    case 'embedding':
      w.weightAndShape(task.tensor);
      break;
    case 'norm':
      w.weightAndShape(task.tensor);
      break;
    case 'lm_head':
      w.bitLinear(task.linear);
      break;
    case 'block': {
      const b = task.block;
      w.bitLinear(b.wqkv);
      w.bitLinear(b.oProj);
      w.bitLinear(b.w13);
      w.bitLinear(b.w2);
      w.weightAndShape(b.attentionNorm);
      w.weightAndShape(b.ffnNorm);
      // Appended after the seed's four fields so a decoder of the seed's struct still reads the file.
      w.weightAndShape(b.attnSubNorm);
      w.weightAndShape(b.ffnSubNorm);
      break;
    }
  }
}

const DTYPE_CODE: Record<FloatDType, number> = { F32: DType.F32, BF16: DType.BF16, F16: DType.F16 };
const ROUNDING: Record<FloatDType, number> = { F32: Rounding.F32, BF16: Rounding.BF16, F16: Rounding.F16 };
const ELEMENT_BYTES: Record<FloatDType, number> = { F32: 4, BF16: 2, F16: 2 };

/** wasm buffers for one chunk: raw input, f32/u32 scratch, encoded output. */
interface Buffers {
  input: number;
  inputBytes: number;
  scratch: number;
  out: number;
}

class PartWriter {
  private buffers: Buffers | undefined;

  constructor(
    private readonly ctx: PartContext,
    private readonly sink: ByteSink,
  ) {}

  private get k() {
    return this.ctx.kernels;
  }

  private small(fill: (w: BincodeWriter) => void): void {
    const w = new BincodeWriter(this.ctx.options.bincode, 64);
    fill(w);
    this.sink.write(w.bytes());
  }

  /**
   * Buffers for chunks of `inputBytes`: the scratch holds the chunk widened to f32 (or its
   * packed words), the output its varint encoding (at most 5 bytes a word).
   */
  private buffersFor(inputBytes: number): Buffers {
    if (this.buffers && this.buffers.inputBytes >= inputBytes) return this.buffers;
    const k = this.k;
    k.reset();
    const input = k.alloc(inputBytes);
    const scratch = k.alloc(inputBytes * 2 + 64);
    const out = k.alloc(inputBytes * 3 + 64); // varints: up to 5 bytes per word, 2.5x the input when rows are 1 wide
    this.buffers = { input, inputBytes, scratch, out };
    return this.buffers;
  }

  /** Calls `fn` for consecutive chunks of whole rows of `t`, read into wasm memory. */
  private forEachRowChunk(t: TensorInfo, fn: (ptr: number, firstRow: number, rows: number) => void): void {
    const [rows, cols] = t.shape;
    const rowBytes = cols * ELEMENT_BYTES[dtypeOf(t)];
    const rowsPerChunk = Math.max(1, Math.floor(this.ctx.options.chunkBytes / Math.max(1, rowBytes)));
    const b = this.buffersFor(rowsPerChunk * rowBytes);
    for (let r = 0; r < rows; r += rowsPerChunk) {
      const n = Math.min(rowsPerChunk, rows - r);
      const bytes = n * rowBytes;
      this.ctx.source.readExactly(t.file, this.k.u8(b.input, bytes), t.offset + r * rowBytes);
      this.ctx.onBytesRead(bytes);
      fn(b.input, r, n);
    }
  }

  /**
   * Sum of |w| over a whole tensor (pass 1). The kernel sums in f64: exact for f16 and for
   * typical bf16 tensors, and otherwise within an ulp of f64, far below the f32/bf16 roundings
   * of the mean, so the chunk size does not change the scale.
   */
  private absSum(t: TensorInfo): number {
    const dtype = dtypeOf(t);
    const size = ELEMENT_BYTES[dtype];
    const perChunk = Math.max(1, Math.floor(this.ctx.options.chunkBytes / size));
    const b = this.buffersFor(perChunk * size);
    let total = 0;
    for (let first = 0; first < t.elements; first += perChunk) {
      const n = Math.min(perChunk, t.elements - first);
      this.ctx.source.readExactly(t.file, this.k.u8(b.input, n * size), t.offset + first * size);
      this.ctx.onBytesRead(n * size);
      const sum = this.k.exports.absSum(DTYPE_CODE[dtype], b.input, n);
      if (!Number.isFinite(sum)) this.throwNonFinite(t, b.input, first, n);
      total += sum;
    }
    return total;
  }

  /** Locates the first NaN or infinity of a chunk for the error message (slow path, errors only). */
  private throwNonFinite(t: TensorInfo, ptr: number, first: number, n: number): never {
    const b = this.buffers!;
    this.k.exports.widen(DTYPE_CODE[dtypeOf(t)], ptr, n, b.scratch);
    const values = this.k.f32(b.scratch, n);
    const i = values.findIndex((v) => !Number.isFinite(v));
    const at = first + Math.max(0, i);
    const cols = t.shape[1];
    throw new InvalidTernaryWeightError(
      { file: t.file, tensor: t.name },
      'finite weights',
      `${values[i]} at [${Math.floor(at / cols)}, ${at % cols}]`,
    );
  }

  /** A BitLinearRecord: packed_weights, weight_scales, in_features, out_features. */
  bitLinear(plan: LinearPlan): void {
    const cols = plan.inFeatures;
    const wordsPerRow = Math.ceil(cols / 16);
    this.small((w) => w.usize(plan.outFeatures * wordsPerRow));
    const scales = new Float32Array(plan.outFeatures);
    let row0 = 0;
    for (const part of plan.parts) {
      if (this.ctx.options.granularity === 'row') this.ternaryRowsRowScale(part, scales, row0);
      else this.ternaryRows(part, scales, row0);
      row0 += part.shape[0];
    }
    this.small((w) => w.vecF32(scales).usize(plan.inFeatures).usize(plan.outFeatures));
  }

  /** Per-projection scale (the reference rule): pass 1 for the mean, pass 2 to quantize. */
  private ternaryRows(t: TensorInfo, scales: Float32Array, row0: number): void {
    const dtype = dtypeOf(t);
    const { inverse, scale } = absmeanScale(this.absSum(t), t.elements, dtype);
    scales.fill(scale, row0, row0 + t.shape[0]);
    const cols = t.shape[1];
    this.forEachRowChunk(t, (ptr, _firstRow, rows) => {
      const words = this.buffers!.scratch;
      this.k.exports.quantizePackRows(DTYPE_CODE[dtype], ROUNDING[dtype], ptr, rows, cols, inverse, words);
      this.writeWords(words, rows * Math.ceil(cols / 16));
    });
  }

  /** The seed's per-row scale: one pass, each row's mean|row| computed just before it is packed. */
  private ternaryRowsRowScale(t: TensorInfo, scales: Float32Array, row0: number): void {
    const dtype = dtypeOf(t);
    const cols = t.shape[1];
    const rowBytes = cols * ELEMENT_BYTES[dtype];
    const wordsPerRow = Math.ceil(cols / 16);
    this.forEachRowChunk(t, (ptr, firstRow, rows) => {
      const words = this.buffers!.scratch;
      for (let r = 0; r < rows; r++) {
        const rowPtr = ptr + r * rowBytes;
        const sum = this.k.exports.absSum(DTYPE_CODE[dtype], rowPtr, cols);
        if (!Number.isFinite(sum)) this.throwNonFinite(t, rowPtr, (firstRow + r) * cols, cols);
        const { inverse, scale } = rowScale(sum, cols);
        scales[row0 + firstRow + r] = scale;
        this.k.exports.quantizePackRows(DTYPE_CODE[dtype], Rounding.F32, rowPtr, 1, cols, inverse, words + r * wordsPerRow * 4);
      }
      this.writeWords(words, rows * wordsPerRow);
    });
  }

  /** Packed u32 words as bincode: varints in standard, raw little-endian u32 in legacy. */
  private writeWords(ptr: number, count: number): void {
    if (this.ctx.options.bincode === 'legacy') {
      this.sink.write(this.k.u8(ptr, count * 4));
      return;
    }
    const out = this.buffers!.out;
    const n = this.k.exports.varintEncodeU32(ptr, count, out);
    this.sink.write(this.k.u8(out, n));
  }

  /** RmsNormRecord / EmbeddingRecord: the weights widened to f32, then the (promoted) shape. */
  weightAndShape(t: TensorInfo): void {
    const dtype = dtypeOf(t);
    this.small((w) => w.usize(t.elements));
    const cols = t.shape[1];
    this.forEachRowChunk(t, (ptr, firstRow, rows) => {
      const n = rows * cols;
      const sum = this.k.exports.absSum(DTYPE_CODE[dtype], ptr, n); // only to reject NaN/Inf
      if (!Number.isFinite(sum)) this.throwNonFinite(t, ptr, firstRow * cols, n);
      if (dtype === 'F32') {
        this.sink.write(this.k.u8(ptr, n * 4));
      } else {
        const scratch = this.buffers!.scratch;
        this.k.exports.widen(DTYPE_CODE[dtype], ptr, n, scratch);
        this.sink.write(this.k.u8(scratch, n * 4));
      }
    });
    this.small((w) => w.vecUsize(t.shape));
  }
}

function dtypeOf(t: TensorInfo): FloatDType {
  return t.dtype as FloatDType;
}

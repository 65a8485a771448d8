// Writes one output file (one "part") by streaming its tensors through the wasm kernels.
// Platform neutral: reading and writing go through the TensorSource and ByteSink interfaces,
// so the same code runs in a Node worker, in Deno, or in a browser.
//
// Memory stays bounded whatever the model's size: a tensor is read in chunks of whole rows
// into wasm memory. The per-projection absmean needs every element before the first one can
// be quantized: a projection up to `holdBytes` is read once and kept in wasm memory for both
// passes; a larger one (a big tied embedding) is read twice: pass 1 sums |w|, pass 2 quantizes.

import { BincodeWriter, type BincodeFlavor } from '../formats/bincode.js';
import { DTYPE_SIZE, type TensorInfo } from '../formats/safetensors.js';
import { DType, type Kernels } from '../kernels/index.js';
import type { BlockPlan, LinearPlan } from '../model/layout.js';
import { absmeanScale, rowScale, type FloatDType, type QuantRule, type ScaleGranularity } from '../quant/rule.js';
import { InvalidTernaryWeightError } from '../errors.js';
import { bf16ToF32, f16ToF32 } from '../quant/floats.js';

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
  /** offline: the reference rule in the tensor's dtype; online: transformers' f32 WeightQuant. */
  rule: QuantRule;
  /** Input bytes read per chunk (rounded to whole rows, at least one row). */
  chunkBytes: number;
  /** Projections up to this size are read once and held in memory for both passes. */
  holdBytes: number;
}

export interface PartContext {
  kernels: Kernels;
  source: TensorSource;
  options: PartOptions;
  /** Called after every chunk read, for progress. */
  onBytesRead(bytes: number): void;
  /** Called when a tensor is fully written, for progress. */
  onTensorDone(): void;
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

/** wasm buffers: a held projection, and for one chunk: raw input, f32/u32 scratch, encoded output. */
interface Buffers {
  held: number;
  heldBytes: number;
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
   * Buffers for chunks of `inputBytes` (the scratch holds a chunk widened to f32 or its packed
   * words, the output its varint encoding, at most 5 bytes a word) and a held tensor of
   * `heldBytes`. Grows only; growing drops what the buffers held.
   */
  private buffersFor(inputBytes: number, heldBytes = 0): Buffers {
    const cur = this.buffers;
    if (cur && cur.inputBytes >= inputBytes && cur.heldBytes >= heldBytes) return cur;
    inputBytes = Math.max(inputBytes, cur?.inputBytes ?? 0);
    heldBytes = Math.max(heldBytes, cur?.heldBytes ?? 0);
    const k = this.k;
    k.reset();
    this.buffers = {
      held: k.alloc(heldBytes),
      heldBytes,
      input: k.alloc(inputBytes),
      inputBytes,
      scratch: k.alloc(inputBytes * 2 + 64),
      out: k.alloc(inputBytes * 3 + 64), // 2.5x the input when rows are 1 wide
    };
    return this.buffers;
  }

  private rowsPerChunk(t: TensorInfo): { rowBytes: number; rowsPerChunk: number } {
    const rowBytes = t.shape[1] * DTYPE_SIZE[dtypeOf(t)];
    return { rowBytes, rowsPerChunk: Math.max(1, Math.floor(this.ctx.options.chunkBytes / Math.max(1, rowBytes))) };
  }

  /**
   * Calls `fn` for consecutive chunks of whole rows of `t`: read into wasm memory, or, when the
   * tensor is already held at `held`, pointing into it.
   */
  private forEachRowChunk(t: TensorInfo, fn: (ptr: number, firstRow: number, rows: number) => void, held?: number): void {
    const rows = t.shape[0];
    const { rowBytes, rowsPerChunk } = this.rowsPerChunk(t);
    const b = this.buffersFor(rowsPerChunk * rowBytes);
    for (let r = 0; r < rows; r += rowsPerChunk) {
      const n = Math.min(rowsPerChunk, rows - r);
      if (held !== undefined) {
        fn(held + r * rowBytes, r, n);
        continue;
      }
      const bytes = n * rowBytes;
      this.ctx.source.readExactly(t.file, this.k.u8(b.input, bytes), t.offset + r * rowBytes);
      this.ctx.onBytesRead(bytes);
      fn(b.input, r, n);
    }
  }

  /** Reads a whole tensor into the held buffer (chunk buffers sized first, so it stays valid). */
  private hold(t: TensorInfo): number {
    const { rowBytes, rowsPerChunk } = this.rowsPerChunk(t);
    const b = this.buffersFor(rowsPerChunk * rowBytes, t.byteLength);
    this.ctx.source.readExactly(t.file, this.k.u8(b.held, t.byteLength), t.offset);
    this.ctx.onBytesRead(t.byteLength);
    return b.held;
  }

  /**
   * Sum of |w| over a whole tensor (pass 1). The kernel sums in f64: exact for f16 and for
   * typical bf16 tensors, and otherwise within an ulp of f64, far below the f32/bf16 roundings
   * of the mean, so the chunk size does not change the scale.
   */
  private absSum(t: TensorInfo): number {
    const dtype = dtypeOf(t);
    const size = DTYPE_SIZE[dtype];
    const perChunk = Math.max(1, Math.floor(this.ctx.options.chunkBytes / size));
    const b = this.buffersFor(perChunk * size);
    let total = 0;
    for (let first = 0; first < t.elements; first += perChunk) {
      const n = Math.min(perChunk, t.elements - first);
      this.ctx.source.readExactly(t.file, this.k.u8(b.input, n * size), t.offset + first * size);
      this.ctx.onBytesRead(n * size);
      total += this.checkedAbsSum(t, b.input, first, n);
    }
    return total;
  }

  /** The kernel's sum of |w| over n elements at ptr, refusing NaN and infinities. */
  private checkedAbsSum(t: TensorInfo, ptr: number, first: number, n: number): number {
    const sum = this.k.exports.absSum(DTYPE_CODE[dtypeOf(t)], ptr, n);
    if (!Number.isFinite(sum)) this.throwNonFinite(t, ptr, first, n);
    return sum;
  }

  /** Locates the first NaN or infinity for the error message (slow path, errors only). */
  private throwNonFinite(t: TensorInfo, ptr: number, first: number, n: number): never {
    const dtype = dtypeOf(t);
    const size = DTYPE_SIZE[dtype];
    const view = new DataView(this.k.exports.memory.buffer, ptr, n * size);
    const at = (i: number) =>
      dtype === 'F32' ? view.getFloat32(i * 4, true) : dtype === 'BF16' ? bf16ToF32(view.getUint16(i * 2, true)) : f16ToF32(view.getUint16(i * 2, true));
    let i = 0;
    while (i < n - 1 && Number.isFinite(at(i))) i++;
    const index = first + i;
    const cols = t.shape[1];
    throw new InvalidTernaryWeightError(
      { file: t.file, tensor: t.name },
      'finite weights',
      `${at(i)} at [${Math.floor(index / cols)}, ${index % cols}]`,
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
      this.ctx.onTensorDone();
    }
    this.small((w) => w.vecF32(scales).usize(plan.inFeatures).usize(plan.outFeatures));
  }

  /** Per-projection scale (the reference rule): pass 1 for the mean, pass 2 to quantize. */
  private ternaryRows(t: TensorInfo, scales: Float32Array, row0: number): void {
    const dtype = dtypeOf(t);
    const held = t.byteLength <= this.ctx.options.holdBytes ? this.hold(t) : undefined;
    const sum = held === undefined ? this.absSum(t) : this.checkedAbsSum(t, held, 0, t.elements);
    const { inverse, scale, rounding } = absmeanScale(sum, t.elements, dtype, this.ctx.options.rule);
    scales.fill(scale, row0, row0 + t.shape[0]);
    const cols = t.shape[1];
    this.forEachRowChunk(
      t,
      (ptr, _firstRow, rows) => {
        const words = this.buffers!.scratch;
        this.k.exports.quantizePackRows(DTYPE_CODE[dtype], rounding, ptr, rows, cols, inverse, words);
        this.writeWords(words, rows * Math.ceil(cols / 16));
      },
      held,
    );
  }

  /** The seed's per-row scale: one pass, each row's mean|row| computed just before it is packed. */
  private ternaryRowsRowScale(t: TensorInfo, scales: Float32Array, row0: number): void {
    const dtype = dtypeOf(t);
    const cols = t.shape[1];
    const rowBytes = cols * DTYPE_SIZE[dtype];
    const wordsPerRow = Math.ceil(cols / 16);
    this.forEachRowChunk(t, (ptr, firstRow, rows) => {
      const words = this.buffers!.scratch;
      for (let r = 0; r < rows; r++) {
        const rowPtr = ptr + r * rowBytes;
        const { inverse, scale, rounding } = rowScale(this.checkedAbsSum(t, rowPtr, (firstRow + r) * cols, cols), cols);
        scales[row0 + firstRow + r] = scale;
        this.k.exports.quantizePackRows(DTYPE_CODE[dtype], rounding, rowPtr, 1, cols, inverse, words + r * wordsPerRow * 4);
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
      this.checkedAbsSum(t, ptr, firstRow * cols, n); // only to refuse NaN and infinities
      if (dtype === 'F32') {
        this.sink.write(this.k.u8(ptr, n * 4));
      } else {
        const scratch = this.buffers!.scratch;
        this.k.exports.widen(DTYPE_CODE[dtype], ptr, n, scratch);
        this.sink.write(this.k.u8(scratch, n * 4));
      }
    });
    this.small((w) => w.vecUsize(t.shape));
    this.ctx.onTensorDone();
  }
}

function dtypeOf(t: TensorInfo): FloatDType {
  return t.dtype as FloatDType;
}

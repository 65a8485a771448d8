// The format-blind weight stream: reads the plan's weights in chunks of whole rows into wasm memory
// and hands out float rows (widened or as stored) and ternary rows (i8, or packed by a packing
// kernel), with the scale known before the first row. Output formats decide what to do with them.
// Platform neutral: bytes come through a TensorSource.
//
// Memory stays bounded whatever the model's size. The absmean scale of a master weight needs every
// element before the first can be quantized: a tensor up to `holdBytes` is read once and kept in wasm
// memory for both passes; a larger one (a big tied embedding) is read twice. Packed (U8) weights up to
// `holdBytes` are held too, so rows can be taken in any order from one read.

import { DTYPE_SIZE, type TensorInfo } from '../formats/safetensors.js';
import { DType, PACKINGS, type Kernels, type Packing } from '../kernels/index.js';
import { PACKING_ROWS, anyCode } from '../kernels/packings.js';
import { f32ToF16 } from '../quant/floats.js';
import type { FloatTensor, StoredBlocks, TernaryWeight, Weight } from '../model/plan.js';
import { interleavedRopeTarget, ternaryShape } from '../model/plan.js';
import { absmeanScale, rowScale, type FloatDType, type QuantRule, type ScaleGranularity } from '../quant/rule.js';
import { bf16ToF32, f16ToF32, roundF64ToBf16, roundF64ToF16 } from '../quant/floats.js';
import { CorruptFileError, InvalidTernaryWeightError, UnsupportedError } from '../errors.js';
import { TernaryCounter, type TernaryStats } from '../inspect/stats.js';
import type { TensorSource } from './ports.js';

/** Q8_0 bytes decoded per piece (a JavaScript buffer: the F32 rows go straight to wasm memory). */
const Q8_0_PIECE = 1 << 16;

/**
 * GGUF Q8_0 blocks (34 bytes: fp16 d, then 32 int8; docs/gguf.md 7) to F32: each value int8 * d, which
 * F32 holds exactly (an 8-bit integer times an 11-bit significand).
 */
function decodeQ8_0(blocks: Uint8Array, out: Float32Array): void {
  const q = new Int8Array(blocks.buffer, blocks.byteOffset, blocks.byteLength);
  for (let b = 0, o = 0; b < blocks.length; b += 34) {
    const d = f16ToF32(blocks[b]! | (blocks[b + 1]! << 8));
    for (let j = b + 2, end = b + 34; j < end; j++) out[o++] = q[j]! * d;
  }
}

export interface StreamOptions {
  /** offline: the reference rule in the tensor's dtype; online: transformers' f32 WeightQuant. */
  rule: QuantRule;
  /** projection: one scale per projection (the reference); row: the seed's per-row scales (bitnet-rs only). */
  granularity: ScaleGranularity;
  /** Input bytes read per chunk (rounded to whole rows, at least one row). */
  chunkBytes: number;
  /** Weights up to this size are read once and held in memory. */
  holdBytes: number;
  /** A float tensor read in more bytes than this is written by several jobs (default DEFAULTS.pieceBytes). */
  pieceBytes?: number;
  /** Count every ternary weight's values as its rows stream (the report's statistics, with no second pass). */
  stats?: boolean;
  /** Round a scale the source stores exactly (a GGUF's) to a narrower output dtype, instead of refusing (--allow-lossy). */
  allowLossy?: boolean;
}

export interface StreamContext {
  kernels: Kernels;
  source: TensorSource;
  options: StreamOptions;
  /** Called after every read, for progress. */
  onBytesRead(bytes: number): void;
  /** Called when a weight is fully read, for progress. */
  onTensorDone(): void;
  /** With `options.stats`: a ternary weight's statistics, when all its rows were taken (by its tensor's name). */
  onStats?(tensor: string, stats: TernaryStats): void;
  /** With `options.allowLossy`: a stored scale was rounded (for the manifest). */
  onRounded?(tensor: string, what: string): void;
}

const DTYPE_CODE: Record<FloatDType, number> = { F32: DType.F32, BF16: DType.BF16, F16: DType.F16 };
const roundOnce: Record<FloatDType, (x: number) => number> = { F32: Math.fround, BF16: roundF64ToBf16, F16: roundF64ToF16 };

/** Input bytes a weight costs to stream, counting both passes over a master weight too large to hold. */
export function readCost(w: Weight, o: StreamOptions): number {
  switch (w.kind) {
    case 'float':
      return w.tensor.q8_0?.byteLength ?? w.tensor.byteLength;
    case 'master':
      return (w.tensor.q8_0?.byteLength ?? w.tensor.byteLength) * (o.granularity === 'projection' && w.tensor.byteLength > o.holdBytes ? 2 : 1);
    case 'packed': {
      // held: one read; else hf-u8 reads each packed row once for each of its 4 row quarters, and a
      // block-scaled GGUF type reads its blocks once more to check their d before the first row
      const passes = w.tensor.byteLength <= o.holdBytes ? 1 : w.packing === 'hf-u8' ? 4 : w.scale === 'blocks' ? 2 : 1;
      return (w.scale === 'blocks' ? 0 : w.scale.byteLength) + w.tensor.byteLength * passes;
    }
  }
}

/**
 * Named wasm buffers for the weight being streamed. Reserved when a weight is opened, before any
 * data is placed in them. A reservation the current buffers hold keeps them; else the buffers are laid
 * out again, only the ones asked for (the contents of all are lost then): wasm memory grows to the
 * largest single weight's buffers, not to the sum of every buffer's largest size (a held projection
 * beside the float path's chunk buffers; docs/performance.md, "The page's memory").
 */
class Workspace {
  private sizes = new Map<string, number>();
  private ptrs = new Map<string, number>();

  constructor(private readonly k: Kernels) {}

  reserve(want: Record<string, number>): Record<string, number> {
    if (Object.entries(want).some(([name, bytes]) => (this.sizes.get(name) ?? -1) < bytes)) {
      this.k.reset();
      this.sizes = new Map(Object.entries(want));
      this.ptrs = new Map(Object.entries(want).map(([name, bytes]) => [name, this.k.alloc(bytes)]));
    }
    const out: Record<string, number> = {};
    for (const name of Object.keys(want)) out[name] = this.ptrs.get(name)!;
    return out;
  }
}

export class WeightStream {
  private readonly space: Workspace;

  constructor(readonly ctx: StreamContext) {
    this.space = new Workspace(ctx.kernels);
  }

  get kernels(): Kernels {
    return this.ctx.kernels;
  }

  /** Rows per chunk for rows of `rowBytes` input bytes. */
  rowsPerChunk(rowBytes: number): number {
    return Math.max(1, Math.floor(this.ctx.options.chunkBytes / Math.max(1, rowBytes)));
  }

  /**
   * Streams a float tensor in chunks of whole rows, as stored (`source`), converted to another float
   * dtype (exact when widening, round to nearest even when narrowing) or as GGUF Q8_0 blocks (rows a
   * multiple of 32 values, which the caller checks; docs/gguf.md 7), after refusing NaN and
   * infinities. `onChunk` gets a view into wasm memory that is reused. `rows`: only rows [first, end) (a
   * piece of a large tensor; the tensor counts as done with its last piece).
   */
  floats(t: FloatTensor, as: 'source' | FloatDType | 'Q8_0', onChunk: (bytes: Uint8Array, firstRow: number, rows: number) => void, rows: [number, number] = [0, t.shape[0]]): void {
    const k = this.kernels;
    const to = as === 'source' ? t.dtype : as;
    const rowBytes = t.shape[1] * DTYPE_SIZE[t.dtype];
    const outRowBytes = to === 'Q8_0' ? (t.shape[1] / 32) * 34 : t.shape[1] * DTYPE_SIZE[to];
    const per = this.rowsPerChunk(rowBytes);
    const b = this.space.reserve({ input: per * rowBytes, converted: to === t.dtype ? 0 : per * outRowBytes });
    let roundedOnce = false;
    const [first, end] = rows;
    for (let r = first; r < end; r += per) {
      const rows = Math.min(per, end - r);
      const n = rows * t.shape[1];
      if (to === 'Q8_0' && t.q8_0) {
        // Q8_0 into Q8_0: the stored blocks, copied as they are (decoded only to refuse NaN and infinities)
        this.readBlocks(t, t.q8_0, b.converted, r, rows, end);
        decodeQ8_0(k.u8(b.converted, rows * outRowBytes), k.f32(b.input, n));
        this.checkFinite(t, b.input, r * t.shape[1], n);
        onChunk(k.u8(b.converted, rows * outRowBytes), r, rows);
        continue;
      }
      this.read(t, b.input, r * rowBytes, rows * rowBytes, end * rowBytes);
      this.checkFinite(t, b.input, r * t.shape[1], n);
      if (to === t.dtype) {
        onChunk(k.u8(b.input, rows * rowBytes), r, rows);
      } else if (to === 'Q8_0') {
        k.exports.quantizeQ8_0(DTYPE_CODE[t.dtype], b.input, n, b.converted);
        onChunk(k.u8(b.converted, rows * outRowBytes), r, rows);
      } else if (to === 'F32') {
        k.exports.widen(DTYPE_CODE[t.dtype], b.input, n, b.converted);
        onChunk(k.u8(b.converted, n * 4), r, rows);
      } else {
        k.exports.convertFloats(DTYPE_CODE[t.dtype], b.input, n, DTYPE_CODE[to], b.converted);
        if (t.q8_0 && !roundedOnce) roundedOnce = this.roundedQ8_0(t, to, k.u8(b.input, n * 4), k.u8(b.converted, n * 2), r);
        onChunk(k.u8(b.converted, rows * outRowBytes), r, rows);
      }
    }
    if (end === t.shape[0]) this.ctx.onTensorDone();
  }

  /**
   * Q8_0 values (exact in F32) narrowed to F16 or BF16: refused at the first one rounded, naming it, or
   * with --allow-lossy written rounded and listed once for the manifest (docs/gguf.md 10). Returns whether
   * a value was rounded.
   */
  private roundedQ8_0(t: FloatTensor, to: 'F16' | 'BF16', exact: Uint8Array, narrowed: Uint8Array, firstRow: number): boolean {
    const x = new DataView(exact.buffer, exact.byteOffset, exact.byteLength);
    const y = new DataView(narrowed.buffer, narrowed.byteOffset, narrowed.byteLength);
    const widen = to === 'F16' ? f16ToF32 : bf16ToF32;
    for (let i = 0; i < narrowed.length / 2; i++) {
      const a = x.getFloat32(4 * i, true);
      const b = widen(y.getUint16(2 * i, true));
      if (a === b) continue;
      const at = `row ${firstRow + Math.floor(i / t.shape[1])}, column ${i % t.shape[1]}`;
      if (!this.ctx.options.allowLossy) {
        throw new UnsupportedError({ file: t.file, tensor: t.name }, `values the output's ${to} holds exactly (the source stores Q8_0 blocks, int8 times an fp16 d, exact in F32)`, `${a} at ${at}, ${b} in ${to}; --allow-lossy writes them rounded${to === 'F16' ? ', --gguf-embd-type q8_0 copies the blocks' : ''}`);
      }
      this.ctx.onRounded?.(t.name, `Q8_0 values rounded to ${to} (the first: ${a} at ${at} to ${b})`);
      return true;
    }
    return false;
  }

  /**
   * Opens a ternary weight: computes or reads its scale (pass 1 of a master weight) and reserves
   * buffers for chunks of up to `rowsPerChunk` rows, plus `extra` named buffers (bytes per row) for
   * the caller's output. Call `done()` on the result when all rows were taken.
   */
  ternary(w: TernaryWeight, extra: Record<string, number> = {}, chunking: Chunking = {}): OpenTernary {
    if (w.kind === 'master') return new MasterTernary(this, w, extra, chunking);
    return w.packing === 'hf-u8' ? new PackedTernary(this, w, extra, chunking) : new StoredTernary(this, w, extra, chunking);
  }

  /**
   * A packed weight's scale where the source stores it apart from the codes (hf-u8's weight_scale,
   * I2_S's f32 tail), read without the codes and rounded once to `dtype` as `scaleAs` rounds it; else
   * undefined (a master weight's scale comes from its values, a block type's from every block). Lets a
   * format write a file's scales before the weights they belong to (hf-packed: its F32 tensors come first).
   */
  storedScale(w: TernaryWeight, dtype: FloatDType): number | undefined {
    if (w.kind !== 'packed' || w.scale === 'blocks') return undefined;
    return roundOnce[dtype](readStoredScale(this, w as StoredScaleWeight, this.reserve({ scale: 8 }).scale));
  }

  /** @internal Reserves buffers (see Workspace). */
  reserve(want: Record<string, number>): Record<string, number> {
    return this.space.reserve(want);
  }

  /**
   * @internal A positioned read of `bytes` bytes at `offset` into the tensor's data. `limit`: where the
   * caller's reads of it end (a piece's last row; default the tensor's end), so that a source reading
   * ahead (a Hub input's open response) fetches nothing past it.
   */
  read(t: TensorInfo, ptr: number, offset: number, bytes: number, limit = t.byteLength): void {
    const q = (t as FloatTensor).q8_0;
    if (q) {
      // whole F32 rows of a Q8_0 tensor, from its blocks, a piece at a time through one small buffer
      const f32Row = t.shape[1] * 4;
      const qRow = (t.shape[1] / 32) * 34;
      const first = offset / f32Row;
      const rows = bytes / f32Row;
      const end = q.offset + Math.ceil(limit / f32Row) * qRow;
      const per = Math.max(1, Math.floor(Q8_0_PIECE / qRow));
      for (let r = 0; r < rows; r += per) {
        const n = Math.min(per, rows - r);
        if (this.blocks.length < n * qRow) this.blocks = new Uint8Array(n * qRow);
        const blocks = this.blocks.subarray(0, n * qRow);
        this.ctx.source.readExactly(t.file, blocks, q.offset + (first + r) * qRow, end);
        this.ctx.onBytesRead(blocks.length);
        decodeQ8_0(blocks, this.kernels.f32(ptr + r * f32Row, n * t.shape[1]));
      }
      return;
    }
    this.ctx.source.readExactly(t.file, this.kernels.u8(ptr, bytes), t.offset + offset, t.offset + limit);
    this.ctx.onBytesRead(bytes);
  }

  private blocks = new Uint8Array(0);

  /** Rows [first, first + rows) of a Q8_0 tensor's blocks, as stored, into ptr; `endRow`: where the caller's reads end (see read). */
  private readBlocks(t: FloatTensor, q: StoredBlocks, ptr: number, first: number, rows: number, endRow: number): void {
    const qRow = (t.shape[1] / 32) * 34;
    this.ctx.source.readExactly(t.file, this.kernels.u8(ptr, rows * qRow), q.offset + first * qRow, q.offset + endRow * qRow);
    this.ctx.onBytesRead(rows * qRow);
  }

  /** @internal The kernel's sum of |w| over n elements at ptr, refusing NaN and infinities. */
  checkedAbsSum(t: FloatTensor, ptr: number, first: number, n: number): number {
    const sum = this.kernels.exports.absSum(DTYPE_CODE[t.dtype], ptr, n);
    if (!Number.isFinite(sum)) this.checkFinite(t, ptr, first, n);
    return sum;
  }

  /** @internal Refuses NaN and infinities among n elements at ptr (element `first` of the tensor), naming the first. */
  checkFinite(t: FloatTensor, ptr: number, first: number, n: number): void {
    const i = this.kernels.exports.firstNonFinite(DTYPE_CODE[t.dtype], ptr, n);
    if (i < n) throwNonFinite(this.kernels, t, ptr, first + i, i);
  }
}

/** How a caller takes rows: in chunks of a multiple of `rowMultiple` rows (e.g. 16-row tiles), at least one multiple. */
export interface Chunking {
  rowMultiple?: number;
}

/** A ternary weight being streamed: its scale, and its rows on demand. */
export abstract class OpenTernary {
  readonly rows: number;
  readonly cols: number;
  /** The weight's tensor name, for its statistics. */
  readonly name: string;
  /** Its file, for messages. */
  readonly file: string;
  /** Rows per chunk the buffers were reserved for. */
  readonly rowsPerChunk: number;
  /** The caller's extra buffers, each `rowsPerChunk * bytesPerRow` bytes. */
  readonly buffers: Record<string, number>;
  /** The multiply scale as exactly as it is known (a double; see scaleAs). */
  protected scale = NaN;
  /** Per-row scales with `--scale-granularity row` (master weights only), filled as rows are taken. */
  rowScales?: Float32Array;

  protected constructor(
    protected readonly s: WeightStream,
    w: TernaryWeight,
    rowInputBytes: number,
    extra: Record<string, number>,
    chunking: Chunking,
    own: (rowsPerChunk: number) => Record<string, number>,
  ) {
    ({ rows: this.rows, cols: this.cols } = ternaryShape(w));
    this.name = w.tensor.name;
    this.file = w.tensor.file;
    if (s.ctx.options.stats) this.counter = new TernaryCounter(this.rows, this.cols);
    const m = chunking.rowMultiple ?? 1;
    this.rowsPerChunk = Math.max(m, Math.floor(s.rowsPerChunk(rowInputBytes) / m) * m);
    const want: Record<string, number> = { i8: this.rowsPerChunk * this.cols, counts: s.ctx.options.stats ? 8 * this.rowsPerChunk : 0, ...own(this.rowsPerChunk) };
    for (const [name, perRow] of Object.entries(extra)) want[`x:${name}`] = this.rowsPerChunk * perRow;
    const ptrs = s.reserve(want);
    this.ptrs = ptrs;
    this.buffers = Object.fromEntries(Object.keys(extra).map((name) => [name, ptrs[`x:${name}`]]));
  }

  protected readonly ptrs: Record<string, number>;

  /** The stored scale is the model's own (a GGUF's): rounding it is a lossy step (--allow-lossy). */
  protected exactScale = false;
  private roundedTo = new Set<FloatDType>();

  /**
   * The multiply scale rounded once to the output's scale dtype. `lossless`: the output means to keep
   * the scale as the source stores it (a GGUF re-typed into fp16 d, docs/gguf.md 10), so a stored scale
   * (exactScale) that would change is refused unless --allow-lossy, which lists it. Formats whose scale
   * dtype is their design (BF16 weight_scale) round any source's scale, as they do from float weights.
   */
  scaleAs(dtype: FloatDType, lossless = false): number {
    const v = roundOnce[dtype](this.scale);
    if (lossless && this.exactScale && v !== this.scale && !this.roundedTo.has(dtype)) {
      const what = `scale ${this.scale} rounded to ${dtype} ${v}`;
      if (!this.s.ctx.options.allowLossy) {
        throw new UnsupportedError({ file: this.file, tensor: this.name }, `a scale the output's ${dtype} holds exactly (the source stores ${this.scale})`, `${v} after rounding; --allow-lossy writes it rounded`);
      }
      this.roundedTo.add(dtype);
      this.s.ctx.onRounded?.(this.name, what);
    }
    return v;
  }

  /** Counts the values taken (options.stats), or nothing. */
  private readonly counter?: TernaryCounter;

  /** The i8 values (-1, 0, +1) of rows [start, start + count) at dst (count <= rowsPerChunk, unless dst is larger). */
  i8(start: number, count: number, dst: number): void {
    this.take(start, count, dst);
    this.count(start, count, dst);
  }

  /**
   * Rows [start, start + count) as BF16 ternary x scale at dst (count <= rowsPerChunk), `bits` the scale's
   * BF16: Microsoft's prefill weights (docs/formats.md 5). A packed source keeps no sign for its zeros
   * (+0); a master weight's zeros keep the sign of the value each was rounded from.
   */
  bf16(start: number, count: number, dst: number, bits: number): void {
    this.take(start, count, this.ptrs.i8);
    this.count(start, count, this.ptrs.i8);
    this.s.kernels.exports.ternaryBf16(this.ptrs.i8, count * this.cols, bits, 0, 0, dst);
  }

  /** Counts the i8 rows [start, start + count) just taken to dst (options.stats), or nothing. */
  protected count(start: number, count: number, dst: number): void {
    if (this.counter) {
      // counted by the kernel, in pieces its buffer holds
      const k = this.s.kernels;
      for (let done = 0; done < count; ) {
        const n = Math.min(this.rowsPerChunk, count - done);
        k.exports.countRows(dst + done * this.cols, n, this.cols, this.ptrs.counts);
        const scales = this.rowScales ? this.rowScales.subarray(start + done, start + done + n) : new Float32Array(n).fill(this.scaleAs('F32'));
        this.counter.addCounts(new Int32Array(k.memory.buffer, this.ptrs.counts, 2 * n), n, scales);
        done += n;
      }
    }
  }

  /** i8 without counting: the layout's own decoding or quantizing. */
  protected abstract take(start: number, count: number, dst: number): void;

  /** Whether the values must go through i8 (to be counted) rather than a fused kernel. */
  protected get counting(): boolean {
    return this.counter !== undefined;
  }

  /**
   * Rows [start, start + count) packed by `p` (a packing of consecutive rows) at dst, `d` the scale as
   * fp16 bits for packings whose blocks carry it. Master weights use the packing's fused quantize+pack
   * kernel where it has one (the converter's hot path); others go through i8.
   */
  packed(p: Packing, start: number, count: number, dst: number, d = 0): void {
    this.i8(start, count, this.ptrs.i8);
    p.pack(this.s.kernels.exports, this.ptrs.i8, count, this.cols, dst, d);
  }

  /**
   * Packed rows [row, row + n) of a packing that reads 4 bands of rows (hf-u8) at dst, straight from the
   * stored codes where a kernel transcodes them (I2_S; `scratch` holds at least 4n rows of i8), or false:
   * the caller then takes the bands as i8 and packs them (a master weight, statistics counted, a bad code
   * to be named by the i8 decoder).
   */
  bandsPacked(_p: Packing, _row: number, _n: number, _scratch: number, _dst: number): boolean {
    return false;
  }

  /** The i8 buffer (rowsPerChunk x cols), free for the caller between calls. */
  get i8Buffer(): number {
    return this.ptrs.i8;
  }

  done(): void {
    if (this.counter) this.s.ctx.onStats?.(this.name, this.counter.result());
    this.s.ctx.onTensorDone();
  }
}

class MasterTernary extends OpenTernary {
  private readonly t: FloatTensor;
  private readonly rowBytes: number;
  private readonly held: number | undefined;
  /** Rows stored head-permuted (a GGUF arch llama q/k): each row is taken from where it sits. */
  private readonly headRows: number;
  private inverse = NaN;
  private rounding = 0;

  constructor(s: WeightStream, w: Extract<TernaryWeight, { kind: 'master' }>, extra: Record<string, number>, chunking: Chunking) {
    const t = w.tensor;
    const rowBytes = t.shape[1] * DTYPE_SIZE[t.dtype];
    const o = s.ctx.options;
    const hold = t.byteLength <= o.holdBytes;
    // a held weight's rows are taken from the held copy: no input buffer
    super(s, w, rowBytes, extra, chunking, (per): Record<string, number> => (hold ? { held: t.byteLength } : { input: per * rowBytes }));
    this.t = t;
    this.headRows = w.ropeHeads ? t.shape[0] / w.ropeHeads : 0;
    this.rowBytes = rowBytes;
    if (hold) {
      this.held = this.ptrs.held;
      s.read(t, this.held, 0, t.byteLength);
    }
    if (o.granularity === 'row') {
      this.rowScales = new Float32Array(this.rows);
      return;
    }
    const sum = this.held !== undefined ? s.checkedAbsSum(t, this.held, 0, t.elements) : this.absSumByChunks();
    const r = absmeanScale(sum, t.elements, t.dtype, o.rule);
    this.scale = r.scale;
    this.inverse = r.inverse;
    this.rounding = r.rounding;
  }

  /** Pass 1 of a weight too large to hold: sum |w| chunk by chunk (exact in f64, so chunking does not matter). */
  private absSumByChunks(): number {
    let total = 0;
    for (let r = 0; r < this.rows; r += this.rowsPerChunk) {
      const n = Math.min(this.rowsPerChunk, this.rows - r);
      this.s.read(this.t, this.ptrs.input, r * this.rowBytes, n * this.rowBytes);
      total += this.s.checkedAbsSum(this.t, this.ptrs.input, r * this.cols, n * this.cols);
    }
    return total;
  }

  /** Pointer to rows [start, start + count): in the held copy, or read into the input buffer. */
  private rowsAt(start: number, count: number): number {
    if (this.held !== undefined) return this.held + start * this.rowBytes;
    this.s.read(this.t, this.ptrs.input, start * this.rowBytes, count * this.rowBytes);
    return this.ptrs.input;
  }

  /** Calls fn on pieces of at most rowsPerChunk rows (reads are bounded by the input buffer); head-permuted rows one at a time. */
  private pieces(start: number, count: number, fn: (src: number, first: number, n: number, done: number) => void): void {
    if (this.headRows) {
      for (let done = 0; done < count; done++) fn(this.rowsAt(interleavedRopeTarget(start + done, this.headRows), 1), start + done, 1, done);
      return;
    }
    for (let done = 0; done < count; ) {
      const n = Math.min(this.rowsPerChunk, count - done);
      fn(this.rowsAt(start + done, n), start + done, n, done);
      done += n;
    }
  }

  protected take(start: number, count: number, dst: number): void {
    const k = this.s.kernels.exports;
    const dt = DTYPE_CODE[this.t.dtype];
    this.pieces(start, count, (src, first, n, done) => {
      if (this.rowScales) {
        for (let r = 0; r < n; r++) {
          const row = src + r * this.rowBytes;
          const rs = rowScale(this.s.checkedAbsSum(this.t, row, (first + r) * this.cols, this.cols), this.cols);
          this.rowScales[first + r] = rs.scale;
          k.quantize(dt, rs.rounding, row, this.cols, rs.inverse, dst + (done + r) * this.cols);
        }
      } else {
        k.quantize(dt, this.rounding, src, n * this.cols, this.inverse, dst + done * this.cols);
      }
    });
  }

  override bf16(start: number, count: number, dst: number, bits: number): void {
    if (this.rowScales) throw new Error('internal: BF16 rows of one scale asked of a weight with per-row scales');
    const k = this.s.kernels.exports;
    const dt = DTYPE_CODE[this.t.dtype];
    // quantized piece by piece beside its source, whose signs the zeros keep
    this.pieces(start, count, (src, _first, n, done) => {
      const q = this.ptrs.i8 + done * this.cols;
      k.quantize(dt, this.rounding, src, n * this.cols, this.inverse, q);
      k.ternaryBf16(q, n * this.cols, bits, dt, src, dst + 2 * done * this.cols);
    });
    this.count(start, count, this.ptrs.i8);
  }

  override packed(p: Packing, start: number, count: number, dst: number, d = 0): void {
    if (this.rowScales || !p.fused || this.counting) return super.packed(p, start, count, dst, d);
    const k = this.s.kernels.exports;
    const fused = k[p.fused];
    this.pieces(start, count, (src, _first, n, done) => {
      fused(DTYPE_CODE[this.t.dtype], this.rounding, src, n, this.cols, this.inverse, dst + p.bytes(done, this.cols));
    });
  }
}

type StoredScaleWeight = Extract<TernaryWeight, { kind: 'packed' }> & { scale: FloatTensor };

/** A stored scale (hf-u8's weight_scale, I2_S's f32 tail) read at ptr, normalised to multiply: a divided scale s becomes the exact 1/s (rounded once by scaleAs). */
function readStoredScale(s: WeightStream, w: StoredScaleWeight, ptr: number): number {
  const t = w.scale;
  s.read(t, ptr, 0, t.byteLength);
  const view = new DataView(s.kernels.memory.buffer, ptr, t.byteLength);
  const v = t.dtype === 'F32' ? view.getFloat32(0, true) : t.dtype === 'BF16' ? bf16ToF32(view.getUint16(0, true)) : f16ToF32(view.getUint16(0, true));
  if (!Number.isFinite(v) || v <= 0) {
    throw new InvalidTernaryWeightError({ file: t.file, tensor: t.name }, w.packing === 'hf-u8' ? 'a finite scale above 0' : 'a finite scale above 0 in the tail', String(v));
  }
  return w.convention === 'multiply' ? v : 1 / v;
}

class PackedTernary extends OpenTernary {
  private readonly w: Extract<TernaryWeight, { kind: 'packed' }>;
  private readonly quarter: number;
  private readonly held: number | undefined;

  constructor(s: WeightStream, w: Extract<TernaryWeight, { kind: 'packed' }>, extra: Record<string, number>, chunking: Chunking) {
    const hold = w.tensor.byteLength <= s.ctx.options.holdBytes;
    super(s, w, w.cols, extra, chunking, (per) => ({ ...(hold ? { held: w.tensor.byteLength } : { input: per * w.cols }), scale: 8 }));
    this.w = w;
    this.quarter = w.rows / 4;
    this.scale = readStoredScale(s, w as StoredScaleWeight, this.ptrs.scale); // hf-u8: always a weight_scale tensor
    if (hold) {
      this.held = this.ptrs.held;
      s.read(w.tensor, this.held, 0, w.tensor.byteLength);
    }
  }

  protected take(start: number, count: number, dst: number): void {
    const k = this.s.kernels.exports;
    const cols = this.cols;
    for (let done = 0; done < count; ) {
      // rows of one quarter are consecutive packed rows: split the range at quarter boundaries
      const row = start + done;
      const q = Math.floor(row / this.quarter);
      const r = row - q * this.quarter;
      const n = Math.min(count - done, this.quarter - r, this.rowsPerChunk);
      let src: number;
      if (this.held !== undefined) {
        src = this.held + r * cols;
      } else {
        src = this.ptrs.input;
        this.s.read(this.w.tensor, src, r * cols, n * cols);
      }
      const bad = k[PACKINGS['hf-u8'].unpackKernel](src, n, cols, q, dst + done * cols);
      if (bad >= 0) {
        const at = (r + Math.floor(bad / cols)) * cols + (bad % cols);
        throw new InvalidTernaryWeightError(
          { file: this.w.tensor.file, tensor: this.w.tensor.name },
          'codes 0, 1 or 2 (-1, 0, +1)',
          `code 3 at byte [${Math.floor(at / cols)}, ${at % cols}], bits ${2 * q}..${2 * q + 1}`,
        );
      }
      done += n;
    }
  }
}

/**
 * A GGUF ternary type (I2_S, TQ1_0, TQ2_0, Q2_0; docs/gguf.md 4 and 7): rows of whole blocks decoded by
 * the packing's own decoder, rows taken from where they sit (head-permuted q/k of arch llama). The scale
 * is the I2_S tail's f32, or the fp16 d every block carries, checked to be one value per tensor before
 * the first row (a block whose d is 0 holds zeros whatever its codes: llama.cpp's quantizer writes
 * such blocks for all-zero runs).
 */
class StoredTernary extends OpenTernary {
  private readonly w: Extract<TernaryWeight, { kind: 'packed' }>;
  private readonly p: Packing;
  private readonly rowBytes: number;
  private readonly held: number | undefined;
  private readonly headRows: number;
  /** Some block's d is 0 (its values decode as zeros): the bytes cannot be copied as they are. */
  private zeroBlocks = false;

  constructor(s: WeightStream, w: Extract<TernaryWeight, { kind: 'packed' }>, extra: Record<string, number>, chunking: Chunking) {
    const p = PACKING_ROWS[w.packing];
    const rowBytes = p.bytes(1, w.cols);
    const dataBytes = p.bytes(w.rows, w.cols);
    const hold = dataBytes <= s.ctx.options.holdBytes;
    super(s, w, rowBytes, extra, chunking, (per) => ({ ...(hold ? { held: dataBytes } : { input: per * rowBytes }), scale: 8 }));
    this.w = w;
    this.p = p;
    this.rowBytes = rowBytes;
    this.headRows = w.ropeHeads ? w.rows / w.ropeHeads : 0;
    this.exactScale = w.exactScale ?? false;
    if (hold) {
      this.held = this.ptrs.held;
      s.read(w.tensor, this.held, 0, dataBytes);
    }
    this.scale = w.scale === 'blocks' ? this.blockScale() : readStoredScale(s, w as StoredScaleWeight, this.ptrs.scale);
  }

  private where(): { file: string; tensor: string } {
    return { file: this.w.tensor.file, tensor: this.w.tensor.name };
  }

  /** Stored rows [row, row + n) (n <= rowsPerChunk unless held): a view of the held copy, or read into the input buffer. */
  private bytesAt(row: number, n: number): Uint8Array {
    if (this.held !== undefined) return this.s.kernels.u8(this.held + row * this.rowBytes, n * this.rowBytes);
    this.s.read(this.w.tensor, this.ptrs.input, row * this.rowBytes, n * this.rowBytes);
    return this.s.kernels.u8(this.ptrs.input, n * this.rowBytes);
  }

  /** Every block's d: one value (or 0) per tensor, else the groups are named. */
  private blockScale(): number {
    let d = 0;
    let first = -1;
    const perRow = this.cols / this.p.block.cols;
    for (let r = 0; r < this.rows; r += this.rowsPerChunk) {
      const n = Math.min(this.rowsPerChunk, this.rows - r);
      const ds = this.p.blockScales!(this.bytesAt(r, n), n, this.cols);
      for (let b = 0; b < ds.length; b++) {
        const v = ds[b];
        if (v === 0) {
          this.zeroBlocks = true;
          continue;
        }
        const at = `block ${b % perRow} of row ${r + Math.floor(b / perRow)}`;
        if (!Number.isFinite(v) || v < 0) throw new InvalidTernaryWeightError(this.where(), "a block d that is finite and not negative", `${v} in ${at}`);
        if (first < 0) {
          d = v;
          first = r * perRow + b;
        } else if (v !== d) {
          throw new UnsupportedError(
            this.where(),
            'one scale per tensor (every block with the same d; the output holds one scale per projection)',
            `group scales: d ${d} in block ${first % perRow} of row ${Math.floor(first / perRow)}, d ${v} in ${at}`,
          );
        }
      }
    }
    if (first < 0) throw new InvalidTernaryWeightError(this.where(), 'a scale above 0', 'every block with d 0');
    return d;
  }

  /** Decodes stored rows [row, row + n) into dst (the wasm kernel where the type has one), naming the block of a code that is no value. */
  private decode(row: number, n: number, dst: number): void {
    const bytes = this.bytesAt(row, n);
    const k = this.s.kernels;
    const place = { file: this.w.tensor.file, tensor: this.w.tensor.name, row0: row, tensorRows: this.rows };
    if (this.p.decodeKernel) {
      if (k.exports[this.p.decodeKernel](bytes.byteOffset, n * this.cols, dst) !== 0) {
        throw this.badBlock(bytes, row, n, new CorruptFileError(place, 'ternary codes only', 'a code 3'));
      }
    } else {
      let q: Int8Array;
      try {
        q = this.p.unpack(bytes, n, this.cols, place);
      } catch (e) {
        if (!(e instanceof CorruptFileError)) throw e;
        throw this.badBlock(bytes, row, n, e);
      }
      k.i8(dst, n * this.cols).set(q);
    }
    if (this.zeroBlocks) {
      const ds = this.p.blockScales!(bytes, n, this.cols);
      const bc = this.p.block.cols;
      const values = k.i8(dst, n * this.cols);
      for (let b = 0; b < ds.length; b++) if (ds[b] === 0) values.fill(0, b * bc, (b + 1) * bc);
    }
  }

  /** The block holding the first bad code (errors only). */
  private badBlock(bytes: Uint8Array, row: number, n: number, e: CorruptFileError): InvalidTernaryWeightError {
    const { bytes: bb, cols: bc } = this.p.block;
    const perRow = this.cols / bc;
    for (let b = 0; b < n * perRow; b++) {
      try {
        this.p.unpack(bytes.subarray(b * bb, (b + 1) * bb), 1, bc, { file: '', tensor: '', row0: 0, tensorRows: 1 });
      } catch {
        const r = row + Math.floor(b / perRow);
        const c = (b % perRow) * bc;
        return new InvalidTernaryWeightError(this.where(), `codes of -1, 0 or +1 only (${this.p.ggml?.name ?? this.w.packing})`, `a bad code in block ${b % perRow} of row ${r} (values [${r}, ${c}..${c + bc - 1}])`);
      }
    }
    return new InvalidTernaryWeightError(this.where(), 'codes of -1, 0 or +1 only', e.message);
  }

  protected take(start: number, count: number, dst: number): void {
    if (this.headRows) {
      for (let x = 0; x < count; x++) this.decode(interleavedRopeTarget(start + x, this.headRows), 1, dst + x * this.cols);
      return;
    }
    for (let done = 0; done < count; ) {
      const n = Math.min(this.rowsPerChunk, count - done);
      this.decode(start + done, n, dst + done * this.cols);
      done += n;
    }
  }

  override bandsPacked(p: Packing, row: number, n: number, scratch: number, dst: number): boolean {
    const t = this.p.transcode;
    if (!t || PACKINGS[t.to] !== p || p.rowAccess !== 'quarter-bands' || this.headRows || this.counting || this.zeroBlocks) return false;
    const bytes = n * this.rowBytes;
    const band = (q: number): number => {
      const at = (q * (this.rows / 4) + row) * this.rowBytes;
      if (this.held !== undefined) return this.held + at;
      this.s.read(this.w.tensor, scratch + q * bytes, at, bytes);
      return scratch + q * bytes;
    };
    return this.s.kernels.exports[t.kernel](band(0), band(1), band(2), band(3), bytes, dst) === 0;
  }

  /** The same packing with the same scale: the stored bytes are the output's, once their codes are checked. */
  override packed(p: Packing, start: number, count: number, dst: number, d = 0): void {
    const same = p === this.p && !this.headRows && !this.counting && !this.zeroBlocks && (p.scale !== 'block-f16' || d === f32ToF16(this.scale));
    if (!same) return super.packed(p, start, count, dst, d);
    const k = this.s.kernels;
    for (let done = 0; done < count; ) {
      const n = Math.min(this.rowsPerChunk, count - done);
      const bytes = this.bytesAt(start + done, n);
      if (p.badCode2 === undefined || anyCode(bytes, p.badCode2)) this.decode(start + done, n, this.ptrs.i8); // throws on a bad code
      k.u8(dst + p.bytes(done, this.cols), n * this.rowBytes).set(bytes); // decode re-read the same rows into the same place
      done += n;
    }
  }
}

/** Locates the first NaN or infinity for the error message (slow path, errors only). */
/** The error for the non-finite element `index` of the tensor, found at element i of the chunk at ptr. */
function throwNonFinite(k: Kernels, t: FloatTensor, ptr: number, index: number, i: number): never {
  const view = new DataView(k.exports.memory.buffer, ptr + i * DTYPE_SIZE[t.dtype]);
  const value = t.dtype === 'F32' ? view.getFloat32(0, true) : t.dtype === 'BF16' ? bf16ToF32(view.getUint16(0, true)) : f16ToF32(view.getUint16(0, true));
  const cols = t.shape[1];
  throw new InvalidTernaryWeightError({ file: t.file, tensor: t.name }, 'finite weights', `${value} at [${Math.floor(index / cols)}, ${index % cols}]`);
}

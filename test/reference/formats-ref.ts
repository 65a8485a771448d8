// Independent test-side statements of the output formats, written from docs/formats.md (sections 1,
// 2, 3, 4, 4b, 5) and docs/gguf.md (sections 2, 3, 4) only, without looking at the writers in
// src/outputs/ or src/stream/. Plain, slow and literal on purpose. It shares no code with src/.
//
//   - decoders (and, for round trips and whole-file comparisons, literal packers) of the three
//     ternary packings: transformers' U8 [out/4, in], bitnet-rs' u32 rows, Microsoft's GPU int2;
//   - expected-output builders: from a source checkpoint's raw tensors and config.json, the exact
//     tensor set of a file with each tensor's dtype, shape and decoded content;
//   - checkAgainst: a written file compared with such an expectation tensor by tensor;
//   - the bitnet-rs .bin files decoded literally in either bincode flavor (checkBitnetRsBins), and a
//     GGUF file's tensors checked against the rule (expectedGguf, checkGguf; the container is parsed
//     by the caller's independent reader).

import type { RawTensor } from '../helpers/read-safetensors.js';
import { bitnetRs, hfU8, i2s, msInt2, q2_0, tq1_0, tq2_0, type RefPacking } from './packings-ref.js';
import { decodeValues, f16ToNumber, referenceTernary, toBf16, toF16, unpackRows, type Dt, type Rule } from './ternary-ref.js';
import { q8_0BlockRef } from './q8_0-ref.js';

// ---------------------------------------------------------------------------------------------
// Byte helpers

const scratch = new DataView(new ArrayBuffer(4));

/** Little-endian u32 words of a byte array (length a multiple of 4). */
export function u32sFromBytes(bytes: Uint8Array): Uint32Array {
  if (bytes.length % 4 !== 0) throw new Error(`u32 data of ${bytes.length} bytes is not a whole number of words`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Uint32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint32(4 * i, true);
  return out;
}

export function bytesFromU32s(words: Uint32Array): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < words.length; i++) view.setUint32(4 * i, words[i], true);
  return out;
}

/** bf16 bits of a value (rounded to nearest even first). */
function bf16Bits(x: number): number {
  scratch.setFloat32(0, toBf16(x));
  return scratch.getUint32(0) >>> 16;
}

/** f16 bits of a value (rounded to nearest even first), built from sign, exponent and fraction. */
function f16Bits(x: number): number {
  const v = toF16(x);
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === Infinity) return sign | 0x7c00;
  if (a < 2 ** -14) return sign | (a / 2 ** -24); // subnormal (or zero): whole multiples of 2^-24
  const e = Math.floor(Math.log2(a));
  return sign | ((e + 15) << 10) | (a / 2 ** e - 1) * 1024;
}

/** Encodes values in a float dtype (each rounded to it, nearest even), little-endian. */
export function encodeFloats(values: readonly number[], dtype: Dt): Uint8Array {
  const size = dtype === 'F32' ? 4 : 2;
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  values.forEach((x, i) => {
    if (dtype === 'F32') view.setFloat32(4 * i, x, true);
    else view.setUint16(2 * i, dtype === 'BF16' ? bf16Bits(x) : f16Bits(x), true);
  });
  return out;
}

/** Rounds a value (any double) to a float dtype once, nearest even: on the dtype's grid around x, not through f32. */
export function roundToDtype(x: number, dtype: Dt): number {
  if (dtype === 'F32') return Math.fround(x); // JS rounds a double to f32 correctly
  if (dtype === 'F16') return toF16(x); // already a search over the f16 grid
  if (!Number.isFinite(x) || x === 0) return toBf16(x);
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--; // log2 may be off by one next to a power of two
  if (2 ** (e + 1) <= a) e++;
  const quantum = 2 ** (Math.max(e, -126) - 7); // 8 significant bits (subnormals: the fixed quantum 2^-133)
  const k = a / quantum; // exact: a power-of-two division
  let n = Math.floor(k);
  const frac = k - n;
  if (frac > 0.5 || (frac === 0.5 && n % 2 === 1)) n++;
  return Math.sign(x) * n * quantum;
}

const ELEMENT_SIZE: Record<string, number> = { BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8 };

const isFloatDtype = (d: string): d is Dt => d === 'BF16' || d === 'F16' || d === 'F32';
const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

// ---------------------------------------------------------------------------------------------
// 1. transformers' packed U8 [rows/4, cols] (docs/formats.md section 1)

/**
 * transformers' pack_weights layout: with R = rows/4, bits 2i..2i+1 of byte [r, c] hold
 * W[i*R + r, c] + 1 (quarter blocks of rows). Returns W, rows x cols row-major, values -1/0/+1.
 */
export function decodeHfU8(bytes: Uint8Array, rows: number, cols: number): Int8Array {
  if (rows % 4 !== 0) throw new Error(`hf U8: ${rows} rows is not a multiple of 4`);
  const R = rows / 4;
  if (bytes.length !== R * cols) throw new Error(`hf U8: expected ${R * cols} bytes for [${R}, ${cols}], found ${bytes.length}`);
  const out = new Int8Array(rows * cols);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < cols; c++) {
      const byte = bytes[r * cols + c];
      for (let i = 0; i < 4; i++) {
        const code = (byte >> (2 * i)) & 3;
        if (code === 3) throw new Error(`hf U8: invalid code 3 at packed [${r}, ${c}] bits ${2 * i}..${2 * i + 1} (W[${i * R + r}, ${c}])`);
        out[(i * R + r) * cols + c] = code - 1;
      }
    }
  }
  return out;
}

/** The inverse of decodeHfU8: the literal packer of packings-ref, refusing non-ternary values. */
export function packHfU8(q: Int8Array, rows: number, cols: number): Uint8Array {
  if (rows % 4 !== 0) throw new Error(`hf U8: ${rows} rows is not a multiple of 4`);
  return strict('hf U8', hfU8.pack(q, rows, cols));
}

/** A reference packer's bytes, or an error when it met values outside {-1, 0, 1}. */
function strict(label: string, p: { bytes: Uint8Array; bad: number }): Uint8Array {
  if (p.bad !== 0) throw new Error(`${label}: ${p.bad} values are not ternary`);
  return p.bytes;
}

// ---------------------------------------------------------------------------------------------
// 2. bitnet-rs u32 rows (docs/formats.md section 4)

/**
 * 16 values a u32, value i at bits 2i (+1 = 01, -1 = 10, 0 = 00), every row ceil(cols/16) words,
 * the padding zero. Throws on code 11 or non-zero padding. (ternary-ref's unpackRows says exactly this.)
 */
export function decodeBitnetRsWords(words: Uint32Array, rows: number, cols: number): Int8Array {
  return unpackRows(words, rows, cols);
}

export function packBitnetRsWords(q: Int8Array, rows: number, cols: number): Uint32Array {
  return u32sFromBytes(strict('bitnet-rs', bitnetRs.pack(q, rows, cols)));
}

// ---------------------------------------------------------------------------------------------
// 3. Microsoft's GPU int2 layout (docs/formats.md section 5)

function checkMsShape(N: number, K: number): void {
  if (N % 16 !== 0 || K % 32 !== 0) throw new Error(`ms int2: [${N}, ${K}] needs N % 16 == 0 and K % 32 == 0`);
}

/**
 * The inverse of Microsoft's pack: I8 [N, K/4] bytes -> ternary [N, K] row-major. Each byte is at
 * tile-order position [N/16][K/32][16][8]; within a 4-byte u32 of a tile row, bits 2*slot of byte b
 * are bit b*8 + slot*2 = (o%4)*8 + (o//4)*2, so they hold code o = 4*slot + b of the 16 codes
 * (tile columns 16*word + o); tile element (i, j) comes from block row (t//16)*8 + t%8 and block
 * column j%16 + 16*((t%16)//8), t = 2i + j//16; the value is code - 2.
 */
export function decodeMsInt2(bytes: Uint8Array, N: number, K: number): Int8Array {
  checkMsShape(N, K);
  if (bytes.length !== (N * K) / 4) throw new Error(`ms int2: expected ${(N * K) / 4} bytes for [${N}, ${K / 4}], found ${bytes.length}`);
  const blocksPerRow = K / 32;
  const out = new Int8Array(N * K);
  for (let f = 0; f < bytes.length; f++) {
    const m = f % 8; // byte within the tile row
    const i = Math.floor(f / 8) % 16; // tile row
    const tile = Math.floor(f / 128);
    const bn = Math.floor(tile / blocksPerRow);
    const bk = tile % blocksPerRow;
    const word = Math.floor(m / 4);
    const b = m % 4;
    for (let slot = 0; slot < 4; slot++) {
      const code = (bytes[f] >> (2 * slot)) & 3;
      const o = 4 * slot + b;
      const j = 16 * word + o;
      const t = 2 * i + Math.floor(j / 16);
      const row = bn * 16 + Math.floor(t / 16) * 8 + (t % 8);
      const col = bk * 32 + (j % 16) + 16 * Math.floor((t % 16) / 8);
      if (code === 0) throw new Error(`ms int2: invalid code 0 at byte ${f} ([${Math.floor(f / (K / 4))}, ${f % (K / 4)}]) bits ${2 * slot}..${2 * slot + 1} (W[${row}, ${col}])`);
      out[row * K + col] = code - 2;
    }
  }
  return out;
}

/** Microsoft's pack (tile, 4 codes a byte, u32 interleave): the literal packer of packings-ref, refusing non-ternary values. */
export function packMsInt2(q: Int8Array, N: number, K: number): Uint8Array {
  checkMsShape(N, K);
  return strict('ms int2', msInt2.pack(q, N, K));
}

/** How the rows of a [rows, cols] matrix split into heads for '(h l d) i' with l = 2. */
function headDims(rows: number, heads: number): number {
  if (!Number.isInteger(heads) || heads < 1 || rows % (2 * heads) !== 0) throw new Error(`${rows} rows do not split into ${heads} heads of 2 halves`);
  return rows / (2 * heads);
}

/** '(h l d) i -> (h d l) i' with l = 2: the HF rotate-half row order to Microsoft's interleaved order. */
export function unpermuteRows(m: Int8Array, rows: number, cols: number, heads: number): Int8Array {
  const D = headDims(rows, heads);
  const out = new Int8Array(m.length);
  for (let h = 0; h < heads; h++)
    for (let l = 0; l < 2; l++)
      for (let d = 0; d < D; d++) out.set(m.subarray((h * 2 * D + l * D + d) * cols, (h * 2 * D + l * D + d + 1) * cols), (h * 2 * D + d * 2 + l) * cols);
  return out;
}

/** The inverse: '(h d l) i -> (h l d) i'. */
export function permuteRows(m: Int8Array, rows: number, cols: number, heads: number): Int8Array {
  const D = headDims(rows, heads);
  const out = new Int8Array(m.length);
  for (let h = 0; h < heads; h++)
    for (let l = 0; l < 2; l++)
      for (let d = 0; d < D; d++) out.set(m.subarray((h * 2 * D + d * 2 + l) * cols, (h * 2 * D + d * 2 + l + 1) * cols), (h * 2 * D + l * D + d) * cols);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Expected files

/** What a tensor of a written file must hold, and how to decode it to compare. */
export type ExpectedContent =
  /** These exact bytes (floats copied or converted). */
  | { kind: 'bytes'; bytes: Uint8Array }
  /**
   * Float values (scales): each found value must be the expected value rounded to the stored dtype,
   * or, with relTol > 0 (scales computed in f32, whose last bit depends on summation order), any
   * rounding of a value within relTol of it.
   */
  | { kind: 'scales'; values: number[]; relTol: number }
  /** A ternary [rows, cols] matrix, row-major, packed as the kind says. */
  | { kind: 'hf-u8' | 'bitnet-rs-u32' | 'ms-int2'; rows: number; cols: number; ternary: Int8Array }
  /**
   * BF16 ternary x scale (Microsoft's prefill weights, docs/formats.md 5): each value's sign bit is
   * `neg`'s, a zero is +-0, any other value the row's scale rounded to BF16 (within relTol as for 'scales').
   */
  | { kind: 'prefill'; cols: number; ternary: Int8Array; neg: Int8Array; rowScales: number[]; relTol: number };

export interface ExpectedTensor {
  dtype: string;
  shape: number[];
  content: ExpectedContent;
}

export interface ExpectedFile {
  format: 'bitnet-rs-safetensors' | 'hf-packed' | 'ms-gpu';
  tensors: Map<string, ExpectedTensor>;
  /** The exact `__metadata__`, or undefined when the header must not have one. */
  metadata: Record<string, string> | undefined;
  /**
   * The order of the data: 'crate' = the safetensors crate writer's (larger elements first, then
   * by name: for these formats U32 before BF16, and floats before U8), 'name' = sorted by name.
   */
  order: 'crate' | 'name';
}

export interface BuildOptions {
  rule?: Rule;
}

type Tensors = Map<string, RawTensor>;

interface ModelShape {
  layers: number;
  heads: number;
  kvHeads: number;
  tied: boolean;
}

function modelShape(config: Record<string, unknown>): ModelShape {
  const int = (key: string, fallback?: number): number => {
    const v = config[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`config.json: ${key} must be a positive integer, found ${JSON.stringify(v)}`);
    return v;
  };
  const heads = int('num_attention_heads');
  // transformers' default for tie_word_embeddings is true
  return { layers: int('num_hidden_layers'), heads, kvHeads: int('num_key_value_heads', heads), tied: config.tie_word_embeddings !== false };
}

function need(tensors: Tensors, name: string): RawTensor {
  const t = tensors.get(name);
  if (!t) throw new Error(`source has no ${name}`);
  return t;
}

/**
 * A layer's float tensors: the two norms, and the sub-norms when the source has them (under the
 * BitNet names or the 1bitLLM ones), each with its name in the engines' files (bitnet-rs and
 * Microsoft's, after `layers.{i}.`) and in the BitNet HF layout (after `model.layers.{i}.`).
 */
function layerNorms(tensors: Tensors, layer: number): { t: RawTensor; engine: string; hf: string }[] {
  const p = `model.layers.${layer}.`;
  const out = [
    { t: need(tensors, `${p}input_layernorm.weight`), engine: 'attention_norm.weight', hf: 'input_layernorm.weight' },
    { t: need(tensors, `${p}post_attention_layernorm.weight`), engine: 'ffn_norm.weight', hf: 'post_attention_layernorm.weight' },
  ];
  const subNorms = [
    { sources: ['self_attn.attn_sub_norm.weight', 'self_attn.inner_attn_ln.weight'], engine: 'attention.attn_sub_norm.weight' },
    { sources: ['mlp.ffn_sub_norm.weight', 'mlp.ffn_layernorm.weight'], engine: 'feed_forward.ffn_sub_norm.weight' },
  ];
  for (const { sources, engine } of subNorms) {
    const t = sources.map((n) => tensors.get(p + n)).find((x) => x !== undefined);
    if (t) out.push({ t, engine, hf: sources[0] });
  }
  return out;
}

/** One projection's ternary matrix and absmean scale. */
interface Projection {
  q: Int8Array;
  rows: number;
  cols: number;
  /** The multiplying scale, a value of scaleDtype. */
  scale: number;
  /** The dtype in which the scale is exact. */
  scaleDtype: Dt;
  /** Whether the scale's last bit depends on summation order (f32 arithmetic). */
  f32Scale: boolean;
  /** 1 where the value's sign bit is set: the source's (a zero rounded from -0.3 keeps it), or q's for a packed source. */
  neg: Int8Array;
}

/**
 * The reference rule on a float projection; for a packed U8 source (autobitlinear), its decoded
 * ternaries and stored scale.
 */
function project(tensors: Tensors, config: Record<string, unknown>, name: string, rule: Rule): Projection {
  const t = need(tensors, name);
  if (t.shape.length !== 2) throw new Error(`${name}: expected a 2-D tensor, found shape [${t.shape}]`);
  if (isFloatDtype(t.dtype)) {
    const { q, scale } = referenceTernary(decodeValues(t.bytes, t.dtype), t.dtype, rule);
    const scaleDtype = rule === 'online' ? 'F32' : t.dtype;
    // the top bit of each little-endian element
    const size = t.bytes.length / q.length;
    const neg = Int8Array.from(q, (_, i) => t.bytes[(i + 1) * size - 1]! >> 7);
    return { q, rows: t.shape[0], cols: t.shape[1], scale, scaleDtype, f32Scale: scaleDtype === 'F32', neg };
  }
  if (t.dtype === 'U8') {
    // transformers: AutoBitLinear multiplies by weight_scale; BitLinear (also a config without linear_class) divides
    const qc = config.quantization_config as Record<string, unknown> | undefined;
    const linearClass = qc?.linear_class ?? 'bitlinear';
    if (linearClass !== 'autobitlinear' && linearClass !== 'bitlinear') throw new Error(`${name}: unknown linear_class ${JSON.stringify(linearClass)}`);
    const s = need(tensors, `${name}_scale`);
    if (!isFloatDtype(s.dtype) || product(s.shape) !== 1) throw new Error(`${name}_scale: expected one float, found ${s.dtype} [${s.shape}]`);
    const rows = t.shape[0] * 4;
    const stored = decodeValues(s.bytes, s.dtype)[0];
    // a divided scale becomes its exact reciprocal, rounded once by whoever stores it
    const scale = linearClass === 'autobitlinear' ? stored : 1 / stored;
    const q = decodeHfU8(t.bytes, rows, t.shape[1]);
    return { q, rows, cols: t.shape[1], scale, scaleDtype: s.dtype, f32Scale: false, neg: Int8Array.from(q, (v) => (v < 0 ? 1 : 0)) };
  }
  throw new Error(`${name}: dtype ${t.dtype} is neither a float nor packed U8`);
}

/** Rows of several projections stacked (they must share the row length). */
function stack(parts: Projection[], label: string): { q: Int8Array; rows: number; cols: number } {
  const cols = parts[0].cols;
  for (const p of parts) if (p.cols !== cols) throw new Error(`${label}: parts have rows of ${parts.map((x) => x.cols).join(', ')} values`);
  const rows = parts.reduce((s, p) => s + p.rows, 0);
  const q = new Int8Array(rows * cols);
  let at = 0;
  for (const p of parts) {
    q.set(p.q, at);
    at += p.q.length;
  }
  return { q, rows, cols };
}

const PROJECTIONS = {
  q: 'self_attn.q_proj.weight',
  k: 'self_attn.k_proj.weight',
  v: 'self_attn.v_proj.weight',
  o: 'self_attn.o_proj.weight',
  gate: 'mlp.gate_proj.weight',
  up: 'mlp.up_proj.weight',
  down: 'mlp.down_proj.weight',
} as const;

type Layer = Record<keyof typeof PROJECTIONS, Projection>;

function layerProjections(tensors: Tensors, config: Record<string, unknown>, i: number, rule: Rule): Layer {
  const out = {} as Layer;
  for (const [key, name] of Object.entries(PROJECTIONS)) out[key as keyof Layer] = project(tensors, config, `model.layers.${i}.${name}`, rule);
  return out;
}

const copied = (t: RawTensor): ExpectedTensor => ({ dtype: t.dtype, shape: t.shape, content: { kind: 'bytes', bytes: t.bytes } });

/** A float tensor as BF16 (the source values rounded to nearest even; BF16 sources unchanged). */
function asBf16(t: RawTensor, shape: number[]): ExpectedTensor {
  if (!isFloatDtype(t.dtype)) throw new Error(`expected a float tensor, found ${t.dtype}`);
  const bytes = t.dtype === 'BF16' ? t.bytes : encodeFloats(decodeValues(t.bytes, t.dtype), 'BF16');
  return { dtype: 'BF16', shape, content: { kind: 'bytes', bytes } };
}

const SCALE_REL_TOL = 1e-6;
const scaleTol = (parts: Projection[]) => (parts.some((p) => p.f32Scale) ? SCALE_REL_TOL : 0);

/**
 * docs/formats.md section 4b: the bitnet-rs `model.safetensors`. Float tensors BF16 (1-D promoted to
 * [1, n]); every linear U32 [rows, ceil(in/16)] plus `.weight_scale` BF16 [rows] (each projection's
 * own scale repeated over its rows); the head is the embedding ternarized when tied, else lm_head;
 * sub-norms added when the source has them. No __metadata__; U32 data first, then BF16, by name.
 */
export function expectedBitnetRsSafetensors(tensors: Tensors, config: Record<string, unknown>, opts: BuildOptions = {}): ExpectedFile {
  const rule = opts.rule ?? 'offline';
  const m = modelShape(config);
  const out = new Map<string, ExpectedTensor>();
  const row = (t: RawTensor) => [1, product(t.shape)];
  const linear = (name: string, parts: Projection[]) => {
    const { q, rows, cols } = stack(parts, name);
    out.set(`${name}.weight`, { dtype: 'U32', shape: [rows, Math.ceil(cols / 16)], content: { kind: 'bitnet-rs-u32', rows, cols, ternary: q } });
    const scales = parts.flatMap((p) => new Array<number>(p.rows).fill(p.scale));
    out.set(`${name}.weight_scale`, { dtype: 'BF16', shape: [rows], content: { kind: 'scales', values: scales, relTol: scaleTol(parts) } });
  };
  const embed = need(tensors, 'model.embed_tokens.weight');
  out.set('tok_embeddings.weight', asBf16(embed, embed.shape));
  const norm = need(tensors, 'model.norm.weight');
  out.set('norm.weight', asBf16(norm, row(norm)));
  linear('output', [project(tensors, config, m.tied ? 'model.embed_tokens.weight' : 'lm_head.weight', rule)]);
  for (let i = 0; i < m.layers; i++) {
    const p = layerProjections(tensors, config, i, rule);
    linear(`layers.${i}.attention.wqkv`, [p.q, p.k, p.v]);
    linear(`layers.${i}.attention.wo`, [p.o]);
    linear(`layers.${i}.feed_forward.w13`, [p.gate, p.up]);
    linear(`layers.${i}.feed_forward.w2`, [p.down]);
    for (const n of layerNorms(tensors, i)) out.set(`layers.${i}.${n.engine}`, asBf16(n.t, row(n.t)));
  }
  return { format: 'bitnet-rs-safetensors', tensors: out, metadata: undefined, order: 'crate' };
}

/**
 * docs/formats.md section 1 (the packed microsoft/bitnet-b1.58-2B-4T layout): BitNet names, every
 * projection U8 [out/4, in] + `<name>_scale` [1] (the multiplying absmean scale, in the dtype in
 * which it is exact), floats copied byte for byte in their dtype and stored shape, sub-norms under
 * the BitNet names, lm_head only when untied, `__metadata__ {format: pt}`.
 */
export function expectedHfPacked(tensors: Tensors, config: Record<string, unknown>, opts: BuildOptions = {}): ExpectedFile {
  const rule = opts.rule ?? 'offline';
  const m = modelShape(config);
  const out = new Map<string, ExpectedTensor>();
  const copy = (name: string, t: RawTensor = need(tensors, name)) => out.set(name, copied(t));
  copy('model.embed_tokens.weight');
  copy('model.norm.weight');
  if (!m.tied) copy('lm_head.weight');
  for (let i = 0; i < m.layers; i++) {
    const p = `model.layers.${i}.`;
    const layer = layerProjections(tensors, config, i, rule);
    for (const [key, name] of Object.entries(PROJECTIONS)) {
      const x = layer[key as keyof Layer];
      if (x.rows % 4 !== 0) throw new Error(`${p}${name}: ${x.rows} rows cannot be packed 4 to a byte`);
      out.set(p + name, { dtype: 'U8', shape: [x.rows / 4, x.cols], content: { kind: 'hf-u8', rows: x.rows, cols: x.cols, ternary: x.q } });
      out.set(`${p}${name}_scale`, { dtype: x.scaleDtype, shape: [1], content: { kind: 'scales', values: [x.scale], relTol: scaleTol([x]) } });
    }
    for (const n of layerNorms(tensors, i)) copy(p + n.hf, n.t);
  }
  return { format: 'hf-packed', tensors: out, metadata: { format: 'pt' }, order: 'crate' };
}

/**
 * The config.json of an hf-packed output compared with its source's: architectures
 * ["BitNetForCausalLM"], model_type "bitnet", quantization_config {quant_method bitnet, linear_class
 * autobitlinear, quantization_mode offline}, tie_word_embeddings explicit (the source's, default
 * true), hidden_act and the model's sizes kept. Returns the mismatches (empty when all hold).
 */
export function checkHfPackedConfig(source: Record<string, unknown>, written: Record<string, unknown>): string[] {
  const bad: string[] = [];
  const want = (key: string, value: unknown) => {
    if (JSON.stringify(written[key]) !== JSON.stringify(value)) bad.push(`config.json ${key}: expected ${JSON.stringify(value)}, found ${JSON.stringify(written[key])}`);
  };
  want('architectures', ['BitNetForCausalLM']);
  want('model_type', 'bitnet');
  const qc = written.quantization_config as Record<string, unknown> | undefined;
  if (typeof qc !== 'object' || qc === null) bad.push(`config.json quantization_config: expected an object, found ${JSON.stringify(qc)}`);
  else
    for (const [k, v] of Object.entries({ quant_method: 'bitnet', linear_class: 'autobitlinear', quantization_mode: 'offline' }))
      if (qc[k] !== v) bad.push(`config.json quantization_config.${k}: expected ${JSON.stringify(v)}, found ${JSON.stringify(qc[k])}`);
  want('tie_word_embeddings', source.tie_word_embeddings !== false);
  const kept = ['hidden_act', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'vocab_size', 'rms_norm_eps', 'rope_theta', 'max_position_embeddings', 'bos_token_id', 'eos_token_id'];
  for (const k of kept) if (k in source) want(k, source[k]);
  return bad;
}

/**
 * docs/formats.md section 5: Microsoft's GPU checkpoint. wqkv = q|k|v (q and k rows un-permuted per head
 * first), w13 = gate|up, each I8 [N, K/4] plus `.weight_scale` BF16 [4] holding the projections'
 * scales zero-filled; floats copied as stored; output.weight = the embedding (tied) else lm_head;
 * no __metadata__; data sorted by name.
 */
export function expectedMsGpu(tensors: Tensors, config: Record<string, unknown>, opts: BuildOptions = {}): ExpectedFile {
  const rule = opts.rule ?? 'offline';
  const m = modelShape(config);
  const out = new Map<string, ExpectedTensor>();
  const linear = (name: string, parts: Projection[]) => {
    const { q, rows, cols } = stack(parts, name);
    checkMsShape(rows, cols);
    out.set(`${name}.weight`, { dtype: 'I8', shape: [rows, cols / 4], content: { kind: 'ms-int2', rows, cols, ternary: q } });
    const scales = [0, 1, 2, 3].map((k) => parts[k]?.scale ?? 0);
    out.set(`${name}.weight_scale`, { dtype: 'BF16', shape: [4], content: { kind: 'scales', values: scales, relTol: scaleTol(parts) } });
  };
  const embed = need(tensors, 'model.embed_tokens.weight');
  out.set('tok_embeddings.weight', copied(embed));
  out.set('output.weight', copied(m.tied ? embed : need(tensors, 'lm_head.weight')));
  out.set('norm.weight', copied(need(tensors, 'model.norm.weight')));
  for (const [name, parts] of msGpuStacks(tensors, config, rule)) linear(name, parts);
  for (let i = 0; i < m.layers; i++) for (const n of layerNorms(tensors, i)) out.set(`layers.${i}.${n.engine}`, copied(n.t));
  return { format: 'ms-gpu', tensors: out, metadata: undefined, order: 'name' };
}

/** Hugging Face's rotate-half q or k rows in Microsoft's interleaved order (docs/formats.md 5), values and signs. */
const unpermuted = (x: Projection, heads: number): Projection => ({ ...x, q: unpermuteRows(x.q, x.rows, x.cols, heads), neg: unpermuteRows(x.neg, x.rows, x.cols, heads) });

/** Each layer's four stacked projections by Microsoft's name: q|k|v (q and k un-permuted), o, gate|up, down. */
function msGpuStacks(tensors: Tensors, config: Record<string, unknown>, rule: Rule): [string, Projection[]][] {
  const m = modelShape(config);
  return Array.from({ length: m.layers }, (_, i): [string, Projection[]][] => {
    const p = layerProjections(tensors, config, i, rule);
    return [
      [`layers.${i}.attention.wqkv`, [unpermuted(p.q, m.heads), unpermuted(p.k, m.kvHeads), p.v]],
      [`layers.${i}.attention.wo`, [p.o]],
      [`layers.${i}.feed_forward.w13`, [p.gate, p.up]],
      [`layers.${i}.feed_forward.w2`, [p.down]],
    ];
  }).flat();
}

/**
 * docs/formats.md 5, `--ms-gpu-prefill bf16`: model_state_fp16.safetensors, what Microsoft's
 * gpu/convert_checkpoint.py saves as model_state_fp16.pt. Its quant_weight_fp16 is round(w * s) clamped
 * to [-1, 1], divided by s, in BF16: each projection's ternary times its scale, a zero keeping w's sign
 * (torch rounds -0.3 to -0.0). The int2 file's names without the scales; floats copied.
 */
export function expectedMsGpuPrefill(tensors: Tensors, config: Record<string, unknown>, opts: BuildOptions = {}): ExpectedFile {
  const int2 = expectedMsGpu(tensors, config, opts);
  const rule = opts.rule ?? 'offline';
  const out = new Map<string, ExpectedTensor>();
  for (const [name, t] of int2.tensors) if (t.content.kind === 'bytes') out.set(name, t);
  const linear = (name: string, parts: Projection[]) => {
    const { q, rows, cols } = stack(parts, name);
    const neg = new Int8Array(q.length);
    parts.reduce((at, p) => (neg.set(p.neg, at), at + p.neg.length), 0);
    const rowScales = parts.flatMap((p) => new Array<number>(p.rows).fill(p.scale));
    out.set(`${name}.weight`, { dtype: 'BF16', shape: [rows, cols], content: { kind: 'prefill', cols, ternary: q, neg, rowScales, relTol: scaleTol(parts) } });
  };
  for (const [name, parts] of msGpuStacks(tensors, config, rule)) linear(name, parts);
  return { format: 'ms-gpu', tensors: out, metadata: undefined, order: 'name' };
}

// ---------------------------------------------------------------------------------------------
// Reading and writing whole files

export interface ParsedEntry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

export interface ParsedFile {
  headerLength: number;
  headerText: string;
  metadata: unknown;
  entries: ParsedEntry[];
  /** Absolute offset of the data (8 + header length). */
  dataStart: number;
}

/** A literal safetensors parse: the length prefix, the JSON header, the entries. Throws when unreadable. */
export function parseSafetensorsBytes(file: Uint8Array): ParsedFile {
  if (file.length < 8) throw new Error(`file of ${file.length} bytes has no header length`);
  const n = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  if (8 + n > file.length) throw new Error(`header length ${n} runs past the end of the ${file.length}-byte file`);
  const headerText = new TextDecoder('utf-8', { fatal: true }).decode(file.subarray(8, 8 + n));
  const header = JSON.parse(headerText) as Record<string, unknown>;
  const entries: ParsedEntry[] = [];
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = v as { dtype: string; shape: number[]; data_offsets: [number, number] };
    entries.push({ name, dtype: e.dtype, shape: e.shape, begin: e.data_offsets[0], end: e.data_offsets[1] });
  }
  return { headerLength: n, headerText, metadata: header.__metadata__, entries, dataStart: 8 + n };
}

function expectedOrder(order: ExpectedFile['order'], entries: readonly { name: string; dtype: string }[]): string[] {
  const sorted = [...entries].sort((a, b) => (order === 'crate' ? (ELEMENT_SIZE[b.dtype] ?? 0) - (ELEMENT_SIZE[a.dtype] ?? 0) : 0) || byName(a.name, b.name));
  return sorted.map((e) => e.name);
}

/** The bytes a tensor's expectation stands for (packed with the literal packers above). */
function materialize(t: ExpectedTensor): Uint8Array {
  const c = t.content;
  switch (c.kind) {
    case 'bytes':
      return c.bytes;
    case 'scales':
      if (!isFloatDtype(t.dtype)) throw new Error(`scales stored as ${t.dtype}`);
      return encodeFloats(c.values, t.dtype);
    case 'hf-u8':
      return packHfU8(c.ternary, c.rows, c.cols);
    case 'bitnet-rs-u32':
      return bytesFromU32s(packBitnetRsWords(c.ternary, c.rows, c.cols));
    case 'ms-int2':
      return packMsInt2(c.ternary, c.rows, c.cols);
    case 'prefill': {
      const bits = new Uint16Array(c.ternary.length);
      const scaleBits = c.rowScales.map((v) => new DataView(encodeFloats([v], 'BF16').buffer).getUint16(0, true));
      bits.forEach((_, i) => (bits[i] = (c.neg[i]! << 15) | (c.ternary[i] ? scaleBits[Math.floor(i / c.cols)]! : 0)));
      return new Uint8Array(bits.buffer);
    }
  }
}

/**
 * The file an expectation describes: data in the expected order, contiguous; the header compact
 * JSON with the entries in data order (`__metadata__` first when there is one), space-padded to a
 * multiple of 8. A writer that makes this choice too produces exactly these bytes.
 */
export function encodeExpected(expected: ExpectedFile): Uint8Array {
  const names = expectedOrder(expected.order, [...expected.tensors].map(([name, t]) => ({ name, dtype: t.dtype })));
  const header: Record<string, unknown> = {};
  if (expected.metadata) header.__metadata__ = expected.metadata;
  const datas: Uint8Array[] = [];
  let at = 0;
  for (const name of names) {
    const t = expected.tensors.get(name)!;
    const data = materialize(t);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + data.length] };
    datas.push(data);
    at += data.length;
  }
  let text = JSON.stringify(header);
  while (Buffer.byteLength(text) % 8 !== 0) text += ' ';
  const json = Buffer.from(text, 'utf8');
  const out = new Uint8Array(8 + json.length + at);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let p = 8 + json.length;
  for (const d of datas) {
    out.set(d, p);
    p += d.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Comparison

const hex = (v: number, digits: number) => `0x${v.toString(16).padStart(digits, '0')}`;

function describeElement(dtype: string, bytes: Uint8Array, i: number): string {
  const size = ELEMENT_SIZE[dtype] ?? 1;
  let bits = 0;
  for (let k = size - 1; k >= 0; k--) bits = bits * 256 + bytes[i * size + k];
  const value = isFloatDtype(dtype) ? ` (${decodeValues(bytes.subarray(i * size, (i + 1) * size), dtype)[0]})` : '';
  return `${hex(bits, 2 * size)}${value}`;
}

/** How many of count elements differ, and the first that does (-1 when none). */
function differences(count: number, differs: (i: number) => boolean): { first: number; differing: number } {
  let first = -1;
  let differing = 0;
  for (let i = 0; i < count; i++) {
    if (differs(i)) {
      differing++;
      if (first < 0) first = i;
    }
  }
  return { first, differing };
}

const at2 = (i: number, shape: readonly number[]) => (shape.length === 2 ? ` [${Math.floor(i / shape[1])}, ${i % shape[1]}]` : '');

function compareContent(name: string, t: ExpectedTensor, data: Uint8Array): string[] {
  const c = t.content;
  if (c.kind === 'bytes') {
    const size = ELEMENT_SIZE[t.dtype] ?? 1;
    const count = data.length / size;
    const { first, differing } = differences(count, (i) => data.subarray(i * size, (i + 1) * size).some((b, k) => b !== c.bytes[i * size + k]));
    if (first < 0) return [];
    return [`${name}: ${differing} of ${count} elements differ; first at element ${first}${at2(first, t.shape)}: expected ${describeElement(t.dtype, c.bytes, first)}, found ${describeElement(t.dtype, data, first)}`];
  }
  if (c.kind === 'scales') {
    const dt = t.dtype;
    if (!isFloatDtype(dt)) return [`${name}: scales stored as ${dt}, not a float dtype`];
    const found = decodeValues(data, dt);
    const { first, differing } = differences(found.length, (i) => {
      const a = roundToDtype(c.values[i] * (1 - c.relTol), dt);
      const b = roundToDtype(c.values[i] * (1 + c.relTol), dt);
      return !(found[i] >= Math.min(a, b) && found[i] <= Math.max(a, b));
    });
    if (first < 0) return [];
    const tol = c.relTol ? ` (within ${c.relTol} relative)` : '';
    return [`${name}: ${differing} of ${found.length} scales differ; first at ${first}: expected ${roundToDtype(c.values[first], dt)}${tol}, found ${found[first]}`];
  }
  if (c.kind === 'prefill') {
    if (t.dtype !== 'BF16') return [`${name}: prefill weights stored as ${t.dtype}, not BF16`];
    const bits = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const found = decodeValues(data, 'BF16');
    const { first, differing } = differences(found.length, (i) => {
      const b = bits.getUint16(2 * i, true);
      if (b >> 15 !== c.neg[i]) return true;
      if (c.ternary[i] === 0) return (b & 0x7fff) !== 0;
      const v = c.rowScales[Math.floor(i / c.cols)]!;
      const [lo, hi] = [roundToDtype(v * (1 - c.relTol), 'BF16'), roundToDtype(v * (1 + c.relTol), 'BF16')];
      return !(Math.abs(found[i]!) >= lo && Math.abs(found[i]!) <= hi);
    });
    if (first < 0) return [];
    const want = `${c.neg[first] ? '-' : '+'}${c.ternary[first] ? roundToDtype(c.rowScales[Math.floor(first / c.cols)]!, 'BF16') : 0}`;
    return [`${name}: ${differing} of ${found.length} prefill values differ; first at ${first}${at2(first, t.shape)}: expected ${want}, found ${describeElement('BF16', data, first)}`];
  }
  let got: Int8Array;
  try {
    if (c.kind === 'hf-u8') got = decodeHfU8(data, c.rows, c.cols);
    else if (c.kind === 'bitnet-rs-u32') got = decodeBitnetRsWords(u32sFromBytes(data), c.rows, c.cols);
    else got = decodeMsInt2(data, c.rows, c.cols);
  } catch (e) {
    return [`${name}: does not decode as ${c.kind}: ${(e as Error).message}`];
  }
  const { first, differing } = differences(got.length, (i) => got[i] !== c.ternary[i]);
  if (first < 0) return [];
  return [`${name}: ${differing} of ${got.length} ternary values differ; first at ${first} [${Math.floor(first / c.cols)}, ${first % c.cols}]: expected ${c.ternary[first]}, found ${got[first]}`];
}

/**
 * A written file compared with an expectation: the header (length a multiple of 8, padded with
 * spaces, the exact `__metadata__`), the exact tensor set, each dtype and shape, the data layout
 * (contiguous from 0 to the end of the file, in the expected order, each tensor at an absolute
 * offset that is a multiple of its element size), and each tensor decoded and compared. Returns
 * the mismatches, each naming the tensor and the first difference; empty when the file is right.
 */
export function checkAgainst(expected: ExpectedFile, file: Uint8Array): string[] {
  let parsed: ParsedFile;
  try {
    parsed = parseSafetensorsBytes(file);
  } catch (e) {
    return [`unreadable safetensors file: ${(e as Error).message}`];
  }
  const bad: string[] = [];
  if (parsed.headerLength % 8 !== 0) bad.push(`header: length ${parsed.headerLength} is not a multiple of 8`);
  const padding = parsed.headerText.slice(parsed.headerText.lastIndexOf('}') + 1);
  if (/[^ ]/.test(padding)) bad.push(`header: padded with ${JSON.stringify(padding)}, not only spaces`);
  if (JSON.stringify(parsed.metadata) !== JSON.stringify(expected.metadata))
    bad.push(`header: __metadata__ expected ${expected.metadata ? JSON.stringify(expected.metadata) : 'absent'}, found ${parsed.metadata === undefined ? 'absent' : JSON.stringify(parsed.metadata)}`);

  const found = new Map(parsed.entries.map((e) => [e.name, e]));
  const missing = [...expected.tensors.keys()].filter((n) => !found.has(n));
  const extra = parsed.entries.map((e) => e.name).filter((n) => !expected.tensors.has(n));
  if (missing.length) bad.push(`missing tensors (${missing.length}): ${missing.join(', ')}`);
  if (extra.length) bad.push(`unexpected tensors (${extra.length}): ${extra.join(', ')}`);

  // layout
  const dataLength = file.length - parsed.dataStart;
  const byOffset = [...parsed.entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of byOffset) {
    if (e.begin !== at) bad.push(`layout: ${e.name} starts at ${e.begin}, expected ${at} (contiguous data)`);
    const size = ELEMENT_SIZE[e.dtype];
    if (size && (parsed.dataStart + e.begin) % size !== 0) bad.push(`layout: ${e.name} (${e.dtype}) at absolute offset ${parsed.dataStart + e.begin}, not a multiple of ${size}`);
    at = Math.max(at, e.end);
  }
  if (at !== dataLength) bad.push(`layout: data ends at ${at}, the file's data is ${dataLength} bytes`);
  const order = byOffset.map((e) => e.name);
  const want = expectedOrder(expected.order, parsed.entries);
  const firstOut = order.findIndex((n, i) => n !== want[i]);
  if (firstOut >= 0) bad.push(`layout: data order (${expected.order}) differs at position ${firstOut}: expected ${want[firstOut]}, found ${order[firstOut]}`);

  for (const [name, t] of expected.tensors) {
    const e = found.get(name);
    if (!e) continue;
    const problems: string[] = [];
    if (e.dtype !== t.dtype) problems.push(`${name}: dtype expected ${t.dtype}, found ${e.dtype}`);
    if (JSON.stringify(e.shape) !== JSON.stringify(t.shape)) problems.push(`${name}: shape expected [${t.shape}], found [${e.shape}]`);
    const length = product(t.shape) * (ELEMENT_SIZE[t.dtype] ?? NaN);
    if (e.end - e.begin !== length) problems.push(`${name}: ${e.end - e.begin} bytes, expected ${length}`);
    else if (e.end > dataLength) problems.push(`${name}: data [${e.begin}, ${e.end}] runs past the end of the file`);
    if (problems.length === 0) problems.push(...compareContent(name, t, file.subarray(parsed.dataStart + e.begin, parsed.dataStart + e.end)));
    bad.push(...problems);
  }
  return bad;
}

// ---------------------------------------------------------------------------------------------
// The bitnet-rs .bin files (docs/formats.md sections 3 and 4)

export type BincodeFlavor = 'standard' | 'legacy';

/** One bincode value read literally: varints (standard) or fixed widths (legacy), little-endian. */
class BincodeRef {
  private pos = 0;
  constructor(private readonly bytes: Uint8Array, private readonly flavor: BincodeFlavor, private readonly file: string) {}

  private fixed(n: number): number {
    if (this.pos + n > this.bytes.length) throw new Error(`${this.file}: ${n} bytes wanted at ${this.pos}, the file has ${this.bytes.length}`);
    let v = 0;
    for (let k = n - 1; k >= 0; k--) v = v * 256 + this.bytes[this.pos + k];
    this.pos += n;
    if (!Number.isSafeInteger(v)) throw new Error(`${this.file}: an integer beyond 2^53 at ${this.pos - n}`);
    return v;
  }

  /** standard: below 251 one byte, else FB u16, FC u32, FD u64, each only for values the smaller forms cannot hold. */
  private varint(): number {
    const at = this.pos;
    const b = this.fixed(1);
    if (b < 251) return b;
    const [size, min] = b === 0xfb ? [2, 251] : b === 0xfc ? [4, 2 ** 16] : b === 0xfd ? [8, 2 ** 32] : [0, 0];
    if (!size) throw new Error(`${this.file}: varint marker ${b.toString(16)} at ${at}`);
    const v = this.fixed(size);
    if (v < min) throw new Error(`${this.file}: non-canonical varint ${v} at ${at}`);
    return v;
  }

  usize = (): number => (this.flavor === 'standard' ? this.varint() : this.fixed(8));
  u32 = (): number => (this.flavor === 'standard' ? this.varint() : this.fixed(4));

  f32(): number {
    if (this.pos + 4 > this.bytes.length) throw new Error(`${this.file}: truncated f32 at ${this.pos}`);
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  /** A Vec: its length, then its items. */
  vec(item: () => number): number[] {
    const n = this.usize();
    if (n > this.bytes.length) throw new Error(`${this.file}: a Vec of ${n} items at ${this.pos}`);
    return Array.from({ length: n }, item);
  }

  get atEnd(): boolean {
    return this.pos === this.bytes.length;
  }

  end(): void {
    if (!this.atEnd) throw new Error(`${this.file}: ${this.bytes.length - this.pos} bytes after the value`);
  }
}

interface BinLinear {
  words: Uint32Array;
  scales: Float32Array;
  inFeatures: number;
  outFeatures: number;
}

interface BinFloats {
  weight: Float32Array;
  shape: number[];
}

const binLinear = (r: BincodeRef): BinLinear => ({
  words: Uint32Array.from(r.vec(r.u32)),
  scales: Float32Array.from(r.vec(() => r.f32())),
  inFeatures: r.usize(),
  outFeatures: r.usize(),
});
const binFloats = (r: BincodeRef): BinFloats => ({ weight: Float32Array.from(r.vec(() => r.f32())), shape: r.vec(r.usize) });

/**
 * The .bin files of a bitnet-rs output (`read` gives a file's bytes), decoded as docs/formats.md 4
 * says in the given flavor, compared with the bitnet-rs safetensors expectation (the same stacked
 * ternaries and scales, in f32) and the source floats widened to f32. Each file must hold exactly
 * one value. Returns the mismatches.
 */
export function checkBitnetRsBins(read: (file: string) => Uint8Array, flavor: BincodeFlavor, tensors: Tensors, config: Record<string, unknown>, opts: BuildOptions = {}): string[] {
  const want = expectedBitnetRsSafetensors(tensors, config, opts);
  const m = modelShape(config);
  const problems: string[] = [];
  const value = <T>(file: string, decode: (r: BincodeRef) => T): T | undefined => {
    try {
      const r = new BincodeRef(read(file), flavor, file);
      const v = decode(r);
      r.end();
      return v;
    } catch (e) {
      problems.push((e as Error).message);
      return undefined;
    }
  };
  const linear = (label: string, name: string, rec: BinLinear) => {
    const w = want.tensors.get(name)!.content;
    const s = want.tensors.get(name + '_scale')!.content;
    if (w.kind !== 'bitnet-rs-u32' || s.kind !== 'scales') throw new Error(`reference shape of ${name}`);
    if (rec.inFeatures !== w.cols || rec.outFeatures !== w.rows) problems.push(`${label}: [${rec.outFeatures}, ${rec.inFeatures}] instead of [${w.rows}, ${w.cols}]`);
    if (rec.words.length !== w.rows * Math.ceil(w.cols / 16)) return problems.push(`${label}: ${rec.words.length} words`);
    const q = decodeBitnetRsWords(rec.words, w.rows, w.cols);
    const bad = q.findIndex((v, i) => v !== w.ternary[i]);
    if (bad >= 0) problems.push(`${label}: value ${bad} is ${q[bad]}, expected ${w.ternary[bad]}`);
    if (rec.scales.length !== w.rows) return problems.push(`${label}: ${rec.scales.length} scales`);
    rec.scales.forEach((v, i) => {
      const lo = roundToDtype(s.values[i] * (1 - s.relTol), 'F32');
      const hi = roundToDtype(s.values[i] * (1 + s.relTol), 'F32');
      if (!(v >= lo && v <= hi)) problems.push(`${label}: scale ${i} is ${v}, expected ${roundToDtype(s.values[i], 'F32')}`);
    });
  };
  const floats = (label: string, got: BinFloats, source: RawTensor) => {
    const exp = decodeValues(source.bytes, source.dtype as Dt);
    const bad = exp.findIndex((v, i) => !Object.is(Math.fround(v), got.weight[i]));
    if (bad >= 0 || exp.length !== got.weight.length) problems.push(`${label}: element ${bad} differs`);
    const shape = source.shape.length === 1 ? [1, source.shape[0]] : source.shape;
    if (JSON.stringify(got.shape) !== JSON.stringify(shape)) problems.push(`${label}: shape [${got.shape}], expected [${shape}]`);
  };
  const meta = value('metadata.bin', (r) => ({ numLayers: r.usize(), vocabSize: r.usize(), hiddenSize: r.usize(), timestamp: r.usize() }));
  if (meta && meta.numLayers !== m.layers) problems.push(`metadata.bin: ${meta.numLayers} layers, expected ${m.layers}`);
  const embedding = value('embedding.bin', binFloats);
  if (embedding) floats('embedding.bin', embedding, need(tensors, 'model.embed_tokens.weight'));
  const norm = value('norm.bin', binFloats);
  if (norm) floats('norm.bin', norm, need(tensors, 'model.norm.weight'));
  const head = value('lm_head.bin', binLinear);
  if (head) linear('lm_head.bin', 'output.weight', head);
  for (let i = 0; i < m.layers; i++) {
    const file = `block_${i}.bin`;
    const norms = layerNorms(tensors, i);
    const block = value(file, (r) => {
      const fields = { wqkv: binLinear(r), oProj: binLinear(r), w13: binLinear(r), w2: binLinear(r), attentionNorm: binFloats(r), ffnNorm: binFloats(r) };
      // the sub-norms are appended only when the source has them (section 4)
      return { ...fields, subNorms: r.atEnd ? [] : [binFloats(r), binFloats(r)] };
    });
    if (!block) continue;
    const p = `layers.${i}.`;
    linear(`${file} wqkv`, p + 'attention.wqkv.weight', block.wqkv);
    linear(`${file} o_proj`, p + 'attention.wo.weight', block.oProj);
    linear(`${file} w13`, p + 'feed_forward.w13.weight', block.w13);
    linear(`${file} w2`, p + 'feed_forward.w2.weight', block.w2);
    const got = [block.attentionNorm, block.ffnNorm, ...block.subNorms];
    if (got.length !== norms.length) problems.push(`${file}: ${got.length} norms, the source has ${norms.length}`);
    else norms.forEach((n, k) => floats(`${file} ${n.engine}`, got[k], n.t));
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// GGUF (docs/gguf.md sections 2, 3, 4)

/** The ternary types --gguf-type writes, and f16 (each value times the scale). */
export type GgufTernaryType = 'i2_s' | 'tq2_0' | 'tq1_0' | 'q2_0' | 'f16';

/** ggml type ids (section 3) by name. */
export const GGML_IDS: Record<string, number> = { F32: 0, F16: 1, Q8_0: 8, BF16: 30, TQ1_0: 34, TQ2_0: 35, I2_S: 36, Q2_0: 42 };
/** general.file_type of a file of each type (section 2). */
export const GGUF_FILE_TYPE: Record<GgufTernaryType, number> = { i2_s: 40, tq1_0: 36, tq2_0: 37, q2_0: 41, f16: 1 };

/** A tensor of a GGUF file as the caller's parser lists it (ne innermost first, offset relative to the data). */
export interface GgufTensorInfo {
  name: string;
  ne: number[];
  type: number;
  offset: number;
}

type GgufContent =
  | { kind: 'float'; type: 'F16' | 'F32'; values: number[] }
  | { kind: 'q8_0'; bytes: Uint8Array }
  | { kind: 'ternary'; rows: number; cols: number; q: Int8Array; scale: number; relTol: number };

/** What every tensor of a GGUF file must hold, whatever the ternary type (section 3's table). */
export type GgufExpectation = Map<string, { ne: number[]; content: GgufContent }>;

const GGUF_PROJECTIONS: Record<string, keyof typeof PROJECTIONS> = {
  attn_q: 'q', attn_k: 'k', attn_v: 'v', attn_output: 'o', ffn_gate: 'gate', ffn_up: 'up', ffn_down: 'down',
};
const GGUF_NORMS: Record<string, string> = {
  'attention_norm.weight': 'attn_norm', 'ffn_norm.weight': 'ffn_norm', 'attention.attn_sub_norm.weight': 'attn_sub_norm', 'feed_forward.ffn_sub_norm.weight': 'ffn_sub_norm',
};

/**
 * Section 3: token_embd F16, norms F32, the seven projections ternary; no output (the head is
 * token_embd). Arch llama (section 6): q/k rows in adjacent-pair order (llama.cpp's converter `permute`:
 * row (h, i, l) of the file is Hugging Face's row (h, l, i)), and an untied lm_head as output.weight F16.
 * `embd: 'q8_0'`: token_embd (and output) as Q8_0 blocks of the source values (section 7).
 */
export function expectedGguf(tensors: Tensors, config: Record<string, unknown>, opts: BuildOptions & { arch?: string; embd?: 'f16' | 'q8_0' } = {}): GgufExpectation {
  const rule = opts.rule ?? 'offline';
  const m = modelShape(config);
  const out: GgufExpectation = new Map();
  const float = (name: string, t: RawTensor, type: 'F16' | 'F32') => {
    const values = decodeValues(t.bytes, t.dtype as Dt).map(type === 'F16' ? toF16 : Math.fround);
    out.set(name, { ne: [...t.shape].reverse(), content: { kind: 'float', type, values } });
  };
  const embd = (name: string, t: RawTensor) => {
    if (opts.embd !== 'q8_0') return float(name, t, 'F16');
    const values = decodeValues(t.bytes, t.dtype as Dt); // f32, bf16 and f16 values are all f32 values
    const bytes = new Uint8Array((values.length / 32) * 34);
    for (let b = 0; b < values.length / 32; b++) bytes.set(q8_0BlockRef(values.slice(32 * b, 32 * b + 32)), 34 * b);
    out.set(name, { ne: [...t.shape].reverse(), content: { kind: 'q8_0', bytes } });
  };
  embd('token_embd.weight', need(tensors, 'model.embed_tokens.weight'));
  float('output_norm.weight', need(tensors, 'model.norm.weight'), 'F32');
  const llama = opts.arch === 'llama';
  if (llama && !m.tied) embd('output.weight', need(tensors, 'lm_head.weight'));
  const permuted = (q: Int8Array, rows: number, cols: number, heads: number) => {
    const d = rows / heads;
    const out = new Int8Array(q.length);
    for (let r = 0; r < rows; r++) {
      const h = Math.floor(r / d);
      const k = r % d;
      const from = h * d + (k % 2) * (d / 2) + Math.floor(k / 2);
      out.set(q.subarray(from * cols, (from + 1) * cols), r * cols);
    }
    return out;
  };
  for (let i = 0; i < m.layers; i++) {
    const layer = layerProjections(tensors, config, i, rule);
    for (const [gguf, key] of Object.entries(GGUF_PROJECTIONS)) {
      const x = layer[key];
      const heads = llama && gguf === 'attn_q' ? m.heads : llama && gguf === 'attn_k' ? m.kvHeads : 0;
      const q = heads ? permuted(x.q, x.rows, x.cols, heads) : x.q;
      out.set(`blk.${i}.${gguf}.weight`, { ne: [x.cols, x.rows], content: { kind: 'ternary', rows: x.rows, cols: x.cols, q, scale: x.scale, relTol: scaleTol([x]) } });
    }
    for (const n of layerNorms(tensors, i)) float(`blk.${i}.${GGUF_NORMS[n.engine]}.weight`, n.t, 'F32');
  }
  return out;
}

/** Section 4: the bytes of a [rows, cols] tensor of each ternary type. */
function ternaryBytes(type: GgufTernaryType, rows: number, cols: number): number {
  const blocks = (rows * cols) / 256;
  return { i2_s: (rows * cols) / 4 + 32, tq2_0: blocks * 66, tq1_0: blocks * 54, q2_0: ((rows * cols) / 64) * 18, f16: 2 * rows * cols }[type];
}

const GGUF_REF: Record<Exclude<GgufTernaryType, 'f16'>, RefPacking> = { i2_s: i2s, tq2_0, tq1_0, q2_0 };
/** Where each block type keeps its fp16 d, and its block's bytes (sections 4 and 7). */
const D_AT: Record<'tq2_0' | 'tq1_0' | 'q2_0', [number, number]> = { tq2_0: [64, 66], tq1_0: [52, 54], q2_0: [0, 18] };

/** Whether a stored scale is the expected one rounded to `dtype` (any rounding of a value within relTol of it). */
const scaleOk = (found: number, want: number, relTol: number, dtype: Dt) => {
  const a = roundToDtype(want * (1 - relTol), dtype);
  const b = roundToDtype(want * (1 + relTol), dtype);
  return found >= Math.min(a, b) && found <= Math.max(a, b);
};

function checkTernary(name: string, type: GgufTernaryType, c: Extract<GgufContent, { kind: 'ternary' }>, data: Uint8Array): string[] {
  const { rows, cols } = c;
  let q: Int8Array;
  const scales: number[] = [];
  if (type === 'f16') {
    const values = decodeValues(data, 'F16');
    q = Int8Array.from(values, Math.sign);
    for (const v of values) if (v !== 0 && !scales.includes(Math.abs(v))) scales.push(Math.abs(v));
  } else {
    const codes = type === 'i2_s' ? data.subarray(0, (rows * cols) / 4) : data;
    q = GGUF_REF[type].unpack(codes, rows, cols);
    if (type === 'i2_s') {
      const tail = data.subarray((rows * cols) / 4);
      scales.push(new DataView(tail.buffer, tail.byteOffset, 4).getFloat32(0, true));
      if (tail.subarray(4).some((b) => b !== 0)) return [`${name}: the I2_S tail is not zero after the scale`];
    } else {
      const [at, blockBytes] = D_AT[type];
      for (let b = 0; b < data.length / blockBytes; b++) {
        const d = f16ToNumber(data[b * blockBytes + at] | (data[b * blockBytes + at + 1] << 8));
        if (!scales.includes(d)) scales.push(d);
      }
    }
  }
  const bad: string[] = [];
  const first = q.findIndex((v, i) => v !== c.q[i]);
  if (first >= 0) bad.push(`${name}: ternary value ${first} [${Math.floor(first / cols)}, ${first % cols}] is ${q[first]}, expected ${c.q[first]}`);
  const dtype: Dt = type === 'i2_s' ? 'F32' : 'F16';
  if (scales.length > 1 || (scales.length === 1 && !scaleOk(scales[0], c.scale, c.relTol, dtype))) {
    bad.push(`${name}: scale(s) ${scales.join(', ')}, expected ${roundToDtype(c.scale, dtype)} (${dtype}) in every place`);
  }
  return bad;
}

/**
 * A GGUF file's tensors (as listed by an independent parser, data from `dataStart`) against an
 * expectation: the exact tensor set, each ne, type (`type` for the projections) and content, and the
 * layout of section 3 (each tensor at the sum of the sizes before it, each rounded up to the
 * alignment; the last padded too, to the end of the file). Returns the mismatches.
 */
export function checkGguf(expected: GgufExpectation, type: GgufTernaryType, file: Uint8Array, infos: GgufTensorInfo[], dataStart: number, alignment = 32): string[] {
  const bad: string[] = [];
  const names = infos.map((t) => t.name);
  const missing = [...expected.keys()].filter((n) => !names.includes(n));
  const extra = names.filter((n) => !expected.has(n));
  if (missing.length) bad.push(`missing tensors (${missing.length}): ${missing.join(', ')}`);
  if (extra.length) bad.push(`unexpected tensors (${extra.length}): ${extra.join(', ')}`);
  const pad = (n: number) => Math.ceil(n / alignment) * alignment;
  let at = 0;
  for (const t of infos) {
    const e = expected.get(t.name);
    if (!e) continue;
    const c = e.content;
    const typeName = c.kind === 'float' ? c.type : c.kind === 'q8_0' ? 'Q8_0' : type.toUpperCase();
    const size = c.kind === 'float' ? c.values.length * (c.type === 'F16' ? 2 : 4) : c.kind === 'q8_0' ? c.bytes.length : ternaryBytes(type, c.rows, c.cols);
    if (t.type !== GGML_IDS[typeName]) bad.push(`${t.name}: ggml type ${t.type}, expected ${typeName} (${GGML_IDS[typeName]})`);
    if (JSON.stringify(t.ne) !== JSON.stringify(e.ne)) bad.push(`${t.name}: ne [${t.ne}], expected [${e.ne}]`);
    if (t.offset !== at) bad.push(`${t.name}: at data offset ${t.offset}, expected ${at}`);
    at = t.offset + pad(size);
    const data = file.subarray(dataStart + t.offset, dataStart + t.offset + size);
    if (data.length !== size) {
      bad.push(`${t.name}: ${data.length} bytes in the file, expected ${size}`);
      continue;
    }
    if (c.kind === 'ternary') {
      bad.push(...checkTernary(t.name, type, c, data));
    } else if (c.kind === 'q8_0') {
      const first = data.findIndex((b, i) => b !== c.bytes[i]);
      if (first >= 0) bad.push(`${t.name}: Q8_0 byte ${first} (block ${Math.floor(first / 34)}) is ${data[first]}, expected ${c.bytes[first]}`);
    } else {
      const got = decodeValues(data, c.type);
      const first = got.findIndex((v, i) => !Object.is(v, c.values[i]));
      if (first >= 0) bad.push(`${t.name}: element ${first} is ${got[first]}, expected ${c.values[first]}`);
    }
  }
  if (dataStart + at !== file.length) bad.push(`layout: the data ends at ${dataStart + at}, the file at ${file.length}`);
  return bad;
}

// A minimal, obvious GGUF v3 writer for test fixtures (NOT the converter's writer: it shares no code
// with src/). Header, key/values of any GGUF type, tensor infos, alignment padding, F32/F16 tensors.
// Written from ggml's gguf.h comment of the format and docs/gguf.md:
//
//   "GGUF" | u32 version 3 | u64 tensor count | u64 kv count
//   kv:     string key | u32 type | value      (array value: u32 item type | u64 count | items)
//   tensor: string name | u32 n_dims | u64 ne[n_dims] (innermost first) | u32 ggml type | u64 offset
//   padding to the alignment, then each tensor's data at its offset (relative to the data start),
//   each padded to the alignment (the last one too).
//   string: u64 byte length | UTF-8 bytes (no terminator); bool: 1 byte; all little-endian.
//
// Also: bitnetF32Gguf, the key/values and tensors of a llama.cpp arch `bitnet` model whose
// projections are already the effective float values (ternary * scale), with a SentencePiece-style
// vocabulary: a fixture that any llama.cpp must compute exactly like the float reference.

import { writeFileSync } from 'node:fs';
import { encodeFloats } from '../reference/formats-ref.js';
import type { RefModel, RefProjection } from '../reference/forward-ref.js';

export type GgufScalarType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'bool' | 'string' | 'u64' | 'i64' | 'f64';
export type GgufScalar = number | bigint | boolean | string;
export type GgufKv = readonly [key: string, type: GgufScalarType, value: GgufScalar] | readonly [key: string, type: `${GgufScalarType}[]`, value: readonly GgufScalar[]];

export const GGUF_TYPE: Record<GgufScalarType | 'array', number> = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
};

/** ggml_type ids of the two tensor types this writer knows. */
export const GGML_TYPE = { F32: 0, F16: 1 } as const;

export interface GgufTensor {
  name: string;
  /** ggml order, innermost first: a torch [out, in] weight has ne = [in, out]. */
  ne: readonly number[];
  type: keyof typeof GGML_TYPE;
  /** Values in memory order (ne[0] fastest), i.e. a torch tensor's row-major order. */
  data: ArrayLike<number>;
}

export interface GgufFile {
  kv: readonly GgufKv[];
  tensors: readonly GgufTensor[];
  /** Data alignment (default 32; write general.alignment yourself when it is not 32). */
  alignment?: number;
}

/** Little-endian byte sink. */
class Bytes {
  private parts: Uint8Array[] = [];
  length = 0;
  raw(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.length;
  }
  private fixed(size: number, set: (v: DataView) => void): void {
    const b = new Uint8Array(size);
    set(new DataView(b.buffer));
    this.raw(b);
  }
  u8 = (x: number) => this.fixed(1, (v) => v.setUint8(0, x));
  i8 = (x: number) => this.fixed(1, (v) => v.setInt8(0, x));
  u16 = (x: number) => this.fixed(2, (v) => v.setUint16(0, x, true));
  i16 = (x: number) => this.fixed(2, (v) => v.setInt16(0, x, true));
  u32 = (x: number) => this.fixed(4, (v) => v.setUint32(0, x, true));
  i32 = (x: number) => this.fixed(4, (v) => v.setInt32(0, x, true));
  f32 = (x: number) => this.fixed(4, (v) => v.setFloat32(0, x, true));
  f64 = (x: number) => this.fixed(8, (v) => v.setFloat64(0, x, true));
  u64 = (x: number | bigint) => this.fixed(8, (v) => v.setBigUint64(0, BigInt(x), true));
  i64 = (x: number | bigint) => this.fixed(8, (v) => v.setBigInt64(0, BigInt(x), true));
  string = (s: string) => {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.raw(b);
  };
  padTo(alignment: number): void {
    const pad = (alignment - (this.length % alignment)) % alignment;
    if (pad) this.raw(new Uint8Array(pad));
  }
  concat(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

function scalar(out: Bytes, type: GgufScalarType, value: GgufScalar, key: string): void {
  const num = () => {
    if (typeof value !== 'number') throw new Error(`${key}: ${type} needs a number, found ${typeof value}`);
    return value;
  };
  switch (type) {
    case 'string':
      if (typeof value !== 'string') throw new Error(`${key}: string needs a string`);
      return out.string(value);
    case 'bool':
      if (typeof value !== 'boolean') throw new Error(`${key}: bool needs a boolean`);
      return out.u8(value ? 1 : 0);
    case 'u64':
    case 'i64':
      if (typeof value !== 'number' && typeof value !== 'bigint') throw new Error(`${key}: ${type} needs a number or bigint`);
      return out[type](value);
    default:
      return out[type](num());
  }
}

const elementSize = (t: GgufTensor) => (t.type === 'F32' ? 4 : 2);
const count = (ne: readonly number[]) => ne.reduce((a, b) => a * b, 1);

export function encodeGguf(file: GgufFile): Uint8Array {
  const alignment = file.alignment ?? 32;
  const out = new Bytes();
  out.raw(new TextEncoder().encode('GGUF'));
  out.u32(3);
  out.u64(file.tensors.length);
  out.u64(file.kv.length);
  for (const [key, type, value] of file.kv) {
    out.string(key);
    if (type.endsWith('[]')) {
      const item = type.slice(0, -2) as GgufScalarType;
      const values = value as readonly GgufScalar[];
      out.u32(GGUF_TYPE.array);
      out.u32(GGUF_TYPE[item]);
      out.u64(values.length);
      for (const v of values) scalar(out, item, v, key);
    } else {
      out.u32(GGUF_TYPE[type as GgufScalarType]);
      scalar(out, type as GgufScalarType, value as GgufScalar, key);
    }
  }
  let offset = 0;
  for (const t of file.tensors) {
    if (t.data.length !== count(t.ne)) throw new Error(`${t.name}: ne [${t.ne}] holds ${count(t.ne)} values, found ${t.data.length}`);
    out.string(t.name);
    out.u32(t.ne.length);
    for (const d of t.ne) out.u64(d);
    out.u32(GGML_TYPE[t.type]);
    out.u64(offset);
    const size = count(t.ne) * elementSize(t);
    offset += size + ((alignment - (size % alignment)) % alignment);
  }
  out.padTo(alignment);
  for (const t of file.tensors) {
    out.raw(encodeFloats(Array.from(t.data), t.type));
    out.padTo(alignment);
  }
  return out.concat();
}

export function writeGguf(path: string, file: GgufFile): number {
  const bytes = encodeGguf(file);
  writeFileSync(path, bytes);
  return bytes.length;
}

// ---------------------------------------------------------------------------------------------
// A llama.cpp arch `bitnet` model from effective float weights (docs/gguf.md sections 2-3)

/** SentencePiece token types, as llama.cpp reads tokenizer.ggml.token_type. */
export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export interface SpmToken {
  piece: string;
  score: number;
  type: number;
}

/**
 * The smallest SentencePiece vocabulary llama.cpp accepts (docs/gguf.md section 2): <unk>, <s>, </s>, the
 * 256 byte tokens <0x00>..<0xFF>, then `vocab - 259` normal pieces ("t259", ... : any unique strings).
 */
export function minimalSpmVocabulary(vocab: number): SpmToken[] {
  if (vocab < 259) throw new Error(`an SPM vocabulary needs at least 259 tokens, asked for ${vocab}`);
  const out: SpmToken[] = [
    { piece: '<unk>', score: 0, type: TOKEN_TYPE.unknown },
    { piece: '<s>', score: 0, type: TOKEN_TYPE.control },
    { piece: '</s>', score: 0, type: TOKEN_TYPE.control },
  ];
  for (let b = 0; b < 256; b++) out.push({ piece: `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, score: 0, type: TOKEN_TYPE.byte });
  for (let id = 259; id < vocab; id++) out.push({ piece: `t${id}`, score: -id, type: TOKEN_TYPE.normal });
  return out;
}

export interface BitnetGgufOptions {
  /** Default minimalSpmVocabulary(model.vocab). */
  vocabulary?: SpmToken[];
  /** token_embd type (norms are always F32, projections F32): default F32. */
  embeddingType?: 'F32' | 'F16';
  /** Extra key/values appended (or instead of the defaults with the same key). */
  extraKv?: GgufKv[];
  /** Leave these keys out (to see what the engine requires). */
  omitKeys?: string[];
  /** Leave these tensors out. */
  omitTensors?: string[];
  /** Changes a projection's effective weights before writing (for negative controls). */
  editProjection?: (layer: number, name: 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down', w: Float64Array) => Float64Array;
  name?: string;
}

/**
 * A GGUF file of llama.cpp arch `bitnet` holding the model's effective weights as F32 (q and k rows in
 * Hugging Face order: bitnet uses NEOX RoPE, no permutation), the embedding as token_embd (the engine's
 * output head is always token_embd), both sub-norms, and an SPM vocabulary.
 */
export function bitnetF32Gguf(m: RefModel, o: BitnetGgufOptions = {}): GgufFile {
  if (!m.tied) throw new Error('llama.cpp arch bitnet has no separate output head: the model must be tied');
  const vocab = o.vocabulary ?? minimalSpmVocabulary(m.vocab);
  if (vocab.length !== m.vocab) throw new Error(`vocabulary has ${vocab.length} tokens, the model ${m.vocab}`);
  const A = 'bitnet';
  let kv: GgufKv[] = [
    ['general.architecture', 'string', A],
    ['general.name', 'string', o.name ?? 'bitnet-converter test fixture'],
    ['general.alignment', 'u32', 32],
    ['general.file_type', 'u32', 0], // LLAMA_FTYPE_ALL_F32
    [`${A}.vocab_size`, 'u32', m.vocab],
    [`${A}.context_length`, 'u32', 2048],
    [`${A}.embedding_length`, 'u32', m.hidden],
    [`${A}.block_count`, 'u32', m.layers.length],
    [`${A}.feed_forward_length`, 'u32', m.intermediate],
    [`${A}.attention.head_count`, 'u32', m.heads],
    [`${A}.attention.head_count_kv`, 'u32', m.kvHeads],
    [`${A}.attention.layer_norm_rms_epsilon`, 'f32', m.eps],
    [`${A}.rope.freq_base`, 'f32', m.ropeTheta],
    [`${A}.rope.dimension_count`, 'u32', m.headDim],
    ['tokenizer.ggml.model', 'string', 'llama'],
    ['tokenizer.ggml.tokens', 'string[]', vocab.map((t) => t.piece)],
    ['tokenizer.ggml.scores', 'f32[]', vocab.map((t) => t.score)],
    ['tokenizer.ggml.token_type', 'i32[]', vocab.map((t) => t.type)],
    ['tokenizer.ggml.bos_token_id', 'u32', 1],
    ['tokenizer.ggml.eos_token_id', 'u32', 2],
    ['tokenizer.ggml.unknown_token_id', 'u32', 0],
    ['tokenizer.ggml.add_bos_token', 'bool', true],
    ['tokenizer.ggml.add_eos_token', 'bool', false],
  ];
  for (const extra of o.extraKv ?? []) kv = [...kv.filter((k) => k[0] !== extra[0]), extra];
  kv = kv.filter((k) => !(o.omitKeys ?? []).includes(k[0]));

  const vec = (name: string, data: Float64Array): GgufTensor => ({ name, ne: [data.length], type: 'F32', data });
  const tensors: GgufTensor[] = [
    { name: 'token_embd.weight', ne: [m.hidden, m.vocab], type: o.embeddingType ?? 'F32', data: m.embed },
    vec('output_norm.weight', m.norm),
  ];
  m.layers.forEach((L, i) => {
    const proj = (gguf: string, key: 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down', p: RefProjection): GgufTensor => ({
      name: `blk.${i}.${gguf}.weight`,
      ne: [p.cols, p.rows],
      type: 'F32',
      data: o.editProjection ? o.editProjection(i, key, p.w.slice()) : p.w,
    });
    if (!L.attnSubNorm || !L.ffnSubNorm) throw new Error(`layer ${i}: llama.cpp arch bitnet requires both sub-norms`);
    tensors.push(
      vec(`blk.${i}.attn_norm.weight`, L.attnNorm),
      proj('attn_q', 'q', L.q),
      proj('attn_k', 'k', L.k),
      proj('attn_v', 'v', L.v),
      proj('attn_output', 'o', L.o),
      vec(`blk.${i}.attn_sub_norm.weight`, L.attnSubNorm),
      vec(`blk.${i}.ffn_norm.weight`, L.ffnNorm),
      proj('ffn_gate', 'gate', L.gate),
      proj('ffn_up', 'up', L.up),
      proj('ffn_down', 'down', L.down),
      vec(`blk.${i}.ffn_sub_norm.weight`, L.ffnSubNorm),
    );
  });
  return { kv, tensors: tensors.filter((t) => !(o.omitTensors ?? []).includes(t.name)) };
}

/** A GGUF string array's encoded items (u64 byte length, then UTF-8, each) as strings. */
export function decodeStringItems(bytes: Uint8Array, count: number): string[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: string[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    const n = Number(view.getBigUint64(p, true));
    out.push(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(p + 8, p + 8 + n)));
    p += 8 + n;
  }
  if (p !== bytes.length) throw new Error(`string items: ${bytes.length - p} bytes left after ${count} items`);
  return out;
}

/** A KV's value as the converter holds it, its encoded items (`raw`) decoded to strings. */
export function kvValue(v: { value: unknown; raw?: { count: number; bytes: Uint8Array } }): unknown {
  return v.raw ? decodeStringItems(v.raw.bytes, v.raw.count) : v.value;
}

// The bitnet-rs engine records (docs/formats.md section 4): their TypeScript types, and their fields in wire
// order as data (BIT_LINEAR, WEIGHT_SHAPE, BLOCK, METADATA, MODEL) with the one writer and reader that
// walk it. Whole values are for small files and the tests; the worker streams the large vectors of real
// models through the same walk (writeStreamed), and the lazy read scans them (ReadHooks).

import { BincodeReader, BincodeWriter, type BincodeFlavor } from '../../formats/bincode.js';
import type { ByteSink } from '../../stream/ports.js';
import type { BlockRole, ModelRole } from '../../model/plan.js';

export interface BitLinearRecord {
  packedWeights: Uint32Array;
  weightScales: Float32Array;
  inFeatures: number;
  outFeatures: number;
}

export interface RmsNormRecord {
  weight: Float32Array;
  shape: number[];
}

export interface EmbeddingRecord {
  weight: Float32Array;
  shape: number[];
}

export interface AttentionRecord {
  wqkv: BitLinearRecord;
  oProj: BitLinearRecord;
}

export interface FeedForwardRecord {
  w13: BitLinearRecord;
  w2: BitLinearRecord;
}

/**
 * The seed's four fields, then the two sub-norms appended at the end: a decoder of the
 * seed's struct reads the first four and ignores the trailing bytes.
 */
export interface TransformerBlockRecord {
  attention: AttentionRecord;
  feedForward: FeedForwardRecord;
  attentionNorm: RmsNormRecord;
  ffnNorm: RmsNormRecord;
  attnSubNorm?: RmsNormRecord;
  ffnSubNorm?: RmsNormRecord;
}

export interface ModelMetadata {
  numLayers: number;
  vocabSize: number;
  hiddenSize: number;
  conversionTimestamp: number;
}

/** The whole model as one value: what the per-file outputs reassemble into. */
export interface ModelRecord {
  embedding: EmbeddingRecord;
  blocks: TransformerBlockRecord[];
  norm: RmsNormRecord;
  lmHead: BitLinearRecord;
  metadata: ModelMetadata;
}

// ---- the records as data ----------------------------------------------------
// Every writer and reader of these files walks this description: the whole-value encode and decode
// below, the worker's streamed write (index.ts) and the lazy read (read.ts).

/** A field's wire type: an unsigned integer, a Vec of numbers, a nested struct, or a Vec of structs. */
export type WireType = 'usize' | 'u64' | 'vec<u32>' | 'vec<f32>' | 'vec<usize>' | Struct | { vecOf: Struct };

export interface Field {
  /** The Rust name; `key` is the TypeScript records' camelCase spelling of it. */
  name: string;
  key: string;
  type: WireType;
  /** Appended after the original struct's fields: a value has all of them or none, and at the end of a file they are optional. */
  appended?: boolean;
}

export interface Struct {
  name: string;
  fields: readonly Field[];
}

const field = (name: string, type: WireType, appended = false): Field => ({
  name,
  key: name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()),
  type,
  appended,
});

export const BIT_LINEAR: Struct = {
  name: 'BitLinearRecord',
  fields: [field('packed_weights', 'vec<u32>'), field('weight_scales', 'vec<f32>'), field('in_features', 'usize'), field('out_features', 'usize')],
};

/** RmsNormRecord and EmbeddingRecord share one layout. */
export const WEIGHT_SHAPE: Struct = { name: 'RmsNormRecord', fields: [field('weight', 'vec<f32>'), field('shape', 'vec<usize>')] };

/** The seed's four fields, then the two sub-norms (see TransformerBlockRecord). */
export const BLOCK: Struct = {
  name: 'TransformerBlockRecord',
  fields: [
    field('attention', { name: 'AttentionRecord', fields: [field('wqkv', BIT_LINEAR), field('o_proj', BIT_LINEAR)] }),
    field('feed_forward', { name: 'FeedForwardRecord', fields: [field('w13', BIT_LINEAR), field('w2', BIT_LINEAR)] }),
    field('attention_norm', WEIGHT_SHAPE),
    field('ffn_norm', WEIGHT_SHAPE),
    field('attn_sub_norm', WEIGHT_SHAPE, true),
    field('ffn_sub_norm', WEIGHT_SHAPE, true),
  ],
};

export const METADATA: Struct = {
  name: 'ModelMetadata',
  fields: [field('num_layers', 'usize'), field('vocab_size', 'usize'), field('hidden_size', 'usize'), field('conversion_timestamp', 'u64')],
};

/** The full model record: embedding, blocks (a Vec), norm, lm_head, metadata. */
export const MODEL: Struct = {
  name: 'ModelRecord',
  fields: [field('embedding', WEIGHT_SHAPE), field('blocks', { vecOf: BLOCK }), field('norm', WEIGHT_SHAPE), field('lm_head', BIT_LINEAR), field('metadata', METADATA)],
};

const isStruct = (t: WireType): t is Struct => typeof t === 'object' && 'fields' in t;

/** The records that hold one tensor each: a BitLinearRecord (ternary) and a weight+shape record (floats). */
export const isTensorRecord = (s: Struct): boolean => s === BIT_LINEAR || s === WEIGHT_SHAPE;

/** The paths (field names joined by dots) of the tensor records of a struct, in wire order. */
export function tensorPaths(s: Struct, path = ''): string[] {
  if (isTensorRecord(s)) return [path];
  return s.fields.flatMap((f) => (isStruct(f.type) ? tensorPaths(f.type, path ? `${path}.${f.name}` : f.name) : []));
}

// ---- writing ------------------------------------------------------------------

/** A struct's values by key. For a streamed write a value may also be a function giving it when its turn comes (after the fields before it are written: the scales of streamed rows), or a StreamedVec. */
export type Values = Record<string, unknown>;

/** A Vec too large to hold: its length is written, then `write` sends its encoded elements to the sink itself. */
export class StreamedVec {
  constructor(
    readonly length: number,
    readonly write: (sink: ByteSink) => void,
  ) {}
}

function writeFields(w: BincodeWriter, s: Struct, v: Values, flush?: (w: BincodeWriter) => ByteSink): void {
  const appended = s.fields.filter((f) => f.appended);
  const present = appended.filter((f) => v[f.key] != null).length;
  if (present !== 0 && present !== appended.length) throw new Error(`a ${s.name} has ${appended.map((f) => f.name).join(' and ')} or none of them`);
  for (const f of s.fields) {
    let x = v[f.key];
    if (f.appended && x == null) continue;
    if (typeof x === 'function') x = x();
    if (x === undefined) throw new Error(`${s.name}.${f.name} has no value`);
    if (x instanceof StreamedVec) {
      if (!flush) throw new Error(`${s.name}.${f.name}: a streamed Vec needs a sink`);
      w.usize(x.length);
      x.write(flush(w));
    } else if (isStruct(f.type)) writeFields(w, f.type, x as Values, flush);
    else if (typeof f.type === 'object') {
      const items = x as Values[];
      w.usize(items.length);
      for (const item of items) writeFields(w, f.type.vecOf, item, flush);
    } else if (f.type === 'usize') w.usize(x as number);
    else if (f.type === 'u64') w.u64(x as number);
    else if (f.type === 'vec<u32>') w.vecU32(x as ArrayLike<number>);
    else if (f.type === 'vec<f32>') w.vecF32(x as ArrayLike<number>);
    else w.vecUsize(x as ArrayLike<number>);
  }
}

/** Writes a record whose large Vecs are StreamedVecs: the bytes between them go out through a small buffer. */
export function writeStreamed(sink: ByteSink, flavor: BincodeFlavor, s: Struct, v: Values): void {
  const w = new BincodeWriter(flavor, 64);
  const flush = (b: BincodeWriter) => {
    sink.write(b.bytes());
    b.length = 0; // the sink consumes the bytes before returning
    return sink;
  };
  writeFields(w, s, v, flush);
  if (w.length) flush(w);
}

export function writeBitLinear(w: BincodeWriter, r: BitLinearRecord): void {
  writeFields(w, BIT_LINEAR, r as unknown as Values);
}

export function writeWeightShape(w: BincodeWriter, r: RmsNormRecord | EmbeddingRecord): void {
  writeFields(w, WEIGHT_SHAPE, r as unknown as Values);
}

export function writeBlock(w: BincodeWriter, b: TransformerBlockRecord): void {
  writeFields(w, BLOCK, b as unknown as Values);
}

export function writeMetadata(w: BincodeWriter, m: ModelMetadata): void {
  writeFields(w, METADATA, m as unknown as Values);
}

export function writeModel(w: BincodeWriter, m: ModelRecord): void {
  writeFields(w, MODEL, m as unknown as Values);
}

export function encode<T>(write: (w: BincodeWriter, v: T) => void, value: T, flavor: BincodeFlavor = 'standard'): Uint8Array {
  const w = new BincodeWriter(flavor);
  write(w, value);
  return w.bytes();
}

// ---- reading ------------------------------------------------------------------

/** Ways to read other than whole values (the lazy read: large Vecs scanned or skipped, records turned into tensors). */
export interface ReadHooks {
  /** A number or Vec field read another way; undefined reads it whole. */
  field?(r: BincodeReader, f: Field): unknown;
  /** What a struct just read becomes in its parent; `path` is its field names joined by dots ('' for the file's record). */
  struct?(s: Struct, v: Values, path: string): unknown;
}

/**
 * Reads a struct. `last`: it ends the file, so its appended fields are read only when bytes are left
 * for them (an older converter's file has none); elsewhere they always follow.
 */
export function readStruct(r: BincodeReader, s: Struct, last = true, hooks: ReadHooks = {}, path = ''): unknown {
  const v: Values = {};
  let appended: boolean | undefined;
  s.fields.forEach((f, i) => {
    if (f.appended) {
      appended ??= !last || r.remaining > 0; // decided once for the group
      if (!appended) return;
    }
    const at = path ? `${path}.${f.name}` : f.name;
    const t = f.type;
    if (isStruct(t)) v[f.key] = readStruct(r, t, last && i === s.fields.length - 1, hooks, at);
    else if (typeof t === 'object') {
      const n = r.usize(`${f.name} length`);
      const items: unknown[] = [];
      for (let k = 0; k < n; k++) items.push(readStruct(r, t.vecOf, false, hooks, at));
      v[f.key] = items;
    } else {
      const x = hooks.field?.(r, f);
      if (x !== undefined) v[f.key] = x;
      else if (t === 'usize') v[f.key] = r.usize(f.name);
      else if (t === 'u64') v[f.key] = r.u64(f.name);
      else if (t === 'vec<u32>') v[f.key] = r.vecU32(f.name);
      else if (t === 'vec<f32>') v[f.key] = r.vecF32(f.name);
      else v[f.key] = r.vecUsize(f.name);
    }
  });
  return hooks.struct ? hooks.struct(s, v, path) : v;
}

export function readBitLinear(r: BincodeReader): BitLinearRecord {
  return readStruct(r, BIT_LINEAR) as BitLinearRecord;
}

export function readWeightShape(r: BincodeReader): RmsNormRecord {
  return readStruct(r, WEIGHT_SHAPE) as RmsNormRecord;
}

/** Reads a block: in a block file the appended sub-norms only when bytes are left; inside a full model record always. */
export function readBlock(r: BincodeReader, subNorms: 'if-present' | 'always' = 'if-present'): TransformerBlockRecord {
  return readStruct(r, BLOCK, subNorms === 'if-present') as TransformerBlockRecord;
}

export function readMetadata(r: BincodeReader): ModelMetadata {
  return readStruct(r, METADATA) as ModelMetadata;
}

export function readModel(r: BincodeReader): ModelRecord {
  return readStruct(r, MODEL) as ModelRecord;
}

export function decode<T>(read: (r: BincodeReader) => T, bytes: Uint8Array, flavor: BincodeFlavor = 'standard', file?: string): T {
  return read(new BincodeReader(bytes, flavor, file));
}

// ---- what the tensor records hold -------------------------------------------

/** The file each model tensor is written to, in the order the reader gives them out. */
export const MODEL_FILES: Record<ModelRole, string> = { token_embd: 'embedding.bin', output_norm: 'norm.bin', output: 'lm_head.bin' };

/** The roles each tensor record of a block holds, by its path in BLOCK (q|k|v and gate|up stacked). */
export const BLOCK_RECORD_ROLES: Record<string, readonly BlockRole[]> = {
  'attention.wqkv': ['attn_q', 'attn_k', 'attn_v'],
  'attention.o_proj': ['attn_o'],
  'feed_forward.w13': ['ffn_gate', 'ffn_up'],
  'feed_forward.w2': ['ffn_down'],
  attention_norm: ['attn_norm'],
  ffn_norm: ['ffn_norm'],
  attn_sub_norm: ['attn_sub_norm'],
  ffn_sub_norm: ['ffn_sub_norm'],
};

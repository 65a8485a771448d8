// The GGUF container (ggml's gguf.cpp / gguf-py's gguf_writer.py, version 3), little-endian:
//   magic "GGUF", u32 version, u64 tensor count, u64 KV count,
//   KVs: string key, u32 value type, value (strings: u64 length + UTF-8; arrays: u32 element type,
//   u64 count, elements),
//   tensor infos: string name, u32 n_dims, u64 ne[n_dims] (innermost first), u32 ggml type, u64 offset,
//   padding to `general.alignment` (32), then the data; each tensor's offset (relative to the data
//   start) is the sum of the sizes of the ones before it, each padded to the alignment.
// Every offset follows from the KVs and the shapes, so the head is encoded before any tensor is read.
// No Node imports.

import { CorruptFileError, UnsupportedError } from '../errors.js';
import { PACKING_ROWS, type PACKINGS, type PackingId } from '../kernels/packings.js';
import { isUtf8 } from './json-text.js';
import { ByteStrings } from './byte-strings.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

/**
 * Limits of a head (written and read): 64 MiB (2B-4T's, with its 128k vocabulary, is 7.8 MB; the
 * largest vocabulary src/outputs/gguf/vocab.ts accepts makes about 35 MB), 65,536 KVs and tensors
 * (real files: ~40 and ~300), 2^22 array items in all (2B-4T: 540k). Counts are checked as they are
 * read, before anything is built for them.
 */
export const MAX_GGUF_HEAD_BYTES = 64 << 20;
export const MAX_GGUF_KVS = 65_536;
export const MAX_GGUF_TENSORS = 65_536;
export const MAX_GGUF_ARRAY_ITEMS = 1 << 22;

/** KV value types (gguf.h gguf_type). */
export const GgufValueType = {
  UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7,
  STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12,
} as const;
export type GgufValueType = (typeof GgufValueType)[keyof typeof GgufValueType];

/** Bytes of each fixed-size value type. */
const VALUE_SIZE: Partial<Record<GgufValueType, number>> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

export type GgufValue =
  | { type: Exclude<GgufValueType, 8 | 9>; value: number | bigint | boolean }
  | { type: 8; value: string }
  | { type: 9; itemType: Exclude<GgufValueType, 9>; value: readonly (number | string | boolean | bigint)[]; raw?: RawItems };

/** An array's items as a file encodes them (parseGguf's `arrays: 'raw'`), written back byte for byte: a vocabulary carried from one GGUF to another is neither decoded nor encoded. */
export interface RawItems {
  count: number;
  bytes: Uint8Array;
}

/** Strings held as bytes (a vocabulary), encoded as a GGUF string array's items: u64 length, then the bytes; `entries` picks and orders them (all, in order, by default). */
export function encodedStrings(strings: ByteStrings, entries?: ArrayLike<number>): RawItems {
  const count = entries?.length ?? strings.count;
  const at = (k: number) => (entries ? entries[k]! : k);
  let size = 8 * count;
  for (let k = 0; k < count; k++) size += strings.length(at(k));
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  let p = 0;
  for (let k = 0; k < count; k++) {
    const i = at(k);
    const n = strings.length(i);
    view.setUint32(p, n, true); // the u64's high half stays 0: a string is far below 4 GiB
    strings.copyTo(i, bytes, p + 8);
    p += 8 + n;
  }
  return { count, bytes };
}

/** A string array KV's items as ByteStrings (`indexed`: sized to index them all): encoded items (`arrays: 'raw'`) copied without being decoded, or strings encoded. */
export function stringItems(v: GgufValue | undefined, indexed = false): ByteStrings | undefined {
  if (v?.type !== GgufValueType.ARRAY || v.itemType !== GgufValueType.STRING) return undefined;
  const count = v.raw?.count ?? v.value.length;
  if (!v.raw) {
    const out = new ByteStrings(0, count, indexed ? count : 0);
    for (const x of v.value) out.addText(String(x));
    return out;
  }
  const bytes = v.raw.bytes;
  const out = new ByteStrings(bytes.length - 8 * count, count, indexed ? count : 0);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0, p = 0; i < count; i++) {
    const n = view.getUint32(p, true) + view.getUint32(p + 4, true) * 2 ** 32; // validated by parseGguf: within the bytes
    out.add(bytes, p + 8, p + 8 + n);
    p += 8 + n;
  }
  return out;
}

/** A scalar of a value type other than string, little-endian at `at`. */
function readScalar(view: DataView, at: number, type: number): number | bigint | boolean {
  switch (type) {
    case 0: return view.getUint8(at);
    case 1: return view.getInt8(at);
    case 2: return view.getUint16(at, true);
    case 3: return view.getInt16(at, true);
    case 4: return view.getUint32(at, true);
    case 5: return view.getInt32(at, true);
    case 6: return view.getFloat32(at, true);
    case 7: return view.getUint8(at) !== 0;
    case 10: return view.getBigUint64(at, true);
    case 11: return view.getBigInt64(at, true);
    default: return view.getFloat64(at, true);
  }
}

/** A scalar array KV's items as numbers (decoded from its encoded items with `arrays: 'raw'`). */
export function numberItems(v: GgufValue | undefined): number[] | undefined {
  if (v?.type !== GgufValueType.ARRAY || v.itemType === GgufValueType.STRING) return undefined;
  if (!v.raw) return v.value.map(Number);
  const { bytes, count } = v.raw;
  const size = VALUE_SIZE[v.itemType]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: count }, (_, i) => Number(readScalar(view, i * size, v.itemType)));
}

export interface GgufKv {
  key: string;
  v: GgufValue;
}

export const kv = {
  u32: (key: string, value: number): GgufKv => ({ key, v: { type: GgufValueType.UINT32, value } }),
  i32: (key: string, value: number): GgufKv => ({ key, v: { type: GgufValueType.INT32, value } }),
  f32: (key: string, value: number): GgufKv => ({ key, v: { type: GgufValueType.FLOAT32, value } }),
  bool: (key: string, value: boolean): GgufKv => ({ key, v: { type: GgufValueType.BOOL, value } }),
  str: (key: string, value: string): GgufKv => ({ key, v: { type: GgufValueType.STRING, value } }),
  strings: (key: string, value: readonly string[]): GgufKv => ({ key, v: { type: GgufValueType.ARRAY, itemType: GgufValueType.STRING, value } }),
  /** A string array already encoded (encodedStrings). */
  encodedStrings: (key: string, raw: RawItems): GgufKv => ({ key, v: { type: GgufValueType.ARRAY, itemType: GgufValueType.STRING, value: [], raw } }),
  f32s: (key: string, value: readonly number[]): GgufKv => ({ key, v: { type: GgufValueType.ARRAY, itemType: GgufValueType.FLOAT32, value } }),
  i32s: (key: string, value: readonly number[]): GgufKv => ({ key, v: { type: GgufValueType.ARRAY, itemType: GgufValueType.INT32, value } }),
};

/** A ggml tensor type: its id, values per block, bytes per block, bytes after the last block. */
export interface GgmlType {
  id: number;
  blockValues: number;
  blockBytes: number;
  tailBytes: number;
  /** The packing that writes and reads it (ternary types). */
  packing?: PackingId;
  /** Only microsoft/BitNet's llama.cpp fork knows it (upstream rejects the id). */
  forkOnly?: boolean;
}

/** The float types (ggml.c type_traits), Q8_0 among them (docs/gguf.md 7); the ternary types are the rows of PACKINGS that are GGUF types. */
const FLOAT_TYPES = {
  F32: { id: 0, blockValues: 1, blockBytes: 4, tailBytes: 0 },
  F16: { id: 1, blockValues: 1, blockBytes: 2, tailBytes: 0 },
  BF16: { id: 30, blockValues: 1, blockBytes: 2, tailBytes: 0 },
  Q8_0: { id: 8, blockValues: 32, blockBytes: 34, tailBytes: 0 },
} as const satisfies Record<string, GgmlType>;

type TernaryGgmlName = { [K in PackingId]: (typeof PACKINGS)[K] extends { ggml: { name: infer N } } ? N : never }[PackingId];
export type GgmlTypeName = keyof typeof FLOAT_TYPES | TernaryGgmlName;

/** ggml tensor types this project writes or reads (docs/gguf.md 4). */
export const GGML_TYPES = {
  ...FLOAT_TYPES,
  ...Object.fromEntries(
    (Object.keys(PACKING_ROWS) as PackingId[]).flatMap((id) => {
      const p = PACKING_ROWS[id];
      return p.ggml ? [[p.ggml.name, { id: p.ggml.id, blockValues: p.block.cols, blockBytes: p.block.bytes, tailBytes: p.tailBytes, packing: id, forkOnly: p.ggml.forkOnly }]] : [];
    }),
  ),
} as Record<GgmlTypeName, GgmlType>;

const TYPE_BY_ID = new Map((Object.keys(GGML_TYPES) as GgmlTypeName[]).map((name) => [GGML_TYPES[name].id, name]));

/** Bytes of a tensor's data (before alignment padding). */
export function ggmlTensorBytes(type: GgmlTypeName, ne: readonly number[]): number {
  const t = GGML_TYPES[type];
  const n = ne.reduce((a, b) => a * b, 1);
  if (ne[0] % t.blockValues !== 0) {
    throw new UnsupportedError({}, `a row length that is a multiple of ${t.blockValues} for ${type}`, `${ne[0]}`);
  }
  return (n / t.blockValues) * t.blockBytes + t.tailBytes;
}

export interface GgufTensorInfo {
  name: string;
  /** ggml order: innermost (row length) first. */
  ne: number[];
  type: GgmlTypeName;
}

export interface GgufLayout {
  /** Magic through the padded tensor infos: the bytes at offset 0. */
  head: Uint8Array;
  /** Absolute file offset of each tensor's data, in `tensors` order. */
  offsets: number[];
  /** Data bytes of each tensor (without padding). */
  sizes: number[];
  /** The whole file, the last tensor padded too. */
  fileBytes: number;
}

const pad = (n: number, align: number) => Math.ceil(n / align) * align;

/** The UTF-8 length of a string as TextEncoder writes it (a lone surrogate becomes U+FFFD, 3 bytes). */
function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c < 0xdc00 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a surrogate pair: 4 bytes for its 2 units
      i++;
    } else n += 2;
  }
  return n;
}

function valueBytes(type: GgufValueType, v: number | bigint | boolean | string): number {
  return type === GgufValueType.STRING ? 8 + utf8Length(String(v)) : (VALUE_SIZE[type] ?? 0);
}

/** Growable little-endian byte writer for the head, sized up front when the caller knows its size. */
class Out {
  private buf: Uint8Array;
  private view: DataView;
  length = 0;
  private static readonly utf8 = new TextEncoder();

  constructor(capacity = 1 << 16) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number) { this.room(1); this.view.setUint8(this.length, v); this.length += 1; }
  u32(v: number) { this.room(4); this.view.setUint32(this.length, v, true); this.length += 4; }
  u64(v: number | bigint) { this.room(8); this.view.setBigUint64(this.length, BigInt(v), true); this.length += 8; }
  /** u64 byte length, then UTF-8, encoded in place (a vocabulary is 400k strings: no copy each). */
  string(s: string) {
    // UTF-8 takes at most 3 bytes per UTF-16 unit; near the end of a buffer sized exactly, count them
    this.room(this.length + 8 + 3 * s.length <= this.buf.length ? 8 + 3 * s.length : 8 + utf8Length(s));
    const { written } = Out.utf8.encodeInto(s, this.buf.subarray(this.length + 8));
    this.u64(written);
    this.length += written;
  }
  scalar(type: GgufValueType, v: number | bigint | boolean | string) {
    switch (type) {
      case GgufValueType.UINT8: case GgufValueType.BOOL: return this.u8(Number(v));
      case GgufValueType.INT8: this.room(1); this.view.setInt8(this.length, Number(v)); this.length += 1; return;
      case GgufValueType.UINT16: this.room(2); this.view.setUint16(this.length, Number(v), true); this.length += 2; return;
      case GgufValueType.INT16: this.room(2); this.view.setInt16(this.length, Number(v), true); this.length += 2; return;
      case GgufValueType.UINT32: return this.u32(Number(v));
      case GgufValueType.INT32: this.room(4); this.view.setInt32(this.length, Number(v), true); this.length += 4; return;
      case GgufValueType.FLOAT32: this.room(4); this.view.setFloat32(this.length, Number(v), true); this.length += 4; return;
      case GgufValueType.UINT64: return this.u64(BigInt(v as number));
      case GgufValueType.INT64: this.room(8); this.view.setBigInt64(this.length, BigInt(v as number), true); this.length += 8; return;
      case GgufValueType.FLOAT64: this.room(8); this.view.setFloat64(this.length, Number(v), true); this.length += 8; return;
      case GgufValueType.STRING: return this.string(String(v));
      default: throw new UnsupportedError({}, 'a GGUF scalar value type', String(type));
    }
  }
  raw(bytes: Uint8Array) { this.room(bytes.length); this.buf.set(bytes, this.length); this.length += bytes.length; }
  padTo(align: number) {
    const n = pad(this.length, align) - this.length;
    this.room(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes() { return this.length === this.buf.length ? this.buf : this.buf.slice(0, this.length); }
}

/** Encodes the head and places every tensor: the straight line of gguf_write_out, without the data. */
export function layoutGguf(kvs: readonly GgufKv[], tensors: readonly GgufTensorInfo[], alignment = GGUF_DEFAULT_ALIGNMENT): GgufLayout {
  // measured first, so a vocabulary's head is allocated once at its size (doubling a buffer held up to 2x)
  let size = 24;
  for (const { key, v } of kvs) {
    size += 8 + utf8Length(key) + 4;
    if (v.type === GgufValueType.ARRAY) {
      size += 12 + (v.raw?.bytes.length ?? 0);
      for (const x of v.value) size += valueBytes(v.itemType, x);
    } else size += valueBytes(v.type, v.value);
  }
  for (const t of tensors) size += 8 + utf8Length(t.name) + 4 + 8 * t.ne.length + 12;
  size = pad(size, alignment);
  if (size > MAX_GGUF_HEAD_BYTES) throw new UnsupportedError({}, `a GGUF head of at most ${MAX_GGUF_HEAD_BYTES} bytes (what the GGUF reader reads back)`, `${size} bytes`);
  const o = new Out(size);
  o.u32(GGUF_MAGIC);
  o.u32(GGUF_VERSION);
  o.u64(tensors.length);
  o.u64(kvs.length);
  const seen = new Set<string>();
  for (const { key, v } of kvs) {
    if (seen.has(key)) throw new UnsupportedError({}, 'each GGUF key once', `${key} twice`);
    seen.add(key);
    o.string(key);
    o.u32(v.type);
    if (v.type === GgufValueType.ARRAY && v.raw) {
      o.u32(v.itemType);
      o.u64(v.raw.count);
      o.raw(v.raw.bytes);
    } else if (v.type === GgufValueType.ARRAY) {
      o.u32(v.itemType);
      o.u64(v.value.length);
      for (const x of v.value) o.scalar(v.itemType, x);
    } else {
      o.scalar(v.type, v.value);
    }
  }
  const sizes = tensors.map((t) => ggmlTensorBytes(t.type, t.ne));
  let rel = 0;
  const relOffsets: number[] = [];
  for (const [i, t] of tensors.entries()) {
    relOffsets.push(rel);
    o.string(t.name);
    o.u32(t.ne.length);
    for (const d of t.ne) o.u64(d);
    o.u32(GGML_TYPES[t.type].id);
    o.u64(rel);
    rel += pad(sizes[i], alignment);
  }
  o.padTo(alignment);
  const head = o.bytes();
  return { head, offsets: relOffsets.map((r) => head.length + r), sizes, fileBytes: head.length + rel };
}

/** What parseGguf keeps of an array KV: its items decoded, nothing (validated only), or its encoded items. */
export type ArrayMode = 'keep' | 'check' | 'raw';

export interface GgufFile {
  version: number;
  kvs: Map<string, GgufValue>;
  tensors: (GgufTensorInfo & { offset: number; bytes: number })[];
  /** Absolute offset of the data section. */
  dataStart: number;
}

/** Thrown by parseGguf when `bytes` is a prefix of the file (shorter than fileSize) that ends inside the head: read at least `needed` bytes and parse again. */
export class GgufHeadTruncated extends Error {
  constructor(readonly needed: number) {
    super(`the GGUF head goes on past the bytes read (at least ${needed} needed)`);
  }
}

/**
 * Parses a GGUF head (KVs and tensor infos) from `bytes` (the file, or a prefix of it: see
 * GgufHeadTruncated), validating as it goes.
 * `arrays: 'check'` validates array KVs (a vocabulary) as usual but keeps them empty: for readers that
 * need only the tensors, so a 128k vocabulary is not held as strings. `arrays: 'raw'` validates them
 * the same way and keeps their encoded items (RawItems), for writing them into another GGUF.
 */
export function parseGguf(bytes: Uint8Array, file: string, fileSize = bytes.length, o: { arrays?: ArrayMode } = {}): GgufFile {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  // what is being read, for the message: a KV's key (or its place) or a tensor info's name
  let reading: { key?: string; tensor?: string } = {};
  const fail = (expected: string, found: string): never => {
    const key = reading.key === undefined ? '' : ` (${reading.key})`;
    throw new CorruptFileError({ file, ...(reading.tensor !== undefined && { tensor: reading.tensor }) }, expected + key, found);
  };
  const need = (n: number) => {
    if (p + n <= bytes.length) return;
    if (bytes.length < fileSize) {
      if (bytes.length < MAX_GGUF_HEAD_BYTES) throw new GgufHeadTruncated(p + n);
      fail(`a head of at most ${MAX_GGUF_HEAD_BYTES} bytes`, `a head running past byte ${bytes.length}`);
    }
    fail(`${n} more header bytes at offset ${p}`, `the end of the ${bytes.length} bytes read`);
  };
  const u32 = () => (need(4), (p += 4), view.getUint32(p - 4, true));
  const u64 = () => {
    need(8);
    // two u32 halves, no BigInt (a vocabulary's 400k string lengths made as many)
    const lo = view.getUint32(p, true);
    const hi = view.getUint32(p + 4, true);
    if (hi >= 1 << 21) fail('a count or offset below 2^53', String(view.getBigUint64(p, true)));
    p += 8;
    return hi * 2 ** 32 + lo;
  };
  /** A string's length, checked against the file before its bytes are asked for (a length near 2^53 reads nothing). */
  const length = () => {
    const n = u64();
    if (n > fileSize - p) fail(`a string that fits the file (${fileSize - p} bytes left)`, `a length of ${n} bytes`);
    return n;
  };
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  /** A string checked for UTF-8 but not made (array items in 'check' mode). */
  const skipString = () => {
    const n = length();
    need(n);
    p += n;
    if (!isUtf8(bytes, p - n, p)) fail('UTF-8 strings', `invalid UTF-8 at offset ${p - n}`);
  };
  const string = () => {
    const n = length();
    need(n);
    p += n;
    // a short ASCII string (most tokens) without the decoder's call
    if (n <= 16) {
      let ascii = '';
      let i = p - n;
      for (; i < p && bytes[i] < 0x80; i++) ascii += String.fromCharCode(bytes[i]);
      if (i === p) return ascii;
    }
    try {
      return utf8.decode(bytes.subarray(p - n, p));
    } catch {
      return fail('UTF-8 strings', `invalid UTF-8 at offset ${p - n}`);
    }
  };
  const scalar = (type: number): number | bigint | boolean | string => {
    if (type === GgufValueType.STRING) return string();
    const size = VALUE_SIZE[type as GgufValueType];
    if (size === undefined) return fail('a GGUF value type 0..12', String(type));
    need(size);
    p += size;
    return readScalar(view, p - size, type);
  };
  if (u32() !== GGUF_MAGIC) fail('the GGUF magic "GGUF"', 'other bytes');
  const version = u32();
  if (version !== 2 && version !== 3) fail('GGUF version 2 or 3', String(version));
  const nTensors = u64();
  const nKv = u64();
  if (nTensors > MAX_GGUF_TENSORS) fail(`at most ${MAX_GGUF_TENSORS} tensors`, String(nTensors));
  if (nKv > MAX_GGUF_KVS) fail(`at most ${MAX_GGUF_KVS} KVs`, String(nKv));
  let items = 0;
  const kvs = new Map<string, GgufValue>();
  for (let i = 0; i < nKv; i++) {
    reading = { key: `the key of KV ${i + 1} of ${nKv}` };
    const key = string();
    reading = { key: `key ${key}` };
    // ggml's reader refuses a key twice: which value counts would be a guess
    if (kvs.has(key)) fail('each key once', 'it twice');
    const type = u32();
    if (type === GgufValueType.ARRAY) {
      const itemType = u32();
      const n = u64();
      if (itemType === GgufValueType.ARRAY) fail('arrays of scalars or strings', 'an array of arrays');
      if (VALUE_SIZE[itemType as GgufValueType] === undefined && itemType !== GgufValueType.STRING) fail('an array item type 0..8 or 10..12', String(itemType));
      if (n > (fileSize - p) / (VALUE_SIZE[itemType as GgufValueType] ?? 8)) fail('an array that fits the file', `${n} elements`); // a string item takes its 8-byte length at least
      items += n;
      if (items > MAX_GGUF_ARRAY_ITEMS) fail(`at most ${MAX_GGUF_ARRAY_ITEMS} array items in all`, `${items} by ${key}`);
      const value = [];
      const start = p;
      if (o.arrays === 'check' || o.arrays === 'raw') for (let k = 0; k < n; k++) itemType === GgufValueType.STRING ? skipString() : scalar(itemType);
      else for (let k = 0; k < n; k++) value.push(scalar(itemType));
      const raw = o.arrays === 'raw' ? { raw: { count: n, bytes: bytes.subarray(start, p) } } : {}; // a view: no copy of a vocabulary
      kvs.set(key, { type: 9, itemType: itemType as Exclude<GgufValueType, 9>, value, ...raw });
    } else {
      kvs.set(key, { type, value: scalar(type) } as GgufValue);
    }
  }
  // general.alignment: ggml reads it as a u32 and refuses one that is not a power of 2
  const align = kvs.get('general.alignment');
  reading = { key: 'key general.alignment' };
  if (align && align.type !== GgufValueType.UINT32) fail('a u32 (value type 4)', `value type ${align.type}`);
  const alignment = align ? (align.value as number) : GGUF_DEFAULT_ALIGNMENT;
  if (!(alignment > 0 && (alignment & (alignment - 1)) === 0)) fail('a power of 2', String(alignment));
  const infos: { name: string; ne: number[]; type: GgmlTypeName; rel: number }[] = [];
  for (let i = 0; i < nTensors; i++) {
    reading = { key: `the name of tensor info ${i + 1} of ${nTensors}` };
    const name = string();
    reading = { tensor: name };
    const nDims = u32();
    if (nDims < 1 || nDims > 4) fail('1 to 4 dimensions', String(nDims));
    const ne: number[] = [];
    for (let d = 0; d < nDims; d++) ne.push(u64());
    const id = u32();
    const type = TYPE_BY_ID.get(id) ?? fail(`a tensor type this reader knows (${[...TYPE_BY_ID.keys()].join(', ')})`, String(id));
    infos.push({ name, ne, type, rel: u64() });
  }
  reading = {};
  const dataStart = pad(p, alignment);
  // ggml's rule: each tensor's data right after the one before it, padded to the alignment
  let expected = 0;
  let before = 'the start of the data';
  const tensors = infos.map(({ rel, ...t }) => {
    reading = { tensor: t.name };
    const g = GGML_TYPES[t.type];
    const elements = t.ne.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(elements)) fail('at most 2^53 values', `ne [${t.ne.join(', ')}]`);
    if (t.ne[0] % g.blockValues !== 0) fail(`a row length that is a multiple of ${g.blockValues} for ${t.type}`, `ne [${t.ne.join(', ')}]`);
    const size = ggmlTensorBytes(t.type, t.ne);
    if (rel !== expected) fail(`its data at offset ${expected} (${before}, each tensor padded to ${alignment} bytes)`, `offset ${rel}`);
    if (dataStart + rel + size > fileSize) fail(`its ${size} bytes inside the file (${fileSize} bytes)`, `data from byte ${dataStart + rel} to ${dataStart + rel + size}`);
    expected = pad(rel + size, alignment);
    before = `after ${t.name}, ${size} bytes of ne [${t.ne.join(', ')}] ${t.type}`;
    return { ...t, offset: dataStart + rel, bytes: size };
  });
  return { version, kvs, tensors, dataStart };
}

/**
 * A GGUF head from a file read a prefix at a time (`read(n)`: its first n bytes): 8 MiB first (a 128k
 * vocabulary fits), read larger only while the head goes on past it.
 */
export function parseGgufPrefix(read: (n: number) => Uint8Array, file: string, size: number, o: { arrays?: ArrayMode } = {}): GgufFile {
  for (let n = Math.min(size, 1 << 23); ; ) {
    try {
      return parseGguf(read(n), file, size, o);
    } catch (e) {
      if (!(e instanceof GgufHeadTruncated)) throw e;
      n = Math.min(size, MAX_GGUF_HEAD_BYTES, Math.max(2 * n, e.needed));
    }
  }
}

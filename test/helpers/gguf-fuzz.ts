// Seeded mutations of valid .gguf files, for fuzzing the GGUF reader as an input (test/gguf-fuzz.test.ts).
// A file is taken apart by its own small reader here (written from the container's description in
// docs/gguf.md 3, sharing no code with src/): its regions (magic, version, counts, each KV's key and value,
// each tensor info, the padding, each tensor's data), its KVs as raw value bytes and its tensor infos.
// A mutation edits that structure or the bytes, and says whether the result must be refused and what the
// one-line refusal must name (the tensor or the key it touched) when that is knowable.

import { Draws, mulberry32 } from './common.js';

/** Bytes per value of the fixed-size KV value types (0 u8 .. 12 f64; 8 string and 9 array are not fixed). */
const VALUE_BYTES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

/** Values per block and bytes per block of the ggml types these files hold (I2_S: 4 values a byte and a 32-byte tail). */
const TYPE_SIZE: Record<number, { values: number; bytes: number; tail: number }> = {
  0: { values: 1, bytes: 4, tail: 0 }, // F32
  1: { values: 1, bytes: 2, tail: 0 }, // F16
  30: { values: 1, bytes: 2, tail: 0 }, // BF16
  8: { values: 32, bytes: 34, tail: 0 }, // Q8_0
  34: { values: 256, bytes: 54, tail: 0 }, // TQ1_0
  35: { values: 256, bytes: 66, tail: 0 }, // TQ2_0
  36: { values: 4, bytes: 1, tail: 32 }, // I2_S
  42: { values: 64, bytes: 18, tail: 0 }, // Q2_0
};

export function tensorBytes(type: number, ne: readonly bigint[]): number {
  const t = TYPE_SIZE[type];
  if (!t) throw new Error(`gguf-fuzz: no size for type ${type}`);
  const n = ne.reduce((a, b) => a * Number(b), 1);
  return (n / t.values) * t.bytes + t.tail;
}

export interface RawKv {
  key: string;
  type: number;
  /** The value's bytes as stored after the u32 type (an array: item type, count, items). */
  value: Uint8Array;
}

export interface RawInfo {
  name: string;
  ne: bigint[];
  type: number;
  offset: bigint;
  /** This tensor's data (its size from the type and shape), kept to lay the data out again. */
  data: Uint8Array;
}

export interface Region {
  what: string;
  from: number;
  to: number;
}

export interface RawGguf {
  version: number;
  kvs: RawKv[];
  infos: RawInfo[];
  alignment: number;
  /** Where each part of the file sits, for truncation and flips at a chosen region. */
  regions: Region[];
  headEnd: number;
  dataStart: number;
  /** The end of the last tensor's data (what follows is its padding). */
  dataEnd: number;
  bytes: Uint8Array;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Reads a valid file (a base: any irregularity throws). */
export function readRawGguf(bytes: Uint8Array): RawGguf {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  const regions: Region[] = [];
  const u32 = () => ((p += 4), v.getUint32(p - 4, true));
  const u64 = () => ((p += 8), v.getBigUint64(p - 8, true));
  const str = () => {
    const n = Number(u64());
    p += n;
    return dec.decode(bytes.subarray(p - n, p));
  };
  const skipValue = (type: number): void => {
    if (type === 8) return void str();
    if (type === 9) {
      const item = u32();
      const n = Number(u64());
      for (let i = 0; i < n; i++) skipValue(item);
      return;
    }
    const s = VALUE_BYTES[type];
    if (s === undefined) throw new Error(`gguf-fuzz: value type ${type}`);
    p += s;
  };
  if (u32() !== 0x46554747) throw new Error('gguf-fuzz: not a GGUF');
  regions.push({ what: 'magic', from: 0, to: 4 });
  const version = u32();
  regions.push({ what: 'version', from: 4, to: 8 });
  const nT = Number(u64());
  const nKv = Number(u64());
  regions.push({ what: 'tensor count', from: 8, to: 16 }, { what: 'KV count', from: 16, to: 24 });
  const kvs: RawKv[] = [];
  let alignment = 32;
  for (let i = 0; i < nKv; i++) {
    const k0 = p;
    const key = str();
    regions.push({ what: `key of ${key}`, from: k0, to: p });
    const type = u32();
    const v0 = p;
    skipValue(type);
    regions.push({ what: `value of ${key}`, from: v0 - 4, to: p });
    kvs.push({ key, type, value: bytes.slice(v0, p) });
    if (key === 'general.alignment') alignment = v.getUint32(v0, true);
  }
  const infos: Omit<RawInfo, 'data'>[] = [];
  for (let i = 0; i < nT; i++) {
    const t0 = p;
    const name = str();
    const nd = u32();
    const ne: bigint[] = [];
    for (let d = 0; d < nd; d++) ne.push(u64());
    const type = u32();
    const offset = u64();
    regions.push({ what: `tensor info of ${name}`, from: t0, to: p });
    infos.push({ name, ne, type, offset });
  }
  const headEnd = p;
  const dataStart = Math.ceil(p / alignment) * alignment;
  regions.push({ what: 'padding after the tensor infos', from: headEnd, to: dataStart });
  let dataEnd = dataStart;
  const withData = infos.map((t) => {
    const at = dataStart + Number(t.offset);
    const size = tensorBytes(t.type, t.ne);
    regions.push({ what: `data of ${t.name}`, from: at, to: at + size });
    dataEnd = Math.max(dataEnd, at + size);
    return { ...t, data: bytes.slice(at, at + size) };
  });
  return { version, kvs, infos: withData, alignment, regions, headEnd, dataStart, dataEnd, bytes };
}

/** What a structural mutation may change beyond the KVs and infos themselves. */
export interface Layout {
  version: number;
  kvs: RawKv[];
  infos: RawInfo[];
  /** The padding of the head and of the data (a file may claim another in general.alignment). */
  alignment: number;
  /** Counts written in place of the true ones. */
  tensorCount?: bigint;
  kvCount?: bigint;
  /** Keep each info's offset as given (else: laid out again from the sizes, as a writer does). */
  keepOffsets?: boolean;
}

/** The file of a layout: the head, padding to the alignment, each tensor's data at its offset. */
export function writeRawGguf(l: Layout): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  const push = (b: Uint8Array) => (parts.push(b), (size += b.length));
  const u32 = (x: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, x >>> 0, true);
    push(b);
  };
  const u64 = (x: bigint) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, x), true);
    push(b);
  };
  const str = (s: string) => {
    const b = enc.encode(s);
    u64(BigInt(b.length));
    push(b);
  };
  u32(0x46554747);
  u32(l.version);
  u64(l.tensorCount ?? BigInt(l.infos.length));
  u64(l.kvCount ?? BigInt(l.kvs.length));
  for (const kv of l.kvs) {
    str(kv.key);
    u32(kv.type);
    push(kv.value);
  }
  const pad = (n: number) => Math.ceil(n / l.alignment) * l.alignment;
  let rel = 0;
  const offsets = l.infos.map((t) => {
    const at = l.keepOffsets ? t.offset : BigInt(rel);
    rel = pad(rel + t.data.length);
    return at;
  });
  l.infos.forEach((t, i) => {
    str(t.name);
    u32(t.ne.length);
    for (const d of t.ne) u64(d);
    u32(t.type);
    u64(offsets[i]!);
  });
  const dataStart = pad(size);
  const end = Math.max(dataStart + rel, ...l.infos.map((t, i) => (offsets[i]! < 1n << 40n ? dataStart + Number(offsets[i]!) + t.data.length : 0)));
  const out = new Uint8Array(Math.min(end, dataStart + rel + (1 << 20)));
  let p = 0;
  for (const b of parts) out.set(b, (p += b.length) - b.length);
  l.infos.forEach((t, i) => {
    const at = dataStart + Number(offsets[i]!);
    if (offsets[i]! < 1n << 40n && at + t.data.length <= out.length) out.set(t.data, at);
  });
  return out;
}

export const layoutOf = (g: RawGguf): Layout => ({ version: g.version, kvs: g.kvs.map((k) => ({ ...k })), infos: g.infos.map((t) => ({ ...t, ne: [...t.ne] })), alignment: g.alignment });

// ---------------------------------------------------------------- values

const scalarBytes = (type: number, x: number | bigint): Uint8Array => {
  const b = new Uint8Array(VALUE_BYTES[type] ?? 0);
  const d = new DataView(b.buffer);
  switch (type) {
    case 0: case 7: d.setUint8(0, Number(x)); break;
    case 1: d.setInt8(0, Number(x)); break;
    case 2: d.setUint16(0, Number(x), true); break;
    case 3: d.setInt16(0, Number(x), true); break;
    case 4: d.setUint32(0, Number(x) >>> 0, true); break;
    case 5: d.setInt32(0, Number(x) | 0, true); break;
    case 6: d.setFloat32(0, Number(x), true); break;
    case 10: d.setBigUint64(0, BigInt.asUintN(64, BigInt(x)), true); break;
    case 11: d.setBigInt64(0, BigInt.asIntN(64, BigInt(x)), true); break;
    case 12: d.setFloat64(0, Number(x), true); break;
  }
  return b;
};

const stringBytes = (s: string): Uint8Array => {
  const b = enc.encode(s);
  const out = new Uint8Array(8 + b.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(b.length), true);
  out.set(b, 8);
  return out;
};

/** A scalar KV's numeric value (undefined for strings and arrays). */
export function numericValue(kv: RawKv): number | undefined {
  if (VALUE_BYTES[kv.type] === undefined) return undefined;
  const d = new DataView(kv.value.buffer, kv.value.byteOffset, kv.value.byteLength);
  switch (kv.type) {
    case 0: case 7: return d.getUint8(0);
    case 1: return d.getInt8(0);
    case 2: return d.getUint16(0, true);
    case 3: return d.getInt16(0, true);
    case 4: return d.getUint32(0, true);
    case 5: return d.getInt32(0, true);
    case 6: return d.getFloat32(0, true);
    case 10: return Number(d.getBigUint64(0, true));
    case 11: return Number(d.getBigInt64(0, true));
    default: return d.getFloat64(0, true);
  }
}

// ---------------------------------------------------------------- the mutations

/** A seeded random source with the helpers mutations use. */

export interface GgufCase {
  seed: number;
  index: number;
  base: number;
  family: string;
  description: string;
  bytes: Uint8Array;
  /** Every valid reading refuses it (a truncated head, a count past the file, an unknown type...). */
  mustRefuse: boolean;
  /** When refused, the message names one of these (the tensor or key the mutation touched). */
  names?: string[];
}

type Mutation = (r: Draws, g: RawGguf) => Omit<GgufCase, 'seed' | 'index' | 'base' | 'family'>;

const setU64 = (b: Uint8Array, at: number, x: bigint) => new DataView(b.buffer, b.byteOffset).setBigUint64(at, BigInt.asUintN(64, x), true);
const setU32 = (b: Uint8Array, at: number, x: number) => new DataView(b.buffer, b.byteOffset).setUint32(at, x >>> 0, true);

const HUGE = [1n << 32n, 1n << 40n, 1n << 53n, (1n << 63n) + 5n, 0xffffffffffffffffn];

const truncation: Mutation = (r, g) => {
  const kinds = ['magic', 'version', 'tensor count', 'KV count', 'key of', 'value of', 'tensor info of', 'padding after', 'data of', 'last byte'];
  const kind = r.pick(kinds);
  if (kind === 'last byte') {
    // the last tensor's data ends before the file when it is padded: cut its own last byte
    return { description: 'the last data byte cut', bytes: g.bytes.slice(0, g.dataEnd - 1), mustRefuse: true };
  }
  const inRegion = g.regions.filter((x) => x.what.startsWith(kind) && x.to > x.from);
  if (inRegion.length === 0) return { description: `cut at 0 (no ${kind})`, bytes: new Uint8Array(0), mustRefuse: true };
  const region = r.pick(inRegion);
  const at = region.from + r.int(region.to - region.from);
  return { description: `cut at ${at}, inside the ${region.what}`, bytes: g.bytes.slice(0, at), mustRefuse: true };
};

const headFlips: Mutation = (r, g) => {
  const b = g.bytes.slice();
  const n = 1 + r.int(4);
  const where: string[] = [];
  for (let k = 0; k < n; k++) {
    const at = r.int(g.headEnd);
    b[at] ^= 1 << r.int(8);
    where.push(`${at} (${g.regions.find((x) => at >= x.from && at < x.to)?.what})`);
  }
  return { description: `head bits flipped at ${where.join(', ')}`, bytes: b, mustRefuse: false };
};

const hugeCounts: Mutation = (r, g) => {
  const b = g.bytes.slice();
  const which = r.pick(['tensor', 'KV'] as const);
  const x = r.chance(0.3) ? BigInt(r.pick([g.infos.length, g.kvs.length])) + BigInt(1 + r.int(3)) : r.pick(HUGE);
  setU64(b, which === 'tensor' ? 8 : 16, x);
  return { description: `${which} count ${x}`, bytes: b, mustRefuse: true };
};

/** A string or array length set past the file: a key, a string value, an array's count or a tensor name. */
const hugeLengths: Mutation = (r, g) => {
  const b = g.bytes.slice();
  const kind = r.pick(['key', 'string', 'array', 'array item', 'name'] as const);
  const x = r.chance(0.3) ? BigInt(g.bytes.length - r.int(8)) : r.pick(HUGE);
  if (kind === 'name') {
    const i = r.int(g.infos.length);
    const region = g.regions.find((x) => x.what === `tensor info of ${g.infos[i]!.name}`)!;
    setU64(b, region.from, x);
    return { description: `name length of tensor ${i} (${g.infos[i]!.name}) ${x}`, bytes: b, mustRefuse: true };
  }
  const candidates = g.kvs.map((kv, i) => ({ kv, i })).filter(({ kv }) => kind === 'key' || (kind === 'string' ? kv.type === 8 : kv.type === 9 && (kind === 'array' || new DataView(kv.value.buffer, kv.value.byteOffset).getUint32(0, true) === 8)));
  const { kv } = r.pick(candidates);
  const keyRegion = g.regions.find((x) => x.what === `key of ${kv.key}`)!;
  const valueAt = keyRegion.to + 4;
  const at = kind === 'key' ? keyRegion.from : kind === 'string' ? valueAt : kind === 'array' ? valueAt + 4 : valueAt + 12;
  setU64(b, at, x);
  return { description: `${kind} length of ${kv.key} ${x}`, bytes: b, mustRefuse: true, names: kind === 'key' ? undefined : [kv.key] };
};

/** An info's offset: past the data, misaligned, or another tensor's (the data must be laid out in order: ggml's rule). */
const offsets: Mutation = (r, g) => {
  const l = layoutOf(g);
  l.keepOffsets = true;
  const i = r.int(l.infos.length);
  const t = l.infos[i]!;
  const dataLen = BigInt(g.bytes.length - g.dataStart);
  const choice = r.int(5);
  let what: string;
  if (choice === 0) {
    t.offset = r.pick([dataLen, dataLen + 32n, dataLen - 32n, ...HUGE.map((h) => (h / 32n) * 32n)]);
    what = `out of range (${t.offset})`;
  } else if (choice === 1) {
    t.offset += BigInt(1 + r.int(g.alignment - 1));
    what = `misaligned (${t.offset})`;
  } else if (choice === 2) {
    const j = (i + 1 + r.int(l.infos.length - 1)) % l.infos.length;
    t.offset = l.infos[j]!.offset;
    what = `the offset of ${l.infos[j]!.name}`;
  } else if (choice === 3) {
    t.offset += BigInt(g.alignment) * BigInt(1 + r.int(4));
    what = `moved by whole alignments (${t.offset})`;
  } else {
    // two infos swap their offsets: the data out of the infos' order
    const j = (i + 1 + r.int(l.infos.length - 1)) % l.infos.length;
    [t.offset, l.infos[j]!.offset] = [l.infos[j]!.offset, t.offset];
    return { description: `offsets of ${t.name} and ${l.infos[j]!.name} swapped`, bytes: writeRawGguf(l), mustRefuse: true, names: [t.name, l.infos[j]!.name] };
  }
  return { description: `offset of ${t.name} ${what}`, bytes: writeRawGguf(l), mustRefuse: true, names: [t.name] };
};

/** An info's type: unknown ids, or another known type (data laid out for it again, or not). */
const types: Mutation = (r, g) => {
  const l = layoutOf(g);
  const i = r.int(l.infos.length);
  const t = l.infos[i]!;
  const old = t.type;
  if (r.chance(0.5)) {
    t.type = r.pick([2, 3, 12, 31, 37, 39, 41, 43, 99, 1000, 0x7fffffff, 0xffffffff]);
    l.keepOffsets = true;
    return { description: `type of ${t.name}: ${old} -> unknown ${t.type}`, bytes: writeRawGguf(l), mustRefuse: true, names: [t.name] };
  }
  t.type = r.pick([0, 1, 8, 30, 34, 35, 36, 42].filter((x) => x !== old));
  let size: number;
  try {
    size = tensorBytes(t.type, t.ne);
  } catch {
    size = NaN;
  }
  const relay = Number.isInteger(size) && r.chance(0.7);
  if (relay) {
    // data of the new type's size (the old bytes, cut or repeated): a well-formed file
    const data = new Uint8Array(size);
    for (let k = 0; k < size; k++) data[k] = t.data[k % t.data.length]!;
    t.data = data;
  } else l.keepOffsets = true;
  return { description: `type of ${t.name}: ${old} -> ${t.type}${relay ? ', data laid out for it' : ''}`, bytes: writeRawGguf(l), mustRefuse: false, names: relay ? [t.name] : undefined };
};

/** An info's dimensions: zero, past 2^53 or multiplying past it, another count of dimensions, or the same count of values in another shape. */
const dims: Mutation = (r, g) => {
  const l = layoutOf(g);
  l.keepOffsets = true;
  const i = r.int(l.infos.length);
  const t = l.infos[i]!;
  const old = t.ne.join(', ');
  const choice = r.int(7);
  let mustRefuse = true;
  if (choice === 0) t.ne[r.int(t.ne.length)] = 0n;
  else if (choice === 1) t.ne[r.int(t.ne.length)] = r.pick(HUGE);
  else if (choice === 2) t.ne = [1n << 30n, 1n << 30n];
  else if (choice === 3) t.ne = r.pick([[], [1n, 1n, 1n, 1n, 1n], Array(9).fill(1n)]);
  else if (choice === 4) {
    t.ne = [...t.ne, 1n]; // a trailing 1: the same tensor
    mustRefuse = false;
  } else if (choice === 5 && t.ne.length === 2) t.ne = [t.ne[1]!, t.ne[0]!]; // transposed
  else if (choice === 5) t.ne = [t.ne[0]! / 2n, 2n];
  else if (t.ne.length > 1) t.ne = [t.ne[0]! * 2n, t.ne[1]! / 2n]; // the same count of values, rows halved
  else t.ne = [t.ne[0]! * 2n]; // twice the values the data holds
  if (t.ne.join(', ') === old) mustRefuse = false; // a square one transposed
  return { description: `ne of ${t.name}: [${old}] -> [${t.ne.join(', ')}]`, bytes: writeRawGguf(l), mustRefuse, names: [t.name] };
};

const duplicates: Mutation = (r, g) => {
  const l = layoutOf(g);
  if (r.chance(0.5)) {
    const i = r.int(l.infos.length);
    const j = (i + 1 + r.int(l.infos.length - 1)) % l.infos.length;
    l.infos[j] = { ...l.infos[j]!, name: l.infos[i]!.name };
    return { description: `tensor ${j} renamed ${l.infos[i]!.name}, as tensor ${i}`, bytes: writeRawGguf(l), mustRefuse: true, names: [l.infos[i]!.name] };
  }
  const i = r.int(l.kvs.length);
  const copy = r.chance(0.5) ? { ...l.kvs[i]! } : { key: l.kvs[i]!.key, type: 4, value: scalarBytes(4, 7) };
  l.kvs.splice(r.int(l.kvs.length + 1), 0, copy);
  return { description: `key ${l.kvs[i]!.key} twice`, bytes: writeRawGguf(l), mustRefuse: true, names: [copy.key] };
};

/** general.alignment changed: with the file laid out for it (a valid file), or not; or of another type or value. */
const alignment: Mutation = (r, g) => {
  const l = layoutOf(g);
  const at = l.kvs.findIndex((k) => k.key === 'general.alignment');
  const choice = r.int(4);
  if (choice <= 1) {
    const a = r.pick([8, 16, 64, 128, 256, 4096]);
    const kvAt = at >= 0 ? at : l.kvs.length;
    l.kvs[kvAt] = { key: 'general.alignment', type: 4, value: scalarBytes(4, a) };
    if (choice === 0) {
      l.alignment = a; // laid out for it: the same model
      return { description: `general.alignment ${a}, laid out for it`, bytes: writeRawGguf(l), mustRefuse: false };
    }
    if (a % g.alignment === 0 && a === g.alignment) return { description: 'alignment unchanged', bytes: writeRawGguf(l), mustRefuse: false };
    return { description: `general.alignment ${a}, the data laid out for ${g.alignment}`, bytes: writeRawGguf(l), mustRefuse: false, names: undefined };
  }
  if (choice === 2) {
    const a = r.pick([0, 3, 24, 33, 48, 0xffffffff]);
    l.kvs[at >= 0 ? at : l.kvs.length] = { key: 'general.alignment', type: 4, value: scalarBytes(4, a) };
    return { description: `general.alignment ${a}, not a power of 2`, bytes: writeRawGguf(l), mustRefuse: true, names: ['general.alignment'] };
  }
  // of another type: ggml reads only a u32 (the data laid out for the value it would mean)
  const type = r.pick([0, 2, 5, 6, 10, 11, 12]);
  l.kvs[at >= 0 ? at : l.kvs.length] = { key: 'general.alignment', type, value: scalarBytes(type, 64) };
  l.alignment = 64;
  return { description: `general.alignment 64 of value type ${type}`, bytes: writeRawGguf(l), mustRefuse: true, names: ['general.alignment'] };
};

/** A KV's value of another type: a number as another numeric type, a string, an array, a bool; or an unknown value type. */
const kvTypes: Mutation = (r, g) => {
  const l = layoutOf(g);
  const i = r.int(l.kvs.length);
  const kv = l.kvs[i]!;
  const old = kv.type;
  const choice = r.int(6);
  const n = numericValue(kv);
  if (choice === 0 && n !== undefined) {
    const type = r.pick([0, 1, 2, 3, 4, 5, 6, 10, 11, 12]);
    l.kvs[i] = { key: kv.key, type, value: scalarBytes(type, type === 6 || type === 12 ? n : BigInt(Math.trunc(n))) };
  } else if (choice === 1) {
    l.kvs[i] = { key: kv.key, type: 8, value: stringBytes(r.pick(['', '42', 'llama', 'x'.repeat(300)])) };
  } else if (choice === 2) {
    const item = r.pick([4, 8, 6]);
    const count = r.pick([0, 1, 3]);
    const items = Array.from({ length: count }, () => (item === 8 ? stringBytes('a') : scalarBytes(item, 1)));
    const head = new Uint8Array(12);
    setU32(head, 0, item);
    setU64(head, 4, BigInt(count));
    const value = new Uint8Array(12 + items.reduce((a, x) => a + x.length, 0));
    value.set(head);
    let p = 12;
    for (const x of items) value.set(x, (p += x.length) - x.length);
    l.kvs[i] = { key: kv.key, type: 9, value };
  } else if (choice === 3) {
    l.kvs[i] = { key: kv.key, type: 7, value: scalarBytes(7, 1) };
  } else if (choice === 4 && kv.type === 9) {
    // an array's items of another type (the bytes as they were)
    const value = kv.value.slice();
    const item = r.pick([0, 4, 5, 6, 8, 9, 13, 255]);
    setU32(value, 0, item);
    l.kvs[i] = { key: kv.key, type: 9, value };
    // items of another size misread what follows: the refusal may come at a later key
    return { description: `items of ${kv.key} typed ${item}`, bytes: writeRawGguf(l), mustRefuse: false };
  } else {
    const type = r.pick([13, 14, 100, 0xffffffff]);
    l.kvs[i] = { key: kv.key, type, value: kv.value };
    return { description: `value type of ${kv.key}: ${old} -> unknown ${type}`, bytes: writeRawGguf(l), mustRefuse: true, names: [kv.key] };
  }
  return { description: `value of ${kv.key}: type ${old} -> ${l.kvs[i]!.type}`, bytes: writeRawGguf(l), mustRefuse: false, names: [kv.key] };
};

/** The magic or the version changed, a required KV or tensor removed, bytes appended. */
const structure: Mutation = (r, g) => {
  const b = g.bytes.slice();
  const choice = r.int(5);
  if (choice === 0) {
    setU32(b, 0, r.pick([0x46554746, 0x47475546, 0, 0x4655474c]));
    return { description: 'magic changed', bytes: b, mustRefuse: true };
  }
  if (choice === 1) {
    const v = r.pick([0, 1, 4, 5, 0xffffffff]);
    setU32(b, 4, v);
    return { description: `version ${v}`, bytes: b, mustRefuse: true };
  }
  const l = layoutOf(g);
  if (choice === 2) {
    const i = r.int(l.kvs.length);
    const [kv] = l.kvs.splice(i, 1);
    // a key with a default (head_count_kv, rope.freq_base, vocab_size) is then refused by the shapes it implies
    return { description: `key ${kv!.key} removed`, bytes: writeRawGguf(l), mustRefuse: false };
  }
  if (choice === 3) {
    const i = r.int(l.infos.length);
    const [t] = l.infos.splice(i, 1);
    // without output.weight the head is tied to token_embd, without rope_freqs.weight RoPE is unscaled: other valid models
    return { description: `tensor ${t!.name} removed`, bytes: writeRawGguf(l), mustRefuse: t!.name !== 'output.weight' && t!.name !== 'rope_freqs.weight', names: [t!.name] };
  }
  const extra = new Uint8Array(1 + r.int(100)).map(() => r.int(256));
  const out = new Uint8Array(b.length + extra.length);
  out.set(b);
  out.set(extra, b.length);
  return { description: `${extra.length} bytes appended`, bytes: out, mustRefuse: false };
};

/** Flipped bits in one tensor's data (codes, block d, I2_S tail): a code 3, another scale, a float NaN. */
const dataFlips: Mutation = (r, g) => {
  const b = g.bytes.slice();
  const i = r.int(g.infos.length);
  const region = g.regions.find((x) => x.what === `data of ${g.infos[i]!.name}`)!;
  for (let k = 0; k < 1 + r.int(3); k++) b[region.from + r.int(region.to - region.from)] ^= 1 << r.int(8);
  return { description: `bits of ${g.infos[i]!.name}'s data flipped`, bytes: b, mustRefuse: false, names: [g.infos[i]!.name] };
};

export const GGUF_FUZZ_FAMILIES: readonly { name: string; weight: number; mutate: Mutation }[] = [
  { name: 'truncation', weight: 4, mutate: truncation },
  { name: 'head-flips', weight: 3, mutate: headFlips },
  { name: 'huge-counts', weight: 1, mutate: hugeCounts },
  { name: 'huge-lengths', weight: 2, mutate: hugeLengths },
  { name: 'offsets', weight: 3, mutate: offsets },
  { name: 'types', weight: 3, mutate: types },
  { name: 'dims', weight: 3, mutate: dims },
  { name: 'duplicates', weight: 2, mutate: duplicates },
  { name: 'alignment', weight: 2, mutate: alignment },
  { name: 'kv-types', weight: 3, mutate: kvTypes },
  { name: 'structure', weight: 2, mutate: structure },
  { name: 'data-flips', weight: 2, mutate: dataFlips },
];

const TOTAL = GGUF_FUZZ_FAMILIES.reduce((a, f) => a + f.weight, 0);

/** One case, fully determined by (seed, index, bases). */
export function ggufCase(seed: number, index: number, bases: readonly RawGguf[]): GgufCase {
  const r = new Draws(mulberry32((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0));
  const base = r.int(bases.length);
  let w = r.next() * TOTAL;
  let family = GGUF_FUZZ_FAMILIES[GGUF_FUZZ_FAMILIES.length - 1]!;
  for (const f of GGUF_FUZZ_FAMILIES) {
    if ((w -= f.weight) < 0) {
      family = f;
      break;
    }
  }
  return { seed, index, base, family: family.name, ...family.mutate(r, bases[base]!) };
}

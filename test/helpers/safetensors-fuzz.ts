// Seeded mutations of valid safetensors files, for the fuzz test (test/fuzz.test.ts) and for
// running whole conversions on the cases that survive parsing.
//
//   for (const c of fuzzCases({ seed: 1, count: 2000, bases })) { ... c.bytes ... }
//   fuzzCase(seed, index, bases)  // reproduces one case from a failure report
//
// Every case is derived from (seed, index) alone, so a failure prints enough to replay it.

import { DTYPES, DTYPE_SIZE, MAX_HEADER_BYTES, encodeSafetensorsHeader } from '../../build/js/formats/safetensors.js';
import { buildSafetensors } from './safetensors-file.js';
import { Draws, mulberry32, type Rng } from './common.js';

export { mulberry32, type Rng };

/** The per-case seed: a hash of (seed, index). */
export function caseSeed(seed: number, index: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

export interface FuzzCase {
  seed: number;
  index: number;
  /** Which base file (index into `bases`) was mutated. */
  base: number;
  /** The mutation family (see FUZZ_FAMILIES). */
  family: string;
  /** What was done, in words, for a failure report. */
  description: string;
  /** The whole mutated file. */
  bytes: Uint8Array;
}

type Json = unknown;

interface State {
  header: Record<string, Json>;
  /** Exact header text; when set, replaces JSON.stringify(header). */
  headerText?: string;
  /** Exact header bytes; when set, replaces the text. */
  headerBytes?: Uint8Array;
  /** Computes the length prefix from the real header length and the file size. */
  length?: (realN: number, fileSize: number) => bigint;
  /** Exact 8 prefix bytes. */
  prefix?: Uint8Array;
  data: Uint8Array;
  append?: Uint8Array;
  truncateTo?: (fileSize: number, dataStart: number) => number;
  flips?: number;
  notes: string[];
}


function clip(s: string, max = 80): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function show(v: Json): string {
  if (v === undefined) return 'undefined';
  try {
    return clip(JSON.stringify(v) ?? String(v));
  } catch {
    return String(v);
  }
}

/** Sets an own property (a "__proto__" key stays a plain key). */
function setKey(obj: Record<string, Json>, key: string, value: Json): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function entriesOf(obj: Record<string, Json>): [string, Json][] {
  return Object.entries(obj);
}

function fromEntries(list: [string, Json][]): Record<string, Json> {
  const o: Record<string, Json> = {};
  for (const [k, v] of list) setKey(o, k, v);
  return o;
}

function tensorNames(s: State): string[] {
  return Object.keys(s.header).filter((k) => k !== '__metadata__');
}

function tensorObj(s: State, name: string): Record<string, Json> | undefined {
  const v = s.header[name];
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, Json>) : undefined;
}

function offsetsOf(t: Record<string, Json> | undefined): [number, number] | undefined {
  const o = t?.['data_offsets'];
  if (Array.isArray(o) && o.length === 2 && typeof o[0] === 'number' && typeof o[1] === 'number') return [o[0], o[1]];
  return undefined;
}

function decodeBase(bytes: Uint8Array): State {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, Json>;
  // Re-create with own keys so later edits never touch a prototype.
  return { header: fromEntries(entriesOf(header)), data: bytes.subarray(8 + n), notes: [] };
}

function serialize(s: State): Uint8Array {
  let headerBytes = s.headerBytes;
  if (!headerBytes) {
    let text = s.headerText ?? JSON.stringify(s.header);
    if (s.headerText === undefined) while (text.length % 8 !== 0) text += ' ';
    headerBytes = new TextEncoder().encode(text);
  }
  const append = s.append ?? new Uint8Array(0);
  const size = 8 + headerBytes.length + s.data.length + append.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  if (s.prefix) out.set(s.prefix, 0);
  else view.setBigUint64(0, BigInt.asUintN(64, s.length ? s.length(headerBytes.length, size) : BigInt(headerBytes.length)), true);
  out.set(headerBytes, 8);
  out.set(s.data, 8 + headerBytes.length);
  out.set(append, 8 + headerBytes.length + s.data.length);
  let result = out;
  if (s.flips) {
    // Flip bytes mostly in the prefix and header, where the parser looks.
    const rng = new Draws(mulberry32(size ^ s.flips));
    const limit = Math.min(size, 8 + headerBytes.length);
    for (let i = 0; i < s.flips; i++) {
      const at = rng.chance(0.9) ? rng.int(limit) : rng.int(size);
      result[at]! ^= 1 << rng.int(8);
    }
  }
  if (s.truncateTo) result = result.slice(0, Math.max(0, Math.min(size, s.truncateTo(size, 8 + headerBytes.length))));
  return result;
}

// ---------------------------------------------------------------- mutation families

type Mutation = (r: Draws, s: State) => void;

const WEIRD_NUMBERS: Json[] = [-1, -8, 1.5, 0.5, 1e300, 2 ** 53, 2 ** 53 - 1, 2 ** 53 + 2, 2 ** 64, 2 ** 31, 2 ** 32, 0];
const NOT_NUMBERS: Json[] = ['3', null, true, [1], {}, ''];

const headerLength: Mutation = (r, s) => {
  const choice = r.int(10);
  switch (choice) {
    case 0: {
      const v = r.pick([0n, 1n, 2n, 3n, 7n]);
      s.length = () => v;
      s.notes.push(`header length ${v}`);
      break;
    }
    case 1: {
      const v = r.pick([2n ** 64n - 1n, 2n ** 63n, 2n ** 53n + 1n, 2n ** 32n, 2n ** 32n + 16n, BigInt(MAX_HEADER_BYTES + 1), BigInt(MAX_HEADER_BYTES)]);
      s.length = () => v;
      s.notes.push(`header length ${v} (huge)`);
      break;
    }
    case 2:
    case 3: {
      const k = r.range(1, 64);
      s.length = (_n, size) => BigInt(size - 8 + k);
      s.notes.push(`header length past the end by ${k}`);
      break;
    }
    case 4: {
      s.length = (_n, size) => BigInt(size - 8);
      s.notes.push('header length = the whole rest of the file');
      break;
    }
    case 5:
    case 6: {
      const d = r.pick([-1, 1]) * r.range(1, 16);
      s.length = (n) => BigInt(Math.max(0, n + d));
      s.notes.push(`header length off by ${d}`);
      break;
    }
    case 7: {
      s.prefix = new TextEncoder().encode('version ');
      s.notes.push('prefix "version " (a Git LFS pointer)');
      break;
    }
    case 8: {
      s.prefix = new Uint8Array(8).map(() => r.int(256));
      s.notes.push(`random prefix ${[...s.prefix].join(',')}`);
      break;
    }
    default: {
      s.prefix = new TextEncoder().encode(r.pick(['<!DOCTYP', '{"a": 1}', 'PK\x03\x04\x00\x00\x00\x00']));
      s.notes.push('text prefix');
    }
  }
};

const jsonSyntax: Mutation = (r, s) => {
  const text = JSON.stringify(s.header);
  const at = r.int(text.length + 1);
  const choice = r.int(14);
  switch (choice) {
    case 0:
      s.headerText = text.slice(0, at) + text.slice(at + 1);
      s.notes.push(`deleted char ${at}`);
      break;
    case 1: {
      const c = r.pick([...'{}[]":,0123456789-.eE a\\']);
      s.headerText = text.slice(0, at) + c + text.slice(at);
      s.notes.push(`inserted ${JSON.stringify(c)} at ${at}`);
      break;
    }
    case 2: {
      const c = r.pick([...'{}[]":,019-. x']);
      s.headerText = text.slice(0, at) + c + text.slice(at + 1);
      s.notes.push(`replaced char ${at} by ${JSON.stringify(c)}`);
      break;
    }
    case 3:
      s.headerText = text.slice(0, at);
      s.notes.push(`JSON truncated at ${at}`);
      break;
    case 4: {
      const root = r.pick(['[]', 'null', '1', '"s"', 'true', '', '   ', '[{}]', '{}', '{ }']);
      s.headerText = root;
      s.notes.push(`root ${JSON.stringify(root)}`);
      break;
    }
    case 5: {
      const tail = r.pick(['x', '}', ',{}', '{}', '\0', ']']);
      s.headerText = text + tail;
      s.notes.push(`trailing ${JSON.stringify(tail)} after the JSON`);
      break;
    }
    case 6: {
      const bad = r.pick([[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc0, 0xaf]]);
      const enc = new TextEncoder().encode(text);
      const pos = r.int(enc.length + 1);
      const out = new Uint8Array(enc.length + bad.length);
      out.set(enc.subarray(0, pos), 0);
      out.set(bad, pos);
      out.set(enc.subarray(pos), pos + bad.length);
      s.headerBytes = out;
      s.notes.push(`invalid UTF-8 ${bad.join(',')} at byte ${pos}`);
      break;
    }
    case 7:
      s.headerText = '\uFEFF' + text;
      s.notes.push('byte order mark before the JSON');
      break;
    case 8: {
      const pad = r.pick(['\0\0\0', '\0', '\x01']);
      s.headerText = text + pad;
      s.notes.push('control-character padding');
      break;
    }
    case 9: {
      const lead = r.pick([' ', '\n', '\t', '\r\n', '   ']);
      const trail = r.pick([' ', '\n', '\t', '        ', '']);
      s.headerText = lead + text + trail;
      s.notes.push('whitespace around the JSON (valid)');
      break;
    }
    case 10: {
      const names = tensorNames(s);
      const depth = r.pick([100, 10_000, 200_000]);
      const deep = '['.repeat(depth) + ']'.repeat(depth);
      const target = names.length > 0 && r.chance(0.7) ? names[r.int(names.length)]! : '__metadata__';
      if (target === '__metadata__') setKey(s.header, target, { deep: '@@DEEP@@' });
      else setKey(tensorObj(s, target) ?? {}, 'shape', '@@DEEP@@');
      s.headerText = JSON.stringify(s.header).replace('"@@DEEP@@"', deep);
      s.notes.push(`nesting ${depth} deep in ${target}`);
      break;
    }
    case 11: {
      const names = tensorNames(s);
      if (names.length === 0) {
        s.headerText = text.replace(/}$/, '"a":1,"a":{}}');
      } else {
        const name = r.pick(names);
        const dup = tensorObj(s, name);
        const value = r.chance(0.5) ? dup : { ...(dup ?? {}), data_offsets: [0, 0] };
        s.headerText = text.replace(/}$/, `,${JSON.stringify(name)}:${JSON.stringify(value)}}`);
      }
      s.notes.push('duplicate key');
      break;
    }
    case 12: {
      const lit = r.pick(['1e999', '-1e999', '123456789012345678901234567890', '-0', '1.0', '1E3', '0x10', 'NaN', 'Infinity', '01']);
      const names = tensorNames(s);
      if (names.length === 0) {
        s.headerText = `{"t":{"dtype":"U8","shape":[${lit}],"data_offsets":[0,0]}}`;
      } else {
        const name = r.pick(names);
        const t = tensorObj(s, name);
        if (t) setKey(t, r.pick(['shape', 'data_offsets']), t['shape'] === undefined ? '@@LIT@@' : ['@@LIT@@', '@@LIT@@']);
        s.headerText = JSON.stringify(s.header).replace(/"@@LIT@@"/g, lit);
      }
      s.notes.push(`number literal ${lit}`);
      break;
    }
    default: {
      // random byte flips in the header text
      s.flips = r.range(1, 4);
      s.notes.push(`${s.flips} random bit flips`);
    }
  }
};

function factorizations(e: number, r: Draws): number[] {
  // A shape with the same element count (so the file stays valid).
  const divisors: number[] = [];
  for (let d = 1; d * d <= e && d < 4096; d++) if (e % d === 0) divisors.push(d, e / d);
  const rank = r.pick([0, 1, 2, 3, 4]);
  if (e === 1 && rank === 0) return [];
  if (rank <= 1) return [e];
  if (e === 0) return rank === 2 ? [0, r.range(0, 5)] : [r.range(1, 5), 0, r.range(1, 3)];
  const a = r.pick(divisors);
  if (rank === 2) return [a, e / a];
  const rest = e / a;
  const divs2: number[] = [];
  for (let d = 1; d * d <= rest && d < 4096; d++) if (rest % d === 0) divs2.push(d, rest / d);
  const b = r.pick(divs2);
  return rank === 3 ? [a, b, rest / b] : [a, 1, b, rest / b];
}

function elementsOf(shape: Json): number | undefined {
  if (!Array.isArray(shape)) return undefined;
  let p = 1;
  for (const d of shape) {
    if (typeof d !== 'number') return undefined;
    p *= d;
  }
  return p;
}

const shapeMut: Mutation = (r, s) => {
  const names = tensorNames(s);
  if (names.length === 0) return structure(r, s);
  const name = r.pick(names);
  const t = tensorObj(s, name);
  if (!t) return;
  const old = t['shape'];
  let next: Json;
  const choice = r.int(7);
  if (choice <= 1 && Array.isArray(old) && old.length > 0) {
    const i = r.int(old.length);
    const copy = [...old];
    copy[i] = r.chance(0.75) ? r.pick(WEIRD_NUMBERS) : r.pick(NOT_NUMBERS);
    if (r.chance(0.3) && typeof old[i] === 'number') copy[i] = r.pick([old[i] + 1, old[i] * 2, old[i] - 1]);
    next = copy;
  } else if (choice === 2) {
    next = r.pick([null, 'x', {}, [], [0], 5, [[1]], [true]]);
  } else if (choice === 3) {
    next = r.pick([
      [2 ** 30, 2 ** 30, 2 ** 30],
      [2 ** 26, 2 ** 26],
      [94906266, 94906266],
      [2 ** 27, 2 ** 26],
      [2 ** 40, 2 ** 40, 0],
      [0, 2 ** 40, 2 ** 40],
      [2 ** 53 - 1],
      [2 ** 52, 2],
    ]);
  } else if (choice === 4) {
    delete t['shape'];
    s.notes.push(`shape of ${show(name)} removed`);
    return;
  } else {
    const e = elementsOf(old);
    next = e === undefined || !Number.isSafeInteger(e) ? [e === undefined ? 1 : 0] : factorizations(e, r);
  }
  setKey(t, 'shape', next);
  s.notes.push(`shape of ${show(name)}: ${show(old)} -> ${show(next)}`);
};

const UNKNOWN_DTYPES: Json[] = ['bf16', 'F4', 'C64', 'F8_E8M0', 'F6_E2M3', 'constructor', '__proto__', 'toString', 'hasOwnProperty', '', ' BF16', 'BF16 ', 'Q4_0'];
const NOT_STRINGS: Json[] = [123, null, [], {}, true, ['BF16']];

const dtypeMut: Mutation = (r, s) => {
  const names = tensorNames(s);
  if (names.length === 0) return structure(r, s);
  const name = r.pick(names);
  const t = tensorObj(s, name);
  if (!t) return;
  const old = t['dtype'];
  const choice = r.int(6);
  let next: Json;
  if (choice <= 2) next = r.pick(DTYPES);
  else if (choice === 3) next = r.pick(UNKNOWN_DTYPES);
  else if (choice === 4) next = r.pick(NOT_STRINGS);
  else {
    delete t['dtype'];
    s.notes.push(`dtype of ${show(name)} removed`);
    return;
  }
  setKey(t, 'dtype', next);
  // Half the time, keep the byte size consistent so a dtype change can be valid.
  if (typeof next === 'string' && Object.hasOwn(DTYPE_SIZE, next) && typeof old === 'string' && Object.hasOwn(DTYPE_SIZE, old) && r.chance(0.5)) {
    const a = DTYPE_SIZE[old as keyof typeof DTYPE_SIZE];
    const b = DTYPE_SIZE[next as keyof typeof DTYPE_SIZE];
    const shape = t['shape'];
    if (Array.isArray(shape) && shape.length > 0 && typeof shape[shape.length - 1] === 'number') {
      const last = shape[shape.length - 1] as number;
      if ((last * a) % b === 0) {
        const copy = [...shape];
        copy[copy.length - 1] = (last * a) / b;
        setKey(t, 'shape', copy);
      }
    }
  }
  s.notes.push(`dtype of ${show(name)}: ${show(old)} -> ${show(next)}${show(t['shape']) !== '' ? ` (shape ${show(t['shape'])})` : ''}`);
};

const offsetsMut: Mutation = (r, s) => {
  const names = tensorNames(s);
  if (names.length === 0) return structure(r, s);
  const choice = r.int(8);
  if (choice === 0 && names.length >= 2) {
    // swap two tensors' offsets (valid when their sizes agree)
    const a = r.pick(names);
    const b = r.pick(names);
    const ta = tensorObj(s, a);
    const tb = tensorObj(s, b);
    if (ta && tb) {
      const oa = ta['data_offsets'];
      setKey(ta, 'data_offsets', tb['data_offsets']);
      setKey(tb, 'data_offsets', oa);
    }
    s.notes.push(`swapped data_offsets of ${show(a)} and ${show(b)}`);
    return;
  }
  if (choice === 1) {
    // re-lay the data in a random order, consistently (valid): unsorted JSON order
    const ts = names.map((n) => [n, tensorObj(s, n)] as const);
    const order = [...ts].sort(() => r.next() - 0.5);
    let pos = 0;
    for (const [, t] of order) {
      const o = offsetsOf(t);
      if (!t || !o) continue;
      const len = o[1] - o[0];
      setKey(t, 'data_offsets', [pos, pos + len]);
      pos += len;
    }
    s.notes.push(`data re-laid in order ${show(order.map(([n]) => n))}`);
    return;
  }
  if (choice === 2) {
    // reverse the JSON key order (valid)
    s.header = fromEntries(entriesOf(s.header).reverse());
    s.notes.push('JSON keys reversed');
    return;
  }
  const name = r.pick(names);
  const t = tensorObj(s, name);
  if (!t) return;
  const old = t['data_offsets'];
  const o = offsetsOf(t) ?? [0, 0];
  const [b, e] = o;
  const len = e - b;
  const dataLen = s.data.length;
  const k = r.range(1, 16);
  const next = r.pick<Json>([
    [b, e + 1],
    [b + 1, e],
    [b - k, e - k],
    [b + k, e + k],
    [dataLen + k, dataLen + k + len],
    [dataLen, dataLen + len],
    [0, len],
    [e, b],
    null,
    'x',
    {},
    [b],
    [b, e, e],
    [String(b), String(e)],
    [-8, 0],
    [b + 0.5, e + 0.5],
    [2 ** 53, 2 ** 53 + len],
    [1e20, 1e20],
    [b, 2 ** 64],
    [b, null],
    [[b], [e]],
  ]);
  setKey(t, 'data_offsets', next);
  s.notes.push(`data_offsets of ${show(name)}: ${show(old)} -> ${show(next)}`);
};

const truncation: Mutation = (r, s) => {
  const where = r.int(5);
  if (where === 0) {
    const at = r.int(8);
    s.truncateTo = () => at;
    s.notes.push(`truncated to ${at} bytes`);
  } else if (where === 1) {
    const f = r.next();
    s.truncateTo = (_size, dataStart) => 8 + Math.floor(f * (dataStart - 8));
    s.notes.push(`truncated inside the header (${f.toFixed(3)})`);
  } else if (where === 2) {
    s.truncateTo = (size) => size - 1;
    s.notes.push('last byte cut');
  } else {
    const f = r.next();
    s.truncateTo = (size, dataStart) => dataStart + Math.floor(f * (size - dataStart));
    s.notes.push(`truncated inside the data (${f.toFixed(3)})`);
  }
};

const trailing: Mutation = (r, s) => {
  const n = r.pick([1, 2, 7, 8, 64, r.range(1, 200)]);
  s.append = new Uint8Array(n).map(() => r.int(256));
  s.notes.push(`${n} trailing bytes`);
};

const metadataMut: Mutation = (r, s) => {
  const next = r.pick<Json>([
    [],
    'x',
    1,
    null,
    true,
    { a: 1 },
    { a: null },
    { a: {} },
    { a: ['b'] },
    { a: 'b' },
    { format: 'pt', other: '' },
    {},
    undefined,
    [['a', 'b']],
  ]);
  if (next === undefined) delete s.header['__metadata__'];
  else if (r.chance(0.2)) setKey(s.header, '__metadata__', { __proto__: 'x', constructor: 'y' } as unknown as Json);
  else setKey(s.header, '__metadata__', next);
  if (r.chance(0.15)) {
    const m: Record<string, Json> = {};
    setKey(m, '__proto__', r.pick<Json>(['x', {}]));
    setKey(s.header, '__metadata__', m);
  }
  s.notes.push(`__metadata__ -> ${show(s.header['__metadata__'])}`);
};

const structure: Mutation = (r, s) => {
  const names = tensorNames(s);
  const choice = r.int(9);
  const name = names.length > 0 ? r.pick(names) : undefined;
  if (choice === 0 && name !== undefined) {
    delete s.header[name];
    s.notes.push(`removed tensor ${show(name)}`);
  } else if (choice === 1) {
    // add a zero-length tensor at a boundary (valid) or anywhere
    const bounds = [0, s.data.length, ...names.flatMap((n) => offsetsOf(tensorObj(s, n)) ?? [])];
    const at = r.chance(0.7) ? r.pick(bounds) : r.int(s.data.length + 2);
    const nm = r.pick(['zero', 'model.layers.0.empty.weight', '__proto__', 'constructor', '']);
    setKey(s.header, nm, { dtype: r.pick(DTYPES), shape: r.pick([[0], [0, 4], [3, 0], [2, 0, 2]]), data_offsets: [at, at] });
    s.notes.push(`added zero-length ${show(nm)} at ${at}`);
  } else if (choice === 2) {
    const len = r.pick([1, 2, 8]);
    setKey(s.header, 'extra', { dtype: 'U8', shape: [len], data_offsets: [s.data.length, s.data.length + len] });
    if (r.chance(0.5)) {
      s.append = new Uint8Array(len);
      s.notes.push(`appended tensor "extra" of ${len} bytes (valid)`);
    } else {
      s.notes.push(`added tensor "extra" past the data`);
    }
  } else if (choice === 3 && name !== undefined) {
    const v = r.pick<Json>([null, [], 'x', 1, true]);
    setKey(s.header, name, v);
    s.notes.push(`tensor ${show(name)} -> ${show(v)}`);
  } else if (choice === 4 && name !== undefined) {
    const t = tensorObj(s, name);
    const f = r.pick(['dtype', 'shape', 'data_offsets']);
    if (t) delete t[f];
    s.notes.push(`removed ${f} of ${show(name)}`);
  } else if (choice === 5 && name !== undefined) {
    const t = tensorObj(s, name);
    if (t) setKey(t, r.pick(['extra', 'offsets', '__proto__']), r.pick<Json>([1, 'x', null, {}]));
    s.notes.push(`extra field in ${show(name)} (valid)`);
  } else if (choice === 6 && name !== undefined) {
    const nm = r.pick(['__proto__', '', 'constructor', 'x'.repeat(5000), 'ünï\u0000cödé', 'a.b/c', 'toString']);
    s.header = fromEntries(entriesOf(s.header).map(([k, v]) => [k === name ? nm : k, v]));
    s.notes.push(`renamed ${show(name)} -> ${show(nm)}`);
  } else if (choice === 7) {
    s.header = r.chance(0.5) ? {} : fromEntries([['__metadata__', { a: 'b' }]]);
    s.data = new Uint8Array(0);
    s.notes.push('no tensors at all (valid)');
  } else {
    // a tensor appears twice in the header text (the later one wins in JSON.parse)
    if (name === undefined) return;
    const t = tensorObj(s, name);
    const text = JSON.stringify(s.header);
    s.headerText = `${text.slice(0, -1)},${JSON.stringify(name)}:${JSON.stringify(t ?? null)}}`;
    s.notes.push(`tensor ${show(name)} listed twice`);
  }
};

const byteFlips: Mutation = (r, s) => {
  s.flips = r.range(1, 8);
  s.notes.push(`${s.flips} random bit flips`);
};

const OBJECT_LEVEL: [string, Mutation][] = [
  ['dtype', dtypeMut],
  ['shape', shapeMut],
  ['offsets', offsetsMut],
  ['metadata', metadataMut],
  ['structure', structure],
];

const combo: Mutation = (r, s) => {
  const n = r.range(2, 3);
  for (let i = 0; i < n; i++) r.pick(OBJECT_LEVEL)[1](r, s);
  if (r.chance(0.3)) r.pick([truncation, trailing, byteFlips])(r, s);
};

/** The mutation families, each with its weight in the mix. */
export const FUZZ_FAMILIES: readonly { name: string; weight: number; mutate: Mutation }[] = [
  { name: 'header-length', weight: 2, mutate: headerLength },
  { name: 'json-syntax', weight: 3, mutate: jsonSyntax },
  { name: 'dtype', weight: 2, mutate: dtypeMut },
  { name: 'shape', weight: 3, mutate: shapeMut },
  { name: 'offsets', weight: 3, mutate: offsetsMut },
  { name: 'truncation', weight: 2, mutate: truncation },
  { name: 'trailing', weight: 1, mutate: trailing },
  { name: 'metadata', weight: 2, mutate: metadataMut },
  { name: 'structure', weight: 2, mutate: structure },
  { name: 'byte-flips', weight: 2, mutate: byteFlips },
  { name: 'combo', weight: 3, mutate: combo },
];

const TOTAL_WEIGHT = FUZZ_FAMILIES.reduce((a, f) => a + f.weight, 0);

/** One case, fully determined by (seed, index, bases). */
export function fuzzCase(seed: number, index: number, bases: readonly Uint8Array[]): FuzzCase {
  if (bases.length === 0) throw new Error('fuzzCase: no base files');
  const r = new Draws(mulberry32(caseSeed(seed, index)));
  const base = r.int(bases.length);
  let w = r.next() * TOTAL_WEIGHT;
  let family = FUZZ_FAMILIES[FUZZ_FAMILIES.length - 1]!;
  for (const f of FUZZ_FAMILIES) {
    if ((w -= f.weight) < 0) {
      family = f;
      break;
    }
  }
  const state = decodeBase(bases[base]!);
  family.mutate(r, state);
  return {
    seed,
    index,
    base,
    family: family.name,
    description: state.notes.join('; ') || 'no change',
    bytes: serialize(state),
  };
}

/** `count` cases from `seed`, mutating the given valid files (default: syntheticBases()). */
export function* fuzzCases(opts: { seed: number; count: number; bases?: readonly Uint8Array[] }): Generator<FuzzCase> {
  const bases = opts.bases ?? syntheticBases();
  for (let i = 0; i < opts.count; i++) yield fuzzCase(opts.seed, i, bases);
}

/** Small valid files covering 0-D, 1-D, 2-D, 3-D and zero-length tensors, several dtypes, metadata. */
export function syntheticBases(): Uint8Array[] {
  return [
    buildSafetensors(
      [
        { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [8, 16] },
        { name: 'model.layers.0.input_layernorm.weight', dtype: 'BF16', shape: [16] },
        { name: 'model.layers.0.self_attn.q_proj.weight', dtype: 'BF16', shape: [16, 16] },
        { name: 'model.norm.weight', dtype: 'F32', shape: [16] },
      ],
      { format: 'pt' },
    ),
    buildSafetensors([
      { name: 'scalar', dtype: 'F32', shape: [] },
      { name: 'empty', dtype: 'F16', shape: [0] },
      { name: 'cube', dtype: 'I8', shape: [2, 3, 4] },
      { name: 'packed', dtype: 'U8', shape: [4, 16] },
      { name: 'scale', dtype: 'BF16', shape: [1] },
      { name: 'empty2d', dtype: 'I32', shape: [0, 5] },
      { name: 'wide', dtype: 'F64', shape: [3, 2] },
    ]),
    buildSafetensors([{ name: 'only', dtype: 'U8', shape: [5] }], {}),
    (() => {
      const enc = encodeSafetensorsHeader([]);
      return enc.bytes;
    })(),
  ];
}

// ---------------------------------------------------------------- an independent oracle

export type Verdict = { ok: true; tensors: number } | { ok: false; reason: string };

/**
 * An independent, deliberately plain validity check (BigInt arithmetic, upstream rules plus this
 * project's: `__metadata__` must be an object of strings). The parser must agree with it.
 */
export function referenceVerdict(bytes: Uint8Array): Verdict {
  const bad = (reason: string): Verdict => ({ ok: false, reason });
  if (bytes.length < 8) return bad('short');
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) return bad('header too large');
  if (8n + n > BigInt(bytes.length)) return bad('header past end');
  const headerEnd = 8 + Number(n);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, headerEnd)));
  } catch {
    return bad('json');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad('not an object');
  const dataLen = BigInt(bytes.length - headerEnd);
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  const spans: [bigint, bigint][] = [];
  for (const [k, v] of Object.entries(value)) {
    if (k === '__metadata__') {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad('metadata type');
      if (Object.values(v).some((x) => typeof x !== 'string')) return bad('metadata value');
      continue;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad('entry type');
    const { dtype, shape, data_offsets: off } = v as Record<string, unknown>;
    if (typeof dtype !== 'string' || !DTYPES.includes(dtype as never)) return bad('dtype');
    if (!Array.isArray(shape)) return bad('shape type');
    let count = 1n;
    for (const d of shape) {
      if (typeof d !== 'number' || !Number.isInteger(d) || d < 0 || d > Number.MAX_SAFE_INTEGER) return bad('dim');
      count *= BigInt(d);
      if (count > max) return bad('count overflow');
    }
    const size = count * BigInt(DTYPE_SIZE[dtype as keyof typeof DTYPE_SIZE]);
    if (!Array.isArray(off) || off.length !== 2) return bad('offsets type');
    for (const x of off) if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > Number.MAX_SAFE_INTEGER) return bad('offset');
    const b = BigInt(off[0] as number);
    const e = BigInt(off[1] as number);
    if (e < b) return bad('reversed');
    if (e - b !== size) return bad('size');
    spans.push([b, e]);
  }
  spans.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0));
  let pos = 0n;
  for (const [b, e] of spans) {
    if (b !== pos) return bad('gap or overlap');
    pos = e;
  }
  if (pos !== dataLen) return bad('coverage');
  return { ok: true, tensors: spans.length };
}

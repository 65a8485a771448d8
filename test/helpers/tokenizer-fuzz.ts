// Seeded mutations of valid tokenizer files (tokenizer.json and tokenizer.model) for the fuzz test
// (test/fuzz.test.ts), each with an independent, deliberately plain verdict: JSON.parse and plain
// objects for tokenizer.json, a separate protobuf walk for tokenizer.model, and the rules of
// src/outputs/gguf/vocab.ts restated. Every case is derived from (seed, index) alone.

import { caseSeed, mulberry32 } from './safetensors-fuzz.js';
import { Draws } from './common.js';


export type Verdict = { ok: true } | { ok: false; reason: string };

export interface TokenizerCase {
  index: number;
  family: string;
  description: string;
  bytes: Uint8Array;
  /** The verdict of the reference check. */
  verdict: Verdict;
  /** Text-level changes JSON.parse cannot see (a key twice): a refusal saying so is right even when the verdict is ok. */
  hidden?: RegExp;
}

const enc = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const MAX_DEPTH = 256;

// ---------------------------------------------------------------- tokenizer.model

export interface SpmPiece {
  /** The piece text, or raw bytes (to write invalid UTF-8). */
  piece: string | Uint8Array;
  score: number;
  type: number;
}

/** `count` pieces as a Llama 2 model lays them out: <unk>, <s>, </s>, the 256 byte pieces, then `text(i)` (normal, score -i). */
export function spmPieces(count: number, text: (i: number) => string): SpmPiece[] {
  const out: SpmPiece[] = [
    { piece: '<unk>', score: 0, type: 2 },
    { piece: '<s>', score: 0, type: 3 },
    { piece: '</s>', score: 0, type: 3 },
  ];
  for (let b = 0; b < 256; b++) out.push({ piece: `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, score: 0, type: 6 });
  for (let i = out.length; i < count; i++) out.push({ piece: text(i), score: -i, type: 1 });
  return out;
}

const varint = (n: number): number[] => {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
};

/** Bytes appended a field at a time (plain arrays spread per field were the fuzz's slowest part). */
class Out {
  private buf: Uint8Array;
  length = 0;
  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
  }
  bytes(b: ArrayLike<number>): void {
    if (this.length + b.length > this.buf.length) {
      const next = new Uint8Array(Math.max(2 * this.buf.length, this.length + b.length));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** Appends a field of `wire` type 2 (bytes), 0 (varint) or 5 (fixed32 float), with its key. */
function field(o: Out, no: number, wire: 0 | 2 | 5, value: Uint8Array | number): void {
  o.bytes(varint(no * 8 + wire));
  if (wire === 0) o.bytes(varint(value as number));
  else if (wire === 5) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value as number, true);
    o.bytes(b);
  } else {
    o.bytes(varint((value as Uint8Array).length));
    o.bytes(value as Uint8Array);
  }
}

/** One piece message's body, with `extra` bytes after its string. */
function pieceBody(p: SpmPiece, extra: number[] = []): Uint8Array {
  const o = new Out(32);
  field(o, 1, 2, typeof p.piece === 'string' ? enc.encode(p.piece) : p.piece);
  o.bytes(extra);
  field(o, 2, 5, p.score);
  field(o, 3, 0, p.type);
  return o.done();
}

/** A ModelProto: the pieces (field 1; `extra` bytes inside piece `at`), then `trailer` (other fields). */
export function spmBytes(pieces: readonly SpmPiece[], trailer: number[] = [], inside?: { at: number; extra: number[] }): Uint8Array {
  const o = new Out(1 << 14);
  pieces.forEach((p, i) => field(o, 1, 2, pieceBody(p, i === inside?.at ? inside.extra : undefined)));
  o.bytes(trailer);
  return o.done();
}

/** The reference reading of a ModelProto's pieces, or why it is not one this converter takes for a vocabulary of `vocab`. */
export function spmReference(b: Uint8Array, vocab: number): { ok: true; pieces: { piece: string; score: number; type: number }[] } | { ok: false; reason: string } {
  const bad = (reason: string) => ({ ok: false as const, reason });
  const readVarint = (at: number, end: number): [number, number] | undefined => {
    let v = 0;
    for (let k = 0; k < 10; k++) {
      if (at + k >= end) return undefined;
      v += (b[at + k]! & 0x7f) * 2 ** (7 * k);
      if (b[at + k]! < 0x80) return [v, at + k + 1];
    }
    return undefined;
  };
  type Field = { no: number; wire: number; start: number; end: number; value: number };
  /** The fields of [start, end), or undefined when the framing is broken. */
  const fieldsOf = (start: number, end: number): Field[] | undefined => {
    const out: Field[] = [];
    for (let at = start; at < end; ) {
      const key = readVarint(at, end);
      if (!key) return undefined;
      at = key[1];
      const wire = key[0] % 8;
      const no = Math.floor(key[0] / 8);
      if (wire === 0) {
        const v = readVarint(at, end);
        if (!v) return undefined;
        out.push({ no, wire, start: at, end: v[1], value: v[0] });
        at = v[1];
      } else if (wire === 1 || wire === 5) {
        const n = wire === 1 ? 8 : 4;
        if (at + n > end) return undefined;
        out.push({ no, wire, start: at, end: at + n, value: 0 });
        at += n;
      } else if (wire === 2) {
        const len = readVarint(at, end);
        if (!len || len[1] + len[0] > end) return undefined;
        out.push({ no, wire, start: len[1], end: len[1] + len[0], value: len[0] });
        at = len[1] + len[0];
      } else return undefined;
    }
    return out;
  };
  const top = fieldsOf(0, b.length);
  if (!top) return bad('framing');
  const messages = top.filter((f) => f.no === 1 && f.wire === 2);
  if (messages.length === 0) return bad('no pieces');
  if (messages.length > vocab) return bad('more pieces than vocab_size');
  const pieces: { piece: string; score: number; type: number }[] = [];
  const seen = new Set<string>();
  for (const m of messages) {
    const fs = fieldsOf(m.start, m.end);
    if (!fs) return bad('piece framing');
    let piece = '';
    let score = 0;
    let type = 1;
    for (const f of fs) {
      if (f.no === 1 && f.wire === 2) {
        try {
          piece = strictUtf8.decode(b.subarray(f.start, f.end));
        } catch {
          return bad('utf-8');
        }
      } else if (f.no === 2 && f.wire === 5) score = new DataView(b.buffer, b.byteOffset + f.start, 4).getFloat32(0, true);
      else if (f.no === 3 && f.wire === 0) type = f.value;
    }
    if (piece === '') return bad('empty piece');
    if (!Number.isFinite(score)) return bad('score');
    if (!(Number.isInteger(type) && type >= 1 && type <= 6)) return bad('type');
    if (seen.has(piece)) return bad('duplicate piece');
    seen.add(piece);
    pieces.push({ piece, score, type });
  }
  if (pieces.filter((p) => p.type === 6).length < 256) return bad('byte pieces');
  return { ok: true, pieces };
}

const SPM_FAMILIES: Record<string, (r: Draws, p: SpmPiece[], vocab: number) => { note: string; trailer?: number[]; inside?: { at: number; extra: number[] }; bytes?: (b: Uint8Array) => Uint8Array }> = {
  type(r, p) {
    const i = r.int(p.length);
    const t = r.pick([0, 1, 2, 3, 4, 5, 6, 7, 99, 2 ** 31, 2 ** 32 + 1, 2 ** 40, 2 ** 63]);
    p[i]!.type = t;
    return { note: `piece ${i} type ${t}` };
  },
  score(r, p) {
    const i = r.int(p.length);
    const s = r.pick([NaN, Infinity, -Infinity, 1e-45, -0, 3e38, -1e9, 0.5]);
    p[i]!.score = s;
    return { note: `piece ${i} score ${s}` };
  },
  piece(r, p) {
    const i = r.int(p.length);
    const choice = r.int(5);
    const v = choice === 0 ? '' : choice === 1 ? p[r.int(p.length)]!.piece : choice === 2 ? new Uint8Array([0x61, r.pick([0x80, 0xc0, 0xff, 0xed])]) : choice === 3 ? 'x'.repeat(r.int(3000)) : `new${i}`;
    p[i]!.piece = v;
    return { note: `piece ${i} -> ${typeof v === 'string' ? JSON.stringify(v.slice(0, 20)) : `bytes ${[...v]}`}` };
  },
  count(r, p, vocab) {
    const choice = r.int(3);
    if (choice === 0) {
      const n = vocab - p.length + r.int(3);
      for (let k = 0; k < n; k++) p.push({ piece: `extra${k}`, score: -1, type: 1 });
      return { note: `${n} pieces appended (${p.length} of vocab_size ${vocab})` };
    }
    if (choice === 1) {
      const i = 3 + r.int(256);
      p.splice(i, 1);
      return { note: `byte piece ${i} removed` };
    }
    p.length = 0;
    return { note: 'no pieces' };
  },
  fields(r, p) {
    // an unknown field at the top level or in a piece: skipped by its wire type, or a wire type with no length
    const wire = r.pick([0, 1, 2, 5, 3, 4, 6, 7]);
    const body = wire === 0 ? varint(r.int(1000)) : wire === 1 ? [1, 2, 3, 4, 5, 6, 7, 8] : wire === 2 ? [3, 1, 2, 3] : wire === 5 ? [0, 0, 0x80, 0x3f] : [];
    const no = r.pick([2, 4, 17, 1000]);
    const trailer = [...varint(no * 8 + wire), ...body];
    if (r.chance(0.5)) return { note: `top-level field ${no} wire ${wire}`, trailer };
    const i = r.int(p.length);
    return { note: `field ${no} wire ${wire} in piece ${i}`, inside: { at: i, extra: trailer } };
  },
  framing(r) {
    const choice = r.int(4);
    if (choice === 0) return { note: 'truncated', bytes: (b) => b.subarray(0, r.int(b.length)) };
    const append = (b: Uint8Array, tail: number[]) => {
      const c = new Uint8Array(b.length + tail.length);
      c.set(b);
      c.set(tail, b.length);
      return c;
    };
    if (choice === 1) return { note: 'an 11-byte varint key at the end', bytes: (b) => append(b, [...Array(10).fill(0x80), 1]) };
    if (choice === 2) return { note: 'a piece whose length runs past the end', bytes: (b) => append(b, [0x0a, 0x7f, 0x0a]) };
    return {
      note: 'bit flips',
      bytes: (b) => {
        const c = b.slice();
        for (let k = 0; k < 1 + r.int(6); k++) c[r.int(c.length)] ^= 1 << r.int(8);
        return c;
      },
    };
  },
};

/** Case `index` of the tokenizer.model fuzz (a base of `count` pieces for a vocabulary of `vocab`). */
export function spmCase(seed: number, index: number, count: number, vocab: number): TokenizerCase {
  const r = new Draws(mulberry32(caseSeed(seed, index)));
  const pieces = spmPieces(count, (i) => `▁w${i.toString(36)}`);
  const names = Object.keys(SPM_FAMILIES);
  const family = r.chance(0.1) ? 'valid' : r.pick(names);
  const m = family === 'valid' ? { note: 'unchanged' } : SPM_FAMILIES[family]!(r, pieces, vocab);
  const base = spmBytes(pieces, m.trailer, m.inside);
  const bytes = m.bytes ? m.bytes(base) : base;
  const ref = spmReference(bytes, vocab);
  return { index, family, description: m.note, bytes, verdict: ref.ok ? { ok: true } : ref };
}

// ---------------------------------------------------------------- tokenizer.json

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The deepest nesting of containers in a value, counted without recursion. */
function depthOf(v: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[v, 1]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    max = Math.max(max, d);
    for (const y of Object.values(x)) stack.push([y, d + 1]);
  }
  return max;
}

/** The rules of a BPE tokenizer.json, restated on the parsed object. */
export function bpeRules(t: unknown, vocab: number, maxMerges: number): Verdict {
  const bad = (reason: string): Verdict => ({ ok: false, reason });
  if (!isObject(t)) return bad('root');
  if (depthOf(t) > MAX_DEPTH) return bad('depth');
  const model = t['model'];
  if (!isObject(model) || model['type'] !== 'BPE' || !isObject(model['vocab'])) return bad('not BPE');
  const v = model['vocab'];
  const byId = new Map<number, string>();
  for (const [text, id] of Object.entries(v)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= vocab) return bad('vocab id');
    if (byId.has(id)) return bad('vocab id twice');
    byId.set(id, text);
  }
  const added = t['added_tokens'];
  if (Array.isArray(added)) {
    if (added.length > vocab) return bad('added count');
    for (const a of added) if (!isObject(a) || typeof a['content'] !== 'string' || typeof a['id'] !== 'number') return bad('added entry');
    const addedIds = new Set<number>();
    for (const a of added as { id: number; content: string }[]) {
      if (!Number.isInteger(a.id) || a.id < 0 || a.id >= vocab) return bad('added id');
      if (addedIds.has(a.id) || (byId.has(a.id) && byId.get(a.id) !== a.content)) return bad('added id taken');
      addedIds.add(a.id);
    }
  }
  const prefix = typeof model['continuing_subword_prefix'] === 'string' ? model['continuing_subword_prefix'] : '';
  if ('merges' in model) {
    const merges = model['merges'];
    if (!Array.isArray(merges)) return bad('merges not a list');
    if (merges.length > maxMerges) return bad('merge count');
    for (const m of merges) {
      let pair: string[];
      if (typeof m === 'string') pair = m.split(' ');
      else if (Array.isArray(m) && m.length === 2 && m.every((x) => typeof x === 'string')) pair = m as string[];
      else return bad('merge form');
      if (pair.length !== 2) return bad('merge spaces');
      const [a, b] = pair as [string, string];
      if (!Object.hasOwn(v, a) || !Object.hasOwn(v, b) || !Object.hasOwn(v, a + b.slice(prefix.length))) return bad('merge tokens');
    }
  }
  if (!llama3Split(t['pre_tokenizer']) || (t['normalizer'] !== null && t['normalizer'] !== undefined)) return bad('pre-tokenizer');
  return { ok: true };
}

/** Llama 3's split, as synth writes it (the one pre-tokenizer these files are mutated from): Split on its regex, then ByteLevel without its own. */
const LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
function llama3Split(pre: unknown): boolean {
  if (!isObject(pre) || pre['type'] !== 'Sequence' || !Array.isArray(pre['pretokenizers']) || pre['pretokenizers'].length !== 2) return false;
  const [split, bytes] = pre['pretokenizers'] as unknown[];
  return (
    isObject(split) && split['type'] === 'Split' && isObject(split['pattern']) && split['pattern']['Regex'] === LLAMA3_REGEX && split['behavior'] === 'Isolated' && split['invert'] !== true &&
    isObject(bytes) && bytes['type'] === 'ByteLevel' && bytes['use_regex'] === false && bytes['add_prefix_space'] !== true
  );
}

/** The reference verdict on a tokenizer.json's bytes: UTF-8 and JSON.parse, then the rules. */
export function bpeReference(bytes: Uint8Array, vocab: number, maxMerges: number): Verdict {
  let t: unknown;
  try {
    t = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return { ok: false, reason: 'json' };
  }
  return bpeRules(t, vocab, maxMerges);
}

type BpeMutation = (r: Draws, t: Record<string, Json> & { model: Record<string, Json> & { vocab: Record<string, Json>; merges: Json[] } }, maxMerges: number) => string;

const WEIRD: Json[] = [null, true, 7, -1, 1.5, 1e300, 'x', '', [], {}, ['a'], { a: 1 }];

const BPE_OBJECT: Record<string, BpeMutation> = {
  merge(r, t) {
    const i = r.int(t.model.merges.length);
    const m = t.model.merges[i] as string;
    const [a, b] = m.split(' ') as [string, string];
    const v = r.pick<Json>([{ a, b }, 5, null, true, [a, b, a], [a], [], [1, 2], a + b, `${a} ${b} ${a}`, [a, b], `zz ${b}`, [a, 'qq'], ` ${b}`, `${a} `, m, [a, 5]]);
    t.model.merges[i] = v;
    return `merge ${i}: ${JSON.stringify(v)}`;
  },
  merges(r, t, maxMerges) {
    const v = r.pick<Json>([{}, 'x', null, [], 5]);
    if (r.chance(0.2)) {
      delete (t.model as Record<string, Json>)['merges'];
      return 'no merges';
    }
    if (r.chance(0.3)) {
      // up to the limit, or one past it
      const n = maxMerges + r.int(2) - t.model.merges.length;
      for (let k = 0; k < n; k++) t.model.merges.push(t.model.merges[k % 10]!);
      return `${t.model.merges.length} merges`;
    }
    (t.model as Record<string, Json>)['merges'] = v;
    return `merges: ${JSON.stringify(v)}`;
  },
  vocabId(r, t) {
    const keys = Object.keys(t.model.vocab);
    const k = r.pick(keys);
    const v = r.chance(0.3) ? t.model.vocab[r.pick(keys)]! : r.pick<Json>([...WEIRD, 511, 512, 513, 0, '3']);
    t.model.vocab[k] = v;
    return `vocab ${JSON.stringify(k)}: ${JSON.stringify(v)}`;
  },
  vocabEntry(r, t) {
    const keys = Object.keys(t.model.vocab);
    const k = r.pick(keys);
    if (r.chance(0.5)) {
      delete t.model.vocab[k];
      return `vocab ${JSON.stringify(k)} removed`;
    }
    const name = r.pick(['__proto__', 'constructor', 'ünï', '\u0000', 'a b', k + 'x']);
    const id = t.model.vocab[k]!;
    delete t.model.vocab[k];
    Object.defineProperty(t.model.vocab, name, { value: id, enumerable: true, writable: true, configurable: true });
    return `vocab ${JSON.stringify(k)} renamed ${JSON.stringify(name)}`;
  },
  added(r, t) {
    const list = t['added_tokens'] as Json[];
    const i = r.int(list.length);
    const entry = list[i] as Record<string, Json>;
    const choice = r.int(5);
    if (choice === 0) list[i] = r.pick(WEIRD);
    else if (choice === 1) entry['id'] = r.pick<Json>([...WEIRD, 0, 511, 512, (list[(i + 1) % list.length] as Record<string, Json>)['id']!]);
    else if (choice === 2) entry['content'] = r.pick<Json>([null, 5, 'new', Object.keys(t.model.vocab)[0]!]);
    else if (choice === 3) t['added_tokens'] = r.pick<Json>([null, {}, 'x', []]);
    else list.push({ ...entry });
    return `added_tokens ${i} (choice ${choice}): ${JSON.stringify(t['added_tokens']).slice(0, 120)}`;
  },
  model(r, t) {
    const choice = r.int(5);
    if (choice === 0) t.model['type'] = r.pick<Json>(['Unigram', 'WordPiece', null, 'bpe']);
    else if (choice === 1) (t as Record<string, Json>)['model'] = r.pick(WEIRD);
    else if (choice === 2) (t.model as Record<string, Json>)['vocab'] = r.pick(WEIRD);
    else if (choice === 3) t.model['continuing_subword_prefix'] = r.pick<Json>(['', 'Ġ', '##', null, 5]);
    else t.model['byte_fallback'] = r.pick<Json>([true, false, 'yes']);
    return `model (choice ${choice}): type ${JSON.stringify(t.model?.['type'] ?? null)}`;
  },
  deep(r, t) {
    const d = r.pick([200, 250, 254, 255, 256, 300, 1000]);
    let v: Json = 1;
    for (let k = 0; k < d; k++) v = r.chance(0.5) ? [v] : { k: v };
    t['deep'] = v;
    return `a value nested ${d} deep`;
  },
};

const BPE_TEXT: Record<string, (r: Draws, text: string) => { text: string | Uint8Array; note: string; hidden?: RegExp }> = {
  truncate(r, text) {
    const at = r.int(text.length);
    return { text: text.slice(0, at), note: `truncated at ${at}` };
  },
  flips(r, text) {
    const b = enc.encode(text);
    const n = 1 + r.int(4);
    for (let k = 0; k < n; k++) b[r.int(b.length)] ^= 1 << r.int(8);
    // a flip can make two keys equal, which JSON.parse hides
    return { text: b, note: `${n} bit flips`, hidden: /twice/ };
  },
  duplicate(r, text) {
    const m = /"vocab":\{"((?:[^"\\]|\\.)*)":(\d+)/.exec(text)!;
    const key = r.chance(0.5) ? '"model"' : r.chance(0.5) ? `"${m[1]}"` : '"merges"';
    const at = key === '"model"' ? text.lastIndexOf('}') : text.indexOf('"vocab":{') + 9;
    const insert = key === '"model"' ? `,"model":{}` : key === '"merges"' ? '' : `${key}:${Number(m[2]) + 1},`;
    if (key === '"merges"') return { text: text.replace('"merges":[', '"merges":[],"merges":['), note: 'merges twice', hidden: /twice/ };
    return { text: text.slice(0, at) + insert + text.slice(at), note: `${key} twice`, hidden: /twice/ };
  },
  syntax(r, text) {
    const at = r.int(text.length);
    const bit = r.pick([',', ']', '}', '"', '\\x', '\\u12', '\u0001', 'tru', '01', '-', '1.', '1e', ' ', '\n', '\uFEFF']);
    return { text: text.slice(0, at) + bit + text.slice(at), note: `${JSON.stringify(bit)} at ${at}` };
  },
  bom(_r, text) {
    return { text: new Uint8Array([0xef, 0xbb, 0xbf, ...enc.encode(text)]), note: 'a BOM' };
  },
  utf8(r, text) {
    const b = enc.encode(text);
    const at = b.indexOf(0x22, r.int(b.length - 2)) + 1; // inside a string
    const bad = r.pick([[0x80], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xe2, 0x82]]);
    return { text: new Uint8Array([...b.subarray(0, at), ...bad, ...b.subarray(at)]), note: `invalid UTF-8 ${bad} at ${at}` };
  },
};

/** Case `index` of the tokenizer.json fuzz over `bases` (tokenizer.json texts) for a vocabulary of `vocab`. */
export function bpeCase(seed: number, index: number, bases: readonly string[], vocab: number, maxMerges: number): TokenizerCase {
  const r = new Draws(mulberry32(caseSeed(seed, index)));
  const base = bases[r.int(bases.length)]!;
  const t = JSON.parse(base);
  const objectLevel = r.chance(0.6);
  if (objectLevel) {
    const names = Object.keys(BPE_OBJECT);
    const n = r.chance(0.2) ? 2 : 1;
    const family = r.chance(0.08) ? 'valid' : r.pick(names);
    const notes: string[] = [];
    for (let k = 0; family !== 'valid' && k < n; k++) {
      try {
        notes.push(BPE_OBJECT[k === 0 ? family : r.pick(names)]!(r, t, maxMerges));
      } catch {
        notes.push('(a second mutation that did not apply)'); // the first changed what it would edit
      }
    }
    const bytes = enc.encode(JSON.stringify(t));
    return { index, family, description: notes.join('; ') || 'unchanged', bytes, verdict: bpeRules(JSON.parse(JSON.stringify(t)), vocab, maxMerges) };
  }
  const names = Object.keys(BPE_TEXT);
  const family = r.pick(names);
  const m = BPE_TEXT[family]!(r, base);
  const bytes = typeof m.text === 'string' ? enc.encode(m.text) : m.text;
  return { index, family, description: m.note, bytes, verdict: bpeReference(bytes, vocab, maxMerges), hidden: m.hidden };
}

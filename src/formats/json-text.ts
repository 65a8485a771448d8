// Helpers for JSON and text read from files: a type guard, short one-line renderings of values for
// error messages, a count of a document's values before it is parsed, and a UTF-8 check. Shared by the
// safetensors header parser, the checkpoint reader, the JSON reader and the GGUF reader.

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A short one-line description of a JSON value for an error message; never throws. */
export function describe(v: unknown, depth = 0): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return clip(JSON.stringify(v), 60);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    if (depth > 0) return v.length === 0 ? '[]' : '[…]';
    const items = v.slice(0, 6).map((x) => describe(x, depth + 1));
    return `[${items.join(', ')}${v.length > 6 ? ', …' : ''}]`;
  }
  if (typeof v === 'object') {
    if (depth > 0) return '{…}';
    const keys = Object.keys(v as object);
    return keys.length === 0 ? '{}' : `an object with keys ${clip(keys.slice(0, 4).map((k) => JSON.stringify(k)).join(', '), 80)}${keys.length > 4 ? ', …' : ''}`;
  }
  return typeof v;
}

export function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** A JSON file's bytes: two-space indented, with a final newline. */
export function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value, null, 2) + '\n');
}

/** The byte after the backslash where JSON.stringify escapes a byte short: " \\ \b \t \n \f \r (others below 0x20 as \\u00xx). */
const SHORT_ESCAPES: Partial<Record<number, number>> = { 0x22: 0x22, 0x5c: 0x5c, 0x08: 0x62, 0x09: 0x74, 0x0a: 0x6e, 0x0c: 0x66, 0x0d: 0x72 };
const HEX = [...'0123456789abcdef'].map((c) => c.charCodeAt(0));

/**
 * JSON text appended as UTF-8 into one growing buffer: a vocabulary's 128k-key object and 280k merge
 * pairs written piece by piece, never held as objects and a 14 MB string besides the bytes.
 */
export class JsonWriter {
  private buf: Uint8Array;
  private length = 0;
  private readonly encoder = new TextEncoder();
  /** Text not yet encoded: pieces are joined (V8 concatenates without copying) and encoded 64k units at a time. */
  private pending = '';

  /** `capacity`: a bound on the bytes, when known (a buffer that never grows leaves no freed copies behind). */
  constructor(capacity = 1 << 20) {
    this.buf = new Uint8Array(capacity);
  }

  /** Text that is already JSON. */
  raw(text: string): this {
    this.pending += text;
    if (this.pending.length >= 1 << 16) this.flush();
    return this;
  }

  private flush(): void {
    const text = this.pending;
    if (text === '') return;
    this.pending = '';
    // UTF-8 takes at most 3 bytes per UTF-16 unit
    this.room(text.length * 3);
    this.length += this.encoder.encodeInto(text, this.buf.subarray(this.length)).written;
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    grown.set(this.buf.subarray(0, this.length));
    this.buf = grown;
  }

  /**
   * A string given as valid UTF-8, b[from, to), escaped as JSON.stringify escapes its text (quote,
   * backslash, control characters; UTF-8 holds no lone surrogate): a vocabulary written without a JS string per token.
   */
  utf8(b: Uint8Array, from: number, to: number): this {
    this.flush();
    this.room(6 * (to - from) + 2);
    const o = this.buf;
    let n = this.length;
    o[n++] = 0x22;
    for (let i = from; i < to; i++) {
      const c = b[i]!;
      if (c >= 0x20 && c !== 0x22 && c !== 0x5c) o[n++] = c;
      else {
        const short = SHORT_ESCAPES[c];
        o[n++] = 0x5c;
        if (short !== undefined) o[n++] = short;
        else {
          o[n++] = 0x75;
          o[n++] = 0x30;
          o[n++] = 0x30;
          o[n++] = HEX[c >> 4]!;
          o[n++] = HEX[c & 15]!;
        }
      }
    }
    o[n++] = 0x22;
    this.length = n;
    return this;
  }

  /** ASCII text (JSON punctuation, a number) written as bytes, not joined as a string. */
  ascii(text: string): this {
    this.flush();
    this.room(text.length);
    for (let i = 0; i < text.length; i++) this.buf[this.length++] = text.charCodeAt(i);
    return this;
  }

  value(v: unknown): this {
    return this.raw(JSON.stringify(v));
  }

  /**
   * A Map as the JSON object JSON.stringify(Object.fromEntries(map)) gives: keys that are array indices
   * first, ascending, then the rest in the map's order.
   */
  object(map: ReadonlyMap<string, unknown>): this {
    const isIndex = (k: string) => /^(0|[1-9][0-9]*)$/.test(k) && Number(k) < 2 ** 32 - 1;
    const indices = [...map.keys()].filter(isIndex).sort((a, b) => Number(a) - Number(b));
    let sep = '{';
    for (const k of indices) {
      this.raw(`${sep}${JSON.stringify(k)}:${JSON.stringify(map.get(k))}`);
      sep = ',';
    }
    for (const [k, v] of map) {
      if (isIndex(k)) continue;
      this.raw(`${sep}${JSON.stringify(k)}:${JSON.stringify(v)}`);
      sep = ',';
    }
    return this.raw(sep === '{' ? '{}' : '}');
  }

  /** An array, each item written by `item` (which writes one JSON value). */
  array<T>(items: Iterable<T>, item: (w: this, x: T) => void): this {
    let sep = '[';
    for (const x of items) {
      this.raw(sep);
      item(this, x);
      sep = ',';
    }
    return this.raw(sep === '[' ? '[]' : ']');
  }

  bytes(): Uint8Array {
    this.flush();
    return this.buf.slice(0, this.length);
  }
}

/** What a JSON text would make: its values (keys included) and the keys at depth 1 (the root object) and 2. */
export interface JsonCounts {
  values: number;
  rootKeys: number;
  innerKeys: number;
}

const isDelimiter = (c: number) => c === 0x2c || c === 0x3a || c === 0x5b || c === 0x5d || c === 0x7b || c === 0x7d || c === 0x22 || c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/**
 * Counts a JSON document's values and keys from its UTF-8 bytes without building anything, so a
 * document can be refused before JSON.parse spends memory on it (JSON.parse of 700k small entries
 * costs ~20x the text). It does not validate: JSON.parse does. On malformed text the counts still bound
 * what JSON.parse builds before it fails (both read the same tokens up to the error).
 */
export function countJson(b: Uint8Array): JsonCounts {
  let values = 0;
  let rootKeys = 0;
  let innerKeys = 0;
  let depth = 0;
  // whether the containers at depth 1 and 2 are objects, and whether a key comes next there
  let object1 = false;
  let object2 = false;
  let key1 = false;
  let key2 = false;
  const n = b.length;
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (c === 0x22) {
      values++;
      if (depth === 1 && key1) {
        rootKeys++;
        key1 = false;
      } else if (depth === 2 && key2) {
        innerKeys++;
        key2 = false;
      }
      for (i++; i < n && b[i] !== 0x22; i++) if (b[i] === 0x5c) i++;
    } else if (c === 0x7b || c === 0x5b) {
      values++;
      depth++;
      if (depth === 1) key1 = object1 = c === 0x7b;
      else if (depth === 2) key2 = object2 = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === 0x2c) {
      if (depth === 1) key1 = object1;
      else if (depth === 2) key2 = object2;
    } else if (!isDelimiter(c)) {
      values++; // a number or literal: one value to its end
      while (i + 1 < n && !isDelimiter(b[i + 1]!)) i++;
    }
  }
  return { values, rootKeys, innerKeys };
}

/** Whether bytes[from..to) are well-formed UTF-8 (what a fatal TextDecoder accepts), without making a string. */
export function isUtf8(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; ) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    const n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (n < 0 || i + n >= to) return false; // not a lead byte, or the sequence runs past the string
    // the second byte's range depends on the first (no overlongs, no surrogates, nothing above U+10FFFF)
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    if (b[i + 1] < lo || b[i + 1] > hi) return false;
    for (let k = 2; k <= n; k++) if ((b[i + k] & 0xc0) !== 0x80) return false;
    i += n + 1;
  }
  return true;
}

// A pull reader over a JSON document's UTF-8 bytes: the caller walks the objects and arrays it needs
// and skips the rest, so a large document (a tokenizer.json of 128k tokens and 280k merges) becomes
// only the values kept, never a whole JSON.parse tree plus its text (which cost ~7x the file). Values
// read are what JSON.parse would give for the same text; malformed JSON is an error at its byte.
// No Node imports.

import type { Span } from './byte-strings.js';
import { isUtf8 } from './json-text.js';

/** Throws the caller's typed error: what was expected, what was found. */
export type JsonFail = (expected: string, found: string) => never;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Deeper nesting is refused: object() and array() recurse through their callbacks (real tokenizer files nest 5 deep). */
export const MAX_JSON_DEPTH = 256;
/** The bytes that may follow a backslash: " \ / b f n r t u. */
const ESCAPES = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74, 0x75]);
/** What each escape's letter stands for (\\u is decoded apart). */
const UNESCAPED: Record<number, number> = { 0x22: 0x22, 0x5c: 0x5c, 0x2f: 0x2f, 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09 };
/** Strings of up to this many bytes are decoded by JsonReader.short; longer ones by TextDecoder. */
const SHORT_STRING = 256;
const LITERALS = [['true', true], ['false', false], ['null', null]] as const;
/** The code unit of a \\u escape's 4 hex digits at b[i..i+4) (checked by stringEnd). */
const hex4 = (b: Uint8Array, i: number) => parseInt(String.fromCharCode(b[i]!, b[i + 1]!, b[i + 2]!, b[i + 3]!), 16);
const isHex = (c: number | undefined) => c !== undefined && ((c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66));

export class JsonReader {
  private p = 0;
  private depth = 0;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  /** What stringSpan hands out (one object, reused). */
  private readonly span: Span = { bytes: new Uint8Array(0), from: 0, to: 0 };
  /** An escaped string's bytes, decoded by stringSpan. */
  private scratch = new Uint8Array(256);
  /** UTF-16 units of a short string (never more than its bytes). */
  private readonly units = new Uint16Array(SHORT_STRING);

  constructor(
    private b: Uint8Array,
    private readonly fail: JsonFail,
  ) {
    // TextDecoder drops a BOM before JSON.parse sees the text: accept it here too
    if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) this.p = 3;
  }

  private ws(): void {
    const b = this.b;
    let c = b[this.p];
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = b[++this.p];
  }

  private bad(expected: string): never {
    const at = this.p;
    return this.fail(`valid JSON (${expected})`, at >= this.b.length ? `the end of the file at byte ${at}` : `byte 0x${this.b[at]!.toString(16).padStart(2, '0')} at byte ${at}`);
  }

  /** What the next value is. */
  peek(): 'object' | 'array' | 'string' | 'number' | 'literal' {
    this.ws();
    const c = this.b[this.p];
    if (c === 0x7b) return 'object';
    if (c === 0x5b) return 'array';
    if (c === QUOTE) return 'string';
    if (c === 0x2d || (c !== undefined && c >= 0x30 && c <= 0x39)) return 'number';
    if (c === 0x74 || c === 0x66 || c === 0x6e) return 'literal';
    return this.bad('a value');
  }

  private expect(c: number, what: string): void {
    this.ws();
    if (this.b[this.p] !== c) this.bad(what);
    this.p++;
  }

  private enter(): void {
    if (++this.depth > MAX_JSON_DEPTH) this.bad(`nesting at most ${MAX_JSON_DEPTH} deep`);
  }

  /** Walks an object; `member` must read or skip the value of each key. */
  object(member: (key: string) => void): void {
    this.members(() => {
      const key = this.string();
      this.expect(0x3a, '":"');
      member(key);
    });
  }

  /** Walks an object whose keys are wanted as bytes (stringSpan): a vocabulary's 128k token texts. */
  objectSpans(member: (key: Span) => void): void {
    this.members(() => {
      const key = this.stringSpan();
      this.expect(0x3a, '":"');
      member(key);
    });
  }

  /** `member` reads a key and its value. */
  private members(member: () => void): void {
    this.expect(0x7b, '"{"');
    this.enter();
    this.ws();
    if (this.b[this.p] === 0x7d) {
      this.p++;
      this.depth--;
      return;
    }
    for (;;) {
      if (this.peek() !== 'string') this.bad('a key string');
      member();
      this.ws();
      const c = this.b[this.p];
      if (c === 0x2c) this.p++;
      else if (c === 0x7d) {
        this.p++;
        this.depth--;
        return;
      } else this.bad('"," or "}"');
    }
  }

  /** Walks an array; `item` must read or skip each item. */
  array(item: (index: number) => void): void {
    this.expect(0x5b, '"["');
    this.enter();
    this.ws();
    if (this.b[this.p] === 0x5d) {
      this.p++;
      this.depth--;
      return;
    }
    for (let i = 0; ; i++) {
      item(i);
      this.ws();
      const c = this.b[this.p];
      if (c === 0x2c) this.p++;
      else if (c === 0x5d) {
        this.p++;
        this.depth--;
        return;
      } else this.bad('"," or "]"');
    }
  }

  /** Checks a string (from its opening quote) as JSON.parse would; where it ends, whether it has escapes or non-ASCII bytes. */
  private stringEnd(): { end: number; escaped: boolean; ascii: boolean } {
    const b = this.b;
    let escaped = false;
    let ascii = true;
    let i = this.p + 1;
    for (;;) {
      const c = b[i];
      if (c === undefined) {
        this.p = i;
        return this.bad('a closing quote');
      }
      if (c === QUOTE) break;
      if (c < 0x20) {
        this.p = i;
        return this.bad('no control characters in strings');
      }
      if (c === BACKSLASH) {
        escaped = true;
        const e = b[i + 1];
        if (e === undefined || !ESCAPES.has(e) || (e === 0x75 && !(isHex(b[i + 2]) && isHex(b[i + 3]) && isHex(b[i + 4]) && isHex(b[i + 5])))) {
          this.p = i;
          return this.bad('a valid escape');
        }
        i += e === 0x75 ? 6 : 2;
        continue;
      }
      if (c >= 0x80) ascii = false;
      i++;
    }
    if (!ascii && !isUtf8(b, this.p + 1, i)) return this.bad('UTF-8 text in the string');
    return { end: i + 1, escaped, ascii };
  }

  string(): string {
    this.ws();
    if (this.b[this.p] !== QUOTE) this.bad('a string');
    const start = this.p;
    const { end, escaped } = this.stringEnd();
    const bytes = this.b.subarray(start + 1, end - 1);
    let s: string;
    if (bytes.length <= SHORT_STRING) {
      s = this.short(bytes);
    } else {
      try {
        s = this.utf8.decode(escaped ? this.b.subarray(start, end) : bytes);
      } catch {
        return this.bad('UTF-8 text');
      }
      if (escaped) {
        try {
          s = JSON.parse(s) as string; // the escapes, exactly as JSON.parse reads them
        } catch {
          return this.bad('a valid escape');
        }
      }
    }
    this.p = end;
    return s;
  }

  /**
   * The next string's UTF-8 bytes with its escapes decoded, without making a JS string: a span of the
   * document, or of a scratch buffer for an escaped one (valid until the next stringSpan). An unpaired
   * surrogate escape, which JSON.parse keeps but UTF-8 cannot hold, is refused (serde_json, which
   * Hugging Face's tokenizers reads with, refuses it too).
   */
  stringSpan(): Span {
    this.ws();
    if (this.b[this.p] !== QUOTE) this.bad('a string');
    const start = this.p;
    const { end, escaped } = this.stringEnd();
    this.p = end;
    const span = this.span;
    if (!escaped) {
      span.bytes = this.b;
      span.from = start + 1;
      span.to = end - 1;
      return span;
    }
    // escapes only shrink: "\\uXXXX" (6 bytes) is at most 3 bytes of UTF-8, a pair (12) is 4
    if (this.scratch.length < end - start) this.scratch = new Uint8Array(2 * (end - start));
    const b = this.b;
    const o = this.scratch;
    let n = 0;
    for (let i = start + 1; i < end - 1; ) {
      const c = b[i]!;
      if (c !== BACKSLASH) {
        o[n++] = c;
        i++;
        continue;
      }
      const e = b[i + 1]!;
      if (e !== 0x75) {
        o[n++] = UNESCAPED[e]!;
        i += 2;
        continue;
      }
      let cp = hex4(b, i + 2);
      i += 6;
      if (cp >= 0xd800 && cp <= 0xdbff && b[i] === BACKSLASH && b[i + 1] === 0x75) {
        const lo = hex4(b, i + 2);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          i += 6;
        }
      }
      if (cp >= 0xd800 && cp <= 0xdfff) {
        return this.fail('text whose surrogate escapes come in pairs (UTF-8 cannot hold one alone)', `an unpaired \\u${cp.toString(16)} in the string at byte ${start}`);
      }
      if (cp < 0x80) o[n++] = cp;
      else if (cp < 0x800) {
        o[n++] = 0xc0 | (cp >> 6);
        o[n++] = 0x80 | (cp & 0x3f);
      } else if (cp < 0x10000) {
        o[n++] = 0xe0 | (cp >> 12);
        o[n++] = 0x80 | ((cp >> 6) & 0x3f);
        o[n++] = 0x80 | (cp & 0x3f);
      } else {
        o[n++] = 0xf0 | (cp >> 18);
        o[n++] = 0x80 | ((cp >> 12) & 0x3f);
        o[n++] = 0x80 | ((cp >> 6) & 0x3f);
        o[n++] = 0x80 | (cp & 0x3f);
      }
    }
    span.bytes = o;
    span.from = 0;
    span.to = n;
    return span;
  }

  /**
   * A short string (checked by stringEnd: valid escapes, valid UTF-8) decoded here into UTF-16 units, as
   * JSON.parse would: a vocabulary is 400k short strings, and a TextDecoder call each (plus JSON.parse for
   * escapes) costs a browser's bindings an allocation per call (docs/performance.md).
   */
  private short(bytes: Uint8Array): string {
    const u = this.units;
    let n = 0;
    for (let i = 0; i < bytes.length; ) {
      const c = bytes[i]!;
      if (c === BACKSLASH) {
        const e = bytes[i + 1]!;
        if (e === 0x75) {
          u[n++] = hex4(bytes, i + 2);
          i += 6;
        } else {
          u[n++] = UNESCAPED[e]!;
          i += 2;
        }
      } else if (c < 0x80) {
        u[n++] = c;
        i++;
      } else if (c < 0xe0) {
        u[n++] = ((c & 0x1f) << 6) | (bytes[i + 1]! & 0x3f);
        i += 2;
      } else if (c < 0xf0) {
        u[n++] = ((c & 0x0f) << 12) | ((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f);
        i += 3;
      } else {
        const cp = ((c & 0x07) << 18) | ((bytes[i + 1]! & 0x3f) << 12) | ((bytes[i + 2]! & 0x3f) << 6) | (bytes[i + 3]! & 0x3f);
        u[n++] = 0xd800 + ((cp - 0x10000) >> 10);
        u[n++] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
        i += 4;
      }
    }
    return String.fromCharCode.apply(null, u.subarray(0, n) as unknown as number[]);
  }

  number(): number {
    this.ws();
    const b = this.b;
    const start = this.p;
    let i = start;
    const digits = () => {
      const from = i;
      while (b[i]! >= 0x30 && b[i]! <= 0x39) i++;
      return i > from;
    };
    if (b[i] === 0x2d) i++;
    if (b[i] === 0x30) i++;
    else if (!digits()) {
      this.p = i;
      return this.bad('a number');
    }
    if (b[i] === 0x2e) {
      i++;
      if (!digits()) {
        this.p = i;
        return this.bad('digits after "."');
      }
    }
    if (b[i] === 0x65 || b[i] === 0x45) {
      i++;
      if (b[i] === 0x2b || b[i] === 0x2d) i++;
      if (!digits()) {
        this.p = i;
        return this.bad('exponent digits');
      }
    }
    this.p = i;
    if (i - start <= 15 && b[start] !== 0x2d) {
      // a plain integer (token ids): its value without making a string
      let v = 0;
      let k = start;
      while (k < i && b[k]! <= 0x39 && b[k]! >= 0x30) v = v * 10 + b[k++]! - 0x30;
      if (k === i) return v;
    }
    return Number(String.fromCharCode(...b.subarray(start, i)));
  }

  private literal(): boolean | null {
    this.ws();
    for (const [text, v] of LITERALS) {
      let k = 0;
      while (k < text.length && this.b[this.p + k] === text.charCodeAt(k)) k++;
      if (k === text.length) {
        this.p += k;
        return v;
      }
    }
    return this.bad('true, false or null');
  }

  /** A key and its colon, skipped. */
  private skipKey(): void {
    if (this.peek() !== 'string') this.bad('a key string');
    this.p = this.stringEnd().end;
    this.expect(0x3a, '":"');
  }

  /**
   * Skips the next value (checking its syntax), without building it: iterative, with no closure or
   * frame per value (a 16 MiB list of empty lists is 5.6 million of them).
   */
  skip(): void {
    const open: number[] = []; // the closing byte of each container entered
    for (;;) {
      const kind = this.peek();
      if (kind === 'object' || kind === 'array') {
        const close = kind === 'object' ? 0x7d : 0x5d;
        this.p++;
        if (this.depth + open.length >= MAX_JSON_DEPTH) this.bad(`nesting at most ${MAX_JSON_DEPTH} deep`);
        this.ws();
        if (this.b[this.p] === close) this.p++;
        else {
          open.push(close);
          if (close === 0x7d) this.skipKey();
          continue;
        }
      } else if (kind === 'string') this.p = this.stringEnd().end;
      else if (kind === 'number') this.number();
      else this.literal();
      // after a value: the next item, or the ends of the containers it closes
      for (;;) {
        if (open.length === 0) return;
        const close = open[open.length - 1]!;
        this.ws();
        const c = this.b[this.p];
        if (c === 0x2c) {
          this.p++;
          if (close === 0x7d) this.skipKey();
          break;
        }
        if (c !== close) this.bad(close === 0x7d ? '"," or "}"' : '"," or "]"');
        this.p++;
        open.pop();
      }
    }
  }

  /** The next value as JSON.parse makes it (for small values: an entry, a flag); refused above `maxBytes` of text. */
  value(maxBytes = Infinity): unknown {
    this.ws();
    const start = this.p;
    this.skip();
    if (this.p - start > maxBytes) return this.fail(`a value of at most ${maxBytes} bytes`, `${this.p - start} bytes at byte ${start}`);
    let text: string;
    try {
      text = this.utf8.decode(this.b.subarray(start, this.p));
    } catch {
      this.p = start;
      return this.bad('UTF-8 text');
    }
    return JSON.parse(text);
  }

  /** Nothing but whitespace may follow the document; the reader lets go of the bytes (a parse's results can outlive them). */
  end(): void {
    this.ws();
    if (this.p < this.b.length) this.bad('the end of the document');
    this.b = new Uint8Array(0);
    this.p = 0;
  }
}

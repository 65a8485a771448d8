// A pull reader over a JSON document's UTF-8 bytes: the caller walks the objects and arrays it needs
// and skips the rest, so a large document (a tokenizer.json of 128k tokens and 280k merges) becomes
// only the values kept, never a whole JSON.parse tree plus its text (which cost ~7x the file). Values
// read are what JSON.parse would give for the same text; malformed JSON is an error at its byte.
// No Node imports.

import { isUtf8 } from './json-text.js';

/** Throws the caller's typed error: what was expected, what was found. */
export type JsonFail = (expected: string, found: string) => never;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Deeper nesting is refused: object() and array() recurse through their callbacks (real tokenizer files nest 5 deep). */
export const MAX_JSON_DEPTH = 256;
/** The bytes that may follow a backslash: " \ / b f n r t u. */
const ESCAPES = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74, 0x75]);
const LITERALS = [['true', true], ['false', false], ['null', null]] as const;
const isHex = (c: number | undefined) => c !== undefined && ((c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66));

export class JsonReader {
  private p = 0;
  private depth = 0;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

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
      const key = this.string();
      this.expect(0x3a, '":"');
      member(key);
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
    const { end, escaped, ascii } = this.stringEnd();
    const bytes = this.b.subarray(start + 1, end - 1);
    let s: string;
    if (!escaped && ascii && bytes.length <= 64) {
      s = String.fromCharCode(...bytes);
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

// UTF-8 strings held as bytes in one growing arena, each found again by its bytes through an
// open-addressing index. A GGUF vocabulary is 128k tokens and 280k merges: as JS strings and a Map they
// cost a planning thread ~50 MiB of heap and garbage (more in a browser's worker, whose memory the page
// keeps after the worker ends: docs/performance.md); as bytes, a few typed arrays. No Node imports.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Bytes [from, to) of some buffer: what JsonReader.stringSpan hands out. */
export interface Span {
  bytes: Uint8Array;
  from: number;
  to: number;
}

function fnv(h: number, b: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) h = Math.imul(h ^ b[i]!, FNV_PRIME);
  return h;
}

export class ByteStrings {
  /** The strings' bytes, back to back. */
  private arena: Uint8Array;
  private used = 0;
  /** Where each string starts in the arena; string i ends where i + 1 starts. */
  private starts: Int32Array;
  /** Strings added. */
  count = 0;
  /** Open addressing: a string's index + 1 in the slot its hash leads to (0: empty). */
  private slots: Int32Array;
  private indexed = 0;

  /**
   * Sized for `bytes` and `strings` when the caller knows bounds (grown past them): fresh zeroed memory is
   * not resident until written, and buffers that never grow leave the allocator nothing freed to keep
   * (a planning thread's arena outlives the thread).
   */
  constructor(bytes = 1 << 16, strings = 1024, indexed = 0) {
    this.arena = new Uint8Array(bytes);
    this.starts = new Int32Array(strings + 1);
    let slots = 1 << 10;
    while (slots < 2 * indexed) slots *= 2;
    this.slots = new Int32Array(slots);
  }

  private static readonly utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
  private static readonly encoder = new TextEncoder();

  /** Appends a string (not yet findable: see index); returns its number. */
  add(b: Uint8Array, from: number, to: number): number {
    const n = to - from;
    if (this.used + n > this.arena.length) this.arena = grown(this.arena, this.used + n);
    this.arena.set(b.subarray(from, to), this.used);
    return this.close(n);
  }

  /** Extends the last string added, not yet indexed (its hash would change), with `between` (a byte) and b[from, to). */
  extendLast(between: number, b: Uint8Array, from: number, to: number): void {
    const n = to - from + 1;
    if (this.used + n > this.arena.length) this.arena = grown(this.arena, this.used + n);
    this.arena[this.used] = between;
    this.arena.set(b.subarray(from, to), this.used + 1);
    this.used += n;
    this.starts[this.count] = this.used;
  }

  /** Appends a JS string as UTF-8 (a lone surrogate becomes U+FFFD, as TextEncoder writes it). */
  addText(s: string): number {
    const e = ByteStrings.encoder.encode(s);
    return this.add(e, 0, e.length);
  }

  private close(n: number): number {
    if (this.count + 2 > this.starts.length) {
      const next = new Int32Array(Math.max(this.starts.length * 2, 1024));
      next.set(this.starts);
      this.starts = next;
    }
    this.used += n;
    this.starts[++this.count] = this.used;
    return this.count - 1;
  }

  /** String i's bytes (a view, valid until the next add). */
  bytesOf(i: number): Uint8Array {
    return this.arena.subarray(this.starts[i]!, this.starts[i + 1]!);
  }

  length(i: number): number {
    return this.starts[i + 1]! - this.starts[i]!;
  }

  /** Points `into` at bytes [from, to) of string i (valid until the next add). */
  part(i: number, from: number, to: number, into: Span): Span {
    into.bytes = this.arena;
    into.from = this.starts[i]! + from;
    into.to = this.starts[i]! + to;
    return into;
  }

  /** Copies string i's bytes to dst at `at`. */
  copyTo(i: number, dst: Uint8Array, at: number): void {
    dst.set(this.arena.subarray(this.starts[i]!, this.starts[i + 1]!), at);
  }

  /** Whether string i's bytes are b[from, to). */
  equals(i: number, b: Uint8Array, from: number, to: number): boolean {
    return this.length(i) === to - from && this.holds(this.starts[i]!, b, from, to);
  }

  /** Whether strings i and j have the same bytes. */
  same(i: number, j: number): boolean {
    return this.equals(i, this.arena, this.starts[j]!, this.starts[j + 1]!);
  }

  text(i: number): string {
    return ByteStrings.utf8.decode(this.bytesOf(i));
  }

  /** Makes string i findable; returns the string already findable with the same bytes (and leaves i out), else i. */
  index(i: number): number {
    if (2 * (this.indexed + 1) > this.slots.length) this.rehash();
    const k = this.slot(this.arena, this.starts[i]!, this.starts[i + 1]!);
    if (this.slots[k] !== 0) return this.slots[k]! - 1;
    this.slots[k] = i + 1;
    this.indexed++;
    return i;
  }

  /** The findable string with these bytes, or -1. */
  find(b: Uint8Array, from: number, to: number): number {
    return this.slots[this.slot(b, from, to)]! - 1;
  }

  findText(s: string): number {
    const e = ByteStrings.encoder.encode(s);
    return this.find(e, 0, e.length);
  }

  /** The findable string whose bytes are a's then b's, or -1 (no joined copy made). */
  findJoined(a: Span, b: Span): number {
    const la = a.to - a.from;
    const n = la + b.to - b.from;
    const mask = this.slots.length - 1;
    for (let k = fnv(fnv(FNV_OFFSET, a.bytes, a.from, a.to), b.bytes, b.from, b.to) & mask; ; k = (k + 1) & mask) {
      const j = this.slots[k]! - 1;
      if (j < 0) return -1;
      const s = this.starts[j]!;
      if (this.starts[j + 1]! - s === n && this.holds(s, a.bytes, a.from, a.to) && this.holds(s + la, b.bytes, b.from, b.to)) return j;
    }
  }

  /** The slot holding the string with bytes b[from, to), or the empty slot where it would go. */
  private slot(b: Uint8Array, from: number, to: number): number {
    const mask = this.slots.length - 1;
    for (let k = fnv(FNV_OFFSET, b, from, to) & mask; ; k = (k + 1) & mask) {
      const j = this.slots[k]! - 1;
      if (j < 0) return k;
      const s = this.starts[j]!;
      if (this.starts[j + 1]! - s === to - from && this.holds(s, b, from, to)) return k;
    }
  }

  /** Whether the arena holds b[from, to) at `at`. */
  private holds(at: number, b: Uint8Array, from: number, to: number): boolean {
    const a = this.arena;
    for (let i = from; i < to; i++) if (a[at + i - from] !== b[i]) return false;
    return true;
  }

  private rehash(): void {
    const old = this.slots;
    this.slots = new Int32Array(old.length * 2);
    const mask = this.slots.length - 1;
    for (const j of old) {
      if (j === 0) continue;
      let k = fnv(FNV_OFFSET, this.arena, this.starts[j - 1]!, this.starts[j]!) & mask;
      while (this.slots[k] !== 0) k = (k + 1) & mask;
      this.slots[k] = j;
    }
  }
}

function grown(b: Uint8Array, need: number): Uint8Array {
  let size = Math.max(b.length * 2, 1024);
  while (size < need) size *= 2;
  const next = new Uint8Array(size);
  next.set(b);
  return next;
}

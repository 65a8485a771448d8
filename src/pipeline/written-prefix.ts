// How much of a container is written from its start: jobs fill its regions in any order, and its hash
// can only go as far as the longest written prefix (Node's io/container.ts, the page's web/index.ts).

export class WrittenPrefix {
  private readonly done: { offset: number; bytes: number }[] = [];
  /** End of the longest written prefix. */
  ready = 0;

  /** The head (offset 0) counts as written. */
  constructor(headBytes: number) {
    this.add(0, headBytes);
  }

  /** Marks [offset, offset + bytes) as written (regions do not overlap); returns the prefix's end. */
  add(offset: number, bytes: number): number {
    this.done.push({ offset, bytes });
    this.done.sort((a, b) => a.offset - b.offset);
    while (this.done.length && this.done[0]!.offset <= this.ready) this.ready = Math.max(this.ready, this.done[0]!.offset + this.done.shift()!.bytes);
    return this.ready;
  }
}

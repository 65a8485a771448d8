// How much of a container is written from its start: jobs fill its regions in any order, and its hash
// can only go as far as the longest written prefix (Node's io/container.ts, the page's web/index.ts),
// which PrefixFollower follows as it grows.

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

/**
 * Follows a container's written prefix with `step(from, to)` (its hash: Node reads the file back, the
 * page runs a worker's task), one step at a time in the background, each at least `minStep` bytes; a
 * failed step stops the following and is thrown by `settle`.
 */
export class PrefixFollower {
  private readonly prefix: WrittenPrefix;
  private done = 0;
  private running: Promise<void> | undefined;
  private failure: { error: unknown } | undefined;

  constructor(
    headBytes: number,
    private readonly step: (from: number, to: number) => Promise<void>,
    private readonly minStep = 1,
  ) {
    this.prefix = new WrittenPrefix(headBytes);
  }

  /** Marks [offset, offset + bytes) as written; a step starts if none is under way. */
  written(offset: number, bytes: number): void {
    this.prefix.add(offset, bytes);
    this.kick();
  }

  private kick(): void {
    const to = this.prefix.ready;
    if (this.running || this.failure || to - this.done < this.minStep) return;
    this.running = this.step(this.done, to)
      .then(() => void (this.done = to))
      .catch((error: unknown) => void (this.failure ??= { error }))
      .finally(() => {
        this.running = undefined;
        this.kick(); // regions reported while the step ran
      });
  }

  /** Waits for the steps under way; where they reached (a failed step's error is thrown). */
  async settle(): Promise<number> {
    while (this.running) await this.running;
    if (this.failure) throw this.failure.error;
    return this.done;
  }
}

// A ByteSink that gathers small writes (a varint, a scale, a short row) in a stage and hands them on in
// larger pieces; large writes go straight through. Platform neutral: Node's file sinks and the
// browser's OPFS sinks say where a piece goes.

import type { ByteSink } from './ports.js';

export const STAGE_BYTES = 1 << 20;

export abstract class StagedSink implements ByteSink {
  private readonly stage: Uint8Array;
  private staged = 0;
  /** Bytes handed on so far. */
  protected written = 0;

  constructor(stageBytes = STAGE_BYTES) {
    this.stage = new Uint8Array(stageBytes);
  }

  /** Writes all of `bytes` where the next byte goes (the view is reused afterwards). */
  protected abstract put(bytes: Uint8Array): void;

  write(bytes: Uint8Array): void {
    if (bytes.length < this.stage.length / 4) {
      if (this.staged + bytes.length > this.stage.length) this.flush();
      this.stage.set(bytes, this.staged);
      this.staged += bytes.length;
      return;
    }
    this.flush();
    this.handOn(bytes);
  }

  /** Hands on what is staged. */
  flush(): void {
    if (this.staged === 0) return;
    this.handOn(this.stage.subarray(0, this.staged));
    this.staged = 0;
  }

  private handOn(bytes: Uint8Array): void {
    this.put(bytes);
    this.written += bytes.length;
  }
}

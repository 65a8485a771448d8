// Progress shared by the worker threads and the main thread: input bytes read, tensors done and,
// for a Hub input, bytes fetched, in a SharedArrayBuffer so that workers never have to message the
// main thread.

import type { ProgressSnapshot } from '../pipeline/conversion.js';

export class ProgressCounter {
  private readonly cells: BigInt64Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(24)) {
    this.cells = new BigInt64Array(buffer);
  }

  addBytes(n: number): void {
    Atomics.add(this.cells, 0, BigInt(n));
  }

  addTensor(): void {
    Atomics.add(this.cells, 1, 1n);
  }

  /** Where a Hub reader counts the bytes it receives (hub/range-reader.ts). */
  static readonly FETCHED_CELL = 2;

  /** Bytes received from the Hub, counted by its readers. */
  fetched(): number {
    return Number(Atomics.load(this.cells, ProgressCounter.FETCHED_CELL));
  }

  read(): ProgressSnapshot {
    return { bytesRead: Number(Atomics.load(this.cells, 0)), tensorsDone: Number(Atomics.load(this.cells, 1)) };
  }
}

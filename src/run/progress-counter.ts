// Progress shared by the worker threads and the main thread: input bytes read and tensors
// done, in a SharedArrayBuffer so that workers never have to message the main thread.

import type { ProgressSnapshot } from '../pipeline/conversion.js';

export class ProgressCounter {
  private readonly cells: BigInt64Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(16)) {
    this.cells = new BigInt64Array(buffer);
  }

  addBytes(n: number): void {
    Atomics.add(this.cells, 0, BigInt(n));
  }

  addTensor(): void {
    Atomics.add(this.cells, 1, 1n);
  }

  read(): ProgressSnapshot {
    return { bytesRead: Number(Atomics.load(this.cells, 0)), tensorsDone: Number(Atomics.load(this.cells, 1)) };
  }
}

// A single-file container (safetensors, GGUF) whose size and head are known before any tensor is
// read: created at full size with its head, filled by the jobs with positioned writes (each job
// flushes what it wrote), hashed by the main thread (asynchronous reads) as regions complete, and fsynced once at the end.

import { createHash } from 'node:crypto';
import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { WrittenFile } from './file-sink.js';
import { guard, guardAsync } from './file-sink.js';
import { CorruptFileError } from '../errors.js';
import { PrefixFollower } from '../pipeline/written-prefix.js';

export function createContainer(path: string, head: Uint8Array, bytes: number): void {
  const fd = guard(path, 'create', () => openSync(path, 'wx'));
  try {
    guard(path, 'write', () => writeSync(fd, head, 0, head.length, 0));
    guard(path, 'size', () => ftruncateSync(fd, bytes));
  } finally {
    closeSync(fd);
  }
}

/** Read back 1 MiB at a time: as fast as 8 MiB (2B-4T -> gguf, docs/performance.md), 7 MiB less held. */
const READ_CHUNK = 1 << 20;

/** Flushes a container's written pages (a job's regions) so that the final fsync has little left. */
export function flushContainer(path: string): void {
  const fd = guard(path, 'open', () => openSync(path, 'r+'));
  try {
    guard(path, 'fsync', () => fdatasyncSync(fd));
  } finally {
    closeSync(fd);
  }
}

/**
 * Hashes a container while its regions are being filled: as jobs report their regions written, the
 * main thread hashes the longest finished prefix, reading it asynchronously so that it keeps handing
 * out jobs meanwhile (a synchronous hash held every lane's next job back). Regions reported must not
 * overlap; the head (offset 0) counts as written.
 */
export class ContainerHasher {
  private readonly hash = createHash('sha256');
  private readonly buf = new Uint8Array(READ_CHUNK);
  private readonly follower: PrefixFollower;

  constructor(
    private readonly path: string,
    private readonly size: number,
    headBytes: number,
  ) {
    this.follower = new PrefixFollower(headBytes, (from, to) => this.hashRange(from, to));
  }

  /** Marks [offset, offset + bytes) as written; the prefix now complete is hashed in the background. */
  written(offset: number, bytes: number): void {
    this.follower.written(offset, bytes);
  }

  private async hashRange(from: number, to: number): Promise<void> {
    const file = await guardAsync(this.path, 'open', () => open(this.path, 'r'));
    try {
      for (let at = from; at < to; ) {
        const { bytesRead: n } = await file.read(this.buf, 0, Math.min(READ_CHUNK, to - at), at);
        if (n === 0) throw new CorruptFileError({ file: this.path }, `${this.size} bytes`, `${at} (the file shrank while it was written)`);
        this.hash.update(this.buf.subarray(0, n));
        at += n;
      }
    } finally {
      await file.close();
    }
  }

  /** Hashes the rest (normally nothing), fsyncs the file (when `durable`) and returns its size and sha256. */
  async finish(durable = true): Promise<WrittenFile> {
    this.written(0, this.size);
    await this.follower.settle();
    if (durable) {
      const fd = guard(this.path, 'open', () => openSync(this.path, 'r+'));
      try {
        guard(this.path, 'fsync', () => fsyncSync(fd));
      } finally {
        closeSync(fd);
      }
    }
    return { bytes: this.size, sha256: this.hash.digest('hex') };
  }
}

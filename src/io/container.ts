// A single-file container (safetensors, GGUF) whose size and head are known before any tensor is
// read: created at full size with its head, filled by the jobs with positioned writes (each job
// flushes what it wrote), hashed by the main thread as regions complete, and fsynced once at the end.

import { createHash } from 'node:crypto';
import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import type { WrittenFile } from './file-sink.js';
import { guard } from './file-sink.js';
import { CorruptFileError } from '../errors.js';

export function createContainer(path: string, head: Uint8Array, bytes: number): void {
  const fd = guard(path, 'create', () => openSync(path, 'wx'));
  try {
    guard(path, 'write', () => writeSync(fd, head, 0, head.length, 0));
    guard(path, 'size', () => ftruncateSync(fd, bytes));
  } finally {
    closeSync(fd);
  }
}

const READ_CHUNK = 8 << 20;

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
 * main thread (idle while workers run) hashes the longest finished prefix, so little is left to read
 * back at the end. Regions reported must not overlap; the head (offset 0) counts as written.
 */
export class ContainerHasher {
  private readonly hash = createHash('sha256');
  private readonly done: { offset: number; bytes: number }[] = [];
  private hashed = 0;
  private readonly buf = new Uint8Array(READ_CHUNK);

  constructor(
    private readonly path: string,
    private readonly size: number,
    headBytes: number,
  ) {
    this.written(0, headBytes);
  }

  /** Marks [offset, offset + bytes) as written and hashes whatever prefix is now complete. */
  written(offset: number, bytes: number): void {
    this.done.push({ offset, bytes });
    this.done.sort((a, b) => a.offset - b.offset);
    let end = this.hashed;
    while (this.done.length && this.done[0].offset <= end) end = Math.max(end, this.done[0].offset + this.done.shift()!.bytes);
    if (end > this.hashed) this.hashTo(end);
  }

  private hashTo(end: number): void {
    const fd = guard(this.path, 'open', () => openSync(this.path, 'r'));
    try {
      while (this.hashed < end) {
        const n = readSync(fd, this.buf, 0, Math.min(READ_CHUNK, end - this.hashed), this.hashed);
        if (n === 0) throw new CorruptFileError({ file: this.path }, `${this.size} bytes`, `${this.hashed} (the file shrank while it was written)`);
        this.hash.update(this.buf.subarray(0, n));
        this.hashed += n;
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Hashes the rest (normally nothing), fsyncs the file (when `durable`) and returns its size and sha256. */
  finish(durable = true): WrittenFile {
    this.hashTo(this.size);
    if (!durable) return { bytes: this.size, sha256: this.hash.digest('hex') };
    const fd = guard(this.path, 'open', () => openSync(this.path, 'r+'));
    try {
      guard(this.path, 'fsync', () => fsyncSync(fd));
    } finally {
      closeSync(fd);
    }
    return { bytes: this.size, sha256: this.hash.digest('hex') };
  }
}

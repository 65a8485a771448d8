// A write-only output file: small writes are staged, large ones go straight from wasm
// memory to the kernel; everything is hashed on the way; close() fsyncs.

import { createHash, type Hash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import type { ByteSink } from '../pipeline/parts.js';
import { OutputError } from '../errors.js';

export interface WrittenFile {
  bytes: number;
  sha256: string;
}

const STAGE_BYTES = 1 << 20;

export class FileSink implements ByteSink {
  private readonly fd: number;
  private readonly hash: Hash = createHash('sha256');
  private readonly stage = new Uint8Array(STAGE_BYTES);
  private staged = 0;
  private written = 0;

  constructor(readonly path: string) {
    this.fd = guard(path, 'create', () => openSync(path, 'wx'));
  }

  write(bytes: Uint8Array): void {
    if (bytes.length < STAGE_BYTES / 4) {
      if (this.staged + bytes.length > STAGE_BYTES) this.flush();
      this.stage.set(bytes, this.staged);
      this.staged += bytes.length;
      return;
    }
    this.flush();
    this.writeAll(bytes);
  }

  private flush(): void {
    if (this.staged === 0) return;
    this.writeAll(this.stage.subarray(0, this.staged));
    this.staged = 0;
  }

  private writeAll(bytes: Uint8Array): void {
    this.hash.update(bytes);
    let done = 0;
    while (done < bytes.length) {
      done += guard(this.path, 'write', () => writeSync(this.fd, bytes, done, bytes.length - done));
    }
    this.written += bytes.length;
  }

  /** Flushes, fsyncs and closes; returns the size and sha256 of what was written. */
  close(): WrittenFile {
    try {
      this.flush();
      guard(this.path, 'fsync', () => fsyncSync(this.fd));
    } finally {
      closeSync(this.fd);
    }
    return { bytes: this.written, sha256: this.hash.digest('hex') };
  }

  /** Closes without flushing, after a failure. */
  abandon(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}

/** Runs an fs call and turns its error into one clear OutputError line. */
export function guard<T>(path: string, action: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw outputError(path, action, e);
  }
}

export function outputError(path: string, action: string, e: unknown): OutputError {
  const err = e as NodeJS.ErrnoException;
  const reasons: Record<string, string> = {
    ENOSPC: 'no space left on the device',
    EDQUOT: 'disk quota exceeded',
    EFBIG: 'file too large for the file system or the process file-size limit',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    EEXIST: 'it already exists',
    ENOENT: 'no such file or folder',
  };
  const why = (err?.code && reasons[err.code]) ?? err?.message ?? String(e);
  return new OutputError({ file: path }, `cannot ${action}: ${why}${err?.code ? ` (${err.code})` : ''}`);
}

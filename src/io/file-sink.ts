// Output files: a whole file written front to back (small writes are staged, large ones go straight
// from wasm memory to the kernel; hashed on the way; fsynced by close(), or by fsyncFile() once it is
// closed), or a region of a container the main thread created and sized, written with positioned
// writes (hashed and fsynced as a whole by the main thread once every region is written).

import { createHash, type Hash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { StagedSink } from '../stream/staged-sink.js';
import { OutputError } from '../errors.js';

export interface WrittenFile {
  bytes: number;
  sha256: string;
}

abstract class FdSink extends StagedSink {
  protected readonly fd: number;

  constructor(readonly path: string, flags: string, stageBytes?: number) {
    super(stageBytes);
    this.fd = guard(path, flags === 'wx' ? 'create' : 'open', () => openSync(path, flags));
  }

  /** Where the next byte goes (null: the current file position). */
  protected abstract position(): number | null;

  protected onWrite(_bytes: Uint8Array): void {}

  protected put(bytes: Uint8Array): void {
    this.onWrite(bytes);
    let done = 0;
    while (done < bytes.length) {
      const at = this.position();
      done += guard(this.path, 'write', () => writeSync(this.fd, bytes, done, bytes.length - done, at === null ? null : at + done));
    }
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

/** A new file, written front to back, hashed on the way, fsynced on close (unless not `durable`). */
export class FileSink extends FdSink {
  private readonly hash: Hash = createHash('sha256');

  constructor(
    path: string,
    private readonly durable = true,
  ) {
    super(path, 'wx');
  }

  protected position(): null {
    return null;
  }

  protected override onWrite(bytes: Uint8Array): void {
    this.hash.update(bytes);
  }

  /** Flushes, fsyncs and closes; returns the size and sha256 of what was written. */
  close(): WrittenFile {
    try {
      this.flush();
      if (this.durable) guard(this.path, 'fsync', () => fsyncSync(this.fd));
    } finally {
      closeSync(this.fd);
    }
    return { bytes: this.written, sha256: this.hash.digest('hex') };
  }
}

/** Bytes written from `offset` on into an existing file (a container region). */
export class RegionSink extends FdSink {
  constructor(
    path: string,
    private readonly offset: number,
  ) {
    super(path, 'r+', 64 << 10); // a region gets whole chunks or a few small values: a small stage will do
  }

  protected position(): number {
    return this.offset + this.written;
  }

  /** Flushes and closes; returns how many bytes were written. */
  close(): number {
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
    }
    return this.written;
  }
}

/**
 * fsyncs a file that is written and closed, from the calling thread's I/O pool: a worker hands its own
 * file over and starts its next job while the disk takes this one (docs/performance.md, "The write path: fsync off the workers").
 */
export async function fsyncFile(path: string): Promise<void> {
  const handle = await guardAsync(path, 'open', () => open(path, 'r'));
  try {
    await guardAsync(path, 'fsync', () => handle.sync());
  } finally {
    await handle.close();
  }
}

export async function guardAsync<T>(path: string, action: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw outputError(path, action, e);
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

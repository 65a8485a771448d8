// Positioned reads: never load a whole file (checkpoints reach several GB; readFileSync fails
// above 2 GiB). One file descriptor is cached per path until close().

import * as fs from 'node:fs';
import { CorruptFileError } from '../errors.js';

/** The most bytes asked of one readSync call (Node caps a single read below 2 GiB). */
const MAX_CHUNK = 1 << 30;

/** fs.statSync, or undefined when the path cannot be stat'ed (missing, no permission). */
export function statOrUndefined(path: string): fs.Stats | undefined {
  try {
    return fs.statSync(path);
  } catch {
    return undefined;
  }
}

/** Describes a Node system error (ENOENT, EACCES, ...) for a message. */
export function fsErrorText(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'no permission to read it';
  if (code === 'EISDIR') return 'a folder, not a file';
  const msg = e instanceof Error ? e.message : String(e);
  return typeof code === 'string' ? `${code} (${msg})` : msg;
}

/**
 * Reads exactly `length` bytes at `position` of an open descriptor into dst[dstOffset..].
 * A short read (end of file) throws CorruptFileError 'truncated' naming `file`.
 */
export function readFullySync(fd: number, file: string, dst: Uint8Array, position: number, dstOffset = 0, length = dst.length - dstOffset): void {
  if (!Number.isSafeInteger(position) || position < 0) {
    throw new CorruptFileError({ file }, 'a read position that is a non-negative integer', String(position));
  }
  let done = 0;
  while (done < length) {
    const want = Math.min(length - done, MAX_CHUNK);
    let n: number;
    try {
      n = fs.readSync(fd, dst, dstOffset + done, want, position + done);
    } catch (e) {
      throw new CorruptFileError({ file }, `${length} readable bytes at offset ${position}`, `a read error: ${fsErrorText(e)}`);
    }
    if (n === 0) {
      throw new CorruptFileError(
        { file },
        `${length} bytes at offset ${position}`,
        `truncated: the file ends after ${done} of them (at ${position + done})`,
      );
    }
    done += n;
  }
}

export class PositionedReader {
  private readonly fds = new Map<string, number>();

  /** Fills dst with the bytes of `path` at `position`; a short read throws CorruptFileError (truncated). */
  readExactly(path: string, dst: Uint8Array, position: number): void {
    readFullySync(this.fd(path), path, dst, position);
  }

  /** Closes every cached descriptor. The reader can be used again afterwards (it reopens). */
  close(): void {
    for (const fd of this.fds.values()) {
      try {
        fs.closeSync(fd);
      } catch {
        // already closed: nothing to release
      }
    }
    this.fds.clear();
  }

  private fd(path: string): number {
    let fd = this.fds.get(path);
    if (fd === undefined) {
      try {
        fd = fs.openSync(path, 'r');
      } catch (e) {
        throw new CorruptFileError({ file: path }, 'a readable file', fsErrorText(e));
      }
      this.fds.set(path, fd);
    }
    return fd;
  }
}

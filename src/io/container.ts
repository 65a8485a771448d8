// A single-file container (safetensors, GGUF) whose size and head are known before any tensor is
// read: created at full size with its head, filled by the jobs with positioned writes, then hashed
// and fsynced once by the main thread.

import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
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

/** Fsyncs the finished container and hashes it (read back from the page cache). */
export function finishContainer(path: string, bytes: number): WrittenFile {
  const fd = guard(path, 'open', () => openSync(path, 'r+'));
  try {
    guard(path, 'fsync', () => fsyncSync(fd));
    const hash = createHash('sha256');
    const buf = new Uint8Array(READ_CHUNK);
    let pos = 0;
    while (pos < bytes) {
      const n = readSync(fd, buf, 0, Math.min(READ_CHUNK, bytes - pos), pos);
      if (n === 0) throw new CorruptFileError({ file: path }, `${bytes} bytes`, `${pos} (the file shrank while it was written)`);
      hash.update(buf.subarray(0, n));
      pos += n;
    }
    return { bytes, sha256: hash.digest('hex') };
  } finally {
    closeSync(fd);
  }
}

// Reads a converted output folder back with Node file access: manifest.json checked (sizes, sha256,
// hashed a chunk at a time), then the format's own reader through positioned reads.

import { createHash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { BincodeFlavor } from '../formats/bincode.js';
import { CorruptFileError } from '../errors.js';
import { formatById, type ReadTensor } from '../outputs/index.js';
import type { OutputFolder } from '../outputs/types.js';

export interface Manifest {
  format: string;
  options: { bincode?: BincodeFlavor; scale_granularity: string; rule: string };
  files: { name: string; bytes: number; sha256: string }[];
  conversion_timestamp: number;
}

export function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
}

const HASH_CHUNK = 1 << 22;

/** A file's size and sha256, read a chunk at a time. */
export function hashFile(path: string): { bytes: number; sha256: string } {
  const hash = createHash('sha256');
  const buf = new Uint8Array(HASH_CHUNK);
  const fd = openSync(path, 'r');
  let bytes = 0;
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, bytes)) > 0; bytes += n) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** hashFile with asynchronous reads: the event loop (a conversion's pool) keeps running between chunks. */
export async function hashFileAsync(path: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  const buf = new Uint8Array(HASH_CHUNK);
  const fh = await open(path, 'r');
  let bytes = 0;
  try {
    for (let n; (n = (await fh.read(buf, 0, buf.length, bytes)).bytesRead) > 0; bytes += n) hash.update(buf.subarray(0, n));
  } finally {
    await fh.close();
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** Checks every file listed in the manifest: size and sha256. */
export function verifyManifest(dir: string, manifest = readManifest(dir)): void {
  for (const f of manifest.files) {
    const path = join(dir, f.name);
    const size = statSync(path).size;
    if (size !== f.bytes) throw new CorruptFileError({ file: path }, `${f.bytes} bytes (manifest.json)`, `${size}`);
    const { sha256 } = hashFile(path);
    if (sha256 !== f.sha256) throw new CorruptFileError({ file: path }, `sha256 ${f.sha256} (manifest.json)`, sha256);
  }
}

/** The size of a regular file, or undefined. */
function fileSize(path: string): number | undefined {
  try {
    const s = statSync(path);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

/** An output folder through Node file access: positioned reads for the readers (`read` reads a whole file). */
export function outputFolder(dir: string): OutputFolder {
  return {
    read: (name) => {
      const p = join(dir, name);
      return fileSize(p) !== undefined ? new Uint8Array(readFileSync(p)) : undefined;
    },
    list: () => readdirSync(dir),
    size: (name) => fileSize(join(dir, name)),
    readAt: (name, offset, length, into) => {
      const out = into && into.length >= length ? into.subarray(0, Math.max(0, length)) : new Uint8Array(Math.max(0, length));
      let fd: number;
      try {
        fd = openSync(join(dir, name), 'r');
      } catch {
        return out.subarray(0, 0); // the reader names the file as missing or short
      }
      let done = 0;
      try {
        for (let n; done < out.length && (n = readSync(fd, out, done, out.length - done, offset + done)) > 0; ) done += n;
      } finally {
        closeSync(fd);
      }
      return done === out.length ? out : out.subarray(0, done);
    },
  };
}

/** Any format's output read back after checking its manifest: every tensor, ternary ones decoded. */
export function readOutput(dir: string): { format: string; tensors: ReadTensor[] } {
  const manifest = readManifest(dir);
  verifyManifest(dir, manifest);
  return { format: manifest.format, tensors: formatById(manifest.format).read(outputFolder(dir)) };
}

// Reads a converted output folder back with Node file access: manifest.json checked (its fields, then
// every file's size and sha256, hashed a chunk at a time), then the format's own reader through
// positioned reads.
// Names come from files anyone may have edited (manifest.json, a format's own listing), so a name must be
// a plain file name inside the folder, and only a regular file is opened: not through a symlink (it could
// lead out of the folder), never a FIFO (its open blocks) or a device (/dev/zero never ends). The file is
// lstat'ed before the open (a device is never opened), opened with O_NOFOLLOW | O_NONBLOCK and fstat'ed
// (a FIFO put in its place meanwhile neither blocks nor is read), and read no further than that size.

import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, lstatSync, openSync, read, readdirSync, readSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BincodeFlavor } from '../formats/bincode.js';
import { clip, describe, isPlainObject } from '../formats/json-text.js';
import { CorruptFileError } from '../errors.js';
import { FORMAT_IDS, formatById, optionManifestKey, type ReadTensor } from '../outputs/index.js';
import type { OutputFolder } from '../outputs/types.js';
import { QUANT_RULES, SCALE_GRANULARITIES } from '../quant/rule.js';
import { fsErrorText } from './read.js';
import { interruptedReplace } from './output-dir.js';

export const MANIFEST = 'manifest.json';

export interface ManifestFile {
  name: string;
  bytes: number;
  sha256: string;
}

export interface Manifest {
  format: string;
  options: { bincode?: BincodeFlavor; scale_granularity: string; rule: string } & Record<string, unknown>;
  files: ManifestFile[];
  conversion_timestamp: number;
}

/** A manifest lists a few dozen files: anything this large is not one. */
const MAX_MANIFEST_BYTES = 16 << 20;
/** Node reads no larger buffer at once. */
const MAX_WHOLE_READ = 2 ** 31 - 1;
const HASH_CHUNK = 1 << 22;
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/** Why `name` is not a plain file name inside a folder (undefined when it is one). */
export function nameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return describe(name);
  if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) return `${clip(JSON.stringify(name), 80)}, which is not a plain file name (it would name a file outside the folder)`;
  return undefined;
}

function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link (an output folder holds none: it could lead out of the folder)';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isDirectory()) return 'a folder';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The lstat of a plain name inside `dir` (undefined when there is no such file); anything but a regular file is a typed error naming `label`. */
function statInside(dir: string, name: string, label: string): Stats | undefined {
  const problem = nameProblem(name);
  if (problem) throw new CorruptFileError({ file: label }, 'a file name inside the output folder', problem);
  let st: Stats;
  try {
    st = lstatSync(join(dir, name));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CorruptFileError({ file: label }, 'a readable file', fsErrorText(e));
  }
  if (!st.isFile()) throw new CorruptFileError({ file: label }, 'a regular file', kindOf(st));
  return st;
}

/** A regular file of `dir` opened for reading, with its size; undefined when there is none. */
function openInside(dir: string, name: string, label = name): { fd: number; size: number } | undefined {
  if (!statInside(dir, name, label)) return undefined;
  let fd: number;
  try {
    fd = openSync(join(dir, name), OPEN_FLAGS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw new CorruptFileError({ file: label }, 'a regular file', kindOf(lstatSync(join(dir, name))));
    throw new CorruptFileError({ file: label }, 'a readable file', fsErrorText(e));
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new CorruptFileError({ file: label }, 'a regular file', kindOf(st));
  }
  return { fd, size: st.size };
}

/** fn, a read error (EIO, EACCES) becoming a CorruptFileError naming `label`. */
async function reading<T>(label: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw e instanceof CorruptFileError ? e : new CorruptFileError({ file: label }, 'a readable file', fsErrorText(e));
  }
}

function readingSync<T>(label: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw e instanceof CorruptFileError ? e : new CorruptFileError({ file: label }, 'a readable file', fsErrorText(e));
  }
}

/** The names in an output folder (a typed error when it cannot be listed). */
export function listFolder(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (e) {
    throw new CorruptFileError({ file: dir }, 'a readable output folder', fsErrorText(e));
  }
}

/** Up to `length` bytes at `position` (fewer only at the end of the file). */
function readUpTo(fd: number, into: Uint8Array, position: number): Uint8Array {
  let done = 0;
  for (let n; done < into.length && (n = readSync(fd, into, done, into.length - done, position + done)) > 0; ) done += n;
  return into.subarray(0, done);
}

/** Checks manifest.json's fields: a typed error naming the file, the entry, what was expected and what was found. */
function parseManifest(v: unknown, file: string): Manifest {
  const failText = (expected: string, found: string): never => {
    throw new CorruptFileError({ file }, expected, found);
  };
  const fail = (expected: string, found: unknown): never => failText(expected, describe(found));
  if (!isPlainObject(v)) return fail('a JSON object (the manifest a conversion writes)', v);
  if (typeof v.format !== 'string' || !(FORMAT_IDS as string[]).includes(v.format)) fail(`"format" to be one of ${FORMAT_IDS.join(', ')}`, v.format);
  const ts = v.conversion_timestamp;
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < 0) fail('"conversion_timestamp" to be a whole number of seconds', ts);
  const o = v.options;
  if (!isPlainObject(o)) return fail('"options" to be an object', o);
  const choices: [string, readonly string[]][] = [
    ['rule', QUANT_RULES],
    ['scale_granularity', SCALE_GRANULARITIES],
    ...formatById(v.format as string).options.map((opt): [string, readonly string[]] => [optionManifestKey(opt.key), opt.values]),
  ];
  for (const [key, values] of choices) {
    // the two shared options are always written; a format's own only by the formats that have them
    if ((key in o || key === 'rule' || key === 'scale_granularity') && !values.includes(o[key] as string)) fail(`"options.${key}" to be one of ${values.join(', ')}`, o[key]);
  }
  if (!Array.isArray(v.files)) return fail('"files" to be a list of {name, bytes, sha256}', v.files);
  const seen = new Set<string>();
  v.files.forEach((f: unknown, i) => {
    const at = `files[${i}]`;
    if (!isPlainObject(f)) return fail(`${at} to be an object {name, bytes, sha256}`, f);
    const problem = nameProblem(f.name);
    if (problem) failText(`${at}.name to be a file name inside the output folder`, problem);
    const name = f.name as string;
    if (name === MANIFEST) failText(`${at}.name to be a file other than ${MANIFEST} (it cannot list its own hash)`, JSON.stringify(name));
    if (seen.has(name)) failText(`${at}.name to be listed once`, `${clip(JSON.stringify(name), 80)} again`);
    seen.add(name);
    if (typeof f.bytes !== 'number' || !Number.isSafeInteger(f.bytes) || f.bytes < 0) fail(`${at}.bytes to be a whole number of bytes`, f.bytes);
    if (typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256)) fail(`${at}.sha256 to be 64 lower-case hex digits`, f.sha256);
  });
  return v as unknown as Manifest;
}

/**
 * manifest.json of an output folder, its fields checked (CorruptFileError naming manifest.json, the entry,
 * expected and found). A folder that is not there is named as such, with what an interrupted replace left.
 */
export function readManifest(dir: string): Manifest {
  const file = join(dir, MANIFEST);
  let st: Stats;
  try {
    st = statSync(dir); // the folder itself may be a symlink: the user named it
  } catch {
    interruptedReplace(dir); // throws when a replace of this output was interrupted
    throw new CorruptFileError({ file: dir }, 'an output folder with manifest.json', 'no such folder');
  }
  if (!st.isDirectory()) throw new CorruptFileError({ file: dir }, 'an output folder with manifest.json', 'a file, not a folder');
  const h = openInside(dir, MANIFEST, file);
  if (!h) throw new CorruptFileError({ file }, 'the manifest of a converted output', 'no such file (is this an output folder?)');
  let text: string;
  try {
    if (h.size > MAX_MANIFEST_BYTES) throw new CorruptFileError({ file }, `a manifest of at most ${MAX_MANIFEST_BYTES} bytes`, `${h.size} bytes`);
    text = new TextDecoder().decode(readingSync(file, () => readUpTo(h.fd, new Uint8Array(h.size), 0)));
  } finally {
    closeSync(h.fd);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new CorruptFileError({ file }, 'valid JSON', `invalid JSON (${clip((e as Error).message.replace(/\s+/g, ' '), 120)})`);
  }
  return parseManifest(value, file);
}

/** What `checkFile` found: no such file, a size other than the manifest's (not hashed), or size and sha256. */
export type FileFound = { missing: true } | { bytes: number; sha256?: string };

function hashOf(fd: number, size: number): { bytes: number; sha256: string } {
  const hash = createHash('sha256');
  const buf = new Uint8Array(Math.min(HASH_CHUNK, Math.max(1, size)));
  let bytes = 0;
  for (let n; bytes < size && (n = readSync(fd, buf, 0, Math.min(buf.length, size - bytes), bytes)) > 0; bytes += n) hash.update(buf.subarray(0, n));
  return { bytes, sha256: hash.digest('hex') };
}

const readAsync = promisify(read);

async function hashOfAsync(fd: number, size: number): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  const buf = new Uint8Array(Math.min(HASH_CHUNK, Math.max(1, size)));
  let bytes = 0;
  for (let n; bytes < size && (n = (await readAsync(fd, buf, 0, Math.min(buf.length, size - bytes), bytes)).bytesRead) > 0; bytes += n) hash.update(buf.subarray(0, n));
  return { bytes, sha256: hash.digest('hex') };
}

/**
 * A file manifest.json lists, as it is: hashed only when its size is the listed one (no more than that is
 * read). Anything but a regular file is a CorruptFileError naming it (as `label`).
 */
export function checkFile(dir: string, f: ManifestFile, label = f.name): FileFound {
  const h = openInside(dir, f.name, label);
  if (!h) return { missing: true };
  try {
    return h.size === f.bytes ? readingSync(label, () => hashOf(h.fd, h.size)) : { bytes: h.size };
  } finally {
    closeSync(h.fd);
  }
}

/** checkFile with asynchronous reads: the event loop (a conversion's pool) keeps running between chunks. */
export async function checkFileAsync(dir: string, f: ManifestFile): Promise<FileFound> {
  const h = openInside(dir, f.name);
  if (!h) return { missing: true };
  try {
    return h.size === f.bytes ? await reading(f.name, () => hashOfAsync(h.fd, h.size)) : { bytes: h.size };
  } finally {
    closeSync(h.fd);
  }
}

/** Checks every file listed in the manifest: size, then sha256. */
export function verifyManifest(dir: string, manifest = readManifest(dir)): void {
  for (const f of manifest.files) {
    const path = join(dir, f.name);
    const found = checkFile(dir, f, path);
    if ('missing' in found) throw new CorruptFileError({ file: path }, `${f.bytes} bytes (${MANIFEST})`, 'no such file');
    if (found.bytes !== f.bytes) throw new CorruptFileError({ file: path }, `${f.bytes} bytes (${MANIFEST})`, `${found.bytes}`);
    if (found.sha256 !== f.sha256) throw new CorruptFileError({ file: path }, `sha256 ${f.sha256} (${MANIFEST})`, `${found.sha256}`);
  }
}

/**
 * An output folder through Node file access, confined to the folder's regular files (see the top):
 * positioned reads for the readers, `read` for a whole (small) file.
 */
export function outputFolder(dir: string): OutputFolder {
  return {
    read: (name) => {
      const h = openInside(dir, name);
      if (!h) return undefined;
      try {
        if (h.size > MAX_WHOLE_READ) throw new CorruptFileError({ file: name }, `a file of at most ${MAX_WHOLE_READ} bytes to read whole`, `${h.size} bytes`);
        return readingSync(name, () => readUpTo(h.fd, new Uint8Array(h.size), 0));
      } finally {
        closeSync(h.fd);
      }
    },
    list: () => listFolder(dir),
    size: (name) => statInside(dir, name, name)?.size,
    readAt: (name, offset, length, into) => {
      const out = into && into.length >= length ? into.subarray(0, Math.max(0, length)) : new Uint8Array(Math.max(0, length));
      const h = openInside(dir, name);
      if (!h) return out.subarray(0, 0); // the reader names the file as missing or short
      try {
        return readingSync(name, () => readUpTo(h.fd, out.subarray(0, Math.max(0, Math.min(out.length, h.size - offset))), offset));
      } finally {
        closeSync(h.fd);
      }
    },
  };
}

/** Any format's output read back after checking its manifest: every tensor, ternary ones decoded. */
export function readOutput(dir: string): { format: string; tensors: ReadTensor[] } {
  const manifest = readManifest(dir);
  verifyManifest(dir, manifest);
  return { format: manifest.format, tensors: formatById(manifest.format).read(outputFolder(dir)) };
}

// The checkpoint opener's port (checkpoint.ts) over files that can only be read asynchronously: a
// browser's File objects, or files on the Hugging Face Hub. Everything the opener needs (config.json,
// the index, each weight file's 8-byte prefix and header, or a .gguf's head where there is no
// config.json) and the small side files (tokenizer...) are read ahead, so that the opener itself stays
// synchronous; tensor data is read later, by the workers.

import { CorruptFileError } from '../errors.js';
import { parseGgufPrefix } from '../formats/gguf.js';
import { MAX_HEADER_BYTES, PREFIX_BYTES } from '../formats/safetensors.js';
import type { InputFolder } from '../outputs/types.js';
import { CONFIG_FILE, INDEX_FILE, MAX_CONFIG_BYTES, MAX_INDEX_BYTES, type CheckpointFolder } from './checkpoint.js';

/** Side files above this size are not read ahead (the largest real one, tokenizer.json, is ~9 MB). */
const MAX_SIDE_BYTES = 64 << 20;

/** A file read asynchronously, a range or the whole text at a time. */
export interface AsyncFile {
  size: number;
  read(at: number, length: number): Promise<Uint8Array>;
  text(): Promise<string>;
}

/**
 * Reads ahead and returns the opener's port over it; reads outside what was read ahead are a bug,
 * reported as such. `isSide` picks the side files worth reading (default: every other small file).
 */
export async function readAheadFolder(
  dir: string,
  files: Map<string, AsyncFile>,
  path: (name: string) => string,
  isSide: (name: string) => boolean = () => true,
): Promise<{ folder: CheckpointFolder; side: InputFolder; sideData: SideData }> {
  const cache = new Map<string, { at: number; bytes: Uint8Array }[]>();
  const texts = new Map<string, string>();
  const keep = (name: string, at: number, bytes: Uint8Array) => cache.set(name, [...(cache.get(name) ?? []), { at, bytes }]);
  const side = new Map<string, Uint8Array>();
  // without config.json the opener reads a .gguf (checkpoint.ts), its head only
  const gguf = !files.has(CONFIG_FILE);
  for (const [name, file] of files) {
    if (gguf && name.endsWith('.gguf')) {
      keep(name, 0, await ggufHead(file, path(name)));
    } else if (name.endsWith('.safetensors')) {
      if (file.size < PREFIX_BYTES) continue; // the opener reports the size
      const prefix = await file.read(0, PREFIX_BYTES);
      keep(name, 0, prefix);
      const n = new DataView(prefix.buffer, prefix.byteOffset, PREFIX_BYTES).getBigUint64(0, true);
      const len = Number(n < BigInt(MAX_HEADER_BYTES) ? n : BigInt(MAX_HEADER_BYTES));
      if (len <= file.size - PREFIX_BYTES) keep(name, PREFIX_BYTES, await file.read(PREFIX_BYTES, len));
    } else if ((name === CONFIG_FILE && file.size <= MAX_CONFIG_BYTES) || (name === INDEX_FILE && file.size <= MAX_INDEX_BYTES)) {
      texts.set(name, await file.text());
    } else if (file.size <= MAX_SIDE_BYTES && isSide(name)) {
      side.set(name, await file.read(0, file.size));
    }
  }
  const folder: CheckpointFolder = {
    dir,
    path,
    stat: (name) => files.get(name)?.size,
    read(name, position, length) {
      for (const c of cache.get(name) ?? []) {
        if (c.at === position && c.bytes.length >= length) return c.bytes.subarray(0, length);
      }
      throw new CorruptFileError({ file: path(name) }, `${length} bytes at offset ${position} read ahead`, 'a read the input did not prepare');
    },
    readText(name) {
      const t = texts.get(name);
      if (t === undefined) throw new Error('too large to be this file');
      return t;
    },
    list: () => [...files.keys()],
  };
  // a .gguf's head once more: its vocabulary, for the formats' side files (outputs/side-files.ts)
  const sideData: SideData = {
    files: [...side],
    sizes: [...files].map(([name, f]) => [name, f.size]),
    heads: [...cache].filter(([name]) => name.endsWith('.gguf')).map(([name, parts]) => [name, parts[0]!.bytes]),
  };
  return { folder, side: sideFromData(sideData), sideData };
}

/** The side files read ahead as plain data, for a worker that plans or makes the small files (the page). */
export interface SideData {
  files: [string, Uint8Array][];
  sizes: [string, number][];
  /** A .gguf's head (its first bytes), for its vocabulary. */
  heads: [string, Uint8Array][];
}

/** The formats' view of side files read ahead. */
export function sideFromData(d: SideData): InputFolder {
  const files = new Map(d.files);
  const sizes = new Map(d.sizes);
  const heads = new Map(d.heads);
  return {
    readSide: (name) => files.get(name),
    sideSize: (name) => sizes.get(name),
    readSideAt(name, at, length) {
      const head = heads.get(name);
      if (!head || at !== 0 || length > head.length) throw new CorruptFileError({ file: name }, `${length} bytes at offset ${at} read ahead`, 'a read the input did not prepare');
      return head.subarray(0, length);
    },
  };
}

/** Asked for by the GGUF reader beyond what was read: read that much, then parse again. */
class ReadMore extends Error {
  constructor(readonly bytes: number) {
    super('read more');
  }
}

/**
 * The prefix of a .gguf that holds its head: read as the synchronous reader asks for it (formats/gguf.ts:
 * 8 MiB, more only while the head goes on). A head the reader refuses is kept as read, for the opener
 * to report in its words.
 */
async function ggufHead(file: AsyncFile, path: string): Promise<Uint8Array> {
  let have: Uint8Array = new Uint8Array(0);
  for (;;) {
    try {
      parseGgufPrefix(
        (n) => {
          if (n > have.length) throw new ReadMore(n);
          return have.subarray(0, n);
        },
        path,
        file.size,
        { arrays: 'check' },
      );
      return have;
    } catch (e) {
      if (!(e instanceof ReadMore)) return have;
      // only the bytes not read yet (a Hub input fetches each read)
      const more = await file.read(have.length, e.bytes - have.length);
      const longer = new Uint8Array(e.bytes);
      longer.set(have);
      longer.set(more, have.length);
      have = longer;
    }
  }
}

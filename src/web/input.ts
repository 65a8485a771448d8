// The model folder as a browser gives it: File objects (a picked or dropped folder, or single files).
// The main thread reads ahead, asynchronously, all the opener needs (config.json, the index, each
// weight file's header) and the small side files (tokenizer...); the workers read tensor data
// synchronously with FileReaderSync, which only workers have.

import { CorruptFileError, UsageError } from '../errors.js';
import { MAX_HEADER_BYTES, PREFIX_BYTES } from '../formats/safetensors.js';
import { CONFIG_FILE, INDEX_FILE, MAX_CONFIG_BYTES, MAX_INDEX_BYTES, type CheckpointFolder } from '../model/checkpoint.js';
import type { InputFolder } from '../outputs/types.js';
import type { TensorSource } from '../stream/ports.js';

/** Side files above this size are not read ahead (the largest real one, tokenizer.json, is ~9 MB). */
const MAX_SIDE_BYTES = 64 << 20;

/** The folder's files by plain name; `dir` is the folder's name (from the picked folder, else "model"). */
export interface FileSet {
  dir: string;
  files: Map<string, File>;
  /** Where the model folder was found inside the picked one ("parent/model"), when that was not the picked folder itself. */
  inside?: string;
}

/**
 * Names the files. A folder picked with webkitdirectory gives "folder/sub/name" paths: the model folder
 * is the one holding config.json, the picked folder itself or the one subfolder that has it (a parent
 * folder picked by mistake); files of its own subfolders (.cache/, original/) are not part of the
 * checkpoint. Several candidates are refused, naming them.
 */
export function fileSet(files: Iterable<File>, dir?: string): FileSet {
  const byFolder = new Map<string, Map<string, File>>();
  for (const f of files) {
    const rel = (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
    const parts = rel.split('/');
    const folder = parts.slice(0, -1).join('/');
    if (!byFolder.has(folder)) byFolder.set(folder, new Map());
    byFolder.get(folder)!.set(parts[parts.length - 1]!, f);
  }
  const folders = [...byFolder.keys()];
  // the picked folder: the first part of every path (a picked folder's files all start with its name)
  const top = folders[0]?.split('/')[0] ?? '';
  let chosen = top;
  if (!byFolder.get(top)?.has(CONFIG_FILE)) {
    const models = folders.filter((d) => byFolder.get(d)!.has(CONFIG_FILE)).sort();
    if (models.length > 1) {
      throw new UsageError(`${top || 'the picked files'}: no ${CONFIG_FILE} here, and several subfolders hold a model (${models.join(', ')}); pick one of them`);
    }
    if (models.length === 1) chosen = models[0]!;
  }
  const name = chosen.split('/').pop() || undefined;
  return { dir: dir ?? name ?? 'model', files: byFolder.get(chosen) ?? new Map(), ...(chosen !== top && { inside: chosen }) };
}

/** The key a file's tensors are read by (and named by in messages): "<folder>/<name>". */
export function pathOf(set: FileSet, name: string): string {
  return `${set.dir}/${name}`;
}

async function bytesOf(blob: Blob): Promise<Uint8Array> {
  return new Uint8Array(await blob.arrayBuffer());
}

/**
 * Reads ahead what opening the checkpoint needs and returns the opener's port over it. Reads outside
 * what was read ahead are a bug, reported as such.
 */
export async function readAhead(set: FileSet): Promise<{ folder: CheckpointFolder; side: InputFolder }> {
  const cache = new Map<string, { at: number; bytes: Uint8Array }[]>();
  const texts = new Map<string, string>();
  const keep = (name: string, at: number, bytes: Uint8Array) => cache.set(name, [...(cache.get(name) ?? []), { at, bytes }]);
  const side = new Map<string, Uint8Array>();
  for (const [name, file] of set.files) {
    if (name.endsWith('.safetensors')) {
      if (file.size < PREFIX_BYTES) continue; // the opener reports the size
      const prefix = await bytesOf(file.slice(0, PREFIX_BYTES));
      keep(name, 0, prefix);
      const n = new DataView(prefix.buffer).getBigUint64(0, true);
      const len = Number(n < BigInt(MAX_HEADER_BYTES) ? n : BigInt(MAX_HEADER_BYTES));
      if (len <= file.size - PREFIX_BYTES) keep(name, PREFIX_BYTES, await bytesOf(file.slice(PREFIX_BYTES, PREFIX_BYTES + len)));
    } else if ((name === CONFIG_FILE && file.size <= MAX_CONFIG_BYTES) || (name === INDEX_FILE && file.size <= MAX_INDEX_BYTES)) {
      texts.set(name, await file.text());
    } else if (file.size <= MAX_SIDE_BYTES) {
      side.set(name, await bytesOf(file));
    }
  }
  const folder: CheckpointFolder = {
    dir: set.dir,
    path: (name) => pathOf(set, name),
    stat: (name) => set.files.get(name)?.size,
    read(name, position, length) {
      for (const c of cache.get(name) ?? []) {
        if (c.at === position && c.bytes.length >= length) return c.bytes.subarray(0, length);
      }
      throw new CorruptFileError({ file: pathOf(set, name) }, `${length} bytes at offset ${position} read ahead`, 'a read the browser input did not prepare');
    },
    readText(name) {
      const t = texts.get(name);
      if (t === undefined) throw new Error('too large to be this file');
      return t;
    },
    list: () => [...set.files.keys()],
  };
  return { folder, side: { readSide: (name) => side.get(name), sideSize: (name) => set.files.get(name)?.size } };
}

/**
 * Reads are this large at least, up to the end of the tensor being read: each read crosses to the
 * browser's blob store, and measured in Chromium 156 a read of 4 MiB costs about twice as much per byte
 * as one of 32 MiB.
 */
export const WINDOW_BYTES = 32 << 20;

/** Reads exactly `length` bytes of `blob` at `at` (at most WINDOW_BYTES); throws an Error saying why not. */
export type WindowRead = (blob: File, at: number, length: number) => Uint8Array;

/**
 * Tensor bytes from File objects in a worker, a window at a time: the last window read serves the
 * stream's next reads (they go forward through a tensor). How a window is read is the caller's.
 */
export class WindowSource implements TensorSource {
  private window?: { file: string; at: number; bytes: Uint8Array };

  constructor(
    private readonly files: Map<string, File>,
    private readonly read: WindowRead,
  ) {}

  readExactly(file: string, dst: Uint8Array, position: number, limit?: number): void {
    const blob = this.files.get(file);
    if (!blob) throw new CorruptFileError({ file }, 'a file of the model folder', 'no such file');
    const end = position + dst.length;
    if (end > blob.size) throw new CorruptFileError({ file }, `${dst.length} bytes at offset ${position}`, `truncated: the file ends at ${blob.size}`);
    for (let at = position; at < end; ) {
      const w = this.window;
      if (!(w && w.file === file && at >= w.at && at < w.at + w.bytes.length)) {
        const length = Math.min(limit ?? blob.size, blob.size, at + WINDOW_BYTES) - at;
        this.window = undefined; // a failed read leaves no stale window
        try {
          this.window = { file, at, bytes: this.read(blob, at, length) };
        } catch (e) {
          const why = e instanceof Error ? e.message : String(e);
          throw new CorruptFileError({ file }, `${length} readable bytes at offset ${at}`, `a read error (${why}; was the file changed after it was picked?)`);
        }
        continue;
      }
      const n = Math.min(end, w.at + w.bytes.length) - at;
      dst.set(w.bytes.subarray(at - w.at, at - w.at + n), at - position);
      at += n;
    }
  }
}

interface FileReaderSyncLike {
  readAsArrayBuffer(blob: Blob): ArrayBuffer;
}

/** Windows read with FileReaderSync (synchronous, only in workers): the fallback where there is no shared memory. */
export function fileReaderSource(files: Map<string, File>): WindowSource {
  const Reader = (globalThis as unknown as { FileReaderSync?: new () => FileReaderSyncLike }).FileReaderSync;
  if (!Reader) throw new Error('FileReaderSync is missing: tensor data can only be read in a worker');
  const reader = new Reader();
  return new WindowSource(files, (blob, at, length) => {
    const bytes = new Uint8Array(reader.readAsArrayBuffer(blob.slice(at, at + length)));
    if (bytes.length !== length) throw new Error(`${bytes.length} of ${length} bytes could be read`);
    return bytes;
  });
}

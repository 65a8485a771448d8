// The model folder as a browser gives it: File objects (a picked or dropped folder, or single files).
// The main thread reads ahead, asynchronously, all the opener needs (config.json, the index, each
// weight file's header) and the small side files (tokenizer...); the workers read tensor data
// synchronously with FileReaderSync, which only workers have.

import type { CheckpointFolder } from '../model/checkpoint.js';
import { readAheadFolder, type AsyncFile } from '../model/read-ahead.js';
import type { InputFolder } from '../outputs/types.js';
import { WindowSource } from '../stream/window-source.js';

/** The folder's files by plain name; `dir` is the folder's name (from the picked folder, else "model"). */
export interface FileSet {
  dir: string;
  files: Map<string, File>;
}

/** Names the files: a folder picked with webkitdirectory gives "folder/name" paths; only the top level counts. */
export function fileSet(files: Iterable<File>, dir?: string): FileSet {
  const map = new Map<string, File>();
  let folder = dir;
  for (const f of files) {
    const rel = (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
    const parts = rel.split('/');
    if (parts.length > 2) continue; // a subfolder (e.g. .cache/, original/): not part of the checkpoint
    if (parts.length === 2) folder ??= parts[0];
    map.set(parts[parts.length - 1], f);
  }
  return { dir: folder ?? 'model', files: map };
}

/** The key a file's tensors are read by (and named by in messages): "<folder>/<name>". */
export function pathOf(set: FileSet, name: string): string {
  return `${set.dir}/${name}`;
}

/**
 * Reads ahead what opening the checkpoint needs and returns the opener's port over it (see
 * model/read-ahead.ts).
 */
export function readAhead(set: FileSet): Promise<{ folder: CheckpointFolder; side: InputFolder }> {
  const files = new Map<string, AsyncFile>();
  for (const [name, f] of set.files) {
    files.set(name, { size: f.size, read: async (at, length) => new Uint8Array(await f.slice(at, at + length).arrayBuffer()), text: () => f.text() });
  }
  return readAheadFolder(set.dir, files, (name) => pathOf(set, name));
}

interface FileReaderSyncLike {
  readAsArrayBuffer(blob: Blob): ArrayBuffer;
}

/** Windows read with FileReaderSync (synchronous, only in workers): the fallback where there is no shared memory. */
export function fileReaderSource(files: Map<string, File>): WindowSource<File> {
  const Reader = (globalThis as unknown as { FileReaderSync?: new () => FileReaderSyncLike }).FileReaderSync;
  if (!Reader) throw new Error('FileReaderSync is missing: tensor data can only be read in a worker');
  const reader = new Reader();
  return new WindowSource(files, (blob, at, length) => {
    const bytes = new Uint8Array(reader.readAsArrayBuffer(blob.slice(at, at + length)));
    if (bytes.length !== length) throw new Error(`${bytes.length} of ${length} bytes could be read`);
    return bytes;
  });
}

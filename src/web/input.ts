// The model folder as a browser gives it: File objects (a picked or dropped folder, or single files, a
// .gguf among them).
// The main thread reads ahead, asynchronously, all the opener needs (config.json, the index, each
// weight file's header) and the small side files (tokenizer...); the workers read tensor data
// synchronously with FileReaderSync, which only workers have.

import { UsageError } from '../errors.js';
import { CONFIG_FILE, type CheckpointFolder } from '../model/checkpoint.js';
import { ggufModelName, isFirstGguf } from '../model/gguf-checkpoint.js';
import { readAheadFolder, type AsyncFile, type SideData } from '../model/read-ahead.js';
import type { InputFolder } from '../outputs/types.js';
import { WindowSource, WINDOW_BYTES } from '../stream/window-source.js';
import { byobReads } from '../stream/shared-read.js';

/** The folder's files by plain name; `dir` is the folder's name (from the picked folder, else "model"). */
export interface FileSet {
  dir: string;
  files: Map<string, File>;
  /** Where the model folder was found inside the picked one ("parent/model"), when that was not the picked folder itself. */
  inside?: string;
  /** What holds the weights: `.safetensors` beside config.json, or, where no folder has one, a `.gguf`. */
  weights: '.safetensors' | '.gguf';
  /** Files handed over without their folder (no path, no .gguf to name them): `dir` is only the fallback "model". */
  unnamed?: true;
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
  // a model folder holds config.json; without one anywhere, a .gguf (docs/gguf.md 10)
  const anyConfig = folders.some((d) => byFolder.get(d)!.has(CONFIG_FILE));
  const isModel = (d: string) => (anyConfig ? byFolder.get(d)!.has(CONFIG_FILE) : [...byFolder.get(d)!.keys()].some(isGguf));
  if (!byFolder.has(top) || !isModel(top)) {
    const models = folders.filter(isModel).sort();
    if (models.length > 1) {
      throw new UsageError(`${top || 'the picked files'}: no ${anyConfig ? CONFIG_FILE : '.gguf'} here, and several subfolders hold a model (${models.join(', ')}); pick one of them`);
    }
    if (models.length === 1) chosen = models[0]!;
  }
  const picked = byFolder.get(chosen) ?? new Map<string, File>();
  // nothing a model is made of anywhere in the pick: say so here, not as a missing config.json at Convert
  const weightsAnywhere = folders.some((d) => [...byFolder.get(d)!.keys()].some((n) => n.endsWith('.safetensors') || isGguf(n)));
  if (!anyConfig && !weightsAnywhere) {
    throw new UsageError(`${top || 'the picked files'}: no model here: expected ${CONFIG_FILE} with .safetensors files, or a .gguf, in the picked folder or a folder inside it`);
  }
  // files picked one by one: a .gguf (or a split set's first part) names the model, as the CLI names it
  const ggufs = [...picked.keys()].filter(isFirstGguf);
  const name = chosen.split('/').pop() || (!anyConfig && ggufs.length === 1 ? ggufModelName(ggufs[0]!) : undefined);
  return {
    dir: dir ?? name ?? 'model',
    files: picked,
    weights: picked.has(CONFIG_FILE) || ![...picked.keys()].some(isGguf) ? '.safetensors' : '.gguf',
    ...(chosen !== top && { inside: chosen }),
    ...(dir === undefined && name === undefined && { unnamed: true as const }),
  };
}

/**
 * A name for files handed over without their folder, from config.json's `_name_or_path` when it is a
 * Hub repo id (ORG/NAME: the name the folder most likely has, as a download names it); a local path
 * or nothing gives undefined, and the page asks for the name.
 */
export function configModelName(configText: string): string | undefined {
  let v: unknown;
  try {
    v = (JSON.parse(configText) as { _name_or_path?: unknown } | null)?._name_or_path;
  } catch {
    return undefined; // the conversion says what is wrong with config.json
  }
  // ORG and NAME as the Hub spells them: a letter or digit first (a relative path such as ./out is not one)
  const id = typeof v === 'string' ? /^[A-Za-z0-9][\w.-]*\/([A-Za-z0-9][\w.-]*)$/.exec(v) : null;
  return id?.[1];
}

const isGguf = (name: string) => name.endsWith('.gguf');

/** The key a file's tensors are read by (and named by in messages): "<folder>/<name>". */
export function pathOf(set: FileSet, name: string): string {
  return `${set.dir}/${name}`;
}

/**
 * Reads ahead what opening the checkpoint needs and returns the opener's port over it (see
 * model/read-ahead.ts).
 */
export function readAhead(set: FileSet): Promise<{ folder: CheckpointFolder; side: InputFolder; sideData: SideData }> {
  const files = new Map<string, AsyncFile>();
  for (const [name, f] of set.files) {
    files.set(name, { size: f.size, read: async (at, length) => new Uint8Array(await f.slice(at, at + length).arrayBuffer()), text: () => f.text() });
  }
  return readAheadFolder(set.dir, files, (name) => pathOf(set, name));
}

interface FileReaderSyncLike {
  readAsArrayBuffer(blob: Blob): ArrayBuffer;
}

/** A FileReaderSync (workers only; the DOM typings lack it). */
export function fileReaderSync(): FileReaderSyncLike {
  const Reader = (globalThis as unknown as { FileReaderSync?: new () => FileReaderSyncLike }).FileReaderSync;
  if (!Reader) throw new Error('FileReaderSync is missing: files can only be read synchronously in a worker');
  return new Reader();
}

/**
 * FileReaderSync's windows where Blob streams have no BYOB reader (WebKitGTK 2.50, Safari before 26.4):
 * each is a new buffer, and WebKit's page process peaked at 923-953 MiB converting 2B-4T with windows of
 * 32 MiB against 707-725 with 8 MiB, a few percent slower. Chromium loses 20% with them (its reads cost
 * more per byte) and keeps as much memory (docs/performance.md, "The FileReaderSync path").
 */
const WEBKIT_WINDOW_BYTES = 8 << 20;

/** Windows read with FileReaderSync (synchronous, only in workers): the fallback where there is no shared memory. */
export function fileReaderSource(files: Map<string, File>): WindowSource<File> {
  const reader = fileReaderSync();
  const read = (blob: File, at: number, length: number) => {
    const bytes = new Uint8Array(reader.readAsArrayBuffer(blob.slice(at, at + length)));
    if (bytes.length !== length) throw new Error(`${bytes.length} of ${length} bytes could be read`);
    return bytes;
  };
  return new WindowSource(files, read, byobReads() ? WINDOW_BYTES : WEBKIT_WINDOW_BYTES);
}

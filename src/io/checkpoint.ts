// Opens a checkpoint folder on disk: the Node side of model/checkpoint.ts's port (stat, positioned
// reads, listing). Stat before open: opening a FIFO (or a device) would block for ever.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { CorruptFileError } from '../errors.js';
import type { SafetensorsHeader } from '../formats/safetensors.js';
import { openCheckpointFolder, readHeader, type Checkpoint, type CheckpointFolder } from '../model/checkpoint.js';
import { fsErrorText, readFullySync, statOrUndefined } from './read.js';

export { CONFIG_FILE, INDEX_FILE, SINGLE_FILE, type Checkpoint, type CheckpointSkipped } from '../model/checkpoint.js';

/** A folder on disk as the checkpoint opener's port. */
export function diskFolder(dir: string): CheckpointFolder {
  const full = (name: string) => path.join(dir, name);
  return {
    dir,
    path: full,
    stat(name) {
      const st = statOrUndefined(full(name));
      return !st ? undefined : st.isFile() ? st.size : 'not a regular file';
    },
    read(name, position, length) {
      const file = full(name);
      let fd: number;
      try {
        fd = fs.openSync(file, 'r');
      } catch (e) {
        throw new CorruptFileError({ file }, 'a readable safetensors file', fsErrorText(e));
      }
      try {
        const dst = new Uint8Array(length);
        readFullySync(fd, file, dst, position);
        return dst;
      } finally {
        fs.closeSync(fd);
      }
    },
    readText(name) {
      try {
        return fs.readFileSync(full(name), 'utf8');
      } catch (e) {
        throw new Error(fsErrorText(e));
      }
    },
    list: () => fs.readdirSync(dir),
    folderProblem() {
      const st = statOrUndefined(dir);
      if (!st) return `no such file: the folder ${dir} does not exist (pass the folder of a downloaded checkpoint)`;
      if (!st.isDirectory()) return `no such file: ${dir} is a file, not a folder (pass the folder that holds config.json and the .safetensors weights)`;
      return undefined;
    },
  };
}

/** Reads and validates one safetensors file's header (8 bytes, then the header bytes only). */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  return readHeader(diskFolder(path.dirname(file)), path.basename(file));
}

/** Opens a checkpoint folder and validates config.json and every safetensors header. */
export function openCheckpoint(dir: string): Checkpoint {
  // --input-dir may name a .gguf file itself (docs/gguf.md 10)
  if (dir.endsWith('.gguf') && statOrUndefined(dir)?.isFile()) return openCheckpointFolder(diskFolder(path.dirname(dir)), path.basename(dir));
  return openCheckpointFolder(diskFolder(dir));
}

// Reads a converted output folder back with Node file access: manifest.json checked (sizes, sha256),
// then the format's own reader.

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BincodeFlavor } from '../formats/bincode.js';
import type { ModelRecord } from '../outputs/bitnet-rs/records.js';
import { readBitnetRs } from '../outputs/bitnet-rs/read.js';
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

/** Checks every file listed in the manifest: size and sha256. */
export function verifyManifest(dir: string, manifest = readManifest(dir)): void {
  for (const f of manifest.files) {
    const path = join(dir, f.name);
    const bytes = readFileSync(path);
    if (bytes.length !== f.bytes) throw new CorruptFileError({ file: path }, `${f.bytes} bytes (manifest.json)`, `${bytes.length}`);
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== f.sha256) throw new CorruptFileError({ file: path }, `sha256 ${f.sha256} (manifest.json)`, sha);
  }
}

/** Decodes a bitnet-rs output folder into one ModelRecord after checking the manifest. Reads whole files: meant for checks. */
export function readConvertedModel(dir: string): ModelRecord {
  const manifest = readManifest(dir);
  verifyManifest(dir, manifest);
  return readBitnetRs((name) => readFileSync(join(dir, name)), manifest.options.bincode ?? 'standard', (name) => join(dir, name));
}

/** An output folder through Node file access (whole files: for checks, not for streaming 2B models). */
export function outputFolder(dir: string): OutputFolder {
  return {
    read: (name) => {
      const p = join(dir, name);
      return existsSync(p) && statSync(p).isFile() ? new Uint8Array(readFileSync(p)) : undefined;
    },
    list: () => readdirSync(dir),
  };
}

/** Any format's output read back after checking its manifest: every tensor, ternary ones decoded. */
export function readOutput(dir: string): { format: string; tensors: ReadTensor[] } {
  const manifest = readManifest(dir);
  verifyManifest(dir, manifest);
  return { format: manifest.format, tensors: formatById(manifest.format).read(outputFolder(dir)) };
}

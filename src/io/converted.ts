// Reads a converted output folder back: every per-part file decoded and reassembled into
// the full model record, after checking sizes and sha256 against manifest.json.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BincodeFlavor, BincodeReader } from '../formats/bincode.js';
import { decode, readBitLinear, readBlock, readMetadata, readWeightShape, type ModelRecord } from '../formats/records.js';
import { CorruptFileError } from '../errors.js';

export interface Manifest {
  options: { bincode: BincodeFlavor; scale_granularity: string };
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

/** Decodes all parts into one ModelRecord. Reads whole files: meant for checks, not for 2B models. */
export function readConvertedModel(dir: string): ModelRecord {
  const manifest = readManifest(dir);
  verifyManifest(dir, manifest);
  const flavor = manifest.options.bincode;
  const part = <T>(name: string, read: (r: BincodeReader) => T): T => {
    const path = join(dir, name);
    return decode(read, readFileSync(path), flavor, path);
  };
  const metadata = part('metadata.bin', readMetadata);
  const blocks = [];
  for (let i = 0; i < metadata.numLayers; i++) blocks.push(part(`block_${i}.bin`, readBlock));
  return {
    embedding: part('embedding.bin', readWeightShape),
    blocks,
    norm: part('norm.bin', readWeightShape),
    lmHead: part('lm_head.bin', readBitLinear),
    metadata,
  };
}

// Reads a bitnet-rs output back: every per-part file decoded and reassembled into the full model
// record. Platform neutral: files come through `readFile`.

import type { BincodeFlavor, BincodeReader } from '../../formats/bincode.js';
import { decode, readBitLinear, readBlock, readMetadata, readWeightShape, type ModelRecord } from './records.js';

/** Decodes all parts into one ModelRecord. Reads whole files: meant for checks, not for 2B models. */
export function readBitnetRs(readFile: (name: string) => Uint8Array, flavor: BincodeFlavor, label = (name: string) => name): ModelRecord {
  const part = <T>(name: string, read: (r: BincodeReader) => T): T => decode(read, readFile(name), flavor, label(name));
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

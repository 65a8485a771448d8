// What the GGUF-input tests share (test/gguf-input.test.ts, test/gguf-input-q8-rope.test.ts): a small
// model shape, conversion defaults, fresh output folders and the .gguf of an output folder.

import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert, type ConvertOptions } from '../../build/js/run/convert.js';
import { layoutGguf, parseGguf } from '../../build/js/formats/gguf.js';

export const SHAPE = { hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 512 };
export const BASE: Partial<ConvertOptions> = { threads: 0, timestamp: 1_700_000_000, chunkBytes: 1 << 14 };

/** The .gguf file in an output folder. */
export const ggufFile = (dir: string) => join(dir, readdirSync(dir).find((f) => f.endsWith('.gguf'))!);

/** A temporary root; `fresh` gives a new folder named `model` under it (GGUF names its file and general.name after the input folder: both paths then agree); `run` converts into one. */
export function ggufTestFolders(prefix: string): { root: string; fresh: () => string; run: (inputDir: string, format: string, extra?: Partial<ConvertOptions>) => Promise<string> } {
  const root = mkdtempSync(join(tmpdir(), prefix));
  let n = 0;
  const fresh = () => {
    const parent = join(root, `${n++}`);
    mkdirSync(parent);
    return join(parent, 'model');
  };
  const run = async (inputDir: string, format: string, extra: Partial<ConvertOptions> = {}) => {
    const outputDir = fresh();
    await convert({ inputDir, outputDir, format, ...BASE, ...extra } as ConvertOptions);
    return outputDir;
  };
  return { root, fresh, run };
}

/**
 * `whole` (a GGUF's bytes) as llama.cpp's gguf-split writes it in two parts into `dir`:
 * PREFIX-00001-of-00002.gguf with the KVs and the first half of the tensors, PREFIX-00002-of-00002.gguf
 * with the rest, each with split.no, split.count and split.tensors.count.
 */
export function writeSplitGguf(whole: Uint8Array, dir: string, prefix: string): void {
  const parsed = parseGguf(whole, 'x.gguf', whole.length, { arrays: 'keep' });
  const n = parsed.tensors.length;
  const half = Math.floor(n / 2);
  const splitKvs = (no: number) => [
    { key: 'split.no', v: { type: 2, value: no } }, { key: 'split.count', v: { type: 2, value: 2 } }, { key: 'split.tensors.count', v: { type: 5, value: n } },
  ];
  const write = (name: string, kvs: unknown[], tensors: typeof parsed.tensors) => {
    const layout = layoutGguf(kvs as never, tensors.map((t) => ({ name: t.name, ne: t.ne, type: t.type })));
    const file = new Uint8Array(layout.fileBytes);
    file.set(layout.head);
    tensors.forEach((t, i) => file.set(whole.subarray(t.offset, t.offset + t.bytes), layout.offsets[i]));
    writeFileSync(join(dir, name), file);
  };
  write(`${prefix}-00001-of-00002.gguf`, [...[...parsed.kvs].map(([key, v]) => ({ key, v })), ...splitKvs(0)], parsed.tensors.slice(0, half));
  write(`${prefix}-00002-of-00002.gguf`, splitKvs(1), parsed.tensors.slice(half));
}

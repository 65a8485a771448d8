// What the GGUF-input tests share (test/gguf-input.test.ts, test/gguf-input-q8-rope.test.ts): a small
// model shape, conversion defaults, fresh output folders and the .gguf of an output folder.

import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert, type ConvertOptions } from '../../build/js/run/convert.js';

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

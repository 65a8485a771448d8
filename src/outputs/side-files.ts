// Files an engine or transformers loads beside the weights, copied unchanged from the input folder.

import { parseGgufPrefix } from '../formats/gguf.js';
import { hfTokenizerFromGguf } from './gguf/hf-tokenizer.js';
import type { InputFolder, SmallFile } from './types.js';

export const SIDE_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.model', 'generation_config.json'] as const;

export function copySideFiles(input: InputFolder): SmallFile[] {
  return SIDE_FILES.flatMap((name) => {
    const bytes = input.readSide(name);
    return bytes ? [{ name, bytes }] : [];
  });
}

/**
 * The side files of a .gguf source: those beside it, else tokenizer.json and tokenizer_config.json
 * rebuilt from its vocabulary (docs/gguf.md 10), read from its head once, when a format first asks.
 */
export function ggufSideFiles(base: InputFolder, fileName: string): InputFolder {
  let rebuilt: Map<string, Uint8Array> | undefined;
  const fromGguf = (name: string): Uint8Array | undefined => {
    if (name !== 'tokenizer.json' && name !== 'tokenizer_config.json') return undefined;
    if (!rebuilt) {
      const size = base.sideSize?.(fileName);
      const at = base.readSideAt;
      rebuilt = new Map();
      if (size !== undefined && at) {
        const r = hfTokenizerFromGguf(parseGgufPrefix((n) => at(fileName, 0, n), fileName, size, { arrays: 'raw' }).kvs); // the vocabulary's items kept encoded, never 400k strings
        if ('files' in r) rebuilt = r.files;
      }
    }
    return rebuilt.get(name);
  };
  return {
    readSide: (name) => base.readSide(name) ?? fromGguf(name),
    sideSize: (name) => base.sideSize?.(name),
    readSideAt: base.readSideAt,
  };
}

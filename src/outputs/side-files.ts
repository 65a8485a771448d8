// Files an engine or transformers loads beside the weights, copied unchanged from the input folder.

import type { InputFolder, SmallFile } from './types.js';

export const SIDE_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.model', 'generation_config.json'] as const;

export function copySideFiles(input: InputFolder): SmallFile[] {
  return SIDE_FILES.flatMap((name) => {
    const bytes = input.readSide(name);
    return bytes ? [{ name, bytes }] : [];
  });
}

// The output formats: one folder each; nothing about a format's bytes lives outside its folder.

import { UsageError } from '../errors.js';
import { bitnetRs } from './bitnet-rs/index.js';
import { bitnetRsSafetensors } from './bitnet-rs/safetensors.js';
import { hfPacked } from './hf-packed/index.js';
import { msGpu } from './ms-gpu/index.js';
import { gguf } from './gguf/index.js';
import type { OutputFormat } from './types.js';

export type { FormatOptions, Job, JobOutput, LazyTensor, OutputFolder, OutputFormat, ReadTensor, SmallFile, TernaryRows } from './types.js';

export const FORMATS: Readonly<Record<string, OutputFormat>> = {
  'bitnet-rs': bitnetRs,
  'bitnet-rs-safetensors': bitnetRsSafetensors,
  'hf-packed': hfPacked,
  'ms-gpu': msGpu,
  gguf,
};

export const FORMAT_IDS = Object.keys(FORMATS);

export function formatById(id: string): OutputFormat {
  const f = FORMATS[id];
  if (!f) throw new UsageError(`--format: expected one of ${FORMAT_IDS.join(', ')}, found ${JSON.stringify(id)}`);
  return f;
}

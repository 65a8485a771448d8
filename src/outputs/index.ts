// The output formats: one folder each; nothing about a format's bytes lives outside its folder.

import { UsageError } from '../errors.js';
import { bitnetRs } from './bitnet-rs/index.js';
import type { OutputFormat } from './types.js';

export type { FormatOptions, Job, JobOutput, OutputFormat, SmallFile } from './types.js';

export const FORMATS: Readonly<Record<string, OutputFormat>> = {
  'bitnet-rs': bitnetRs,
};

export const FORMAT_IDS = Object.keys(FORMATS);

export function formatById(id: string): OutputFormat {
  const f = FORMATS[id];
  if (!f) throw new UsageError(`--format: expected one of ${FORMAT_IDS.join(', ')}, found ${JSON.stringify(id)}`);
  return f;
}

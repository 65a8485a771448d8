// The output formats: one folder each; nothing about a format's bytes lives outside its folder.

import { UsageError } from '../errors.js';
import { bitnetRs } from './bitnet-rs/index.js';
import { bitnetRsSafetensors } from './bitnet-rs/safetensors.js';
import { hfPacked } from './hf-packed/index.js';
import { msGpu } from './ms-gpu/index.js';
import { gguf } from './gguf/index.js';
import type { OutputFormat } from './types.js';

export type { FormatOption, FormatOptions, Job, JobOutput, LazyTensor, OutputFolder, OutputFormat, ReadTensor, SmallFile, TernaryRows } from './types.js';
export { optionFlag, optionManifestKey } from './types.js';

/** Every output format by id; each is typed with its own job part and options. */
export const FORMATS = {
  'bitnet-rs': bitnetRs,
  'bitnet-rs-safetensors': bitnetRsSafetensors,
  'hf-packed': hfPacked,
  'ms-gpu': msGpu,
  gguf,
} as const;
export type FormatId = keyof typeof FORMATS;

export const FORMAT_IDS = Object.keys(FORMATS) as FormatId[];

/**
 * A format seen from the format-blind side (the pipeline, the workers, verify): its job parts and
 * options as the format itself planned and resolved them (they cross threads as structured clones).
 */
export type AnyFormat = OutputFormat<unknown, Record<string, unknown>>;

export function formatById(id: string): AnyFormat {
  if (!Object.hasOwn(FORMATS, id)) throw new UsageError(`--format: expected one of ${FORMAT_IDS.join(', ')}, found ${JSON.stringify(id)}`);
  return FORMATS[id as FormatId] as unknown as AnyFormat;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the part is not looked at
type OwnOf<F> = F extends OutputFormat<any, infer O> ? O : never;
type Intersect<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
/** The options every format owns, by API key (ggufType, bincode, ...). */
export type FormatOwnOptions = Intersect<OwnOf<(typeof FORMATS)[FormatId]>>;

/** Every format's own options, for the hosts that offer them all (the CLI's flags). */
export const FORMAT_OPTIONS = FORMAT_IDS.flatMap((id) => FORMATS[id].options.map((option) => ({ format: id, option })));

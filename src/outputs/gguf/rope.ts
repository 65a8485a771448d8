// A config.json's RoPE scaling in GGUF (docs/gguf.md 9): `linear` as the two llama.cpp keys every
// architecture reads, Llama 3.1/3.2's `llama3` as arch llama's `rope_freqs.weight` (one divisor per
// rotary pair); any other kind is refused, because an engine ignoring it computes a different model.

import { InvalidConfigError, UnsupportedError } from '../../errors.js';
import { describe, isPlainObject } from '../../formats/json-text.js';
import type { Llama3Scaling } from '../../model/rope-llama3.js';

export { llama3FreqFactors } from '../../model/rope-llama3.js';

export type RopeScalingType = 'linear' | 'llama3';

export type RopeScaling =
  | { type: 'none' }
  | { type: 'linear'; factor: number }
  | ({ type: 'llama3' } & Llama3Scaling);

const FILE = 'config.json';

/**
 * The scaling a config.json asks for: `rope_scaling` (transformers 4) or `rope_parameters` (transformers
 * 5, read first as llama.cpp does), its kind in `rope_type` or the older `type`; `default` is none.
 * Refused: a kind not in `supported`, or a llama3/linear entry without the values transformers requires.
 */
export function ropeScalingOf(raw: Record<string, unknown>, supported: readonly RopeScalingType[], arch: string): RopeScaling {
  const key = raw.rope_parameters !== undefined && raw.rope_parameters !== null ? 'rope_parameters' : 'rope_scaling';
  const s = raw[key];
  if (s === undefined || s === null) return { type: 'none' };
  if (!isPlainObject(s)) throw new InvalidConfigError({ file: FILE }, `"${key}" to be an object or null`, describe(s));
  const kind = s.rope_type ?? s.type;
  if (kind === undefined || kind === 'default') return { type: 'none' };
  if (typeof kind !== 'string' || !(supported as readonly string[]).includes(kind)) {
    const can = supported.length ? `${supported.join(' or ')} (or none)` : 'none';
    throw new UnsupportedError({ file: FILE }, `a ${key} type the engine computes for --gguf-arch ${arch}: ${can}`, `${key} type ${JSON.stringify(kind)}`);
  }
  const num = (name: string, test: (v: number) => boolean, what: string): number => {
    const v = s[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || !test(v)) throw new InvalidConfigError({ file: FILE }, `${key}.${name} to be ${what} (type ${kind})`, describe(v));
    return v;
  };
  const factor = num('factor', (v) => v > 0, 'a positive number');
  if (kind === 'linear') return { type: 'linear', factor };
  const lowFreqFactor = num('low_freq_factor', (v) => v > 0, 'a positive number');
  const highFreqFactor = num('high_freq_factor', (v) => v > lowFreqFactor, `a number above low_freq_factor (${lowFreqFactor})`);
  const originalContext = num('original_max_position_embeddings', (v) => Number.isSafeInteger(v) && v > 0, 'a positive integer');
  return { type: 'llama3', factor, lowFreqFactor, highFreqFactor, originalContext };
}

// A config.json's RoPE scaling in GGUF (docs/gguf.md 9): `linear` as the two llama.cpp keys every
// architecture reads, Llama 3.1/3.2's `llama3` as arch llama's `rope_freqs.weight` (one divisor per
// rotary pair); any other kind is refused, because an engine ignoring it computes a different model.

import { InvalidConfigError, UnsupportedError } from '../../errors.js';
import { describe, isPlainObject } from '../../formats/json-text.js';

export type RopeScalingType = 'linear' | 'llama3';

export type RopeScaling =
  | { type: 'none' }
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalContext: number };

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

/**
 * Llama 3's frequency divisors, one per rotary pair i < headDim/2 (docs/gguf.md 9): the pair's wavelength
 * 2*pi / theta^(-2i/headDim) decides: shorter than originalContext / highFreqFactor keeps its frequency
 * (1), longer than originalContext / lowFreqFactor divides it by `factor`, and between the two blends
 * 1/factor and 1 linearly in originalContext / wavelength. Computed in float64, then rounded once to f32.
 */
export function llama3FreqFactors(s: Extract<RopeScaling, { type: 'llama3' }>, headDim: number, ropeTheta: number): Float32Array {
  const out = new Float32Array(headDim / 2);
  const shortest = s.originalContext / s.highFreqFactor;
  const longest = s.originalContext / s.lowFreqFactor;
  for (let i = 0; i < out.length; i++) {
    const wavelength = (2 * Math.PI) / Math.pow(ropeTheta, (-2 * i) / headDim);
    if (wavelength < shortest) out[i] = 1;
    else if (wavelength > longest) out[i] = s.factor;
    else {
      const smooth = (s.originalContext / wavelength - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      out[i] = 1 / ((1 - smooth) / s.factor + smooth);
    }
  }
  return out;
}

// Llama 3's RoPE scaling (`rope_scaling` of type llama3; docs/gguf.md 9) as one divisor per rotary pair,
// the way a GGUF stores it (rope_freqs.weight), and back: the parameters recovered from those divisors,
// for a .gguf input's config.json (docs/gguf.md 10). Platform neutral, no model or file knowledge.

export interface Llama3Scaling {
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalContext: number;
}

/** Rotary pair i's wavelength, 2*pi / theta^(-2i/headDim). */
const wavelength = (i: number, headDim: number, ropeTheta: number) => (2 * Math.PI) / Math.pow(ropeTheta, (-2 * i) / headDim);

/**
 * Llama 3's frequency divisors, one per rotary pair i < headDim/2 (docs/gguf.md 9): the pair's wavelength
 * 2*pi / theta^(-2i/headDim) decides: shorter than originalContext / highFreqFactor keeps its frequency
 * (1), longer than originalContext / lowFreqFactor divides it by `factor`, and between the two blends
 * 1/factor and 1 linearly in originalContext / wavelength. Computed in float64, then rounded once to f32.
 */
export function llama3FreqFactors(s: Llama3Scaling, headDim: number, ropeTheta: number): Float32Array {
  const out = new Float32Array(headDim / 2);
  const shortest = s.originalContext / s.highFreqFactor;
  const longest = s.originalContext / s.lowFreqFactor;
  for (let i = 0; i < out.length; i++) {
    const w = wavelength(i, headDim, ropeTheta);
    if (w < shortest) out[i] = 1;
    else if (w > longest) out[i] = s.factor;
    else {
      const smooth = (s.originalContext / w - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      out[i] = 1 / ((1 - smooth) / s.factor + smooth);
    }
  }
  return out;
}

/**
 * The llama3 parameters that give exactly these divisors, or a reason why none is found. The divisors
 * fix the factor (the slowest pairs' value) and, through the blended pairs, only two ratios:
 * originalContext and lowFreqFactor over (highFreqFactor - lowFreqFactor); every choice of that
 * difference gives the same divisors. So lowFreqFactor is taken as 1 (every released Llama 3 config
 * has it), the rest solved from the first and last blended pair and rounded to the shortest decimals
 * (originalContext to an integer) that reproduce every divisor bit for bit; Llama 3.1's own values
 * (1, 4, 8192) are tried first.
 */
export function llama3FromFreqFactors(values: Float32Array, headDim: number, ropeTheta: number): Llama3Scaling | string {
  const n = values.length;
  const stored = values[n - 1]!;
  if (!(stored > 1 && Number.isFinite(stored))) return `the slowest pair's divisor ${stored}, not a factor above 1`;
  // the factor as config.json wrote it: the shortest decimal that is this f32 (8, not 8.0000000000)
  let factor = stored;
  for (let p = 1; p <= 17; p++) {
    if (Math.fround(Number(stored.toPrecision(p))) === stored) {
      factor = Number(stored.toPrecision(p));
      break;
    }
  }
  const same = (s: Llama3Scaling) => {
    const got = llama3FreqFactors(s, headDim, ropeTheta);
    return got.every((x, i) => x === values[i]);
  };
  const tried: Llama3Scaling[] = [{ factor, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 }];
  const blended = [...values.keys()].filter((i) => values[i] !== 1 && values[i] !== stored);
  if (blended.length >= 2) {
    // smooth s = (1/v - 1/f) / (1 - 1/f) = a / wavelength - b, with a = L / (hi - lo) and b = lo / (hi - lo)
    const at = (i: number) => ({ x: 1 / wavelength(i, headDim, ropeTheta), s: (1 / values[i]! - 1 / factor) / (1 - 1 / factor) });
    const p = at(blended[0]!);
    const q = at(blended[blended.length - 1]!);
    const a = (q.s - p.s) / (q.x - p.x);
    const b = a * p.x - p.s;
    if (a > 0 && b > 0) {
      const hi = 1 + 1 / b;
      const L = Math.round(a / b);
      for (let digits = 1; digits <= 17; digits++) tried.push({ factor, lowFreqFactor: 1, highFreqFactor: Number(hi.toPrecision(digits)), originalContext: L });
    }
  }
  const found = tried.find((s) => s.highFreqFactor > s.lowFreqFactor && s.originalContext > 0 && same(s));
  return found ?? `no factor, low_freq_factor, high_freq_factor and original_max_position_embeddings that give these ${n} divisors (${blended.length} pairs between the two bands)`;
}

// An independent, slow and obvious float64 forward pass of a BitNet b1.58 model, for checking what
// real engines compute from the converter's output. Written from transformers' modeling_bitnet.py
// (BitNetForCausalLM; 1bitLLM's BitnetForCausalLM is the same computation with SiLU and its
// sub-norms named self_attn.inner_attn_ln / mlp.ffn_layernorm; Llama-style packed checkpoints have
// no sub-norms) and docs/gguf.md. It shares no code with src/.
//
// Per layer:  h = x + o_proj(attn_sub_norm(attention(rope(q_proj(n)), rope(k_proj(n)), v_proj(n))))
//             with n = input_layernorm(x);
//             x' = h + down_proj(ffn_sub_norm(act(gate_proj(m)) * up_proj(m))) with m = post_attention_layernorm(h);
// then logits = head(norm(x)), log-softmax over the vocabulary.
//
// - Projections use their effective ternary weights W = q * scale: master weights are ternarized by
//   the absmean rule (referenceTernary, in the weights' dtype); packed U8 checkpoints are decoded
//   (transformers' layout, docs/formats.md section 1) and multiplied by weight_scale (autobitlinear) or
//   divided by it (bitlinear: Llama-style packed checkpoints).
// - Activations are NOT quantized (the engines' int8 activations make them differ from this by a
//   log-prob correlation of about 0.9996-0.9998, docs/gguf.md section 5).
// - The head is the float embedding when the checkpoint is tied (as llama.cpp always does: its
//   output is token_embd), else lm_head.weight as float; it is never ternarized.
// - RoPE is the rotate-half (NEOX) kind: element i of a head pairs with element i + head_dim/2,
//   angle pos * inv_freq[i], inv_freq[i] = rope_theta^(-2i/head_dim), positions from 0. A config's
//   rope_scaling changes inv_freq as transformers' modeling_rope_utils.py does: `linear` divides every
//   inv_freq by factor; `llama3` (Llama 3.1) divides the low frequencies (wavelength 2*pi/inv_freq above
//   original_max_position_embeddings / low_freq_factor) by factor, keeps the high ones (wavelength below
//   original_max_position_embeddings / high_freq_factor) and blends the band between. Other kinds throw.
// - Attention: causal, scaled by 1/sqrt(head_dim); query head h reads kv head floor(h / (heads / kv_heads)).
// - RMSNorm: x / sqrt(mean(x^2) + eps) * weight, eps = rms_norm_eps.
//
// `variant` makes deliberate mistakes, for negative controls: what a wrong engine or converter
// would compute.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpointTensors, type RawTensor } from '../helpers/read-safetensors.js';
import { decodeHfU8 } from './formats-ref.js';
import { decodeValues, referenceTernary, type Dt, type Rule } from './ternary-ref.js';

/** A projection [rows = out, cols = in]: effective weights, row-major, and the scale inside them. */
export interface RefProjection {
  rows: number;
  cols: number;
  /** q * scale (the ternary values times the projection's scale). */
  w: Float64Array;
  /** The multiplying scale (1 / stored scale for dividing checkpoints). */
  scale: number;
}

export interface RefLayer {
  attnNorm: Float64Array;
  q: RefProjection;
  k: RefProjection;
  v: RefProjection;
  o: RefProjection;
  /** attn_sub_norm (1bitLLM inner_attn_ln); absent in Llama-style packed checkpoints. */
  attnSubNorm?: Float64Array;
  ffnNorm: Float64Array;
  gate: RefProjection;
  up: RefProjection;
  down: RefProjection;
  /** ffn_sub_norm (1bitLLM ffn_layernorm); absent in Llama-style packed checkpoints. */
  ffnSubNorm?: Float64Array;
}

export type Activation = 'silu' | 'relu2';

export interface RefModel {
  hidden: number;
  intermediate: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  eps: number;
  ropeTheta: number;
  /** Per rotary pair (head_dim / 2), the angle per position, rope_scaling applied; absent: rope_theta^(-2i/head_dim). */
  invFreq?: Float64Array;
  act: Activation;
  /** [vocab, hidden] row-major. */
  embed: Float64Array;
  /** [vocab, hidden] row-major: the embedding itself when tied. */
  head: Float64Array;
  tied: boolean;
  norm: Float64Array;
  layers: RefLayer[];
}

export interface LoadOptions {
  /** The absmean arithmetic for float (master) projections: offline (the reference, default) or online. */
  rule?: Rule;
}

const FLOAT_DTYPES = new Set(['BF16', 'F16', 'F32']);

function floats(t: RawTensor, name: string): Float64Array {
  if (!FLOAT_DTYPES.has(t.dtype)) throw new Error(`${name}: expected a float tensor, found ${t.dtype}`);
  return Float64Array.from(decodeValues(t.bytes, t.dtype as Dt));
}

/** Reads a Hugging Face BitNet checkpoint folder (config.json + safetensors) into effective float64 weights. */
export function loadReferenceModel(dir: string, opts: LoadOptions = {}): RefModel {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, any>;
  const tensors = readCheckpointTensors(dir);
  const get = (name: string): RawTensor => {
    const t = tensors.get(name);
    if (!t) throw new Error(`${dir}: missing tensor ${name}`);
    return t;
  };
  const hidden: number = config.hidden_size;
  const heads: number = config.num_attention_heads;
  const kvHeads: number = config.num_key_value_heads ?? heads;
  const headDim: number = config.head_dim ?? hidden / heads;
  const intermediate: number = config.intermediate_size;
  const vocab: number = config.vocab_size;
  const actName: string = config.hidden_act ?? 'silu';
  if (actName !== 'silu' && actName !== 'relu2') throw new Error(`hidden_act ${actName}: expected silu or relu2`);
  // transformers' integrations/bitnet.py: autobitlinear multiplies by weight_scale, bitlinear divides
  const linearClass: string = config.quantization_config?.linear_class ?? 'bitlinear';

  const proj = (base: string, rows: number, cols: number): RefProjection => {
    const t = get(`${base}.weight`);
    if (t.dtype === 'U8') {
      if (t.shape[0] * 4 !== rows || t.shape[1] !== cols) throw new Error(`${base}.weight: expected U8 [${rows / 4}, ${cols}], found [${t.shape}]`);
      const q = decodeHfU8(t.bytes, rows, cols);
      const stored = floats(get(`${base}.weight_scale`), `${base}.weight_scale`)[0];
      const scale = linearClass === 'autobitlinear' ? stored : 1 / stored;
      return { rows, cols, w: Float64Array.from(q, (x) => x * scale), scale };
    }
    if (t.shape[0] !== rows || t.shape[1] !== cols) throw new Error(`${base}.weight: expected [${rows}, ${cols}], found [${t.shape}]`);
    if (!FLOAT_DTYPES.has(t.dtype)) throw new Error(`${base}.weight: unexpected dtype ${t.dtype}`);
    const { q, scale } = referenceTernary(decodeValues(t.bytes, t.dtype as Dt), t.dtype as Dt, opts.rule ?? 'offline');
    return { rows, cols, w: Float64Array.from(q, (x) => x * scale), scale };
  };
  const optional = (...names: string[]): Float64Array | undefined => {
    for (const n of names) if (tensors.has(n)) return floats(tensors.get(n)!, n);
    return undefined;
  };

  const kvDim = kvHeads * headDim;
  const layers: RefLayer[] = [];
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    layers.push({
      attnNorm: floats(get(p + 'input_layernorm.weight'), 'input_layernorm'),
      q: proj(p + 'self_attn.q_proj', heads * headDim, hidden),
      k: proj(p + 'self_attn.k_proj', kvDim, hidden),
      v: proj(p + 'self_attn.v_proj', kvDim, hidden),
      o: proj(p + 'self_attn.o_proj', hidden, heads * headDim),
      attnSubNorm: optional(p + 'self_attn.attn_sub_norm.weight', p + 'self_attn.inner_attn_ln.weight'),
      ffnNorm: floats(get(p + 'post_attention_layernorm.weight'), 'post_attention_layernorm'),
      gate: proj(p + 'mlp.gate_proj', intermediate, hidden),
      up: proj(p + 'mlp.up_proj', intermediate, hidden),
      down: proj(p + 'mlp.down_proj', hidden, intermediate),
      ffnSubNorm: optional(p + 'mlp.ffn_sub_norm.weight', p + 'mlp.ffn_layernorm.weight'),
    });
  }
  const embed = floats(get('model.embed_tokens.weight'), 'embed_tokens');
  if (embed.length !== vocab * hidden) throw new Error(`embed_tokens: expected ${vocab} x ${hidden} values, found ${embed.length}`);
  const lmHead = tensors.get('lm_head.weight');
  return {
    hidden,
    intermediate,
    heads,
    kvHeads,
    headDim,
    vocab,
    eps: config.rms_norm_eps ?? 1e-6,
    ropeTheta: config.rope_theta ?? 10000,
    invFreq: scaledInvFreq(config.rope_scaling, config.rope_theta ?? 10000, headDim),
    act: actName as Activation,
    embed,
    head: lmHead ? floats(lmHead, 'lm_head') : embed,
    tied: !lmHead,
    norm: floats(get('model.norm.weight'), 'norm'),
    layers,
  };
}

/** transformers' inverse frequencies under a rope_scaling entry (undefined: none, the plain rope_theta ones). */
export function scaledInvFreq(scaling: Record<string, any> | null | undefined, theta: number, headDim: number): Float64Array | undefined {
  const kind = scaling?.rope_type ?? scaling?.type;
  if (!scaling || kind === undefined || kind === 'default') return undefined;
  const invFreq = Float64Array.from({ length: headDim / 2 }, (_, i) => 1 / Math.pow(theta, (2 * i) / headDim));
  if (kind === 'linear') return invFreq.map((f) => f / scaling.factor);
  if (kind !== 'llama3') throw new Error(`rope_scaling ${kind}: the reference knows linear and llama3`);
  const { factor, low_freq_factor: low, high_freq_factor: high, original_max_position_embeddings: old } = scaling;
  return invFreq.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    const llama = wavelen > old / low ? f / factor : f;
    const smooth = (old / wavelen - low) / (high - low);
    const medium = !(wavelen < old / high) && !(wavelen > old / low);
    return medium ? ((1 - smooth) * llama) / factor + smooth * llama : llama;
  });
}

/** Deliberate mistakes, for negative controls (default: none). */
export interface Variant {
  /** Skip attn_sub_norm and ffn_sub_norm (the seed converter's defect). */
  dropSubNorms?: boolean;
  /** Rotate adjacent pairs (2i, 2i+1) instead of (i, i + head_dim/2). */
  ropePairing?: 'neox' | 'adjacent';
  /** Use this activation instead of the model's. */
  act?: Activation;
  /** Use the ternary values without their scale. */
  ignoreScale?: boolean;
}

export interface ForwardResult {
  /** Per position, the logits over the vocabulary. */
  logits: Float64Array[];
  /** Per position, log-softmax of the logits. */
  logprobs: Float64Array[];
}

export function rmsNorm(x: Float64Array, weight: Float64Array | undefined, eps: number): Float64Array {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] * inv * (weight ? weight[i] : 1);
  return out;
}

/** y = W x for a row-major [rows, cols] matrix. */
export function matVec(w: Float64Array, rows: number, cols: number, x: Float64Array): Float64Array {
  if (w.length !== rows * cols || x.length !== cols) throw new Error(`matVec: [${rows}, ${cols}] x ${x.length}`);
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const base = r * cols;
    for (let c = 0; c < cols; c++) s += w[base + c] * x[c];
    y[r] = s;
  }
  return y;
}

function project(p: RefProjection, x: Float64Array, v: Variant): Float64Array {
  const y = matVec(p.w, p.rows, p.cols, x);
  if (v.ignoreScale) for (let i = 0; i < y.length; i++) y[i] /= p.scale;
  return y;
}

/** Rotates each head of `x` (heads x headDim) in place for position `pos`. */
export function applyRope(x: Float64Array, heads: number, headDim: number, pos: number, theta: number, pairing: 'neox' | 'adjacent' = 'neox', invFreq?: Float64Array): void {
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    const base = h * headDim;
    for (let i = 0; i < half; i++) {
      const angle = pos * (invFreq ? invFreq[i] : Math.pow(theta, (-2 * i) / headDim));
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      const a = pairing === 'neox' ? base + i : base + 2 * i;
      const b = pairing === 'neox' ? base + i + half : base + 2 * i + 1;
      const xa = x[a];
      const xb = x[b];
      x[a] = xa * cos - xb * sin;
      x[b] = xb * cos + xa * sin;
    }
  }
}

export function logSoftmax(logits: Float64Array): Float64Array {
  let max = -Infinity;
  for (const x of logits) if (x > max) max = x;
  let sum = 0;
  for (const x of logits) sum += Math.exp(x - max);
  const lse = max + Math.log(sum);
  return logits.map((x) => x - lse);
}

const ACTIVATIONS: Record<Activation, (x: number) => number> = {
  silu: (x) => x / (1 + Math.exp(-x)),
  relu2: (x) => (x > 0 ? x * x : 0),
};

/** Runs the tokens (positions 0..n-1) through the model; returns every position's logits and log-probabilities. */
export function forwardReference(m: RefModel, tokens: readonly number[], variant: Variant = {}): ForwardResult {
  const n = tokens.length;
  const E = m.hidden;
  const D = m.headDim;
  const group = m.heads / m.kvHeads;
  if (!Number.isInteger(group)) throw new Error(`heads ${m.heads} is not a multiple of kv heads ${m.kvHeads}`);
  const act = ACTIVATIONS[variant.act ?? m.act];
  const pairing = variant.ropePairing ?? 'neox';
  const subNorm = (x: Float64Array, w: Float64Array | undefined) => (variant.dropSubNorms || !w ? x : rmsNorm(x, w, m.eps));

  let xs: Float64Array[] = tokens.map((t) => {
    if (!(t >= 0 && t < m.vocab)) throw new Error(`token ${t} outside the vocabulary 0..${m.vocab - 1}`);
    return m.embed.slice(t * E, (t + 1) * E);
  });
  for (const L of m.layers) {
    const normed = xs.map((x) => rmsNorm(x, L.attnNorm, m.eps));
    const qs = normed.map((x, pos) => {
      const q = project(L.q, x, variant);
      applyRope(q, m.heads, D, pos, m.ropeTheta, pairing, m.invFreq);
      return q;
    });
    const ks = normed.map((x, pos) => {
      const k = project(L.k, x, variant);
      applyRope(k, m.kvHeads, D, pos, m.ropeTheta, pairing, m.invFreq);
      return k;
    });
    const vs = normed.map((x) => project(L.v, x, variant));
    const hs = xs.map((x, pos) => {
      const attn = new Float64Array(m.heads * D);
      for (let h = 0; h < m.heads; h++) {
        const kvh = Math.floor(h / group);
        // causal: position pos attends to 0..pos
        const scores = new Float64Array(pos + 1);
        for (let j = 0; j <= pos; j++) {
          let s = 0;
          for (let d = 0; d < D; d++) s += qs[pos][h * D + d] * ks[j][kvh * D + d];
          scores[j] = s / Math.sqrt(D);
        }
        const weights = logSoftmax(scores).map(Math.exp);
        for (let j = 0; j <= pos; j++) for (let d = 0; d < D; d++) attn[h * D + d] += weights[j] * vs[j][kvh * D + d];
      }
      const o = project(L.o, subNorm(attn, L.attnSubNorm), variant);
      return x.map((xi, i) => xi + o[i]);
    });
    xs = hs.map((h) => {
      const x = rmsNorm(h, L.ffnNorm, m.eps);
      const g = project(L.gate, x, variant);
      const u = project(L.up, x, variant);
      const mid = g.map((gi, i) => act(gi) * u[i]);
      const d = project(L.down, subNorm(mid, L.ffnSubNorm), variant);
      return h.map((hi, i) => hi + d[i]);
    });
  }
  const logits = xs.map((x) => matVec(m.head, m.vocab, E, rmsNorm(x, m.norm, m.eps)));
  return { logits, logprobs: logits.map(logSoftmax) };
}

/** Pearson correlation of two equally long series. */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length < 2) throw new Error(`pearson: lengths ${a.length} and ${b.length}`);
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

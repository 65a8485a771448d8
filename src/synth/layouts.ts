// The input layouts the converter reads (src/layouts/, by the same ids), as the real Hugging Face
// checkpoints have them: which tensors (names, shapes, dtypes, packed or not) and which config.json.
// A layout works with any preset shape whose row counts it can hold.
//
//   hf-bitnet         microsoft/bitnet-b1.58-2B-4T-bf16: BitNetForCausalLM master weights
//   hf-bitnet-packed  microsoft/bitnet-b1.58-2B-4T: the 7 projections as U8 [out/4, in] + weight_scale
//                     (autobitlinear: the scale multiplies, about mean|W|)
//   1bitllm           1bitLLM/bitnet_b1_58-large / -3B: BitnetForCausalLM (model_type llama) latent
//                     weights, sub-norms self_attn.inner_attn_ln and mlp.ffn_layernorm, SiLU
//   llama-packed      HF1BitLLM/Llama3-8B-1.58-100B-tokens: LlamaForCausalLM + quantization_config
//                     bitnet without linear_class (bitlinear: the scale divides, about 1/mean|W|),
//                     no sub-norms, untied bf16 lm_head
//   llama-latent      Falcon-E's prequantized revision, onebitllms fine-tunes: a plain LlamaForCausalLM
//                     (no quantization_config) with float latent projections, no sub-norms, tied or not

import type { DType } from '../formats/safetensors.js';
import type { LayoutId } from '../layouts/index.js';
import { UsageError } from '../errors.js';
import { bitnetConfig, headDimOf, shapeOf, type FamilyConfig, type ModelShape } from './presets.js';

/** A layout synth writes: one of the converter's Hugging Face layouts (a .gguf input is made by converting one: `--format gguf`). */
export type Layout = Exclude<LayoutId, 'gguf'>;
/** The names synth used before it took the converter's ids, still accepted (scripts, docs/performance.md). */
export const LAYOUT_ALIASES = { master: 'hf-bitnet', packed: 'hf-bitnet-packed' } as const satisfies Record<string, LayoutId>;
/** What --layout takes: a layout id or an old name. */
export type LayoutName = Layout | keyof typeof LAYOUT_ALIASES;
export type SynthDType = 'BF16' | 'F16' | 'F32';

/**
 * One tensor as stored. `norm`: values around 1; `weight`: a symmetric triangular distribution of
 * the given width (standard deviation width / sqrt(6)); `packed`: the ternary codes of such a
 * weight of [rows, cols], stored U8 [rows/4, cols]; `scale`: the [1] scale of the packed tensor `of`.
 */
export interface SynthTensor {
  name: string;
  dtype: DType;
  shape: number[];
  kind: 'norm' | 'weight' | 'packed' | 'scale';
  width?: number;
  of?: string;
}

/** How a packed layout's stored scale relates to mean|W| of its projection. */
export type ScaleRule = 'multiply' | 'divide';

export interface LayoutSpec {
  /** The dtype of the float tensors when none is given. */
  dtype: SynthDType;
  /** Packed projections and the meaning of their scale, or undefined for float projections. */
  packed?: ScaleRule;
  tensors(s: ModelShape, dtype: SynthDType, untied: boolean): SynthTensor[];
  /** config.json, as text (the HF1BitLLM config repeats a key, which an object cannot hold). */
  config(preset: ModelShape, dtype: SynthDType, untied: boolean): string;
}

/** Distribution widths that "let the blocks matter" (std: embedding 0.25, q/k 0.05, others 0.03). */
const SQRT6 = Math.sqrt(6);
const WIDTHS = { embed: 0.25 * SQRT6, qk: 0.05 * SQRT6, proj: 0.03 * SQRT6 };
/** hf-bitnet's one width for every weight (mean |w| about 0.013, like trained BitNet weights). */
const MASTER_WIDTH = 0.04;

interface Naming {
  /** Sub-norm names inside a layer, or undefined for none. */
  subNorms?: [attn: string, ffn: string];
  widths: { embed: number; qk: number; proj: number };
  packed: boolean;
}

/** The tensors of a Llama-family checkpoint, in the order the 2B-4T file has them. */
function layerTensors(s: ModelShape, dtype: SynthDType, untied: boolean, n: Naming): SynthTensor[] {
  const h = s.hidden_size;
  const q = s.num_attention_heads * headDimOf(s);
  const kv = s.num_key_value_heads * headDimOf(s);
  const f = s.intermediate_size;
  const norm = (name: string, size: number): SynthTensor => ({ name, dtype, shape: [size], kind: 'norm' });
  const proj = (name: string, rows: number, cols: number, width: number): SynthTensor[] => {
    if (!n.packed) return [{ name: `${name}.weight`, dtype, shape: [rows, cols], kind: 'weight', width }];
    if (rows % 4 !== 0) {
      throw new UsageError(`tensor ${name}.weight: a packed layout stores 4 rows per byte, so its ${rows} rows must be a multiple of 4 (pick another preset or layout)`);
    }
    return [
      { name: `${name}.weight`, dtype: 'U8', shape: [rows / 4, cols], kind: 'packed', width },
      { name: `${name}.weight_scale`, dtype, shape: [1], kind: 'scale', of: `${name}.weight` },
    ];
  };
  const w = n.widths;
  const t: SynthTensor[] = [{ name: 'model.embed_tokens.weight', dtype, shape: [s.vocab_size, h], kind: 'weight', width: w.embed }];
  for (let i = 0; i < s.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    t.push(
      norm(p + 'input_layernorm.weight', h),
      ...proj(p + 'self_attn.q_proj', q, h, w.qk),
      ...proj(p + 'self_attn.k_proj', kv, h, w.qk),
      ...proj(p + 'self_attn.v_proj', kv, h, w.proj),
      ...proj(p + 'self_attn.o_proj', h, q, w.proj),
    );
    if (n.subNorms) t.push(norm(p + n.subNorms[0], h));
    t.push(
      norm(p + 'post_attention_layernorm.weight', h),
      ...proj(p + 'mlp.gate_proj', f, h, w.proj),
      ...proj(p + 'mlp.up_proj', f, h, w.proj),
      ...proj(p + 'mlp.down_proj', h, f, w.proj),
    );
    if (n.subNorms) t.push(norm(p + n.subNorms[1], f));
  }
  t.push(norm('model.norm.weight', h));
  if (untied) t.push({ name: 'lm_head.weight', dtype, shape: [s.vocab_size, h], kind: 'weight', width: w.embed });
  return t;
}

const TORCH_DTYPE: Record<SynthDType, string> = { BF16: 'bfloat16', F16: 'float16', F32: 'float32' };
const BITNET_SUBNORMS: [string, string] = ['self_attn.attn_sub_norm.weight', 'mlp.ffn_sub_norm.weight'];

/**
 * The ids of the Llama 3 special tokens: a block of 256 after the 128000 regular tokens at the real
 * vocabulary size, else a block of 10 (begin_of_text .. eot_id) at the end of the vocabulary.
 */
export function llama3SpecialBase(vocab: number): number {
  return vocab - llama3SpecialCount(vocab);
}

export function llama3SpecialCount(vocab: number): number {
  return vocab >= 128256 ? 256 : Math.min(10, vocab);
}

/**
 * Where hf-bitnet's special tokens start: 0 (its frozen config says bos 0, eos 1), except at
 * the real vocabulary size, where they sit where 2B-4T has them (128000, 128001).
 */
export function masterSpecialBase(vocab: number): number {
  return vocab >= 128256 ? llama3SpecialBase(vocab) : 0;
}

/** Offsets of the Llama 3 special tokens used in configs, inside the special block. */
export const LLAMA3 = { begin: 0, end: 1, startHeader: 6, endHeader: 7, eot: 9 } as const;

/** The ids 1bitLLM's SentencePiece vocabulary gives its special tokens (vocab 32002: pad 32000, </line> 32001). */
export function spmSpecialIds(vocab: number) {
  return { unk: 0, bos: 1, eos: 2, pad: vocab - 2, line: vocab - 1 };
}

/** JSON text with 2-space indentation, as JSON.stringify writes it, from entries that may repeat a key. */
export function jsonText(entries: ReadonlyArray<readonly [string, unknown]>): string {
  const lines = entries.map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v, null, 2).replace(/\n/g, '\n  ')}`);
  return `{\n${lines.join(',\n')}\n}\n`;
}

/** One spec per converter layout: a layout added to src/layouts/ without one here does not compile. */
export const LAYOUT_SPECS: Record<Layout, LayoutSpec> = {
  'hf-bitnet': {
    dtype: 'BF16',
    tensors: (s, dtype, untied) =>
      layerTensors(s, dtype, untied, { subNorms: BITNET_SUBNORMS, widths: { embed: MASTER_WIDTH, qk: MASTER_WIDTH, proj: MASTER_WIDTH }, packed: false }),
    config: (preset, dtype, untied) => {
      const base = masterSpecialBase(shapeOf(preset).vocab_size);
      return JSON.stringify(bitnetConfig(preset, dtype, !untied, { bos: base + LLAMA3.begin, eos: base + LLAMA3.end }), null, 2) + '\n';
    },
  },
  'hf-bitnet-packed': {
    dtype: 'BF16',
    packed: 'multiply',
    tensors: (s, dtype, untied) => layerTensors(s, dtype, untied, { subNorms: BITNET_SUBNORMS, widths: WIDTHS, packed: true }),
    config: (preset, dtype, untied) => {
      const base = llama3SpecialBase(preset.vocab_size);
      const config = bitnetConfig(shapeOf(preset), dtype, !untied, { bos: base + LLAMA3.begin, eos: base + LLAMA3.end });
      const quantization = { quant_method: 'bitnet', linear_class: 'autobitlinear', quantization_mode: 'offline' };
      return jsonText([...Object.entries(config), ['quantization_config', quantization]]);
    },
  },
  '1bitllm': {
    dtype: 'F32',
    tensors: (s, dtype, untied) =>
      layerTensors(s, dtype, untied, { subNorms: ['self_attn.inner_attn_ln.weight', 'mlp.ffn_layernorm.weight'], widths: WIDTHS, packed: false }),
    // 1bitLLM/bitnet_b1_58-large and -3B config.json; torch_dtype says float16 there although the
    // weights are stored in F32, and so it does here whatever the dtype
    config: (preset, _dtype, untied) => {
      const s = shapeOf(preset);
      const ids = spmSpecialIds(s.vocab_size);
      return jsonText([
        ['architectures', ['BitnetForCausalLM']],
        ['attention_bias', false],
        ['attention_dropout', 0.0],
        ['bos_token_id', ids.bos],
        ['eos_token_id', ids.eos],
        ...headDimEntry(s),
        ['hidden_act', 'silu'],
        ['hidden_size', s.hidden_size],
        ['initializer_range', 0.02],
        ['input_bits', 8],
        ['intermediate_size', s.intermediate_size],
        ['max_position_embeddings', 2048],
        ['model_type', 'llama'],
        ['num_attention_heads', s.num_attention_heads],
        ['num_hidden_layers', s.num_hidden_layers],
        ['num_key_value_heads', s.num_key_value_heads],
        ['pad_token_id', ids.pad],
        ['pretraining_tp', 1],
        ['rms_norm_eps', 1e-5],
        ['rope_scaling', null],
        ['rope_theta', 10000.0],
        ['tie_word_embeddings', !untied],
        ['torch_dtype', 'float16'],
        ['transformers_version', '4.39.0'],
        ['use_cache', true],
        ['vocab_size', s.vocab_size],
        ['weight_bits', 1],
      ]);
    },
  },
  'llama-packed': {
    dtype: 'BF16',
    packed: 'divide',
    // always untied: the real model has a bf16 lm_head.weight
    tensors: (s, dtype) => layerTensors(s, dtype, true, { widths: WIDTHS, packed: true }),
    // HF1BitLLM/Llama3-8B-1.58-100B-tokens config.json, quantization_config twice as there (a JSON
    // parser keeps the last one); a Falcon preset's: Falcon3-1.58bit's
    config: (preset, dtype) => {
      if (preset.family) return falconConfig(shapeOf(preset), preset.family, dtype, false, true);
      const s = shapeOf(preset);
      return llamaFamilyConfig(s, dtype, {
        tied: false,
        headDim: headDimEntry(s),
        context: 8192,
        epsilon: 1e-5,
        ropeTheta: 500000.0,
        version: '4.44.0.dev0',
        bitnet: { quantization: { modules_to_not_convert: null, quant_method: 'bitnet' }, ropeInterleaved: false, quantizationAgain: { quant_method: 'bitnet' } },
      });
    },
  },
  'llama-latent': {
    dtype: 'BF16',
    tensors: (s, dtype, untied) => layerTensors(s, dtype, untied, { widths: WIDTHS, packed: false }),
    config: (preset, dtype, untied) => (preset.family ? falconConfig(shapeOf(preset), preset.family, dtype, !untied, false) : llamaConfig(shapeOf(preset), dtype, !untied)),
  },
};

/** A head_dim entry for config.json where the shape sets one (none for the older presets, whose configs stay as they were). */
const headDimEntry = (s: ModelShape): Array<readonly [string, unknown]> => (s.head_dim === undefined ? [] : [['head_dim', s.head_dim]]);

/** config.json of a plain LlamaForCausalLM (transformers' LlamaConfig keys), its special tokens those of the Llama 3 tokenizer synth writes. */
function llamaConfig(s: ModelShape, dtype: SynthDType, tied: boolean): string {
  return llamaFamilyConfig(s, dtype, { tied, headDim: headDimEntry(s), context: 8192, epsilon: 1e-5, ropeTheta: 500000.0, version: '4.48.0' });
}

/**
 * config.json of a Falcon family model (tiiuae/Falcon3-*-1.58bit's keys, in its order): head_dim and
 * the family's rope_theta, rms_norm_eps and context; `packed` adds is_bitnet_config and its
 * quantization_config (bitnet, lm_head not converted, no linear_class: the scale divides), without
 * them it is the float latent checkpoint (Falcon-E's prequantized revision). The special token ids are
 * those of the Llama 3 tokenizer synth writes, not Falcon's (its eos is 11).
 */
function falconConfig(s: ModelShape, family: FamilyConfig, dtype: SynthDType, tied: boolean, packed: boolean): string {
  return llamaFamilyConfig(s, dtype, {
    tied,
    headDim: [['head_dim', headDimOf(s)]],
    context: family.max_position_embeddings,
    epsilon: family.rms_norm_eps,
    ropeTheta: family.rope_theta,
    version: family.transformers_version,
    ...(packed && { bitnet: { quantization: { modules_to_not_convert: ['lm_head'], quant_method: 'bitnet' } } }),
  });
}

/** What differs between the LlamaForCausalLM configs synth writes; `bitnet`: a packed checkpoint's keys (is_bitnet_config and its quantization_config, as each model has them). */
interface LlamaFamilyOptions {
  tied: boolean;
  headDim: Array<readonly [string, unknown]>;
  context: number;
  epsilon: number;
  ropeTheta: number;
  version: string;
  bitnet?: { quantization: unknown; ropeInterleaved?: boolean; quantizationAgain?: unknown };
}

/** LlamaForCausalLM config.json keys in transformers' order; the special token ids are those of the Llama 3 tokenizer synth writes. */
function llamaFamilyConfig(s: ModelShape, dtype: SynthDType, o: LlamaFamilyOptions): string {
  const base = llama3SpecialBase(s.vocab_size);
  const b = o.bitnet;
  return jsonText([
    ['architectures', ['LlamaForCausalLM']],
    ['attention_bias', false],
    ['attention_dropout', 0.0],
    ['bos_token_id', base + LLAMA3.begin],
    ['eos_token_id', base + LLAMA3.eot],
    ...o.headDim,
    ['hidden_act', 'silu'],
    ['hidden_size', s.hidden_size],
    ['initializer_range', 0.02],
    ['intermediate_size', s.intermediate_size],
    ...(b ? [['is_bitnet_config', true] as const] : []),
    ['max_position_embeddings', o.context],
    ['mlp_bias', false],
    ['model_type', 'llama'],
    ['num_attention_heads', s.num_attention_heads],
    ['num_hidden_layers', s.num_hidden_layers],
    ['num_key_value_heads', s.num_key_value_heads],
    ['pretraining_tp', 1],
    ...(b ? [['quantization_config', b.quantization] as const] : []),
    ['rms_norm_eps', o.epsilon],
    ...(b?.ropeInterleaved !== undefined ? [['rope_interleaved', b.ropeInterleaved] as const] : []),
    ['rope_scaling', null],
    ['rope_theta', o.ropeTheta],
    ['tie_word_embeddings', o.tied],
    ['torch_dtype', TORCH_DTYPE[dtype]],
    ['transformers_version', o.version],
    ['use_cache', true],
    ['vocab_size', s.vocab_size],
    // HF1BitLLM's config.json has quantization_config twice (a JSON parser keeps the last one)
    ...(b?.quantizationAgain !== undefined ? [['quantization_config', b.quantizationAgain] as const] : []),
  ]);
}

/** The layouts synth writes, in the order of LAYOUT_SPECS. */
export const LAYOUTS = Object.keys(LAYOUT_SPECS) as Layout[];

/** The layout a --layout name stands for (an old name: its converter id). */
export function layoutOf(name: string): Layout {
  if (Object.hasOwn(LAYOUT_ALIASES, name)) return LAYOUT_ALIASES[name as keyof typeof LAYOUT_ALIASES];
  if ((LAYOUTS as string[]).includes(name)) return name as Layout;
  throw new UsageError(`--layout: expected one of ${LAYOUTS.join(', ')} (or the older ${Object.keys(LAYOUT_ALIASES).join(', ')}), found ${JSON.stringify(name)}`);
}

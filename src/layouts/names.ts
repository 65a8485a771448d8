// Every spelling of every tensor role found in the wild (llama.cpp's TensorNameMap), each commented
// with the family that uses it. A layout looks a role up here; first match wins.

import type { BlockRole } from '../model/plan.js';

/** Names inside `model.layers.<i>.` (all Hugging Face families use that prefix). */
export const BLOCK_NAMES: Record<BlockRole, readonly string[]> = {
  attn_norm: ['input_layernorm.weight'], // every Hugging Face Llama-like model
  attn_q: ['self_attn.q_proj.weight'],
  attn_k: ['self_attn.k_proj.weight'],
  attn_v: ['self_attn.v_proj.weight'],
  attn_o: ['self_attn.o_proj.weight'],
  attn_sub_norm: [
    'self_attn.attn_sub_norm.weight', // microsoft/bitnet-b1.58-2B-4T(-bf16)
    'self_attn.inner_attn_ln.weight', // 1bitLLM/bitnet_b1_58-*
  ],
  ffn_norm: ['post_attention_layernorm.weight'],
  ffn_gate: ['mlp.gate_proj.weight'],
  ffn_up: ['mlp.up_proj.weight'],
  ffn_down: ['mlp.down_proj.weight'],
  ffn_sub_norm: [
    'mlp.ffn_sub_norm.weight', // microsoft/bitnet-b1.58-2B-4T(-bf16)
    'mlp.ffn_layernorm.weight', // 1bitLLM/bitnet_b1_58-*
  ],
};

export const BLOCK_PREFIX = 'model.layers.';
export const blockPrefix = (i: number): string => `${BLOCK_PREFIX}${i}.`;

export const MODEL_NAMES = {
  token_embd: ['model.embed_tokens.weight'],
  output_norm: ['model.norm.weight'],
  output: ['lm_head.weight'],
} as const;

/** A packed projection's scale: `<proj>.weight` -> `<proj>.weight_scale` (transformers BitLinear / AutoBitLinear). */
export const scaleNameOf = (weightName: string): string => `${weightName}_scale`;

/** Tensors that carry nothing an engine needs. */
export const IGNORED = /(^|\.)rotary_emb\.inv_freq$/;

/** A bias a layer adds (`self_attn.q_proj.bias`, `mlp.down_proj.bias`, ... of attention_bias / mlp_bias models): no layout has a role for one. */
export const BIAS = /\.bias$/;

/**
 * GGUF names (docs/gguf.md 3: llama.cpp's TENSOR_NAMES for bitnet, bitnet-b1.58 and llama), read from a
 * .gguf input: inside `blk.<i>.`, and the model's own.
 */
export const GGUF_BLOCK_NAMES: Record<BlockRole, string> = {
  attn_norm: 'attn_norm.weight', attn_q: 'attn_q.weight', attn_k: 'attn_k.weight', attn_v: 'attn_v.weight', attn_o: 'attn_output.weight',
  attn_sub_norm: 'attn_sub_norm.weight', ffn_norm: 'ffn_norm.weight', ffn_gate: 'ffn_gate.weight', ffn_up: 'ffn_up.weight', ffn_down: 'ffn_down.weight',
  ffn_sub_norm: 'ffn_sub_norm.weight',
};
export const ggufBlockPrefix = (i: number): string => `blk.${i}.`;
export const GGUF_MODEL_NAMES = { token_embd: 'token_embd.weight', output_norm: 'output_norm.weight', output: 'output.weight' } as const;

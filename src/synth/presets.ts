// Model shapes for synthetic checkpoints, from tiny test models up to the exact shapes of the real
// models (2B-4T, 1bitLLM bitnet_b1_58-large and -3B, HF1BitLLM Llama3-8B-1.58, Falcon3-1.58bit 1B and
// 10B, Falcon-E-1B). A preset decides the shape; the layout (src/synth/layouts.ts) decides names,
// dtypes and the rest of config.json, from the preset's `family` where it has one (the Falcon presets:
// their config.json values).

export interface ModelShape {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  vocab_size: number;
  /** The attention head size when it is not hidden_size / num_attention_heads (q_proj has heads x head_dim rows). */
  head_dim?: number;
  /** A real model family's config.json values, for the Llama layouts (llama-packed, llama-latent). */
  family?: FamilyConfig;
}

/** The config.json values of a model family that a shape does not decide. */
export interface FamilyConfig {
  name: 'falcon3' | 'falcon-e';
  rope_theta: number;
  rms_norm_eps: number;
  max_position_embeddings: number;
  tie_word_embeddings: boolean;
  transformers_version: string;
}

export const PRESETS: Record<string, ModelShape & { about: string }> = {
  tiny: {
    about: 'the golden test model shape (hidden 64, 2 layers, vocab 256)',
    hidden_size: 64,
    intermediate_size: 160,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 256,
  },
  odd: {
    about: 'rows that are not a multiple of 16 long (hidden 72, intermediate 200)',
    hidden_size: 72,
    intermediate_size: 200,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 300,
  },
  small: {
    about: 'a quick demo model (hidden 512, 4 layers, vocab 8192, about 15 M parameters)',
    hidden_size: 512,
    intermediate_size: 1376,
    num_hidden_layers: 4,
    num_attention_heads: 8,
    num_key_value_heads: 2,
    vocab_size: 8192,
  },
  '2b-4t': {
    about: 'the exact shapes of microsoft/bitnet-b1.58-2B-4T-bf16 (2.4 B parameters, 4.83 GB in BF16)',
    hidden_size: 2560,
    intermediate_size: 6912,
    num_hidden_layers: 30,
    num_attention_heads: 20,
    num_key_value_heads: 5,
    vocab_size: 128256,
  },
  '1bitllm-large': {
    about: 'the shapes of 1bitLLM/bitnet_b1_58-large (729 M parameters, 2.92 GB in F32)',
    hidden_size: 1536,
    intermediate_size: 4096,
    num_hidden_layers: 24,
    num_attention_heads: 16,
    num_key_value_heads: 16,
    vocab_size: 32002,
  },
  '1bitllm-3b': {
    about: 'the shapes of 1bitLLM/bitnet_b1_58-3B (3.32 B parameters, 13.3 GB in F32)',
    hidden_size: 3200,
    intermediate_size: 8640,
    num_hidden_layers: 26,
    num_attention_heads: 32,
    num_key_value_heads: 32,
    vocab_size: 32002,
  },
  'llama3-8b': {
    about: 'the shapes of HF1BitLLM/Llama3-8B-1.58-100B-tokens (8.0 B parameters, 3.85 GB packed)',
    hidden_size: 4096,
    intermediate_size: 14336,
    num_hidden_layers: 32,
    num_attention_heads: 32,
    num_key_value_heads: 8,
    vocab_size: 128256,
  },
  // tiiuae/Falcon3-1B-Instruct-1.58bit config.json
  'falcon3-1b': {
    about: 'the shapes and config of tiiuae/Falcon3-1B-Instruct-1.58bit (1.67 B parameters, head_dim 256, rope_theta 1000042, untied)',
    hidden_size: 2048,
    intermediate_size: 8192,
    num_hidden_layers: 18,
    num_attention_heads: 8,
    num_key_value_heads: 4,
    head_dim: 256,
    vocab_size: 131072,
    family: { name: 'falcon3', rope_theta: 1000042, rms_norm_eps: 1e-6, max_position_embeddings: 8192, tie_word_embeddings: false, transformers_version: '4.48.0.dev0' },
  },
  // tiiuae/Falcon3-10B-Base-1.58bit config.json (head_dim 256 = 3072 / 12, as in every Falcon3)
  'falcon3-10b': {
    about: 'the shapes and config of tiiuae/Falcon3-10B-Base-1.58bit (10.3 B parameters, 40 layers, head_dim 256, untied)',
    hidden_size: 3072,
    intermediate_size: 23040,
    num_hidden_layers: 40,
    num_attention_heads: 12,
    num_key_value_heads: 4,
    head_dim: 256,
    vocab_size: 131072,
    family: { name: 'falcon3', rope_theta: 1000042, rms_norm_eps: 1e-6, max_position_embeddings: 32768, tie_word_embeddings: false, transformers_version: '4.46.0.dev0' },
  },
  // tiiuae/Falcon-E-1B-Base: 24 layers, an untied head and no sub-norms follow from its released GGUF
  // (168 I2_S projections, 49 F32 norms, 2 F16 tensors); hidden_size 2048 and intermediate_size 8192 fit its
  // size. NOT VERIFIED against its config.json: the head counts, head_dim, vocab_size 32768, rope_theta,
  // rms_norm_eps and max_position_embeddings.
  'falcon-e-1b': {
    about: 'the shapes of tiiuae/Falcon-E-1B-Base as far as known (about 1.6 B parameters, 24 layers, untied; heads, vocabulary and rope values unverified)',
    hidden_size: 2048,
    intermediate_size: 8192,
    num_hidden_layers: 24,
    num_attention_heads: 8,
    num_key_value_heads: 2,
    head_dim: 256,
    vocab_size: 32768,
    family: { name: 'falcon-e', rope_theta: 10000, rms_norm_eps: 1e-5, max_position_embeddings: 2048, tie_word_embeddings: false, transformers_version: '4.51.3' },
  },
};

/** The six shape fields of a preset (without its description), and head_dim where the preset has one. */
export function shapeOf(s: ModelShape): ModelShape {
  const { hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, num_key_value_heads, vocab_size, head_dim } = s;
  return { hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, num_key_value_heads, vocab_size, ...(head_dim === undefined ? {} : { head_dim }) };
}

/** The attention head size of a shape. */
export const headDimOf = (s: ModelShape): number => s.head_dim ?? s.hidden_size / s.num_attention_heads;

/**
 * config.json of a BitNetForCausalLM checkpoint with the given shape, as the 2B-4T model has it.
 * (The hf-bitnet layout passes the preset itself, so its description lands in config.json as
 * "about": kept as it was, because the master output must not change.)
 */
export function bitnetConfig(shape: ModelShape, dtype: string, tied: boolean, ids = { bos: 0, eos: 1 }): Record<string, unknown> {
  const { family: _family, ...keys } = shape; // a Falcon preset's family values are for the Llama layouts
  return {
    architectures: ['BitNetForCausalLM'],
    model_type: 'bitnet',
    ...keys,
    hidden_act: 'relu2',
    max_position_embeddings: 4096,
    rms_norm_eps: 1e-5,
    rope_theta: 500000.0,
    tie_word_embeddings: tied,
    torch_dtype: { BF16: 'bfloat16', F16: 'float16', F32: 'float32' }[dtype],
    bos_token_id: ids.bos,
    eos_token_id: ids.eos,
    attention_bias: false,
  };
}

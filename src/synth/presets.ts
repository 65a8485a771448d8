// Model shapes for synthetic checkpoints, from tiny test models up to the exact 2B-4T shapes.

export interface ModelShape {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  vocab_size: number;
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
};

/** config.json of a BitNetForCausalLM checkpoint with the given shape, as the 2B-4T model has it. */
export function bitnetConfig(shape: ModelShape, dtype: string, tied: boolean): Record<string, unknown> {
  return {
    architectures: ['BitNetForCausalLM'],
    model_type: 'bitnet',
    ...shape,
    hidden_act: 'relu2',
    max_position_embeddings: 4096,
    rms_norm_eps: 1e-5,
    rope_theta: 500000.0,
    tie_word_embeddings: tied,
    torch_dtype: { BF16: 'bfloat16', F16: 'float16', F32: 'float32' }[dtype],
    bos_token_id: 0,
    eos_token_id: 1,
    attention_bias: false,
  };
}

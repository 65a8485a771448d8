// 1bitLLM/bitnet_b1_58-large and -3B: BitnetForCausalLM (lower-case n), F32/F16 latent weights,
// sub-norms spelled inner_attn_ln / ffn_layernorm (names.ts), SiLU.

import { architectureOf, planFamily } from './common.js';
import type { InputLayout } from './types.js';

export const oneBitLlm: InputLayout<'1bitllm'> = {
  id: '1bitllm',
  about: 'BitnetForCausalLM latent weights, F32/F16 (1bitLLM/bitnet_b1_58-large, -3B)',
  matches: (c) => architectureOf(c) === 'BitnetForCausalLM',
  plan: (c) =>
    planFamily(
      { id: '1bitllm', projections: { kind: 'master' }, subNorms: true, defaultAct: 'silu', otherStorageHint: '1bitLLM checkpoints hold float latent weights' },
      c,
    ),
};

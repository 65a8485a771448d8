// HF1BitLLM/Llama3-8B-1.58-100B-tokens and alike: LlamaForCausalLM + quant_method "bitnet", packed
// U8 projections whose weight_scale divides (BitLinear), an untied BF16 lm_head, no sub-norms.

import { architectureOf, planFamily } from './common.js';
import { isBitnetQuantized, packedConvention } from './quantization-config.js';
import type { InputLayout } from './types.js';

export const llamaPacked: InputLayout<'llama-packed'> = {
  id: 'llama-packed',
  about: 'LlamaForCausalLM with quant_method bitnet, packed U8 + weight_scale (HF1BitLLM/Llama3-8B-1.58)',
  matches: (c) => architectureOf(c) === 'LlamaForCausalLM' && isBitnetQuantized(c),
  plan: (c) =>
    planFamily(
      {
        id: 'llama-packed',
        projections: { kind: 'packed', convention: packedConvention(c) },
        subNorms: false,
        defaultAct: 'silu',
        otherStorageHint: 'float weights where packed U8 codes were expected',
      },
      c,
    ),
};

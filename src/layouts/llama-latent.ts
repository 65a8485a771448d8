// Falcon-E's `prequantized` revision and onebitllms fine-tunes before quantize_to_1bit: a plain
// LlamaForCausalLM (no quantization_config, no sub-norms, SiLU) whose BF16/F16/F32 projections are
// latent BitNet weights, ternarized with --rule like hf-bitnet's master weights. Its config.json looks
// like any float Llama's, so it is never detected: the user names it (--layout llama-latent).

import { InvalidConfigError } from '../errors.js';
import { describe } from '../formats/json-text.js';
import { architectureOf, planFamily } from './common.js';
import type { InputLayout } from './types.js';

export const llamaLatent: InputLayout<'llama-latent'> = {
  id: 'llama-latent',
  about: 'LlamaForCausalLM with latent BitNet weights, BF16/F16/F32, no quantization_config (Falcon-E prequantized, onebitllms before packing); only with --layout llama-latent',
  named: true,
  matches: (c) => architectureOf(c) === 'LlamaForCausalLM',
  plan: (c) => {
    const q = c.config.raw.quantization_config;
    if (q !== undefined && q !== null) {
      throw new InvalidConfigError({ file: c.configPath }, 'no quantization_config (latent float weights; a packed quant_method bitnet checkpoint is llama-packed)', describe(q));
    }
    return planFamily(
      {
        id: 'llama-latent',
        projections: { kind: 'master' },
        subNorms: false,
        defaultAct: 'silu',
        otherStorageHint: 'packed codes: a LlamaForCausalLM with quant_method bitnet is read as llama-packed',
      },
      c,
    );
  },
};

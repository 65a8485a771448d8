// microsoft/bitnet-b1.58-2B-4T: BitNetForCausalLM with the projections packed as U8 [out/4, in]
// (transformers pack_weights) plus a weight_scale each; decoded losslessly, never re-quantized.

import { architectureOf, planFamily, projectionDtype } from './common.js';
import { packedConvention } from './quantization-config.js';
import type { InputLayout } from './types.js';

export const hfBitnetPacked: InputLayout<'hf-bitnet-packed'> = {
  id: 'hf-bitnet-packed',
  about: 'BitNetForCausalLM packed U8 + weight_scale (microsoft/bitnet-b1.58-2B-4T)',
  matches: (c) => architectureOf(c) === 'BitNetForCausalLM' && projectionDtype(c) === 'U8',
  plan: (c) =>
    planFamily(
      {
        id: 'hf-bitnet-packed',
        projections: { kind: 'packed', convention: packedConvention(c) },
        subNorms: true,
        defaultAct: 'relu2',
        otherStorageHint: 'float master weights where packed U8 codes were expected',
      },
      c,
    ),
};

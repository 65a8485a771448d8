// microsoft/bitnet-b1.58-2B-4T-bf16 and every BitNetForCausalLM with float (BF16/F16/F32) master weights.

import { architectureOf, planFamily, projectionDtype } from './common.js';
import type { InputLayout } from './types.js';

export const hfBitnet: InputLayout<'hf-bitnet'> = {
  id: 'hf-bitnet',
  about: 'BitNetForCausalLM master weights, BF16/F16/F32 (microsoft/bitnet-b1.58-2B-4T-bf16)',
  matches: (c) => architectureOf(c) === 'BitNetForCausalLM' && projectionDtype(c) !== 'U8',
  plan: (c) =>
    planFamily(
      { id: 'hf-bitnet', projections: { kind: 'master' }, subNorms: true, defaultAct: 'relu2', otherStorageHint: 'packed weights' },
      c,
    ),
};

// The input layouts: one file per checkpoint family; the first that matches a checkpoint plans it.

import { InvalidConfigError } from '../errors.js';
import type { ModelPlan } from '../model/plan.js';
import { projectionDtype } from './common.js';
import { hfBitnet } from './hf-bitnet.js';
import { hfBitnetPacked } from './hf-bitnet-packed.js';
import { llamaPacked } from './llama-packed.js';
import { oneBitLlm } from './onebitllm.js';
import type { CheckpointView, InputLayout } from './types.js';

export type { CheckpointView, InputLayout } from './types.js';

export const LAYOUTS: readonly InputLayout[] = [hfBitnetPacked, hfBitnet, oneBitLlm, llamaPacked];

export function detectLayout(c: CheckpointView): InputLayout {
  const layout = LAYOUTS.find((l) => l.matches(c));
  if (layout) return layout;
  const arch = c.config.architecture || 'no "architectures"';
  const dtype = projectionDtype(c);
  throw new InvalidConfigError(
    { file: c.configPath },
    `a checkpoint of one of the known layouts: ${LAYOUTS.map((l) => `${l.id} (${l.about})`).join('; ')}`,
    `${arch}${dtype ? ` with ${dtype} projections` : ''}${c.config.raw.quantization_config === undefined ? '' : ' and a quantization_config'}`,
  );
}

/** Detects the layout and plans the model. */
export function planCheckpoint(c: CheckpointView): ModelPlan {
  return detectLayout(c).plan(c);
}

// The input layouts: one file per checkpoint family; the first detectable one that matches a
// checkpoint plans it, unless the caller names one (--layout).

import { InvalidConfigError, UsageError } from '../errors.js';
import type { ModelPlan } from '../model/plan.js';
import { projectionDtype } from './common.js';
import { gguf } from './gguf.js';
import { hfBitnet } from './hf-bitnet.js';
import { hfBitnetPacked } from './hf-bitnet-packed.js';
import { llamaLatent } from './llama-latent.js';
import { llamaPacked } from './llama-packed.js';
import { oneBitLlm } from './onebitllm.js';
import type { CheckpointView, InputLayout } from './types.js';

export type { CheckpointView, InputLayout } from './types.js';
export { BIAS } from './names.js';

export const LAYOUTS = [gguf, hfBitnetPacked, hfBitnet, oneBitLlm, llamaPacked, llamaLatent] as const satisfies readonly InputLayout[];
/** A layout's id: tables keyed by it (synth's specs) must have a row for every layout. */
export type LayoutId = (typeof LAYOUTS)[number]['id'];
export const LAYOUT_IDS: readonly LayoutId[] = LAYOUTS.map((l) => l.id);

/** What a checkpoint looks like, for refusals: its architecture, projection dtype and quantization_config. */
function described(c: CheckpointView): string {
  const arch = c.config.architecture || 'no "architectures"';
  const dtype = projectionDtype(c);
  return `${arch}${dtype ? ` with ${dtype} projections` : ''}${c.config.raw.quantization_config === undefined ? '' : ' and a quantization_config'}`;
}

export function detectLayout(c: CheckpointView): InputLayout<LayoutId> {
  if (c.gguf) return gguf; // a .gguf is read by its own layout only
  const layout = LAYOUTS.find((l) => !('named' in l && l.named) && l.matches(c));
  if (layout) return layout;
  throw new InvalidConfigError(
    { file: c.configPath },
    `a checkpoint of one of the known layouts: ${LAYOUTS.map((l) => `${l.id} (${l.about})`).join('; ')}`,
    described(c),
  );
}

/** The layout named by id (--layout), checked against the checkpoint's architecture. */
export function namedLayout(c: CheckpointView, id: string): InputLayout<LayoutId> {
  const layout = LAYOUTS.find((l) => l.id === id);
  if (!layout) throw new UsageError(`--layout: expected one of ${LAYOUT_IDS.join(', ')}, found ${JSON.stringify(id)}`);
  if (!layout.matches(c) || (c.gguf && layout !== gguf)) throw new InvalidConfigError({ file: c.configPath }, `a checkpoint --layout ${id} reads: ${layout.about}`, described(c));
  return layout;
}

/** Plans the model with the named layout, or the one detected. */
export function planCheckpoint(c: CheckpointView, layout?: string): ModelPlan {
  return (layout === undefined ? detectLayout(c) : namedLayout(c, layout)).plan(c);
}

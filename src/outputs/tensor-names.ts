// A format's tensor names, spelled once for its writer and its reader: the reader reports the role each
// name holds (TensorRole), so inspect and the report never guess roles from names.

import type { BlockRole, ModelRole, TensorRole } from '../model/plan.js';

export interface TensorNames {
  /** The name of each model tensor the format writes. */
  model: Partial<Record<ModelRole, string>>;
  /** A block's tensors are named `prefix + index + '.' + suffix`. */
  prefix: string;
  /** Each block tensor's suffix and the roles it holds, stacked in this order. */
  block: Record<string, readonly BlockRole[]>;
}

/** The name of block `index`'s tensor `suffix`. */
export function blockTensorName(n: TensorNames, index: number, suffix: string): string {
  return `${n.prefix}${index}.${suffix}`;
}

/** The role a name holds, or undefined for a name the format does not write. */
export function roleOfName(n: TensorNames, name: string): TensorRole | undefined {
  for (const [role, spelled] of Object.entries(n.model)) if (spelled === name) return role as ModelRole;
  if (!name.startsWith(n.prefix)) return undefined;
  const rest = name.slice(n.prefix.length);
  const dot = rest.indexOf('.');
  const index = Number(rest.slice(0, dot));
  // the index as the writer spells it: digits only, no sign, no leading zero
  if (dot < 1 || !Number.isSafeInteger(index) || String(index) !== rest.slice(0, dot)) return undefined;
  const roles = Object.hasOwn(n.block, rest.slice(dot + 1)) ? n.block[rest.slice(dot + 1)] : undefined;
  return roles && { block: index, roles };
}

/**
 * Microsoft's names (model_state_int2, docs/formats.md 5), which bitnet.rs's model.safetensors takes too
 * (docs/formats.md 4b): q|k|v and gate|up stacked.
 */
export const ENGINE_NAMES: TensorNames = {
  model: { token_embd: 'tok_embeddings.weight', output_norm: 'norm.weight', output: 'output.weight' },
  prefix: 'layers.',
  block: {
    'attention.wqkv.weight': ['attn_q', 'attn_k', 'attn_v'],
    'attention.wo.weight': ['attn_o'],
    'feed_forward.w13.weight': ['ffn_gate', 'ffn_up'],
    'feed_forward.w2.weight': ['ffn_down'],
    'attention_norm.weight': ['attn_norm'],
    'ffn_norm.weight': ['ffn_norm'],
    'attention.attn_sub_norm.weight': ['attn_sub_norm'],
    'feed_forward.ffn_sub_norm.weight': ['ffn_sub_norm'],
  },
};

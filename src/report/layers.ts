// Per-layer series from per-tensor ternary statistics (inspect's): each tensor of a block is placed by
// the role it holds, which the input's plan or the output format's reader reports; a fused output
// tensor (bitnet-rs wqkv, w13) stays one series. Platform neutral.

import type { TernaryStats } from '../inspect/stats.js';
import { BLOCK_ROLES, type BlockRole, type TensorRole } from '../model/plan.js';
import type { LayerSeries } from './types.js';

const LABEL: Partial<Record<BlockRole, string>> = {
  attn_q: 'q', attn_k: 'k', attn_v: 'v', attn_o: 'o', ffn_gate: 'gate', ffn_up: 'up', ffn_down: 'down',
};
/** Stacked projections by the names the engines give them. */
const FUSED: Record<string, string> = { 'attn_q+attn_k+attn_v': 'wqkv', 'ffn_gate+ffn_up': 'w13' };

/** A series' label: the projection (q, ..., down) or the stack (wqkv, w13; else the labels joined by +). */
function labelOf(roles: readonly BlockRole[]): string {
  if (roles.length === 1) return LABEL[roles[0]] ?? roles[0];
  return FUSED[roles.join('+')] ?? roles.map((r) => LABEL[r] ?? r).join('+');
}

/** The block index, projection label and roles of a tensor, or undefined when it belongs to no block. */
export function locate(t: { role?: TensorRole }): { block: number; projection: string; roles: readonly BlockRole[] } | undefined {
  const r = t.role;
  if (r === undefined || typeof r === 'string') return undefined;
  return { block: r.block, projection: labelOf(r.roles), roles: r.roles };
}

/** One series per projection (or stack), in block order, points ordered by block; whether any scale was per row, any series a stack. */
export function layerSeries(tensors: { name: string; role?: TensorRole; ternary?: TernaryStats }[]): { series: LayerSeries[]; perRow: boolean; fused: boolean } {
  const by = new Map<string, { series: LayerSeries; first: BlockRole }>();
  let perRow = false;
  let fused = false;
  for (const t of tensors) {
    if (!t.ternary) continue;
    const at = locate(t);
    if (!at) continue;
    if (at.roles.length > 1) fused = true;
    const s = t.ternary;
    const single = s.rowScale.min === s.rowScale.max;
    if (!single) perRow = true;
    const scale = single ? s.rowScale.min : (s.rowScale.min + s.rowScale.max) / 2;
    let entry = by.get(at.projection);
    if (!entry) by.set(at.projection, (entry = { series: { label: at.projection, points: [] }, first: at.roles[0] }));
    entry.series.points.push({ block: at.block, scale, zero: s.fractions.zero });
  }
  const series = [...by.values()].sort((a, b) => BLOCK_ROLES.indexOf(a.first) - BLOCK_ROLES.indexOf(b.first)).map((e) => e.series);
  for (const s of series) s.points.sort((a, b) => a.block - b.block);
  return { series, perRow, fused };
}

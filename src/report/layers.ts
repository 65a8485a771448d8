// Per-layer series from per-tensor ternary statistics (inspect's): each tensor of a block is placed by
// its role (an input checkpoint) or by its name (an output: hf-packed q_proj, gguf attn_q, bitnet-rs
// wqkv and w13, which stay fused). Platform neutral.

import type { TernaryStats } from '../inspect/stats.js';
import type { LayerSeries } from './types.js';

const LABEL: Record<string, string> = {
  attn_q: 'q', attn_k: 'k', attn_v: 'v', attn_o: 'o', ffn_gate: 'gate', ffn_up: 'up', ffn_down: 'down',
};
const ORDER = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'];

/** The block index and projection label of a tensor, or undefined when it belongs to no block. */
export function locate(t: { name: string; role?: string }): { block: number; projection: string } | undefined {
  const r = /^blk\.(\d+)\.(\w+)$/.exec(t.role ?? '');
  if (r) return { block: Number(r[1]), projection: LABEL[r[2]] ?? r[2] };
  const b = /(?:^|[._:/])(?:layers|blk|block|h)[._](\d+)(?=[._:])/.exec(t.name);
  if (!b) return undefined;
  const last = (t.name.replace(/\.weight$/, '').split(/[.:]/).pop() ?? '').replace(/_proj$/, '');
  return { block: Number(b[1]), projection: LABEL[last] ?? last };
}

/** One series per projection, points ordered by block; also whether any scale was per row. */
export function layerSeries(tensors: { name: string; role?: string; ternary?: TernaryStats }[]): { series: LayerSeries[]; perRow: boolean } {
  const by = new Map<string, LayerSeries>();
  let perRow = false;
  for (const t of tensors) {
    if (!t.ternary) continue;
    const at = locate(t);
    if (!at) continue;
    const s = t.ternary;
    const single = s.rowScale.min === s.rowScale.max;
    if (!single) perRow = true;
    const scale = single ? s.rowScale.min : (s.rowScale.min + s.rowScale.max) / 2;
    let series = by.get(at.projection);
    if (!series) by.set(at.projection, (series = { label: at.projection, points: [] }));
    series.points.push({ block: at.block, scale, zero: s.fractions.zero });
  }
  const rank = (l: string) => (ORDER.includes(l) ? ORDER.indexOf(l) : ORDER.length);
  const series = [...by.values()].sort((a, b) => rank(a.label) - rank(b.label));
  for (const s of series) s.points.sort((a, b) => a.block - b.block);
  return { series, perRow };
}

// `inspect` as text: one line per tensor, ternary statistics after it.

import type { Inspection } from '../run/inspect.js';
import { roleName } from '../model/plan.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const num = (x: number) => (Math.abs(x) >= 0.01 && Math.abs(x) < 1000 ? x.toFixed(5) : x.toExponential(4));

export function inspectionText(r: Inspection): string {
  const lines = [
    `${r.path}: ${r.kind === 'input' ? `input checkpoint, layout ${r.layout}` : `output, format ${r.format}`}`,
  ];
  const c = r.config;
  if (c) {
    const keys = ['architectures', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'vocab_size', 'hidden_act', 'tie_word_embeddings', 'torch_dtype'];
    lines.push(`config: ${keys.filter((k) => c[k] !== undefined).map((k) => `${k} ${JSON.stringify(c[k])}`).join(', ')}`);
  }
  lines.push(`${r.tensors.length} tensors:`);
  for (const t of r.tensors) {
    let line = `  ${t.name}${t.role !== undefined ? ` (${roleName(t.role)})` : ''}  ${t.dtype} [${t.shape.join(', ')}]${t.bytes !== undefined ? `  ${t.bytes} bytes` : ''}`;
    const s = t.ternary;
    if (s) {
      line += `\n      ternary [${s.rows}, ${s.cols}]: -1 ${pct(s.fractions.minus)}, 0 ${pct(s.fractions.zero)}, +1 ${pct(s.fractions.plus)}; scale ${s.scales.map(num).join(', ')}`;
      line += `; per row: zeros ${pct(s.rowZeroFraction.min)}-${pct(s.rowZeroFraction.max)}, scale ${num(s.rowScale.min)}-${num(s.rowScale.max)}`;
    }
    lines.push(line);
  }
  return lines.join('\n') + '\n';
}

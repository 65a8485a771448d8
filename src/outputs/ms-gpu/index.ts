// Microsoft's BitNet GPU int2 layout (formats.md section 5; microsoft/BitNet gpu/convert_safetensors.py,
// convert_checkpoint.py, pack_weight.py): one .safetensors with Microsoft's names, wqkv = q|k|v with q
// and k rows un-permuted from Hugging Face's rotate-half order, w13 = gate|up, each projection
// ternarized on its own and packed by the 16x32 tile permutation + int32 interleave kernel (I8 [N, K/4]),
// `weight_scale` BF16 [4] (one scale per stacked projection, zero-filled), float tensors copied as they are.
// Tensors are laid out by name, as in the golden file Microsoft's scripts produced.

import { UnsupportedError } from '../../errors.js';
import type { FloatWeight, TernaryWeight, Weight } from '../../model/plan.js';
import { ternaryShape } from '../../model/plan.js';
import { readCost } from '../../stream/weights.js';
import { layoutSafetensors, scaleBytes, type StTensor } from '../safetensors-container.js';
import type { Job, OutputFormat } from '../types.js';

const FILE = 'model_state_int2.safetensors';

/** A stacked projection; `heads` un-permutes its rows from rotate-half order per head (q and k). */
interface Part {
  weight: TernaryWeight;
  heads?: number;
}

type Entry = { kind: 'floats'; name: string; weight: FloatWeight } | { kind: 'int2'; name: string; parts: Part[] };
type Item = Entry & { at: number; scaleAt?: number };

/**
 * Row `t` of a head-permuted projection comes from source row: Microsoft's
 * `'(h l d) i -> (h d l) i'` with l = 2, i.e. target (h, d, l) <- source (h, l, d).
 */
export function unpermutedSource(t: number, headRows: number): number {
  const half = headRows / 2;
  const h = Math.floor(t / headRows);
  const r = t - h * headRows;
  return h * headRows + (r & 1) * half + (r >> 1);
}

export const msGpu: OutputFormat = {
  id: 'ms-gpu',
  about: "Microsoft BitNet's GPU int2 layout (model_state_int2 as safetensors: wqkv/w13 with 16x32 tile permutation and int32 interleave)",

  plan(model, o) {
    if (!model.hasSubNorms) throw new UnsupportedError({}, 'a model with attn_sub_norm and ffn_sub_norm (the GPU kernels compute them)', `a ${model.layout} checkpoint without them`);
    if (o.granularity !== 'projection') throw new UnsupportedError({}, '--scale-granularity projection (weight_scale holds one value per projection)', 'row');
    const { headDim, numHeads, numKvHeads } = model.config;
    const tensors: StTensor[] = [];
    const floats = (name: string, weight: FloatWeight): Entry => {
      tensors.push({ name, dtype: weight.tensor.dtype, shape: weight.tensor.storedShape });
      return { kind: 'floats', name, weight };
    };
    const int2 = (name: string, ...parts: Part[]): Entry => {
      const cols = ternaryShape(parts[0].weight).cols;
      for (const p of parts) {
        const rows = ternaryShape(p.weight).rows;
        if (rows % 16 !== 0 || cols % 32 !== 0) {
          throw new UnsupportedError({ tensor: name }, 'projections of a multiple of 16 rows and 32 columns (16x32 tiles)', `[${rows}, ${cols}]`);
        }
      }
      if (headDim % 2 !== 0) throw new UnsupportedError({ tensor: name }, 'an even head_dim (rotate-half pairs)', String(headDim));
      const rows = parts.reduce((s, p) => s + ternaryShape(p.weight).rows, 0);
      tensors.push({ name, dtype: 'I8', shape: [rows, cols / 4] }, { name: name + '_scale', dtype: 'BF16', shape: [4] });
      return { kind: 'int2', name, parts };
    };
    const output: FloatWeight = { kind: 'float', tensor: model.output.kind === 'master' ? model.output.tensor : model.tokenEmbd.tensor };
    const groups: Entry[][] = [
      [floats('tok_embeddings.weight', model.tokenEmbd)],
      [floats('output.weight', output)],
      [floats('norm.weight', model.outputNorm)],
      ...model.blocks.map((b): Entry[] => {
        const p = `layers.${b.index}.`;
        return [
          int2(p + 'attention.wqkv.weight', { weight: b.attn_q, heads: numHeads }, { weight: b.attn_k, heads: numKvHeads }, { weight: b.attn_v }),
          int2(p + 'attention.wo.weight', { weight: b.attn_o }),
          int2(p + 'feed_forward.w13.weight', { weight: b.ffn_gate }, { weight: b.ffn_up }),
          int2(p + 'feed_forward.w2.weight', { weight: b.ffn_down }),
          floats(p + 'attention_norm.weight', b.attn_norm!),
          floats(p + 'ffn_norm.weight', b.ffn_norm!),
          floats(p + 'attention.attn_sub_norm.weight', b.attn_sub_norm!),
          floats(p + 'feed_forward.ffn_sub_norm.weight', b.ffn_sub_norm!),
        ];
      }),
    ];
    const st = layoutSafetensors(FILE, tensors, 'name');
    const weightsOf = (e: Entry): Weight[] => (e.kind === 'floats' ? [e.weight] : e.parts.map((p) => p.weight));
    const jobs: Job[] = groups.map((g) => ({
      format: 'ms-gpu',
      file: FILE,
      cost: { bytes: g.flatMap(weightsOf).reduce((s, w) => s + readCost(w, o), 0), tensors: g.flatMap(weightsOf).length },
      part: g.map((e): Item => ({ ...e, at: st.at(e.name), scaleAt: e.kind === 'int2' ? st.at(e.name + '_scale') : undefined })),
      regions: st.regions(g.flatMap((e) => (e.kind === 'int2' ? [e.name, e.name + '_scale'] : [e.name]))),
    }));
    return { jobs, containers: [st.container] };
  },

  write(j, s, out) {
    const k = s.kernels;
    for (const item of j.part as Item[]) {
      const sink = out.sink(item.at);
      if (item.kind === 'floats') {
        s.floats(item.weight.tensor, 'source', (bytes) => sink.write(bytes));
        continue;
      }
      const scales = new Uint8Array(8); // BF16 [4], unused entries zero
      item.parts.forEach((part, i) => {
        const { cols } = ternaryShape(part.weight);
        const t = s.ternary(part.weight, { packed: cols / 4 }, { rowMultiple: 16 });
        const headRows = part.heads ? t.rows / part.heads : 0;
        for (let r = 0; r < t.rows; r += t.rowsPerChunk) {
          const n = Math.min(t.rowsPerChunk, t.rows - r);
          if (!part.heads) t.i8(r, n, t.i8Buffer);
          else for (let i = 0; i < n; i++) t.i8(unpermutedSource(r + i, headRows), 1, t.i8Buffer + i * cols);
          k.exports.packMsInt2(t.i8Buffer, n, cols, t.buffers.packed);
          sink.write(k.u8(t.buffers.packed, (n * cols) / 4));
        }
        scales.set(scaleBytes(t.scaleAs('BF16'), 'BF16'), 2 * i);
        t.done();
      });
      out.sink(item.scaleAt!).write(scales);
    }
  },

  finish() {
    return [];
  },

  describe() {
    return {};
  },
};

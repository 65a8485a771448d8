// The single model.safetensors the bitnet.rs engine loads at its current HEAD (formats.md section 4b;
// VerifiedAnon/bitnet.rs packer.rs export_quantized_to_safetensors and the loader in bitnet-core's
// model.rs): U32 packed rows [rows, ceil(in/16)] with a BF16 scale per row, BF16 embedding and norms
// ([1, n]), laid out as the safetensors crate writes (U32 first, then BF16, each by name: every tensor
// aligned to its element size, which the loader's casts need), no __metadata__.
// What we do differently from the engine's own writer (all documented in the README): the per-projection
// reference scales (repeated per row) instead of per-row means; rows padded to whole words (its writer
// needs in % 16 == 0); the sub-norms kept as layers.{i}.attention.attn_sub_norm.weight and
// layers.{i}.feed_forward.ffn_sub_norm.weight (its loader does not read them yet).

import { jsonBytes } from '../../formats/json-text.js';
import type { FloatWeight, ModelPlan, TernaryWeight, Weight } from '../../model/plan.js';
import { ternaryShape } from '../../model/plan.js';
import { f32ToBf16 } from '../../quant/floats.js';
import { describeRule } from '../../quant/rule.js';
import { readCost, type StreamOptions } from '../../stream/weights.js';
import { VERSION } from '../../version.js';
import { layoutSafetensors, type StLayout, type StTensor } from '../safetensors-container.js';
import { copySideFiles } from '../side-files.js';
import type { Job, OutputFormat } from '../types.js';
import { packBitnetRsRows, wordsPerRow } from './packing.js';

const FILE = 'model.safetensors';

type Item =
  | { kind: 'floats'; weight: FloatWeight; at: number }
  | { kind: 'linear'; parts: TernaryWeight[]; at: number; scalesAt: number };

interface Named {
  name: string;
  item: { kind: 'floats'; weight: FloatWeight } | { kind: 'linear'; parts: TernaryWeight[] };
}

/** Every tensor of the file, by the engine's names, grouped into jobs (embedding, head, final norm, one per block). */
function tensorGroups(model: ModelPlan): Named[][] {
  const floats = (name: string, weight: FloatWeight | undefined): Named[] => (weight ? [{ name, item: { kind: 'floats', weight } }] : []);
  const linear = (name: string, ...parts: TernaryWeight[]): Named => ({ name, item: { kind: 'linear', parts } });
  return [
    floats('tok_embeddings.weight', model.tokenEmbd),
    [linear('output.weight', model.output)],
    floats('norm.weight', model.outputNorm),
    ...model.blocks.map((b) => {
      const p = `layers.${b.index}.`;
      return [
        linear(p + 'attention.wqkv.weight', b.attn_q, b.attn_k, b.attn_v),
        linear(p + 'attention.wo.weight', b.attn_o),
        linear(p + 'feed_forward.w13.weight', b.ffn_gate, b.ffn_up),
        linear(p + 'feed_forward.w2.weight', b.ffn_down),
        ...floats(p + 'attention_norm.weight', b.attn_norm),
        ...floats(p + 'ffn_norm.weight', b.ffn_norm),
        ...floats(p + 'attention.attn_sub_norm.weight', b.attn_sub_norm),
        ...floats(p + 'feed_forward.ffn_sub_norm.weight', b.ffn_sub_norm),
      ];
    }),
  ];
}

function headerTensors(n: Named): StTensor[] {
  if (n.item.kind === 'floats') return [{ name: n.name, dtype: 'BF16', shape: n.item.weight.tensor.shape }];
  const rows = n.item.parts.reduce((s, p) => s + ternaryShape(p).rows, 0);
  const cols = ternaryShape(n.item.parts[0]).cols;
  return [
    { name: n.name, dtype: 'U32', shape: [rows, wordsPerRow(cols)] },
    { name: n.name + '_scale', dtype: 'BF16', shape: [rows] },
  ];
}

function job(group: Named[], st: StLayout, o: StreamOptions): Job {
  const items: Item[] = group.map((n) =>
    n.item.kind === 'floats' ? { ...n.item, at: st.at(n.name) } : { ...n.item, at: st.at(n.name), scalesAt: st.at(n.name + '_scale') },
  );
  const weights: Weight[] = group.flatMap((n): Weight[] => (n.item.kind === 'floats' ? [n.item.weight] : n.item.parts));
  return {
    format: 'bitnet-rs-safetensors',
    file: FILE,
    cost: { bytes: weights.reduce((s, w) => s + readCost(w, o), 0), tensors: weights.length },
    part: items,
    regions: st.regions(group.flatMap((n) => headerTensors(n).map((t) => t.name))),
  };
}

export const bitnetRsSafetensors: OutputFormat = {
  id: 'bitnet-rs-safetensors',
  about: 'one model.safetensors as the bitnet.rs engine loads it at its current HEAD (U32 packed rows + BF16 scales)',

  plan(model, o) {
    const groups = tensorGroups(model);
    const st = layoutSafetensors(FILE, groups.flat().flatMap(headerTensors), 'writer');
    return { jobs: groups.map((g) => job(g, st, o)), containers: [st.container] };
  },

  write(j, s, out) {
    const k = s.kernels;
    for (const item of j.part as Item[]) {
      const sink = out.sink(item.at);
      if (item.kind === 'floats') {
        s.floats(item.weight.tensor, 'BF16', (bytes) => sink.write(bytes));
        continue;
      }
      const scales = packBitnetRsRows(s, item.parts, 'BF16', (words, count) => sink.write(k.u8(words, count * 4)));
      const bits = new Uint16Array(scales.length);
      for (let i = 0; i < scales.length; i++) bits[i] = f32ToBf16(scales[i]); // exact: already bf16 values
      out.sink(item.scalesAt).write(new Uint8Array(bits.buffer));
    }
  },

  finish(model, o, input) {
    const raw = model.config.raw;
    const config = {
      ...raw,
      // ModelConfig (bitnet-core) requires these; a 1bitLLM config may leave num_key_value_heads out.
      num_key_value_heads: model.config.numKvHeads,
      rms_norm_eps: model.config.rmsNormEps,
      max_position_embeddings: model.config.maxPositionEmbeddings,
      bitnet_packed: true,
      bitnet_layout: {
        format: 'bitnet-rs-safetensors',
        converter: `bitnet-converter ${VERSION}`,
        packing: '16 ternary values per u32, value i at bits 2i..2i+1: +1 = 01, -1 = 10, 0 = 00; each row starts on a new word',
        scales: 'weight_scale: one BF16 per row, multiplied; ' + describeRule(o.granularity, o.rule),
        sub_norms: model.hasSubNorms ? 'layers.{i}.attention.attn_sub_norm.weight, layers.{i}.feed_forward.ffn_sub_norm.weight' : 'none in the source',
        lm_head_tied: model.outputTied,
      },
    };
    return [{ name: 'config.json', bytes: jsonBytes(config) }, ...copySideFiles(input)];
  },

  describe() {
    return {};
  },
};

// The single model.safetensors the bitnet.rs engine loads at its current HEAD (docs/formats.md section 4b;
// VerifiedAnon/bitnet.rs packer.rs export_quantized_to_safetensors and the loader in bitnet-core's
// model.rs): U32 packed rows [rows, ceil(in/16)] with a BF16 scale per row, BF16 embedding and norms
// ([1, n]), laid out as the safetensors crate writes (U32 first, then BF16, each by name: every tensor
// aligned to its element size, which the loader's casts need), no __metadata__.
// What we do differently from the engine's own writer (all documented in the README): the per-projection
// reference scales (repeated per row) instead of per-row means; rows padded to whole words (its writer
// needs in % 16 == 0); the sub-norms kept as layers.{i}.attention.attn_sub_norm.weight and
// layers.{i}.feed_forward.ffn_sub_norm.weight (its loader does not read them yet).

import { jsonBytes } from '../../formats/json-text.js';
import type { FloatWeight, LinearRole, ModelPlan, NormRole, TernaryWeight } from '../../model/plan.js';
import { isLinearRole, roleShapes, ternaryShape } from '../../model/plan.js';
import { configOf, exactly, type ExpectedTensor } from '../expected.js';
import { f32ToBf16 } from '../../quant/floats.js';
import { describeRule } from '../../quant/rule.js';
import { VERSION } from '../../version.js';
import { floatEntry, planContainer, writeFloatEntry, type Entry, type FloatEntry, type Placed } from '../safetensors-container.js';
import { copySideFiles } from '../side-files.js';
import type { OutputFormat } from '../types.js';
import { packBitnetRsRows, wordsPerRow } from './packing.js';
import { PACKINGS, anyCode } from '../../kernels/packings.js';
import { readAll, storedRows, tensorsWithScales } from '../read-helpers.js';
import { ENGINE_NAMES, blockTensorName } from '../tensor-names.js';

const FILE = 'model.safetensors';

/** Stacked projections as U32 rows + a BF16 scale per row. */
type LinearEntry = Entry & { kind: 'linear'; weights: TernaryWeight[] };

function linear(name: string, ...parts: TernaryWeight[]): LinearEntry {
  const rows = parts.reduce((n, p) => n + ternaryShape(p).rows, 0);
  const cols = ternaryShape(parts[0]).cols;
  return {
    kind: 'linear',
    tensors: [
      { name, dtype: 'U32', shape: [rows, wordsPerRow(cols)] },
      { name: name + '_scale', dtype: 'BF16', shape: [rows] },
    ],
    weights: parts,
  };
}

const bf16 = (name: string, w: FloatWeight | undefined): FloatEntry[] => (w ? [floatEntry(name, w, 'BF16', w.tensor.shape)] : []);

/** Every tensor of the file, by the engine's names, grouped into jobs (embedding, head, final norm, one per block). */
function entryGroups(model: ModelPlan): (LinearEntry | FloatEntry)[][] {
  const n = ENGINE_NAMES.model;
  return [
    bf16(n.token_embd!, model.tokenEmbd),
    [linear(n.output!, model.output)],
    bf16(n.output_norm!, model.outputNorm),
    ...model.blocks.map((b) =>
      Object.entries(ENGINE_NAMES.block).flatMap(([suffix, roles]): (LinearEntry | FloatEntry)[] => {
        const name = blockTensorName(ENGINE_NAMES, b.index, suffix);
        return roles.every(isLinearRole) ? [linear(name, ...roles.map((r) => b[r as LinearRole]))] : bf16(name, b[roles[0] as NormRole]);
      }),
    ),
  ];
}

export const bitnetRsSafetensors: OutputFormat<Placed<LinearEntry | FloatEntry>[]> = {
  id: 'bitnet-rs-safetensors',
  about: 'one model.safetensors as the bitnet.rs engine loads it at its current HEAD (U32 packed rows + BF16 scales)',
  options: [],

  plan(model, o) {
    return planContainer('bitnet-rs-safetensors', FILE, entryGroups(model), 'writer', o);
  },

  write(j, s, out) {
    const k = s.kernels;
    for (const e of j.part) {
      if (e.kind === 'floats') {
        writeFloatEntry(s, out, e);
        continue;
      }
      const sink = out.sink(e.at[0]);
      const scales = packBitnetRsRows(s, e.weights, 'BF16', (words, count) => sink.write(k.u8(words, count * 4)));
      const bits = new Uint16Array(scales.length);
      for (let i = 0; i < scales.length; i++) bits[i] = f32ToBf16(scales[i]); // exact: already bf16 values
      out.sink(e.at[1]).write(new Uint8Array(bits.buffer));
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

  read(folder) {
    return readAll(bitnetRsSafetensors.tensors(folder));
  },

  expected(folder) {
    // entryGroups' names and shapes: U32 [rows, words], BF16 norms [1, n]; the sub-norms only when the source had them
    const c = configOf(folder);
    const { linear, norm } = roleShapes(c);
    const packed = (rows: number, cols: number) => exactly(FILE, rows, wordsPerRow(cols));
    const tensors = new Map<string, ExpectedTensor>([
      ['tok_embeddings.weight', exactly(FILE, c.vocabSize, c.hiddenSize)],
      ['output.weight', packed(c.vocabSize, c.hiddenSize)],
      ['norm.weight', exactly(FILE, 1, c.hiddenSize)],
    ]);
    for (let i = 0; i < c.numLayers; i++) {
      const p = `layers.${i}.`;
      tensors.set(p + 'attention.wqkv.weight', packed(linear.attn_q[0] + linear.attn_k[0] + linear.attn_v[0], c.hiddenSize));
      tensors.set(p + 'attention.wo.weight', packed(...linear.attn_o));
      tensors.set(p + 'feed_forward.w13.weight', packed(linear.ffn_gate[0] + linear.ffn_up[0], c.hiddenSize));
      tensors.set(p + 'feed_forward.w2.weight', packed(...linear.ffn_down));
      tensors.set(p + 'attention_norm.weight', exactly(FILE, 1, norm.attn_norm));
      tensors.set(p + 'ffn_norm.weight', exactly(FILE, 1, norm.ffn_norm));
      tensors.set(p + 'attention.attn_sub_norm.weight', { ...exactly(FILE, 1, norm.attn_sub_norm), optional: true });
      tensors.set(p + 'feed_forward.ffn_sub_norm.weight', { ...exactly(FILE, 1, norm.ffn_sub_norm), optional: true });
    }
    return { from: 'config.json', tensors };
  },

  tensors(folder, only) {
    // the loader's view: in_features = words per row * 16
    return tensorsWithScales(folder, FILE, ENGINE_NAMES, only, (t) => t.dtype === 'U32', (t) => t.storedShape[0], (info, rowScales, bytes) => {
      const [rows, words] = info.storedShape;
      const cols = words * 16;
      return storedRows({
        rows,
        cols,
        rowScales,
        bytesOf: (row, count, into) => bytes(row * words * 4, count * words * 4, into),
        unpack: (data, row, count) => PACKINGS['bitnet-rs'].unpack(data, count, cols, { file: FILE, tensor: info.name, row0: row, tensorRows: rows }),
        bad: (data) => anyCode(data, 3),
      });
    });
  },
};

// bitnet-rs per-block bincode files (docs/formats.md section 4): embedding.bin, norm.bin, lm_head.bin,
// block_<i>.bin, metadata.bin. One job per file: varint sizes are only known once written.

import { BincodeWriter, type BincodeFlavor } from '../../formats/bincode.js';
import { jsonBytes } from '../../formats/json-text.js';
import type { BlockPlan, FloatWeight, ModelPlan, TernaryWeight, Weight } from '../../model/plan.js';
import { ternaryShape } from '../../model/plan.js';
import type { ByteSink } from '../../stream/ports.js';
import { readCost, type StreamOptions, type WeightStream } from '../../stream/weights.js';
import { VERSION } from '../../version.js';
import { describeRule } from '../../quant/rule.js';
import type { FormatOption, FormatOptions, Job, OutputFormat, OwnOptions, SmallFile } from '../types.js';
import { encode, writeMetadata } from './records.js';
import { bitnetRsTensors } from './read.js';
import { jsonFile, readAll } from '../read-helpers.js';
import { packBitnetRsRows, wordsPerRow } from './packing.js';

/** One record field: a BitLinearRecord of stacked projections, or a weight+shape record of a float tensor. */
type Field = { kind: 'linear'; parts: TernaryWeight[] } | { kind: 'floats'; weight: FloatWeight };

/**
 * The record of each file as data, in wire order: TransformerBlockRecord { attention { wqkv, o_proj },
 * feed_forward { w13, w2 }, attention_norm, ffn_norm } and the two sub-norms appended after the seed's
 * four fields (a decoder of the seed's struct ignores trailing bytes). A model without sub-norms gets
 * exactly the seed's record.
 */
function blockFields(b: BlockPlan): Field[] {
  const linear = (...parts: TernaryWeight[]): Field => ({ kind: 'linear', parts });
  const floats = (weight: FloatWeight | undefined): Field[] => (weight ? [{ kind: 'floats', weight }] : []);
  return [
    linear(b.attn_q, b.attn_k, b.attn_v),
    linear(b.attn_o),
    linear(b.ffn_gate, b.ffn_up),
    linear(b.ffn_down),
    ...floats(b.attn_norm),
    ...floats(b.ffn_norm),
    ...floats(b.attn_sub_norm),
    ...floats(b.ffn_sub_norm),
  ];
}

export interface Part {
  fields: Field[];
}

function job(file: string, fields: Field[], o: StreamOptions): Job<Part> {
  const weights: Weight[] = fields.flatMap((f): Weight[] => (f.kind === 'linear' ? f.parts : [f.weight]));
  return {
    format: 'bitnet-rs',
    file,
    cost: { bytes: weights.reduce((s, w) => s + readCost(w, o), 0), tensors: weights.length },
    part: { fields },
  };
}

/** The format's own option: the bincode flavor (docs/formats.md 3). */
const OPTIONS = [
  {
    key: 'bincode',
    values: ['standard', 'legacy'],
    default: 'standard',
    help: 'serializer: bincode 2 config::standard() (varint) or bincode 1 / legacy() (fixed-width)',
    label: 'Bincode',
  },
] as const satisfies readonly FormatOption[];

export const bitnetRs: OutputFormat<Part, OwnOptions<typeof OPTIONS>> = {
  id: 'bitnet-rs',
  about: 'bitnet-rs per-block bincode files (embedding.bin, block_<i>.bin, lm_head.bin, norm.bin, metadata.bin)',
  options: OPTIONS,

  plan(model, o) {
    const jobs = [
      job('embedding.bin', [{ kind: 'floats', weight: model.tokenEmbd }], o),
      job('lm_head.bin', [{ kind: 'linear', parts: [model.output] }], o),
      job('norm.bin', [{ kind: 'floats', weight: model.outputNorm }], o),
      ...model.blocks.map((b) => job(`block_${b.index}.bin`, blockFields(b), o)),
    ];
    return { jobs, containers: [] };
  },

  write(j, stream, out, o) {
    const sink = out.sink();
    for (const f of j.part.fields) {
      if (f.kind === 'linear') writeBitLinear(stream, sink, f.parts, o.bincode);
      else writeWeightShape(stream, sink, f.weight, o.bincode);
    }
  },

  finish(model, o): SmallFile[] {
    const metadata = {
      numLayers: model.config.numLayers,
      vocabSize: model.config.vocabSize,
      hiddenSize: model.config.hiddenSize,
      conversionTimestamp: o.timestamp,
    };
    return [
      { name: 'metadata.bin', bytes: encode(writeMetadata, metadata, o.bincode) },
      { name: 'config.json', bytes: jsonBytes(outputConfig(model, o)) },
    ];
  },

  describe() {
    return {};
  },

  read(folder) {
    return readAll(bitnetRs.tensors(folder));
  },

  tensors(folder, only) {
    const manifest = jsonFile<{ options?: { bincode?: BincodeFlavor } }>(folder, 'manifest.json');
    return bitnetRsTensors(folder, manifest.options?.bincode ?? 'standard', only);
  },
};

function small(sink: ByteSink, flavor: BincodeFlavor, fill: (w: BincodeWriter) => void): void {
  const w = new BincodeWriter(flavor, 64);
  fill(w);
  sink.write(w.bytes());
}

/** A BitLinearRecord streamed: packed_weights (rows stacked), weight_scales (f32 per row), in_features, out_features. */
function writeBitLinear(s: WeightStream, sink: ByteSink, parts: TernaryWeight[], flavor: BincodeFlavor): void {
  const cols = ternaryShape(parts[0]).cols;
  const outFeatures = parts.reduce((n, p) => n + ternaryShape(p).rows, 0);
  const k = s.kernels;
  small(sink, flavor, (w) => w.usize(outFeatures * wordsPerRow(cols)));
  // packed u32 words: varints in standard (at most 5 bytes a word), raw little-endian u32 in legacy
  const scales = packBitnetRsRows(
    s,
    parts,
    'F32',
    (words, count, varints) => sink.write(flavor === 'legacy' ? k.u8(words, count * 4) : k.u8(varints, k.exports.varintEncodeU32(words, count, varints))),
    flavor === 'legacy' ? 0 : wordsPerRow(cols) * 5,
  );
  small(sink, flavor, (w) => w.vecF32(scales).usize(cols).usize(outFeatures));
}

/** RmsNormRecord / EmbeddingRecord: the weights widened to f32, then the (promoted) shape. */
function writeWeightShape(s: WeightStream, sink: ByteSink, w: FloatWeight, flavor: BincodeFlavor): void {
  small(sink, flavor, (b) => b.usize(w.tensor.elements));
  s.floats(w.tensor, 'F32', (bytes) => sink.write(bytes));
  small(sink, flavor, (b) => b.vecUsize(w.tensor.shape));
}

/** The input config, marked as packed, with a description of the files for loaders. */
function outputConfig(model: ModelPlan, o: FormatOptions<{ bincode: BincodeFlavor }>): Record<string, unknown> {
  return {
    ...model.config.raw,
    bitnet_packed: true,
    bitnet_layout: {
      format: 'bitnet-rs',
      converter: `bitnet-converter ${VERSION}`,
      bincode: o.bincode === 'standard' ? 'bincode 2 config::standard() (varint integers)' : 'bincode 1 / config::legacy() (fixed-width integers)',
      files: {
        'embedding.bin': 'EmbeddingRecord { weight: Vec<f32>, shape: [vocab_size, hidden_size] }',
        'norm.bin': 'RmsNormRecord { weight: Vec<f32>, shape: [1, hidden_size] }',
        'lm_head.bin': 'BitLinearRecord',
        'block_<i>.bin': model.hasSubNorms
          ? 'TransformerBlockRecord { attention { wqkv = q|k|v, o_proj }, feed_forward { w13 = gate|up, w2 = down }, attention_norm, ffn_norm, attn_sub_norm, ffn_sub_norm }'
          : 'TransformerBlockRecord { attention { wqkv = q|k|v, o_proj }, feed_forward { w13 = gate|up, w2 = down }, attention_norm, ffn_norm }',
        'metadata.bin': 'ModelMetadata { num_layers, vocab_size, hidden_size, conversion_timestamp }',
      },
      packing: '16 ternary values per u32, value i at bits 2i..2i+1: +1 = 01, -1 = 10, 0 = 00; each row starts on a new word',
      scale_granularity: o.granularity === 'projection' ? 'per projection (q, k, v, o, gate, up, down), repeated per row' : 'per row (seed scheme, not the reference rule)',
      rule: describeRule(o.granularity, o.rule),
      lm_head_tied: model.outputTied,
      lm_head: model.outputTied ? 'the embedding ternarized with the same rule' : 'lm_head.weight ternarized',
    },
  };
}

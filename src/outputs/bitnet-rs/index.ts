// bitnet-rs per-block bincode files (docs/formats.md section 4): embedding.bin, norm.bin, lm_head.bin,
// block_<i>.bin, metadata.bin. One job per file: varint sizes are only known once written.

import type { BincodeFlavor } from '../../formats/bincode.js';
import { jsonBytes } from '../../formats/json-text.js';
import type { BlockPlan, BlockRole, FloatWeight, LinearRole, ModelPlan, NormRole, TernaryWeight, Weight } from '../../model/plan.js';
import { isLinearRole, roleShapes, ternaryShape } from '../../model/plan.js';
import { configOf, exactly, type ExpectedTensor } from '../expected.js';
import { readCost, type StreamOptions, type WeightStream } from '../../stream/weights.js';
import { VERSION } from '../../version.js';
import { describeRule } from '../../quant/rule.js';
import type { FormatOption, FormatOptions, Job, OutputFormat, OwnOptions, SmallFile } from '../types.js';
import {
  BIT_LINEAR,
  BLOCK,
  BLOCK_RECORD_ROLES,
  MODEL_FILES,
  encode,
  isTensorRecord,
  StreamedVec,
  tensorPaths,
  WEIGHT_SHAPE,
  writeMetadata,
  writeStreamed,
  type BitLinearRecord,
  type RmsNormRecord,
  type Struct,
  type Values,
} from './records.js';
import { bitnetRsTensors } from './read.js';
import { readAll } from '../read-helpers.js';
import { packBitnetRsRows, wordsPerRow } from './packing.js';

/** Where a tensor record's values come from: stacked projections (a BitLinearRecord) or a float tensor (a weight+shape record). */
type Source = { kind: 'linear'; parts: TernaryWeight[] } | { kind: 'floats'; weight: FloatWeight };

const linear = (...parts: TernaryWeight[]): Source => ({ kind: 'linear', parts });
const floats = (weight: FloatWeight | undefined): Source | undefined => (weight ? { kind: 'floats', weight } : undefined);

/**
 * What a tensor record of a block holds (BLOCK_RECORD_ROLES): projections stacked, or a norm. A model
 * without sub-norms has none, and gets exactly the seed's record.
 */
function blockSource(b: BlockPlan, roles: readonly BlockRole[]): Source | undefined {
  return roles.every(isLinearRole) ? linear(...roles.map((r) => b[r as LinearRole])) : floats(b[roles[0] as NormRole]);
}

/** A file's record and the source of each of its tensor records by path ('' for a file that is one). */
export interface Part {
  record: string;
  sources: Record<string, Source | undefined>;
}

/** The records of the files the workers write. */
const RECORDS: Record<string, Struct> = Object.fromEntries([BIT_LINEAR, WEIGHT_SHAPE, BLOCK].map((s) => [s.name, s]));

function job(file: string, record: Struct, sources: Part['sources'], o: StreamOptions): Job<Part> {
  const weights = Object.values(sources).flatMap((f): Weight[] => (!f ? [] : f.kind === 'linear' ? f.parts : [f.weight]));
  return {
    format: 'bitnet-rs',
    file,
    cost: { bytes: weights.reduce((s, w) => s + readCost(w, o), 0), tensors: weights.length },
    part: { record: record.name, sources },
  };
}

function blockSources(b: BlockPlan): Part['sources'] {
  const paths = tensorPaths(BLOCK);
  const missing = paths.filter((p) => !Object.hasOwn(BLOCK_RECORD_ROLES, p));
  if (missing.length) throw new Error(`bitnet-rs: no source for the block's ${missing.join(', ')}`);
  return Object.fromEntries(paths.map((p) => [p, blockSource(b, BLOCK_RECORD_ROLES[p])]));
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
      job(MODEL_FILES.token_embd, WEIGHT_SHAPE, { '': floats(model.tokenEmbd) }, o),
      job(MODEL_FILES.output, BIT_LINEAR, { '': linear(model.output) }, o),
      job(MODEL_FILES.output_norm, WEIGHT_SHAPE, { '': floats(model.outputNorm) }, o),
      ...model.blocks.map((b) => job(`block_${b.index}.bin`, BLOCK, blockSources(b), o)),
    ];
    return { jobs, containers: [] };
  },

  write(j, stream, out, o) {
    const { record, sources } = j.part;
    writeStreamed(out.sink(), o.bincode, RECORDS[record], streamedValues(stream, RECORDS[record], sources, o.bincode) ?? {});
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
    return bitnetRsTensors(folder, only);
  },

  expected(folder) {
    // the records plan() writes, by the reader's names (<file>:<path>): BitLinearRecord [out, words of in], norms [1, n]
    const c = configOf(folder);
    const { linear, norm } = roleShapes(c);
    const packed = (file: string, rows: number, cols: number) => exactly(file, rows, wordsPerRow(cols));
    const tensors = new Map<string, ExpectedTensor>([
      ['embedding.bin:weight', exactly('embedding.bin', c.vocabSize, c.hiddenSize)],
      ['norm.bin:weight', exactly('norm.bin', 1, c.hiddenSize)],
      ['lm_head.bin:weight', packed('lm_head.bin', c.vocabSize, c.hiddenSize)],
    ]);
    for (let i = 0; i < c.numLayers; i++) {
      const f = `block_${i}.bin`;
      tensors.set(`${f}:attention.wqkv`, packed(f, linear.attn_q[0] + linear.attn_k[0] + linear.attn_v[0], c.hiddenSize));
      tensors.set(`${f}:attention.o_proj`, packed(f, ...linear.attn_o));
      tensors.set(`${f}:feed_forward.w13`, packed(f, linear.ffn_gate[0] + linear.ffn_up[0], c.hiddenSize));
      tensors.set(`${f}:feed_forward.w2`, packed(f, ...linear.ffn_down));
      tensors.set(`${f}:attention_norm`, exactly(f, 1, norm.attn_norm));
      tensors.set(`${f}:ffn_norm`, exactly(f, 1, norm.ffn_norm));
      tensors.set(`${f}:attn_sub_norm`, { ...exactly(f, 1, norm.attn_sub_norm), optional: true });
      tensors.set(`${f}:ffn_sub_norm`, { ...exactly(f, 1, norm.ffn_sub_norm), optional: true });
    }
    return { from: 'config.json', tensors };
  },
};

/** A record's values for writeStreamed, walked in its shape: the large Vecs of its tensor records streamed from their sources. */
function streamedValues(s: WeightStream, record: Struct, sources: Part['sources'], flavor: BincodeFlavor, path = ''): Values | undefined {
  if (isTensorRecord(record)) {
    const source = sources[path];
    return !source ? undefined : source.kind === 'linear' ? bitLinearValues(s, source.parts, flavor) : weightShapeValues(s, source.weight);
  }
  return Object.fromEntries(record.fields.map((f) => [f.key, streamedValues(s, f.type as Struct, sources, flavor, path ? `${path}.${f.name}` : f.name)]));
}

/** A BitLinearRecord's values: the rows stacked and packed as they stream, the scales known after them. */
function bitLinearValues(s: WeightStream, parts: TernaryWeight[], flavor: BincodeFlavor): Values {
  const cols = ternaryShape(parts[0]).cols;
  const outFeatures = parts.reduce((n, p) => n + ternaryShape(p).rows, 0);
  const k = s.kernels;
  let scales: Float32Array | undefined;
  return {
    // packed u32 words: varints in standard (at most 5 bytes a word), raw little-endian u32 in legacy
    packedWeights: new StreamedVec(outFeatures * wordsPerRow(cols), (sink) => {
      scales = packBitnetRsRows(
        s,
        parts,
        'F32',
        (words, count, varints) => sink.write(flavor === 'legacy' ? k.u8(words, count * 4) : k.u8(varints, k.exports.varintEncodeU32(words, count, varints))),
        flavor === 'legacy' ? 0 : wordsPerRow(cols) * 5,
      );
    }),
    weightScales: () => scales,
    inFeatures: cols,
    outFeatures,
  } satisfies Record<keyof BitLinearRecord, unknown>;
}

/** RmsNormRecord / EmbeddingRecord: the weights widened to f32, then the (promoted) shape. */
function weightShapeValues(s: WeightStream, w: FloatWeight): Values {
  return {
    weight: new StreamedVec(w.tensor.elements, (sink) => s.floats(w.tensor, 'F32', (bytes) => sink.write(bytes))),
    shape: w.tensor.shape,
  } satisfies Record<keyof RmsNormRecord, unknown>;
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

// The descriptive files of an output folder: config.json (the input config, marked as packed,
// with a description of the files for loaders) and manifest.json (what was written, how, from what).

import type { ModelPlan } from '../model/layout.js';
import { VERSION } from '../version.js';
import type { PartOptions } from './parts.js';
import type { QuantRule } from '../quant/rule.js';

const RULE_DESCRIPTION: Record<QuantRule, string> = {
  offline: 'absmean, offline (microsoft/BitNet quant_weight_int8, torch >= 2.1, in the weights\' dtype)',
  online: 'absmean, online (transformers WeightQuant, f32 arithmetic)',
};

export interface OutputFile {
  name: string;
  bytes: number;
  sha256: string;
}

export interface SourceDescription {
  /** The input folder's name (not its path, so the manifest does not depend on where it was). */
  folder: string;
  /** config.json, the index and the weight files, relative to the input folder. */
  files: string[];
  /** Size of the safetensors files. */
  bytes: number;
}

export function manifestOf(plan: ModelPlan, o: PartOptions, timestamp: number, files: OutputFile[], source: SourceDescription) {
  return {
    converter: { name: 'bitnet-converter', version: VERSION },
    format: 'bitnet-rs',
    conversion_timestamp: timestamp,
    options: { bincode: o.bincode, scale_granularity: o.granularity, rule: o.rule },
    source: { folder: source.folder, files: source.files.map((name) => ({ name })), bytes: source.bytes },
    lm_head: plan.lmHead.tied ? 'tied: model.embed_tokens.weight ternarized with the reference rule' : 'lm_head.weight',
    files,
  };
}

/** The input config, marked as packed, with a description of the files for loaders. */
export function outputConfig(plan: ModelPlan, o: PartOptions): Record<string, unknown> {
  return {
    ...plan.config.raw,
    bitnet_packed: true,
    bitnet_layout: {
      format: 'bitnet-rs',
      converter: `bitnet-converter ${VERSION}`,
      bincode: o.bincode === 'standard' ? 'bincode 2 config::standard() (varint integers)' : 'bincode 1 / config::legacy() (fixed-width integers)',
      files: {
        'embedding.bin': 'EmbeddingRecord { weight: Vec<f32>, shape: [vocab_size, hidden_size] }',
        'norm.bin': 'RmsNormRecord { weight: Vec<f32>, shape: [1, hidden_size] }',
        'lm_head.bin': 'BitLinearRecord',
        'block_<i>.bin': 'TransformerBlockRecord { attention { wqkv = q|k|v, o_proj }, feed_forward { w13 = gate|up, w2 = down }, attention_norm, ffn_norm, attn_sub_norm, ffn_sub_norm }',
        'metadata.bin': 'ModelMetadata { num_layers, vocab_size, hidden_size, conversion_timestamp }',
      },
      packing: '16 ternary values per u32, value i at bits 2i..2i+1: +1 = 01, -1 = 10, 0 = 00; each row starts on a new word',
      scale_granularity: o.granularity === 'projection' ? 'per projection (q, k, v, o, gate, up, down), repeated per row' : 'per row (seed scheme, not the reference rule)',
      rule: o.granularity === 'row' ? 'seed per-row mean|row| in f32' : RULE_DESCRIPTION[o.rule],
      lm_head_tied: plan.lmHead.tied,
      lm_head: plan.lmHead.tied ? 'the embedding ternarized with the same rule' : 'lm_head.weight ternarized',
    },
  };
}

// Maps the tensors of a BitNetForCausalLM checkpoint onto the bitnet-rs records and checks
// every name, dtype and shape against config.json before any output is written.

import type { TensorInfo } from '../formats/safetensors.js';
import { InvalidConfigError, InvalidShapeError, MissingTensorError, UnsupportedError } from '../errors.js';
import type { ModelConfig } from './config.js';

/** A BitLinear record made of one or more projections stacked by rows (q|k|v, gate|up). */
export interface LinearPlan {
  parts: TensorInfo[];
  inFeatures: number;
  outFeatures: number;
}

export interface BlockPlan {
  index: number;
  wqkv: LinearPlan;
  oProj: LinearPlan;
  w13: LinearPlan;
  w2: LinearPlan;
  attentionNorm: TensorInfo;
  ffnNorm: TensorInfo;
  attnSubNorm: TensorInfo;
  ffnSubNorm: TensorInfo;
}

export interface ModelPlan {
  config: ModelConfig;
  embedding: TensorInfo;
  norm: TensorInfo;
  /** `tied`: no lm_head.weight, the head is the embedding ternarized with the same rule. */
  lmHead: { tensor: TensorInfo; tied: boolean };
  blocks: BlockPlan[];
  /** Tensors the layout does not use (reported as a warning). */
  unusedTensors: string[];
}

const FLOAT_DTYPES: readonly string[] = ['BF16', 'F16', 'F32'];

/** Alternative spellings, first match wins (1bitLLM checkpoints name the sub-norms differently). */
const SUB_NORM_NAMES = {
  attn: ['self_attn.attn_sub_norm.weight', 'self_attn.inner_attn_ln.weight'],
  ffn: ['mlp.ffn_sub_norm.weight', 'mlp.ffn_layernorm.weight'],
};

/** Tensors that carry no weights the engine needs. */
const IGNORED = /(^|\.)rotary_emb\.inv_freq$/;

export function planModel(config: ModelConfig, tensors: Map<string, TensorInfo>, searched: string[]): ModelPlan {
  const used = new Set<string>();
  const take = (names: string | string[], rows: number, cols: number): TensorInfo => {
    const candidates = Array.isArray(names) ? names : [names];
    const name = candidates.find((n) => tensors.has(n));
    if (name === undefined) throw new MissingTensorError(candidates[0], searched);
    const t = tensors.get(name)!;
    used.add(name);
    if (!FLOAT_DTYPES.includes(t.dtype)) {
      const hint = t.dtype === 'U8' ? ' (a pre-packed checkpoint; convert the -bf16 master weights instead)' : '';
      throw new UnsupportedError({ file: t.file, tensor: name }, 'dtype BF16, F16 or F32', `${t.dtype}${hint}`);
    }
    if (t.shape[0] !== rows || t.shape[1] !== cols) {
      throw new InvalidShapeError({ file: t.file, tensor: name }, `[${rows}, ${cols}] from config.json`, `[${t.storedShape.join(', ')}]`);
    }
    return t;
  };
  const { hiddenSize: h, intermediateSize: ffn, vocabSize: vocab, headDim } = config;
  const qRows = config.numHeads * headDim;
  const kvRows = config.numKvHeads * headDim;
  const linear = (parts: TensorInfo[], inFeatures: number): LinearPlan => ({
    parts,
    inFeatures,
    outFeatures: parts.reduce((sum, p) => sum + p.shape[0], 0),
  });

  checkLayerCount(config, tensors);
  const blocks: BlockPlan[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}.`;
    const prefixed = (names: string[]) => names.map((n) => p + n);
    blocks.push({
      index: i,
      wqkv: linear(
        [take(p + 'self_attn.q_proj.weight', qRows, h), take(p + 'self_attn.k_proj.weight', kvRows, h), take(p + 'self_attn.v_proj.weight', kvRows, h)],
        h,
      ),
      oProj: linear([take(p + 'self_attn.o_proj.weight', h, qRows)], qRows),
      w13: linear([take(p + 'mlp.gate_proj.weight', ffn, h), take(p + 'mlp.up_proj.weight', ffn, h)], h),
      w2: linear([take(p + 'mlp.down_proj.weight', h, ffn)], ffn),
      attentionNorm: take(p + 'input_layernorm.weight', 1, h),
      ffnNorm: take(p + 'post_attention_layernorm.weight', 1, h),
      attnSubNorm: take(prefixed(SUB_NORM_NAMES.attn), 1, h),
      ffnSubNorm: take(prefixed(SUB_NORM_NAMES.ffn), 1, ffn),
    });
  }
  const embedding = take('model.embed_tokens.weight', vocab, h);
  const norm = take('model.norm.weight', 1, h);
  // As transformers does: a tied model uses the embedding as its head (an lm_head.weight in the
  // checkpoint is then left unused and listed in the warning); an untied one needs lm_head.weight.
  const lmHead = config.tieWordEmbeddings ? { tensor: embedding, tied: true } : { tensor: take('lm_head.weight', vocab, h), tied: false };
  const unusedTensors = [...tensors.keys()].filter((n) => !used.has(n) && !IGNORED.test(n));
  return { config, embedding, norm, lmHead, blocks, unusedTensors };
}

/** Layers beyond num_hidden_layers mean config.json and the weights disagree. */
function checkLayerCount(config: ModelConfig, tensors: Map<string, TensorInfo>): void {
  let highest = -1;
  let example = '';
  for (const name of tensors.keys()) {
    const m = /^model\.layers\.(\d+)\./.exec(name);
    if (m && Number(m[1]) > highest) {
      highest = Number(m[1]);
      example = name;
    }
  }
  if (highest >= config.numLayers) {
    const file = tensors.get(example)!.file;
    throw new InvalidConfigError(
      { file, tensor: example },
      `num_hidden_layers (${config.numLayers}) to cover every layer in the checkpoint`,
      `tensors for layer ${highest}`,
    );
  }
}

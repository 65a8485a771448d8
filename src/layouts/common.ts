// The planning every layout shares: find each role's tensor by its spellings, check dtype and shape
// against config.json, and build the format-neutral plan. A layout file only states its family's
// differences (which dtypes its projections have, whether sub-norms exist, its hidden_act default).

import type { TensorInfo } from '../formats/safetensors.js';
import { InvalidConfigError, InvalidShapeError, MissingTensorError, UnsupportedError } from '../errors.js';
import {
  BLOCK_ROLES, LINEAR_ROLES, SUB_NORM_ROLES, roleShapes,
  type BlockPlan, type BlockRole, type FloatTensor, type FloatWeight, type LinearRole, type ModelPlan, type ScaleConvention, type TernaryWeight,
} from '../model/plan.js';

import { BLOCK_NAMES, IGNORED, MODEL_NAMES, blockPrefix, scaleNameOf } from './names.js';
import type { CheckpointView } from './types.js';

const FLOAT_DTYPES: readonly string[] = ['BF16', 'F16', 'F32'];

export interface FamilyRules {
  id: string;
  /** How the projections are stored: float master weights, or HF U8 codes + weight_scale with a convention. */
  projections: { kind: 'master' } | { kind: 'packed'; convention: ScaleConvention };
  /** Whether blocks carry attn_sub_norm / ffn_sub_norm (BitNet b1.58) or not (Llama-style). */
  subNorms: boolean;
  /** hidden_act when config.json has none (transformers' default for the family's config class). */
  defaultAct: string;
  /** What to tell a user whose projections have the other storage. */
  otherStorageHint: string;
}

/** The architecture named first in config.json, for matching and messages. */
export function architectureOf(c: CheckpointView): string {
  return c.config.architecture;
}

/** The dtype of layer 0's q projection (how a family stores its projections), if present. */
export function projectionDtype(c: CheckpointView): string | undefined {
  return c.tensors.get(blockPrefix(0) + BLOCK_NAMES.attn_q[0])?.dtype;
}

export function planFamily(rules: FamilyRules, c: CheckpointView): ModelPlan {
  const { config, tensors, files } = c;
  const used = new Set<string>();
  const find = (names: readonly string[], prefix = ''): TensorInfo | undefined => {
    const name = names.map((n) => prefix + n).find((n) => tensors.has(n));
    if (name === undefined) return undefined;
    used.add(name);
    return tensors.get(name)!;
  };
  const need = (names: readonly string[], prefix = ''): TensorInfo => {
    const t = find(names, prefix);
    if (!t) throw new MissingTensorError(prefix + names[0], files);
    return t;
  };
  const checkShape = (t: TensorInfo, rows: number, cols: number): void => {
    if (t.shape[0] !== rows || t.shape[1] !== cols) {
      throw new InvalidShapeError({ file: t.file, tensor: t.name }, `[${rows}, ${cols}] from config.json`, `[${t.storedShape.join(', ')}]`);
    }
  };
  const floatTensor = (t: TensorInfo, rows: number, cols: number, what = 'dtype BF16, F16 or F32'): FloatTensor => {
    if (!FLOAT_DTYPES.includes(t.dtype)) {
      const hint = t.dtype === 'U8' ? ` (${rules.otherStorageHint})` : '';
      throw new UnsupportedError({ file: t.file, tensor: t.name }, what, `${t.dtype}${hint}`);
    }
    checkShape(t, rows, cols);
    return t as FloatTensor;
  };
  const float = (t: TensorInfo, rows: number, cols: number): FloatWeight => ({ kind: 'float', tensor: floatTensor(t, rows, cols) });
  const master = (t: TensorInfo, rows: number, cols: number): TernaryWeight => ({ kind: 'master', tensor: floatTensor(t, rows, cols) });
  const projection = (t: TensorInfo, rows: number, cols: number): TernaryWeight => {
    const p = rules.projections;
    if (p.kind === 'master') return master(t, rows, cols);
    if (t.dtype !== 'U8') {
      throw new UnsupportedError({ file: t.file, tensor: t.name }, 'dtype U8 (packed ternary codes, as quantization_config says)', `${t.dtype} (${rules.otherStorageHint})`);
    }
    if (rows % 4 !== 0) {
      throw new InvalidConfigError({ file: c.configPath, tensor: t.name }, 'a row count divisible by 4 for the packed U8 layout', `${rows} rows from config.json`);
    }
    checkShape(t, rows / 4, cols);
    const scale = need([scaleNameOf(t.name)]);
    if (!FLOAT_DTYPES.includes(scale.dtype) || scale.elements !== 1) {
      throw new UnsupportedError({ file: scale.file, tensor: scale.name }, 'one BF16, F16 or F32 value (the projection\'s scale)', `${scale.dtype} [${scale.storedShape.join(', ')}]`);
    }
    return { kind: 'packed', tensor: t, packing: 'hf-u8', rows, cols, scale: scale as FloatTensor, convention: p.convention };
  };

  const { hiddenSize: h, vocabSize: vocab } = config;
  const { linear: linearShape, norm: normLength } = roleShapes(config);
  const isLinear = (r: BlockRole): r is LinearRole => (LINEAR_ROLES as readonly string[]).includes(r);
  const isSubNorm = (r: BlockRole) => (SUB_NORM_ROLES as readonly string[]).includes(r);

  checkLayerCount(c);
  const blocks: BlockPlan[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const prefix = blockPrefix(i);
    const block: Record<string, unknown> = { index: i };
    for (const role of BLOCK_ROLES) {
      if (isLinear(role)) {
        const [rows, cols] = linearShape[role];
        block[role] = projection(need(BLOCK_NAMES[role], prefix), rows, cols);
      } else if (!isSubNorm(role) || rules.subNorms) {
        block[role] = float(need(BLOCK_NAMES[role], prefix), 1, normLength[role]);
      }
    }
    blocks.push(block as BlockPlan);
  }
  const embedTensor = need(MODEL_NAMES.token_embd);
  const tokenEmbd = float(embedTensor, vocab, h);
  const outputNorm = float(need(MODEL_NAMES.output_norm), 1, h);
  // As transformers does: a tied model uses the embedding as its head (an lm_head.weight in the
  // checkpoint is then left unused and listed in the warning); an untied one needs lm_head.weight.
  const output: TernaryWeight = config.tieWordEmbeddings
    ? { kind: 'master', tensor: tokenEmbd.tensor }
    : master(need(MODEL_NAMES.output), vocab, h);
  const unused = [...tensors.keys()].filter((n) => !used.has(n) && !IGNORED.test(n));
  return {
    layout: rules.id,
    config: { ...config, hiddenAct: config.hiddenAct ?? rules.defaultAct },
    tokenEmbd,
    outputNorm,
    output,
    outputTied: config.tieWordEmbeddings,
    blocks,
    hasSubNorms: rules.subNorms,
    unused,
  };
}

/** Layers beyond num_hidden_layers mean config.json and the weights disagree. */
function checkLayerCount(c: CheckpointView): void {
  let highest = -1;
  let example = '';
  for (const name of c.tensors.keys()) {
    const m = /^model\.layers\.(\d+)\./.exec(name);
    if (m && Number(m[1]) > highest) {
      highest = Number(m[1]);
      example = name;
    }
  }
  if (highest >= c.config.numLayers) {
    throw new InvalidConfigError(
      { file: c.tensors.get(example)!.file, tensor: example },
      `num_hidden_layers (${c.config.numLayers}) to cover every layer in the checkpoint`,
      `tensors for layer ${highest}`,
    );
  }
}


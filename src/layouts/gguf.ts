// A .gguf as the input (docs/gguf.md 10): archs bitnet-b1.58 / bitnet-25 (relu2), bitnet (SiLU, sub-norms)
// and llama (SiLU, no sub-norms, q/k rows in adjacent-pair order, maybe an untied output.weight). The
// ternary types are read as packed weights, their codes and scale copied, never re-quantized; F32, F16
// and BF16 projections (Microsoft's intermediate files) are master weights ternarized with --rule.

import { InvalidConfigError, InvalidShapeError, MissingTensorError, UnsupportedError } from '../errors.js';
import { GGML_TYPES } from '../formats/gguf.js';
import type { TensorInfo } from '../formats/safetensors.js';
import { PACKING_ROWS } from '../kernels/packings.js';
import { GGUF_INPUT_ARCHS } from '../model/gguf-checkpoint.js';
import {
  BLOCK_ROLES, SUB_NORM_ROLES, isLinearRole, roleShapes,
  type BlockPlan, type FloatTensor, type FloatWeight, type ModelPlan, type TernaryWeight,
} from '../model/plan.js';
import { GGUF_BLOCK_NAMES, GGUF_MODEL_NAMES, ggufBlockPrefix } from './names.js';
import type { CheckpointView, InputLayout } from './types.js';

const FLOATS = ['F32', 'F16', 'BF16'];

function planGguf(c: CheckpointView): ModelPlan {
  const src = c.gguf!;
  const { config, tensors } = c;
  const file = src.file;
  const rules = GGUF_INPUT_ARCHS[src.arch];
  const used = new Set<string>();
  const need = (name: string): TensorInfo => {
    const t = tensors.get(name);
    if (!t) throw new MissingTensorError(name, [file]);
    used.add(name);
    return t;
  };
  const typeOf = (t: TensorInfo) => src.types.get(t.name)!;
  const checkShape = (t: TensorInfo, rows: number, cols: number): void => {
    if (t.shape[0] !== rows || t.shape[1] !== cols) {
      throw new InvalidShapeError({ file: t.file, tensor: t.name }, `ne [${cols}, ${rows}] from the ${src.arch}.* keys`, `ne [${[...t.storedShape].reverse().join(', ')}]`);
    }
  };
  // `q8`: the embedding and the head may be Q8_0, read as the F32 values its blocks hold (docs/gguf.md 10)
  const floatTensor = (t: TensorInfo, rows: number, cols: number, q8 = false): FloatTensor => {
    if (!FLOATS.includes(typeOf(t)) && !(q8 && typeOf(t) === 'Q8_0')) throw new UnsupportedError({ file: t.file, tensor: t.name }, `type F32, F16${q8 ? ', BF16 or Q8_0' : ' or BF16'}`, typeOf(t));
    checkShape(t, rows, cols);
    return t as FloatTensor;
  };
  const float = (t: TensorInfo, rows: number, cols: number, q8 = false): FloatWeight => ({ kind: 'float', tensor: floatTensor(t, rows, cols, q8) });
  const projection = (t: TensorInfo, rows: number, cols: number, ropeHeads?: number): TernaryWeight => {
    const type = typeOf(t);
    const rope = ropeHeads ? { ropeHeads } : {};
    if (FLOATS.includes(type)) return { kind: 'master', tensor: floatTensor(t, rows, cols), ...rope };
    const id = GGML_TYPES[type].packing;
    if (!id) throw new UnsupportedError({ file: t.file, tensor: t.name }, 'a ternary type (I2_S, TQ1_0, TQ2_0, Q2_0) or F32, F16, BF16 master weights', type);
    checkShape(t, rows, cols);
    const p = PACKING_ROWS[id];
    // I2_S: the f32 scale is the first 4 bytes of the tail after the codes (docs/gguf.md 4)
    const scale: FloatTensor | 'blocks' =
      p.scale === 'tail-f32'
        ? { name: t.name, file: t.file, dtype: 'F32', shape: [1, 1], storedShape: [1], offset: t.offset + p.bytes(rows, cols), byteLength: 4, elements: 1 }
        : 'blocks';
    return { kind: 'packed', tensor: t, packing: id, rows, cols, scale, convention: 'multiply', exactScale: true, ...rope };
  };

  const { linear, norm } = roleShapes(config);
  const heads: Partial<Record<string, number>> = src.arch === 'llama' ? { attn_q: config.numHeads, attn_k: config.numKvHeads } : {};
  let highest = -1;
  for (const name of tensors.keys()) {
    const m = /^blk\.(\d+)\./.exec(name);
    if (m) highest = Math.max(highest, Number(m[1]));
  }
  if (highest >= config.numLayers) throw new InvalidConfigError({ file }, `${src.arch}.block_count (${config.numLayers}) to cover every blk.N tensor`, `tensors for block ${highest}`);
  const blocks: BlockPlan[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const block: Record<string, unknown> = { index: i };
    for (const role of BLOCK_ROLES) {
      const name = ggufBlockPrefix(i) + GGUF_BLOCK_NAMES[role];
      if (isLinearRole(role)) {
        const [rows, cols] = linear[role];
        block[role] = projection(need(name), rows, cols, heads[role]);
      } else if (rules.subNorms || !(SUB_NORM_ROLES as readonly string[]).includes(role)) {
        block[role] = float(need(name), 1, norm[role]);
      }
    }
    blocks.push(block as BlockPlan);
  }
  const tokenEmbd = float(need(GGUF_MODEL_NAMES.token_embd), config.vocabSize, config.hiddenSize, true);
  const outputNorm = float(need(GGUF_MODEL_NAMES.output_norm), 1, config.hiddenSize);
  const output: TernaryWeight = config.tieWordEmbeddings
    ? { kind: 'master', tensor: tokenEmbd.tensor }
    : { kind: 'master', tensor: floatTensor(need(GGUF_MODEL_NAMES.output), config.vocabSize, config.hiddenSize, true) };
  return {
    layout: 'gguf',
    config: { ...config, hiddenAct: rules.act },
    tokenEmbd,
    outputNorm,
    output,
    outputTied: config.tieWordEmbeddings,
    blocks,
    hasSubNorms: rules.subNorms,
    // rope_freqs.weight (arch llama) became config.json's rope_scaling (src/model/gguf-checkpoint.ts)
    unused: [...tensors.keys()].filter((n) => !used.has(n) && n !== 'rope_freqs.weight'),
    gguf: { fileName: src.fileName, ...(src.name !== undefined && { name: src.name }) },
  };
}

export const gguf: InputLayout<'gguf'> = {
  id: 'gguf',
  about: 'a .gguf (arch bitnet-b1.58, bitnet-25, bitnet or llama): I2_S, TQ1_0, TQ2_0, Q2_0 copied losslessly, F32/F16/BF16 projections ternarized (--input-dir names the file or its folder)',
  matches: (c) => c.gguf !== undefined,
  plan: planGguf,
};

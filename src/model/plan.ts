// The format-neutral model plan: every tensor by its logical role (llama.cpp's MODEL_TENSOR), with
// where its bytes are and what kind of weight it is. Input layouts (src/layouts/) build it from a
// checkpoint; output formats (src/outputs/) turn it into files. It knows no file names of either side.

import type { TensorInfo } from '../formats/safetensors.js';
import type { PackingId } from '../kernels/packings.js';
import type { FloatDType } from '../quant/rule.js';
import type { ModelConfig } from './config.js';

/** The tensors of one transformer block, in the order the Hugging Face checkpoints list them. */
export const BLOCK_ROLES = [
  'attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_o', 'attn_sub_norm',
  'ffn_norm', 'ffn_gate', 'ffn_up', 'ffn_down', 'ffn_sub_norm',
] as const;
export type BlockRole = (typeof BLOCK_ROLES)[number];

/** The ternary projections of a block. */
export const LINEAR_ROLES = ['attn_q', 'attn_k', 'attn_v', 'attn_o', 'ffn_gate', 'ffn_up', 'ffn_down'] as const;
export type LinearRole = (typeof LINEAR_ROLES)[number];
export type NormRole = Exclude<BlockRole, LinearRole>;
/** Norms a BitNet b1.58 block needs but a Llama-style checkpoint does not have. */
export const SUB_NORM_ROLES = ['attn_sub_norm', 'ffn_sub_norm'] as const;

/** The model's tensors outside the blocks. */
export const MODEL_ROLES = ['token_embd', 'output_norm', 'output'] as const;
export type ModelRole = (typeof MODEL_ROLES)[number];

/**
 * What one tensor of a file holds, as the format that wrote it knows: a model tensor, or roles of one
 * block stacked in this order (bitnet-rs' wqkv: attn_q, attn_k, attn_v). Readers report it so that
 * inspect and the report never guess roles from names.
 */
export type TensorRole = ModelRole | { block: number; roles: readonly BlockRole[] };

/** A role as text: token_embd, blk.3.attn_q, blk.3.attn_q+attn_k+attn_v (the spelling --report-tensor takes). */
export function roleName(r: TensorRole): string {
  return typeof r === 'string' ? r : `blk.${r.block}.${r.roles.join('+')}`;
}

export const isLinearRole = (r: BlockRole): r is LinearRole => (LINEAR_ROLES as readonly string[]).includes(r);

/**
 * A float tensor as stored, or, with `q8_0`, a GGUF Q8_0 tensor (an embedding or head of a .gguf input)
 * that reads as the F32 values int8 * fp16 d, which F32 holds exactly (docs/gguf.md 10): `dtype` is
 * then F32, `byteLength` the F32 size, and `q8_0` where its blocks are.
 */
export type FloatTensor = TensorInfo & { dtype: FloatDType; q8_0?: StoredBlocks };

/** Where a tensor's Q8_0 blocks are in its file. */
export interface StoredBlocks {
  offset: number;
  byteLength: number;
}

/** Multiply: the stored scale is mean|W| (transformers AutoBitLinear); divide: it is 1 / mean|W| (BitLinear). */
export type ScaleConvention = 'multiply' | 'divide';

/**
 * How a weight's rows are stored: in Hugging Face order (none), or, for `ropeHeads` heads, in the
 * adjacent-pair order of a GGUF arch `llama` q/k (interleavedRopeSource); the stream hands rows out in
 * Hugging Face order either way.
 */
export interface RowOrder {
  ropeHeads?: number;
}

/** Where a ternary weight's values come from. */
export type TernaryWeight =
  /** Float weights ternarized with the absmean rule (`--rule`). */
  | ({ kind: 'master'; tensor: FloatTensor } & RowOrder)
  /**
   * Already ternary, copied losslessly: codes in a packing (the Hugging Face U8 layout, or a GGUF
   * ternary type) plus the scale: a stored tensor (hf-u8's weight_scale, I2_S's f32 tail) or the fp16
   * `d` of every block (`blocks`: one value per tensor, checked as the rows stream; a block whose d is
   * 0 holds zeros). `exactScale`: the stored scale is the model's own, so an output that would round it
   * refuses unless --allow-lossy (a GGUF's scales; a divided hf-u8 scale is rounded once by design).
   */
  | ({ kind: 'packed'; tensor: TensorInfo; packing: PackingId; rows: number; cols: number; scale: FloatTensor | 'blocks'; convention: ScaleConvention; exactScale?: boolean } & RowOrder);

/** Float weights kept as floats (norms, embedding). */
export type FloatWeight = { kind: 'float'; tensor: FloatTensor };

export type Weight = TernaryWeight | FloatWeight;

export type BlockPlan = { index: number } & { [R in LinearRole]: TernaryWeight } & { [R in NormRole]?: FloatWeight };

export interface ModelPlan {
  /** The input layout that made the plan (layouts/index.ts). */
  layout: string;
  config: ModelConfig;
  tokenEmbd: FloatWeight;
  outputNorm: FloatWeight;
  /**
   * The output head as a ternary weight: for a tied model the embedding (ternarized with the same
   * rule, as the bitnet-rs engine needs it); untied, lm_head.weight (formats that keep a float head,
   * like hf-packed, copy its tensor instead).
   */
  output: TernaryWeight;
  outputTied: boolean;
  blocks: BlockPlan[];
  /** Every block has attn_sub_norm and ffn_sub_norm (BitNet b1.58); false for Llama-style checkpoints. */
  hasSubNorms: boolean;
  /** Tensors the layout does not use (reported as a warning). */
  unused: string[];
  /**
   * A GGUF source (layouts/gguf.ts): its file name in the input folder and its general.name, so that a
   * GGUF output copies its vocabulary and name (GGUF -> same GGUF is the same file).
   */
  gguf?: { fileName: string; name?: string };
}

/**
 * Hugging Face's q/k rows hold each head's rotary pairs half a head apart (rotate_half RoPE); engines
 * with adjacent-pair RoPE (llama.cpp's `llama`, Microsoft's GPU kernels) want them side by side. Row `t`
 * of such a head-permuted projection comes from source row: target (h, d, l) <- source (h, l, d), l = 2
 * (llama.cpp's converter `permute`, Microsoft's `'(h l d) i -> (h d l) i'`). Lossless for ternary rows.
 */
export function interleavedRopeSource(t: number, headRows: number): number {
  const half = headRows / 2;
  const h = Math.floor(t / headRows);
  const r = t - h * headRows;
  return h * headRows + (r & 1) * half + (r >> 1);
}

/** The inverse: where Hugging Face row `u` sits in a head-permuted projection (reading a GGUF arch `llama` back). */
export function interleavedRopeTarget(u: number, headRows: number): number {
  const half = headRows / 2;
  const h = Math.floor(u / headRows);
  const r = u - h * headRows;
  const l = r >= half ? 1 : 0;
  return h * headRows + 2 * (r - l * half) + l;
}

/** Rows and row length of a ternary weight as the model sees it ([out, in]). */
export function ternaryShape(w: TernaryWeight): { rows: number; cols: number } {
  return w.kind === 'master' ? { rows: w.tensor.shape[0], cols: w.tensor.shape[1] } : { rows: w.rows, cols: w.cols };
}

/** Each projection's [rows, cols] ([out, in]) and each norm's length, as config.json implies them. */
export function roleShapes(c: Pick<ModelConfig, 'hiddenSize' | 'intermediateSize' | 'numHeads' | 'numKvHeads' | 'headDim'>): { linear: Record<LinearRole, [number, number]>; norm: Record<NormRole, number> } {
  const { hiddenSize: h, intermediateSize: ffn } = c;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  return {
    linear: { attn_q: [q, h], attn_k: [kv, h], attn_v: [kv, h], attn_o: [h, q], ffn_gate: [ffn, h], ffn_up: [ffn, h], ffn_down: [h, ffn] },
    norm: { attn_norm: h, attn_sub_norm: h, ffn_norm: h, ffn_sub_norm: ffn },
  };
}

/** Every weight of a block, in BLOCK_ROLES order (sub-norms only when present). */
export function blockWeights(b: BlockPlan): Weight[] {
  return BLOCK_ROLES.map((r) => b[r]).filter((w): w is Weight => w !== undefined);
}

/** Every weight with its role (token_embd, output_norm, output, then each block's in BLOCK_ROLES order). */
export function planRoles(plan: ModelPlan): [TensorRole, Weight][] {
  const out: [TensorRole, Weight][] = [['token_embd', plan.tokenEmbd], ['output_norm', plan.outputNorm], ['output', plan.output]];
  for (const b of plan.blocks) for (const r of BLOCK_ROLES) if (b[r]) out.push([{ block: b.index, roles: [r] }, b[r]!]);
  return out;
}

/** Every weight with its role's name (token_embd, output_norm, output, blk.<i>.<role>), in that order. */
export function roleWeights(plan: ModelPlan): [string, Weight][] {
  return planRoles(plan).map(([r, w]) => [roleName(r), w]);
}

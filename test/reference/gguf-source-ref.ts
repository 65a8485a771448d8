// A .gguf decoded, independently of src/, into the Hugging Face packed checkpoint it holds (docs/gguf.md 10):
// @huggingface/gguf lists the KVs and tensors, the literal unpackers of packings-ref.ts decode each ternary
// type, arch llama's q/k rows are put back in Hugging Face order (permuteRows), and every projection is
// written as transformers' U8 [rows/4, cols] with its stored scale as an autobitlinear (multiplying)
// weight_scale: the F32 of I2_S's tail, the fp16 d of the other types; a Q8_0 embedding or head as its F32 values. The result feeds the expected-output
// builders of formats-ref.ts, so "HF -> GGUF(T) -> X" is checked against what GGUF(T) holds.

import { readFileSync } from 'node:fs';
import { gguf as hfGguf } from '@huggingface/gguf';
import { join } from 'node:path';
import { checkAgainst, checkBitnetRsBins, expectedBitnetRsSafetensors, expectedHfPacked, expectedMsGpu, packHfU8, permuteRows } from './formats-ref.js';
import { i2s, q2_0, tq1_0, tq2_0, type RefPacking } from './packings-ref.js';
import type { RawTensor } from '../helpers/read-safetensors.js';

const TYPES: Record<number, { name: string; ref?: RefPacking; dAt?: [number, number]; dtype?: string; size?: number }> = {
  0: { name: 'F32', dtype: 'F32', size: 4 },
  1: { name: 'F16', dtype: 'F16', size: 2 },
  30: { name: 'BF16', dtype: 'BF16', size: 2 },
  8: { name: 'Q8_0' },
  36: { name: 'I2_S', ref: i2s },
  35: { name: 'TQ2_0', ref: tq2_0, dAt: [64, 66] },
  34: { name: 'TQ1_0', ref: tq1_0, dAt: [52, 54] },
  42: { name: 'Q2_0', ref: q2_0, dAt: [0, 18] },
};
const BLOCK_VALUES: Record<string, number> = { TQ2_0: 256, TQ1_0: 256, Q2_0: 64 };

const HF_BLOCK: Record<string, string> = {
  attn_norm: 'input_layernorm.weight', attn_q: 'self_attn.q_proj.weight', attn_k: 'self_attn.k_proj.weight', attn_v: 'self_attn.v_proj.weight',
  attn_output: 'self_attn.o_proj.weight', attn_sub_norm: 'self_attn.attn_sub_norm.weight', ffn_norm: 'post_attention_layernorm.weight',
  ffn_gate: 'mlp.gate_proj.weight', ffn_up: 'mlp.up_proj.weight', ffn_down: 'mlp.down_proj.weight', ffn_sub_norm: 'mlp.ffn_sub_norm.weight',
};
const ACT: Record<string, string> = { 'bitnet-b1.58': 'relu2', 'bitnet-25': 'relu2', bitnet: 'silu', llama: 'silu' };

function f16(bits: number): number {
  const e = (bits >> 10) & 31;
  const m = bits & 1023;
  const v = e === 0 ? m * 2 ** -24 : e === 31 ? (m ? NaN : Infinity) : (1 + m / 1024) * 2 ** (e - 15);
  return bits & 0x8000 ? -v : v;
}

/** Q8_0 blocks (fp16 d, then 32 signed bytes) as the F32 values d * q, one by one (docs/gguf.md 7). */
export function decodeQ8_0(blocks: Uint8Array): Uint8Array {
  const out = new Float32Array((blocks.length / 34) * 32);
  for (let b = 0; b < blocks.length / 34; b++) {
    const d = f16(blocks[34 * b] | (blocks[34 * b + 1] << 8));
    for (let j = 0; j < 32; j++) {
      const byte = blocks[34 * b + 2 + j];
      out[32 * b + j] = (byte > 127 ? byte - 256 : byte) * d;
    }
  }
  return new Uint8Array(out.buffer);
}

export interface GgufAsHf {
  arch: string;
  tensors: Map<string, RawTensor>;
  config: Record<string, unknown>;
}

export async function ggufAsHfPacked(path: string): Promise<GgufAsHf> {
  const { metadata, tensorInfos, tensorDataOffset } = await hfGguf(path, { allowLocalFile: true });
  const m = metadata as unknown as Record<string, unknown>;
  const arch = String(m['general.architecture']);
  const file = new Uint8Array(readFileSync(path));
  const start = Number(tensorDataOffset);
  const num = (k: string) => Number(m[`${arch}.${k}`]);
  const heads = num('attention.head_count');
  const kvHeads = num('attention.head_count_kv');
  const tensors = new Map<string, RawTensor>();
  for (const t of tensorInfos) {
    const ne = t.shape.map(Number);
    const [cols, rows = 1] = ne;
    const type = TYPES[Number(t.dtype)];
    if (!type) throw new Error(`${t.name}: ggml type ${t.dtype} not decoded here`);
    const at = start + Number(t.offset);
    const hfName = t.name === 'token_embd.weight' ? 'model.embed_tokens.weight' : t.name === 'output_norm.weight' ? 'model.norm.weight' : t.name === 'output.weight' ? 'lm_head.weight'
      : t.name.replace(/^blk\.(\d+)\.(\w+)\.weight$/, (_, i, role) => `model.layers.${i}.${HF_BLOCK[role]}`);
    if (type.dtype) {
      tensors.set(hfName, { dtype: type.dtype, shape: ne.length === 1 ? [cols] : [rows, cols], bytes: file.slice(at, at + rows * cols * type.size!) });
      continue;
    }
    if (type.name === 'Q8_0') {
      tensors.set(hfName, { dtype: 'F32', shape: [rows, cols], bytes: decodeQ8_0(file.subarray(at, at + (rows * cols / 32) * 34)) });
      continue;
    }
    let q: Int8Array;
    let scale: RawTensor;
    if (type.name === 'I2_S') {
      q = type.ref!.unpack(file.subarray(at, at + (rows * cols) / 4), rows, cols);
      scale = { dtype: 'F32', shape: [1], bytes: file.slice(at + (rows * cols) / 4, at + (rows * cols) / 4 + 4) };
    } else {
      const [dAt, blockBytes] = type.dAt!;
      const n = (rows * cols) / BLOCK_VALUES[type.name];
      const data = file.subarray(at, at + n * blockBytes);
      q = type.ref!.unpack(data, rows, cols);
      const ds = new Set<number>();
      for (let b = 0; b < n; b++) ds.add(data[b * blockBytes + dAt] | (data[b * blockBytes + dAt + 1] << 8));
      if (ds.size !== 1) throw new Error(`${t.name}: ${ds.size} different block d`);
      const d = [...ds][0];
      scale = { dtype: 'F16', shape: [1], bytes: Uint8Array.of(d & 255, d >> 8) };
      if (!(f16(d) > 0)) throw new Error(`${t.name}: d ${f16(d)}`);
    }
    if (q.some((v) => v < -1 || v > 1)) throw new Error(`${t.name}: a code outside -1, 0, +1`);
    const role = /^blk\.\d+\.(\w+)\.weight$/.exec(t.name)?.[1];
    if (arch === 'llama' && (role === 'attn_q' || role === 'attn_k')) q = permuteRows(q, rows, cols, role === 'attn_q' ? heads : kvHeads);
    tensors.set(hfName, { dtype: 'U8', shape: [rows / 4, cols], bytes: packHfU8(q, rows, cols) });
    tensors.set(`${hfName}_scale`, scale);
  }
  const hidden = num('embedding_length');
  const headDim = Number(m[`${arch}.attention.key_length`] ?? m[`${arch}.rope.dimension_count`] ?? hidden / heads);
  const config: Record<string, unknown> = {
    architectures: [arch === 'llama' ? 'LlamaForCausalLM' : 'BitNetForCausalLM'],
    hidden_size: hidden,
    intermediate_size: num('feed_forward_length'),
    num_hidden_layers: num('block_count'),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    ...(headDim !== hidden / heads && { head_dim: headDim }),
    vocab_size: tensors.get('model.embed_tokens.weight')!.shape[0],
    hidden_act: ACT[arch],
    tie_word_embeddings: !tensors.has('lm_head.weight'),
    quantization_config: { quant_method: 'bitnet', linear_class: 'autobitlinear', quantization_mode: 'offline' },
  };
  return { arch, tensors, config };
}

/**
 * The mismatches of a safetensors-based output (bitnet-rs, bitnet-rs-safetensors, hf-packed, ms-gpu) in
 * `out` against what the decoded GGUF source holds (the formats' reference writers); undefined for a
 * format this does not check (gguf: its callers compare its types their own way).
 */
export function checkFromGgufSource(format: string, out: string, src: GgufAsHf): string[] | undefined {
  const read = (f: string) => new Uint8Array(readFileSync(join(out, f)));
  switch (format) {
    case 'bitnet-rs':
      return checkBitnetRsBins(read, 'standard', src.tensors, src.config);
    case 'bitnet-rs-safetensors':
      return checkAgainst(expectedBitnetRsSafetensors(src.tensors, src.config), read('model.safetensors'));
    case 'hf-packed':
      return checkAgainst(expectedHfPacked(src.tensors, src.config), read('model.safetensors'));
    case 'ms-gpu':
      return checkAgainst(expectedMsGpu(src.tensors, src.config), read('model_state_int2.safetensors'));
    default:
      return undefined;
  }
}

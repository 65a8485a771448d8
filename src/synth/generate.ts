// Writes synthetic BitNet b1.58 checkpoints in the real Hugging Face layout (names, shapes,
// dtypes, single file or shards + index) for the demo, the tests and the benchmarks.
// Weights are seeded pseudo-random, so the same options always give the same bytes.

import { closeSync, mkdirSync, openSync, writeFileSync, writeSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { encodeSafetensorsHeader, type DType } from '../formats/safetensors.js';
import { bitnetConfig, PRESETS, type ModelShape } from './presets.js';
import { UsageError } from '../errors.js';
import { f32ToF16 } from '../quant/floats.js';

export type SynthDType = 'BF16' | 'F16' | 'F32';

export interface SynthOptions {
  outDir: string;
  preset?: string;
  shape?: ModelShape;
  dtype?: SynthDType;
  /** 1 writes model.safetensors; more writes model-0000i-of-0000n.safetensors + index. */
  shards?: number;
  /** Write lm_head.weight and tie_word_embeddings: false. */
  untied?: boolean;
  seed?: number;
}

interface SynthTensor {
  name: string;
  shape: number[];
  kind: 'weight' | 'norm';
}

/** The tensors of a BitNetForCausalLM checkpoint, in the order the 2B-4T file has them. */
export function bitnetTensors(s: ModelShape, untied: boolean): SynthTensor[] {
  const h = s.hidden_size;
  const kv = (s.num_key_value_heads * h) / s.num_attention_heads;
  const t: SynthTensor[] = [{ name: 'model.embed_tokens.weight', shape: [s.vocab_size, h], kind: 'weight' }];
  for (let i = 0; i < s.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    t.push(
      { name: p + 'input_layernorm.weight', shape: [h], kind: 'norm' },
      { name: p + 'self_attn.q_proj.weight', shape: [h, h], kind: 'weight' },
      { name: p + 'self_attn.k_proj.weight', shape: [kv, h], kind: 'weight' },
      { name: p + 'self_attn.v_proj.weight', shape: [kv, h], kind: 'weight' },
      { name: p + 'self_attn.o_proj.weight', shape: [h, h], kind: 'weight' },
      { name: p + 'self_attn.attn_sub_norm.weight', shape: [h], kind: 'norm' },
      { name: p + 'post_attention_layernorm.weight', shape: [h], kind: 'norm' },
      { name: p + 'mlp.gate_proj.weight', shape: [s.intermediate_size, h], kind: 'weight' },
      { name: p + 'mlp.up_proj.weight', shape: [s.intermediate_size, h], kind: 'weight' },
      { name: p + 'mlp.down_proj.weight', shape: [h, s.intermediate_size], kind: 'weight' },
      { name: p + 'mlp.ffn_sub_norm.weight', shape: [s.intermediate_size], kind: 'norm' },
    );
  }
  t.push({ name: 'model.norm.weight', shape: [h], kind: 'norm' });
  if (untied) t.push({ name: 'lm_head.weight', shape: [s.vocab_size, h], kind: 'weight' });
  return t;
}

const BYTES: Record<SynthDType, number> = { BF16: 2, F16: 2, F32: 4 };
const CHUNK = 1 << 20;

export interface SynthResult {
  dir: string;
  files: string[];
  bytes: number;
}

export function generateCheckpoint(o: SynthOptions): SynthResult {
  const shape = o.shape ?? PRESETS[o.preset ?? 'tiny'];
  if (!shape) throw new UsageError(`--preset: expected one of ${Object.keys(PRESETS).join(', ')}, found ${JSON.stringify(o.preset)}`);
  const dtype = o.dtype ?? 'BF16';
  if (!(dtype in BYTES)) throw new UsageError(`--dtype: expected BF16, F16 or F32, found ${JSON.stringify(dtype)}`);
  const shards = o.shards ?? 1;
  const tensors = bitnetTensors(shape, o.untied ?? false);
  if (!Number.isSafeInteger(shards) || shards < 1 || shards > tensors.length) {
    throw new UsageError(`--shards: expected a whole number from 1 to ${tensors.length}, found ${o.shards}`);
  }
  mkdirSync(o.outDir, { recursive: true });
  const groups = splitEvenly(tensors, shards, (t) => count(t.shape) * BYTES[dtype]);
  const names = groups.length === 1 ? ['model.safetensors'] : groups.map((_, i) => `model-${pad(i + 1)}-of-${pad(groups.length)}.safetensors`);
  const rng = mulberry32(o.seed ?? 1);
  let total = 0;
  const weightMap: Record<string, string> = {};
  groups.forEach((group, i) => {
    total += writeShard(join(o.outDir, names[i]), group, dtype, rng);
    for (const t of group) weightMap[t.name] = names[i];
  });
  if (groups.length > 1) {
    const index = { metadata: { total_size: total }, weight_map: weightMap };
    writeFileSync(join(o.outDir, 'model.safetensors.index.json'), JSON.stringify(index, null, 2) + '\n');
  }
  writeFileSync(join(o.outDir, 'config.json'), JSON.stringify(bitnetConfig(shape, dtype, !(o.untied ?? false)), null, 2) + '\n');
  return { dir: o.outDir, files: names, bytes: total };
}

/** Writes one safetensors file (through a temporary name, so a killed run leaves no half file). */
function writeShard(path: string, tensors: SynthTensor[], dtype: SynthDType, rng: () => number): number {
  const header = encodeSafetensorsHeader(
    tensors.map((t) => ({ name: t.name, dtype: dtype as DType, shape: t.shape })),
    { format: 'pt' },
  );
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, header.bytes);
    const f32 = new Float32Array(CHUNK);
    const u32 = new Uint32Array(f32.buffer);
    const u16 = new Uint16Array(CHUNK);
    for (const t of tensors) {
      const n = count(t.shape);
      for (let done = 0; done < n; done += CHUNK) {
        const m = Math.min(CHUNK, n - done);
        fillValues(f32, m, t.kind, rng);
        if (dtype === 'F32') {
          writeSync(fd, new Uint8Array(f32.buffer, 0, m * 4));
          continue;
        }
        if (dtype === 'BF16') for (let i = 0; i < m; i++) u16[i] = bf16Bits(u32[i]);
        else for (let i = 0; i < m; i++) u16[i] = f32ToF16(f32[i]);
        writeSync(fd, new Uint8Array(u16.buffer, 0, m * 2));
      }
    }
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  return header.bytes.length + header.dataLength;
}

/**
 * Projections and embeddings: a symmetric triangular distribution of width 0.04 (mean |w|
 * about 0.013, like trained BitNet weights); norms: around 1.
 */
function fillValues(out: Float32Array, n: number, kind: SynthTensor['kind'], rng: () => number): void {
  if (kind === 'norm') {
    for (let i = 0; i < n; i++) out[i] = 1 + ((rng() & 0xffff) / 0x10000 - 0.5) * 0.2;
    return;
  }
  for (let i = 0; i < n; i++) {
    const r = rng();
    out[i] = ((r & 0xffff) + (r >>> 16) - 0xffff) * (0.04 / 0x10000);
  }
}

/** f32 bits -> bf16 bits, round to nearest even (inlined for speed: the values are finite). */
function bf16Bits(u: number): number {
  return (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function count(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function pad(i: number): string {
  return String(i).padStart(5, '0');
}

/** Consecutive groups of roughly equal byte size (tensor order is kept). */
function splitEvenly<T>(items: T[], groups: number, size: (t: T) => number): T[][] {
  const total = items.reduce((s, t) => s + size(t), 0);
  const out: T[][] = [[]];
  let acc = 0;
  for (const [i, t] of items.entries()) {
    const remainingItems = items.length - i;
    const remainingGroups = groups - out.length;
    if (out[out.length - 1].length > 0 && remainingGroups > 0 && (acc >= (total * out.length) / groups || remainingItems <= remainingGroups)) out.push([]);
    out[out.length - 1].push(t);
    acc += size(t);
  }
  return out;
}

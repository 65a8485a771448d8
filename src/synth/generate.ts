// Writes synthetic BitNet b1.58 checkpoints in the real Hugging Face layouts (names, shapes,
// dtypes, packed or not, single file or shards + index) for the demo, the tests and the benchmarks.
// Weights are seeded pseudo-random, so the same options always give the same bytes. Tensors are
// written one at a time in chunks: memory stays bounded whatever the model size (a packed
// projection holds its codes, a quarter byte per weight, until it is written).

import { closeSync, mkdirSync, openSync, writeFileSync, writeSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DTYPE_SIZE, encodeSafetensorsHeader } from '../formats/safetensors.js';
import { PRESETS, type ModelShape } from './presets.js';
import { LAYOUT_SPECS, layoutOf, spmSpecialIds, type LayoutName, type ScaleRule, type SynthDType, type SynthTensor } from './layouts.js';
import { tokenizerFiles, type TokenizerStyle } from './tokenizer.js';
import { UsageError } from '../errors.js';
import { f32ToF16 } from '../quant/floats.js';

export type { Layout, LayoutName, SynthDType } from './layouts.js';
export { LAYOUTS, LAYOUT_ALIASES, layoutOf } from './layouts.js';

export interface SynthOptions {
  outDir: string;
  preset?: string;
  shape?: ModelShape;
  /** Which real checkpoint layout to write, by the converter's id (default hf-bitnet); the old names master and packed are taken too. */
  layout?: LayoutName;
  /** The float tensors' dtype (default: the layout's, BF16 except 1bitllm's F32). */
  dtype?: SynthDType;
  /** 1 writes model.safetensors; more writes model-0000i-of-0000n.safetensors + index. */
  shards?: number;
  /** Write lm_head.weight and tie_word_embeddings: false (llama-packed always has lm_head.weight); default: tied, or as the preset's model family is (the Falcon presets: untied). */
  untied?: boolean;
  seed?: number;
  /** The vocabulary's files: the layout's own (default), or a Llama 2 style tokenizer.json alone. */
  tokenizer?: TokenizerStyle;
}

const FLOAT_DTYPES: readonly SynthDType[] = ['BF16', 'F16', 'F32'];
const CHUNK = 1 << 20;

export interface SynthResult {
  dir: string;
  files: string[];
  bytes: number;
}

export function generateCheckpoint(o: SynthOptions): SynthResult {
  const shape = o.shape ?? PRESETS[o.preset ?? 'tiny'];
  if (!shape) throw new UsageError(`--preset: expected one of ${Object.keys(PRESETS).join(', ')}, found ${JSON.stringify(o.preset)}`);
  const layout = layoutOf(o.layout ?? 'hf-bitnet');
  const spec = LAYOUT_SPECS[layout];
  const dtype = o.dtype ?? spec.dtype;
  if (!FLOAT_DTYPES.includes(dtype)) throw new UsageError(`--dtype: expected BF16, F16 or F32, found ${JSON.stringify(dtype)}`);
  if (layout !== 'hf-bitnet' && !(shape.vocab_size >= 32)) {
    throw new UsageError(`--layout ${layout}: vocab_size ${shape.vocab_size} is too small for its tokenizer's special tokens (at least 32)`);
  }
  const shards = o.shards ?? 1;
  const untied = o.untied ?? shape.family?.tie_word_embeddings === false;
  const tensors = spec.tensors(shape, dtype, untied);
  if (!Number.isSafeInteger(shards) || shards < 1 || shards > tensors.length) {
    throw new UsageError(`--shards: expected a whole number from 1 to ${tensors.length}, found ${o.shards}`);
  }
  mkdirSync(o.outDir, { recursive: true });
  const groups = splitEvenly(tensors, shards, (t) => count(t.shape) * DTYPE_SIZE[t.dtype]);
  const names = groups.length === 1 ? ['model.safetensors'] : groups.map((_, i) => `model-${pad(i + 1)}-of-${pad(groups.length)}.safetensors`);
  const state: WriteState = { rng: { state: (o.seed ?? 1) >>> 0 }, means: new Map(), scaleRule: spec.packed };
  let total = 0;
  const weightMap: Record<string, string> = {};
  groups.forEach((group, i) => {
    total += writeShard(join(o.outDir, names[i]), group, state);
    for (const t of group) weightMap[t.name] = names[i];
  });
  if (groups.length > 1) {
    const index = { metadata: { total_size: total }, weight_map: weightMap };
    writeFileSync(join(o.outDir, 'model.safetensors.index.json'), JSON.stringify(index, null, 2) + '\n');
  }
  let config = spec.config(shape, dtype, untied);
  if (o.tokenizer === 'llama2-json') {
    // the special tokens are the Llama 2 vocabulary's, whatever the layout's own tokenizer has
    const ids = spmSpecialIds(shape.vocab_size);
    config = config.replace(/"bos_token_id": [^,\n]+/, `"bos_token_id": ${ids.bos}`).replace(/"eos_token_id": [^,\n]+/, `"eos_token_id": ${ids.eos}`);
  }
  writeFileSync(join(o.outDir, 'config.json'), config);
  for (const [name, content] of tokenizerFiles(layout, shape.vocab_size, o.tokenizer)) writeFileSync(join(o.outDir, name), content);
  return { dir: o.outDir, files: names, bytes: total };
}

/** What carries over from tensor to tensor: one random stream, and the mean |W| of packed tensors for their scales. */
interface WriteState {
  rng: Rng;
  means: Map<string, number>;
  scaleRule?: ScaleRule;
}

/** Chunk buffers, allocated once per shard. */
interface Buffers {
  f32: Float32Array;
  u32: Uint32Array;
  u16: Uint16Array;
}

/** Writes one safetensors file (through a temporary name, so a killed run leaves no half file). */
function writeShard(path: string, tensors: SynthTensor[], state: WriteState): number {
  const header = encodeSafetensorsHeader(
    tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })),
    { format: 'pt' },
  );
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, header.bytes);
    const f32 = new Float32Array(CHUNK);
    const buf: Buffers = { f32, u32: new Uint32Array(f32.buffer), u16: new Uint16Array(CHUNK) };
    for (const t of tensors) {
      if (t.kind === 'packed') writePacked(fd, t, state, buf);
      else if (t.kind === 'scale') writeScale(fd, t, state, buf);
      else writeFloats(fd, t, state.rng, buf);
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

function writeFloats(fd: number, t: SynthTensor, rng: Rng, buf: Buffers): void {
  const n = count(t.shape);
  for (let done = 0; done < n; done += CHUNK) {
    const m = Math.min(CHUNK, n - done);
    if (t.kind === 'norm') fillNorms(buf.f32, m, rng);
    else fillWeights(buf.f32, m, t.width!, rng);
    writeSync(fd, encode(buf, m, t.dtype as SynthDType));
  }
}

/**
 * The ternary codes of a seeded float weight [rows, cols], by absmean (q = clamp(round(w / mean|W|),
 * -1, 1)), packed as transformers' pack_weights does: with R = rows / 4, bits 2i..2i+1 of byte
 * [r, c] hold q[i*R + r, c] + 1. The first three weights of the first row of each quarter (rows 0,
 * R, 2R, 3R) are forced to -1, 0, +1: every value occurs, and a reader can check the row order. The weights are drawn twice from the same point of the stream (once for the mean,
 * once for the codes), so only the codes are held.
 */
function writePacked(fd: number, t: SynthTensor, state: WriteState, buf: Buffers): void {
  const rows = t.shape[0] * 4;
  const cols = t.shape[1];
  const n = rows * cols;
  const start = state.rng.state;
  let sum = 0;
  for (let done = 0; done < n; done += CHUNK) {
    const m = Math.min(CHUNK, n - done);
    fillWeights(buf.f32, m, t.width!, state.rng);
    for (let i = 0; i < m; i++) sum += Math.abs(buf.f32[i]);
  }
  const mean = sum / n;
  state.means.set(t.name, mean);
  state.rng.state = start;
  const codes = new Uint8Array(n / 4);
  const quarter = rows / 4;
  let row = 0;
  let col = 0;
  let base = 0;
  let shift = 0;
  for (let done = 0; done < n; done += CHUNK) {
    const m = Math.min(CHUNK, n - done);
    fillWeights(buf.f32, m, t.width!, state.rng);
    for (let i = 0; i < m; i++) {
      const q = col < 3 && row % quarter === 0 ? col - 1 : Math.max(-1, Math.min(1, Math.round(buf.f32[i] / mean)));
      codes[base + col] |= (q + 1) << shift;
      if (++col === cols) {
        col = 0;
        row++;
        base = (row % quarter) * cols;
        shift = 2 * Math.floor(row / quarter);
      }
    }
  }
  writeSync(fd, codes);
}

/** A packed tensor's scale: mean|W| (autobitlinear multiplies by it) or 1 / mean|W| (bitlinear divides by it). */
function writeScale(fd: number, t: SynthTensor, state: WriteState, buf: Buffers): void {
  const mean = state.means.get(t.of!)!;
  buf.f32[0] = state.scaleRule === 'divide' ? 1 / mean : mean;
  writeSync(fd, encode(buf, 1, t.dtype as SynthDType));
}

/** The first m values of buf.f32 in the given dtype (a view of the buffers). */
function encode(buf: Buffers, m: number, dtype: SynthDType): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(buf.f32.buffer, 0, m * 4);
  if (dtype === 'BF16') for (let i = 0; i < m; i++) buf.u16[i] = bf16Bits(buf.u32[i]);
  else for (let i = 0; i < m; i++) buf.u16[i] = f32ToF16(buf.f32[i]);
  return new Uint8Array(buf.u16.buffer, 0, m * 2);
}

/** Norms: around 1. */
function fillNorms(out: Float32Array, n: number, rng: Rng): void {
  for (let i = 0; i < n; i++) out[i] = 1 + ((next(rng) & 0xffff) / 0x10000 - 0.5) * 0.2;
}

/** Weights: a symmetric triangular distribution of the given width (std width / sqrt(6), mean |w| width / 3). */
function fillWeights(out: Float32Array, n: number, width: number, rng: Rng): void {
  const k = width / 0x10000;
  for (let i = 0; i < n; i++) {
    const r = next(rng);
    out[i] = ((r & 0xffff) + (r >>> 16) - 0xffff) * k;
  }
}

/** f32 bits -> bf16 bits, round to nearest even (inlined for speed: the values are finite). */
function bf16Bits(u: number): number {
  return (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
}

/** mulberry32, with its state in the open so that a tensor can be drawn twice. */
interface Rng {
  state: number;
}

function next(rng: Rng): number {
  const a = (rng.state = (rng.state + 0x6d2b79f5) >>> 0);
  let t = a;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
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

// A .gguf file as an input checkpoint (src/layouts/gguf.ts plans it; docs/gguf.md 10): its head read
// through the checkpoint port a prefix at a time, with the caps of src/formats/gguf.ts (the vocabulary
// is checked, not kept), a Hugging Face config rebuilt from the architecture's KVs, and every tensor as
// a TensorInfo of the file (ne reversed to [rows, cols]). No tensor data is read here.

import { CorruptFileError, InvalidConfigError, UnsupportedError } from '../errors.js';
import { parseGgufPrefix, type GgmlTypeName, type GgufFile, type GgufValue } from '../formats/gguf.js';
import { describe } from '../formats/json-text.js';
import type { DType, SafetensorsHeader, SkippedTensor, TensorInfo } from '../formats/safetensors.js';
import type { CheckpointFolder } from './checkpoint.js';
import { llama3FromFreqFactors, type Llama3Scaling } from './rope-llama3.js';

/**
 * What each GGUF architecture this project reads computes (docs/gguf.md 1 and 6): the FFN activation,
 * whether its blocks carry sub-norms, and the transformers class its config.json names.
 */
export const GGUF_INPUT_ARCHS: Record<string, { act: string; subNorms: boolean; hfClass: string; modelType: string }> = {
  'bitnet-b1.58': { act: 'relu2', subNorms: true, hfClass: 'BitNetForCausalLM', modelType: 'bitnet' },
  // bitnet.cpp's name for the same model code
  'bitnet-25': { act: 'relu2', subNorms: true, hfClass: 'BitNetForCausalLM', modelType: 'bitnet' },
  bitnet: { act: 'silu', subNorms: true, hfClass: 'BitNetForCausalLM', modelType: 'bitnet' },
  llama: { act: 'silu', subNorms: false, hfClass: 'LlamaForCausalLM', modelType: 'llama' },
};

/** What a layout needs to know of a GGUF besides its tensors. */
export interface GgufSource {
  /** The file's name in its folder, and its path (as messages and readers name it). */
  fileName: string;
  file: string;
  arch: string;
  /** general.name, when the file has one. */
  name?: string;
  /** Every tensor's ggml type, by name. */
  types: Map<string, GgmlTypeName>;
}

/** A split set's part (`-00001-of-00003.gguf`): llama.cpp's gguf-split naming. */
export const GGUF_SPLIT = /-(\d{5})-of-(\d{5})\.gguf$/;

/** The model a .gguf file names (outputs and the manifest are named after it): its name without `.gguf`, or without a split set's `-0000K-of-0000N.gguf`. */
export function ggufModelName(fileName: string): string {
  return fileName.replace(GGUF_SPLIT, '').replace(/\.gguf$/, '');
}

/** Whether a .gguf is a whole file or the first part of a split set (the one a model is opened by). */
export function isFirstGguf(fileName: string): boolean {
  return fileName.endsWith('.gguf') && (!GGUF_SPLIT.test(fileName) || GGUF_SPLIT.exec(fileName)![1] === '00001');
}

/** The head of a .gguf read through the port: a prefix (8 MiB: a 128k vocabulary fits), read larger only while the head goes on past it. */
export function readGgufHead(folder: CheckpointFolder, name: string, arrays: 'check' | 'keep' = 'check'): GgufFile & { fileSize: number } {
  const file = folder.path(name);
  const size = folder.stat(name);
  if (size === undefined) throw new CorruptFileError({ file }, 'a readable .gguf file', 'no such file');
  if (size === 'not a regular file') throw new CorruptFileError({ file }, 'a .gguf file', 'not a regular file');
  return { ...parseGgufPrefix((n) => folder.read(name, 0, n), file, size, { arrays }), fileSize: size };
}

/** The shortest decimal that is the same f32 (a GGUF stores eps and rope base as f32; config.json reads better with 1e-05 than 9.99999974737875e-06). */
export function shortestF32(v: number): number {
  for (let p = 1; p <= 17; p++) {
    const x = Number(v.toPrecision(p));
    if (Math.fround(x) === v) return x;
  }
  return v;
}

const FLOAT_DTYPE: Partial<Record<GgmlTypeName, DType>> = { F32: 'F32', F16: 'F16', BF16: 'BF16' };
const TORCH_DTYPE: Partial<Record<GgmlTypeName, string>> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

/** Opens `name` of the folder as a GGUF checkpoint: the config rebuilt from its KVs, its tensors, its source facts. */
export function openGgufCheckpoint(folder: CheckpointFolder, name: string): {
  dir: string;
  configPath: string;
  config: Record<string, unknown>;
  files: SafetensorsHeader[];
  tensors: Map<string, TensorInfo>;
  skipped: (SkippedTensor & { file: string })[];
  gguf: GgufSource;
} {
  const file = folder.path(name);
  const split = GGUF_SPLIT.exec(name);
  if (split && split[1] !== '00001') {
    throw new UnsupportedError({ file }, 'a .gguf file or the first part of a split set', `part ${Number(split[1])} of ${Number(split[2])} (name ${name.replace(GGUF_SPLIT, `-00001-of-${split[2]}.gguf`)})`);
  }
  const head = readGgufHead(folder, name);
  const parts = [{ file, name, head }, ...splitParts(folder, name, head.kvs, head.tensors.length)];
  const kvs = head.kvs;
  const archValue = kvs.get('general.architecture')?.value;
  if (typeof archValue !== 'string') throw new InvalidConfigError({ file }, 'general.architecture, a string', describe(archValue));
  const arch = archValue;
  const rules = GGUF_INPUT_ARCHS[arch];
  if (!rules) throw new UnsupportedError({ file }, `general.architecture ${Object.keys(GGUF_INPUT_ARCHS).join(', ')}`, `${JSON.stringify(arch)}`);
  // a key that is there but holds no number (a string, an array, a bool) is refused, never read as absent
  const numberOf = (full: string): number | undefined => {
    const v: GgufValue | undefined = kvs.get(full);
    if (v === undefined) return undefined;
    if (typeof v.value === 'bigint') return Number(v.value);
    if (typeof v.value === 'number') return v.value;
    throw new InvalidConfigError({ file }, `${full}, a number`, v.type === 9 ? 'an array' : describe(v.value));
  };
  const int = (key: string, fallback?: number): number => {
    const v = numberOf(`${arch}.${key}`) ?? fallback;
    if (v === undefined || !Number.isSafeInteger(v) || v <= 0) throw new InvalidConfigError({ file }, `${arch}.${key}, a positive integer`, describe(kvs.get(`${arch}.${key}`)?.value));
    return v;
  };
  const real = (key: string, fallback?: number): number => {
    const v = numberOf(`${arch}.${key}`) ?? fallback;
    if (v === undefined || !Number.isFinite(v) || v <= 0) throw new InvalidConfigError({ file }, `${arch}.${key}, a positive number`, describe(kvs.get(`${arch}.${key}`)?.value));
    return shortestF32(v);
  };

  const tensors = new Map<string, TensorInfo>();
  const skipped: (SkippedTensor & { file: string })[] = [];
  const types = new Map<string, GgmlTypeName>();
  for (const { file, head } of parts) for (const t of head.tensors) {
    if (tensors.has(t.name) || types.has(t.name)) throw new CorruptFileError({ file, tensor: t.name }, 'each tensor name once in the file (or split set)', 'the name twice');
    types.set(t.name, t.type);
    if (t.ne.length > 2 && t.ne.slice(2).some((d) => d !== 1)) {
      skipped.push({ name: t.name, shape: [...t.ne].reverse(), reason: 'more than 2 dimensions', file });
      continue;
    }
    const [cols, rows = 1] = t.ne;
    // Q8_0 (an embedding or head): read as the F32 values its blocks hold exactly (docs/gguf.md 10)
    const q8 = t.type === 'Q8_0';
    tensors.set(t.name, {
      name: t.name,
      file,
      dtype: q8 ? 'F32' : FLOAT_DTYPE[t.type] ?? 'U8',
      shape: [rows, cols],
      storedShape: t.ne.length === 1 ? [cols] : [rows, cols],
      offset: t.offset,
      byteLength: q8 ? rows * cols * 4 : t.bytes,
      elements: rows * cols,
      ...(q8 && { q8_0: { offset: t.offset, byteLength: t.bytes } }),
    } as TensorInfo);
  }
  // RoPE scaling (docs/gguf.md 9 and 10): linear comes back from its keys as config.json's rope_scaling;
  // Llama 3's from the divisors of rope_freqs.weight, when some llama3 parameters give them exactly
  const scalingType = kvs.get(`${arch}.rope.scaling.type`)?.value ?? 'none';
  const scalingFactor = numberOf(`${arch}.rope.scaling.factor`);
  if (scalingType !== 'none' && (scalingType !== 'linear' || !(scalingFactor! > 0))) {
    throw new UnsupportedError({ file }, 'no RoPE scaling, linear scaling with a factor, or rope_freqs.weight (what config.json rope_scaling is rebuilt from)', `${arch}.rope.scaling.type ${JSON.stringify(scalingType)}`);
  }
  const embd = tensors.get('token_embd.weight');
  const hidden = int('embedding_length');
  const heads = int('attention.head_count');
  const headDim = kvs.has(`${arch}.attention.key_length`) ? int('attention.key_length') : kvs.has(`${arch}.rope.dimension_count`) ? int('rope.dimension_count') : hidden / heads;
  const ropeTheta = real('rope.freq_base', 10000);
  const llama3 = types.has(ROPE_FREQS) ? llama3OfRopeFreqs(folder, parts, tensors.get(ROPE_FREQS), types.get(ROPE_FREQS)!, { file, arch, headDim, ropeTheta, scaling: scalingType }) : undefined;
  const vocab = int('vocab_size', embd?.shape[0]);
  const token = (k: string) => {
    const v = numberOf(`tokenizer.ggml.${k}_token_id`);
    if (v !== undefined && !(Number.isSafeInteger(v) && v >= 0)) throw new InvalidConfigError({ file }, `tokenizer.ggml.${k}_token_id, a token id`, String(v));
    return v;
  };
  const generalName = kvs.get('general.name')?.value;
  const config: Record<string, unknown> = {
    architectures: [rules.hfClass],
    model_type: rules.modelType,
    hidden_size: hidden,
    intermediate_size: int('feed_forward_length'),
    num_hidden_layers: int('block_count'),
    num_attention_heads: heads,
    num_key_value_heads: int('attention.head_count_kv', heads),
    ...(headDim !== hidden / heads && { head_dim: headDim }),
    vocab_size: vocab,
    max_position_embeddings: int('context_length'),
    rms_norm_eps: real('attention.layer_norm_rms_epsilon'),
    rope_theta: ropeTheta,
    hidden_act: rules.act,
    tie_word_embeddings: !tensors.has('output.weight'),
    ...(scalingType === 'linear' && { rope_scaling: { rope_type: 'linear', factor: shortestF32(scalingFactor!) } }),
    ...(llama3 && {
      rope_scaling: { rope_type: 'llama3', factor: llama3.factor, low_freq_factor: llama3.lowFreqFactor, high_freq_factor: llama3.highFreqFactor, original_max_position_embeddings: llama3.originalContext },
    }),
    ...(token('bos') !== undefined && { bos_token_id: token('bos') }),
    ...(token('eos') !== undefined && { eos_token_id: token('eos') }),
    ...(embd && TORCH_DTYPE[types.get(embd.name)!] && { torch_dtype: TORCH_DTYPE[types.get(embd.name)!] }),
  };
  const headers: SafetensorsHeader[] = parts.map((p) => ({
    file: p.file, fileSize: p.head.fileSize, headerLength: p.head.dataStart, dataStart: p.head.dataStart,
    tensors: [...tensors.values()].filter((t) => t.file === p.file), skipped: skipped.filter((t) => t.file === p.file), metadata: {},
  }));
  return {
    dir: folder.dir,
    configPath: file,
    config,
    files: headers,
    tensors,
    skipped,
    gguf: { fileName: name, file, arch, ...(typeof generalName === 'string' && { name: generalName }), types },
  };
}

const ROPE_FREQS = 'rope_freqs.weight';

/**
 * Llama 3's RoPE scaling from arch llama's rope_freqs.weight (docs/gguf.md 10): F32, one divisor per
 * rotary pair, read (head_dim / 2 values) and matched by llama3 parameters that give every divisor
 * exactly; refused naming the tensor otherwise, or in an arch whose graph does not read it, or beside
 * rope.scaling keys.
 */
function llama3OfRopeFreqs(
  folder: CheckpointFolder,
  parts: { file: string; name: string }[],
  t: TensorInfo | undefined,
  type: GgmlTypeName,
  c: { file: string; arch: string; headDim: number; ropeTheta: number; scaling: unknown },
): Llama3Scaling {
  const place = { file: t?.file ?? c.file, tensor: ROPE_FREQS };
  if (c.arch !== 'llama') throw new UnsupportedError(place, `no rope_freqs.weight in arch ${c.arch} (only arch llama reads it)`, 'the tensor');
  if (c.scaling !== 'none') throw new UnsupportedError(place, `rope_freqs.weight or ${c.arch}.rope.scaling keys`, `both (${c.arch}.rope.scaling.type ${JSON.stringify(c.scaling)})`);
  const n = c.headDim / 2;
  if (!t || type !== 'F32' || t.storedShape.length !== 1 || t.shape[1] !== n) {
    throw new UnsupportedError(place, `F32 ne [${n}] (head_dim / 2)`, t ? `${type} ne [${[...t.storedShape].reverse().join(', ')}]` : 'more than 2 dimensions');
  }
  const bytes = folder.read(parts.find((p) => p.file === t.file)!.name, t.offset, t.byteLength);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values = Float32Array.from({ length: n }, (_, i) => view.getFloat32(4 * i, true));
  const r = llama3FromFreqFactors(values, c.headDim, c.ropeTheta);
  if (typeof r === 'string') throw new UnsupportedError(place, 'the divisors a rope_scaling of type llama3 gives (docs/gguf.md 9)', r);
  return r;
}

/**
 * The other parts of a split set whose first part is `name` (llama.cpp's gguf-split: every part a GGUF
 * with split.no and split.count, the model's KVs in the first only; the tensors spread over the parts,
 * each part's offsets its own), checked against the first part's split.count and split.tensors.count.
 */
function splitParts(folder: CheckpointFolder, name: string, kvs: Map<string, GgufValue>, firstTensors: number): { file: string; name: string; head: ReturnType<typeof readGgufHead> }[] {
  const m = GGUF_SPLIT.exec(name);
  const first = folder.path(name);
  const count = kvs.get('split.count')?.value;
  if (!m) {
    if (count !== undefined && Number(count) > 1) throw new CorruptFileError({ file: first }, 'a split set named <prefix>-00001-of-0000N.gguf', `split.count ${count} in a file named otherwise`);
    return [];
  }
  const n = Number(m[2]);
  if (count !== undefined && Number(count) !== n) throw new CorruptFileError({ file: first }, `split.count ${n}, as the file name says`, String(count));
  const out = [];
  let listed = 0;
  for (let k = 2; k <= n; k++) {
    const part = name.replace(GGUF_SPLIT, `-${String(k).padStart(5, '0')}-of-${m[2]}.gguf`);
    if (folder.stat(part) === undefined) throw new CorruptFileError({ file: folder.path(part) }, `part ${k} of the ${n}-part split set beside ${name}`, 'no such file');
    const head = readGgufHead(folder, part);
    const no = head.kvs.get('split.no')?.value;
    if (no !== undefined && Number(no) !== k - 1) throw new CorruptFileError({ file: folder.path(part) }, `split.no ${k - 1}`, String(no));
    listed += head.tensors.length;
    out.push({ file: folder.path(part), name: part, head });
  }
  const total = kvs.get('split.tensors.count')?.value;
  const all = listed + firstTensors;
  if (total !== undefined && Number(total) !== all) {
    throw new CorruptFileError({ file: first }, `split.tensors.count (${total}) tensors in the parts`, String(all));
  }
  return out;
}

/** The one .gguf of a folder without config.json, if it has one (a split set: its first part); several are refused. */
export function ggufOfFolder(folder: CheckpointFolder): string | undefined {
  let names: string[];
  try {
    names = folder.list().filter((f) => f.endsWith('.gguf')).sort();
  } catch {
    return undefined;
  }
  const whole = names.filter(isFirstGguf);
  if (whole.length > 1) throw new CorruptFileError({ file: folder.dir }, 'one .gguf in the input folder (or name the file with --input-dir)', `${whole.length}: ${whole.join(', ')}`);
  return whole[0];
}

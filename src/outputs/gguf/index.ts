// GGUF for the engines people run BitNet b1.58 with (docs/gguf.md): llama.cpp's arch `bitnet` (SiLU FFN,
// sub-norms; TQ1_0/TQ2_0/Q2_0), bitnet.cpp's `bitnet-b1.58` (relu^2 FFN; I2_S, its fork's type 36), and
// `llama` for Llama-layout ternary models (no sub-norms, q/k rows permuted for adjacent-pair RoPE, an
// untied head; Q2_0/TQ in llama.cpp, I2_S in bitnet.cpp, docs/gguf.md 6); embeddings F16 or Q8_0
// (docs/gguf.md 7). One .gguf
// whose head (KVs with the vocabulary, tensor infos) and every tensor offset follow from the shapes:
// the main thread writes the head into a preallocated file, the workers fill the tensors' regions.
// A combination an engine would compute wrongly is refused with the reason and what to use instead.

import { CorruptFileError, UnsupportedError, type ErrorPlace } from '../../errors.js';
import { GGML_TYPES, kv, layoutGguf, parseGguf, parseGgufPrefix, type GgmlTypeName, type GgufKv, type GgufTensorInfo } from '../../formats/gguf.js';
import type { BlockRole, FloatWeight, ModelPlan, TernaryWeight, Weight } from '../../model/plan.js';
import { BLOCK_ROLES, LINEAR_ROLES, interleavedRopeSource, isLinearRole, roleShapes, ternaryShape } from '../../model/plan.js';
import { describe } from '../../formats/json-text.js';
import { checkedLayers, exactly, vector, type ExpectedTensor } from '../expected.js';
import { f16ToF32, f32ToF16 } from '../../quant/floats.js';
import { readAll, readRange, sizeOf, storedRows } from '../read-helpers.js';
import { GGUF_PACKINGS, PACKINGS, PACKING_ROWS, anyCode, packingsThatFit, shapeProblem, type GgufPackingId, type PackingId } from '../../kernels/packings.js';
import { readCost } from '../../stream/weights.js';
import type { FormatOption, InputFolder, Job, LazyTensor, OutputFolder, OutputFormat, TernaryRows } from '../types.js';
import { PRE_NAMES } from './pre-tokenizers.js';
import { ggufVocab } from './vocab.js';
import { blockTensorName, roleOfName, type TensorNames } from '../tensor-names.js';
import { llama3FreqFactors, ropeScalingOf, type RopeScalingType } from './rope.js';

type Arch = 'bitnet' | 'bitnet-b1.58' | 'llama';
/** A --gguf-type: a packing that is a GGUF type (its PACKINGS row has the ggml ids), or `f16`, the values times the scale as F16. */
type TernaryType = GgufPackingId | 'f16';
const TERNARY_TYPES: readonly TernaryType[] = [...GGUF_PACKINGS, 'f16'];

/**
 * Which engine computes which architecture, and how (docs/gguf.md sections 1 and 6): the FFN, whether
 * the blocks have sub-norms, whether an untied head (output.weight) is read, whether q/k rows are
 * permuted for adjacent-pair RoPE, and the tensor types.
 */
const ARCHS: Record<
  Arch,
  { engine: string; act: string; subNorms: boolean; untiedHead: boolean; permuteQK: boolean; types: readonly TernaryType[]; defaultType: TernaryType; ropeScaling: readonly RopeScalingType[] }
> = {
  // Q2_0 by default for llama.cpp: the one ternary type with kernels on every backend (CUDA included).
  // RoPE scaling (docs/gguf.md 9): linear is a key every arch reads; only llama reads rope_freqs (llama3)
  bitnet: { engine: 'llama.cpp (upstream; node-llama-cpp)', act: 'silu', subNorms: true, untiedHead: false, permuteQK: false, types: ['q2_0', 'tq2_0', 'tq1_0', 'f16'], defaultType: 'q2_0', ropeScaling: ['linear'] },
  'bitnet-b1.58': { engine: 'bitnet.cpp (microsoft/BitNet)', act: 'relu2', subNorms: true, untiedHead: false, permuteQK: false, types: ['i2_s', 'tq2_0', 'f16'], defaultType: 'i2_s', ropeScaling: ['linear'] },
  llama: {
    engine: 'llama.cpp (upstream; I2_S: bitnet.cpp)',
    act: 'silu',
    subNorms: false,
    untiedHead: true,
    permuteQK: true,
    types: ['q2_0', 'tq2_0', 'tq1_0', 'i2_s', 'f16'],
    defaultType: 'q2_0',
    ropeScaling: ['llama3', 'linear'],
  },
};

/** The format's own options; `auto` is resolved from the model (choose), and the manifest records the result. */
const OPTIONS = [
  {
    key: 'ggufArch',
    values: ['auto', ...(Object.keys(ARCHS) as Arch[])],
    default: 'auto',
    help: 'bitnet-b1.58 (bitnet.cpp, relu2 models such as 2B-4T), bitnet (llama.cpp, SiLU models with sub-norms such as 1bitLLM) or llama (Llama-layout ternary models without sub-norms: Falcon3-1.58bit, Llama3-8B-1.58); auto: from hidden_act and the sub-norms',
    label: 'GGUF architecture',
  },
  {
    key: 'ggufType',
    values: ['auto', ...TERNARY_TYPES],
    default: 'auto',
    help: 'the ternary tensor type (auto: i2_s for bitnet-b1.58, q2_0 for bitnet and llama)',
    label: 'GGUF type',
  },
  {
    key: 'ggufEmbdType',
    values: ['f16', 'q8_0'],
    default: 'f16',
    help: "the type of token_embd and of arch llama's untied head (output.weight): f16, or q8_0 (blocks of 32 values with an fp16 scale, about half the size; rows of a multiple of 32 values)",
    label: 'GGUF embedding type',
  },
  {
    key: 'ggufPre',
    values: ['auto', ...PRE_NAMES],
    default: 'auto',
    help: "tokenizer.ggml.pre, llama.cpp's pre-tokenizer for a byte-level BPE tokenizer.json (auto: recognized from its pre_tokenizer, an unknown one refused; a name overrides)",
    label: 'GGUF pre-tokenizer',
    independent: true,
  },
] as const satisfies readonly FormatOption[];
type EmbdType = 'f16' | 'q8_0';
type Own = { ggufArch: Arch | 'auto'; ggufType: TernaryType | 'auto'; ggufEmbdType: EmbdType; ggufPre: string };

/** The ggml type and LLAMA_FTYPE of a --gguf-type (MOSTLY_F16 = 1). */
const ggmlOf = (type: TernaryType): { name: GgmlTypeName; fileType: number; packing?: PackingId } =>
  type === 'f16' ? { name: 'F16', fileType: 1 } : { name: PACKINGS[type].ggml.name, fileType: PACKINGS[type].ggml.fileType, packing: type };

/** Arch llama's RoPE frequency divisors (LLM_TENSOR_ROPE_FREQS; docs/gguf.md 9): F32, ne [head_dim / 2], no role. */
const ROPE_FREQS = 'rope_freqs.weight';

/** Role -> GGUF tensor name inside `blk.<i>.` (llama.cpp's TENSOR_NAMES for MODEL_ARCH.BITNET). */
const BLOCK_TENSOR: Record<BlockRole, string> = {
  attn_norm: 'attn_norm', attn_q: 'attn_q', attn_k: 'attn_k', attn_v: 'attn_v', attn_o: 'attn_output', attn_sub_norm: 'attn_sub_norm',
  ffn_norm: 'ffn_norm', ffn_gate: 'ffn_gate', ffn_up: 'ffn_up', ffn_down: 'ffn_down', ffn_sub_norm: 'ffn_sub_norm',
};

/** The names it writes (docs/gguf.md 3); output.weight only for arch llama's untied head (else token_embd is the head). */
const NAMES: TensorNames = {
  model: { token_embd: 'token_embd.weight', output_norm: 'output_norm.weight', output: 'output.weight' },
  prefix: 'blk.',
  block: Object.fromEntries(BLOCK_ROLES.map((r) => [`${BLOCK_TENSOR[r]}.weight`, [r]])),
};

/** Values the writer computes rather than reads (arch llama's rope_freqs, docs/gguf.md 9), written as F32. */
interface Computed {
  kind: 'computed';
  values: number[];
}

export interface Item {
  name: string;
  weight: Weight | Computed;
  /** F16 / F32 for float tensors; the ternary type for ternary ones. */
  type: GgmlTypeName;
  /** The packing of a ternary tensor (none: F16 values). */
  packing?: PackingId;
  /** q/k of an arch with adjacent-pair RoPE: the head count whose rows are regrouped (interleavedRopeSource). */
  heads?: number;
  at: number;
  bytes: number;
}

/** The architecture and types for this model, or a refusal that says why and what to use instead. */
function choose(model: ModelPlan, o: Own): { ggufArch: Arch; ggufType: TernaryType; ggufEmbdType: EmbdType; ggufPre: string } {
  const act = model.config.hiddenAct ?? '';
  const fits = (a: Arch) => ARCHS[a].act === act && ARCHS[a].subNorms === model.hasSubNorms;
  const byModel = (Object.keys(ARCHS) as Arch[]).find(fits);
  const arch = o.ggufArch === 'auto' ? byModel : o.ggufArch;
  const instead = byModel ? `; use --gguf-arch ${byModel} (${ARCHS[byModel].engine})` : '';
  if (!arch) {
    const known = (Object.keys(ARCHS) as Arch[]).map((a) => `${ARCHS[a].act} ${ARCHS[a].subNorms ? 'with' : 'without'} sub-norms`);
    throw new UnsupportedError({}, `a model GGUF engines compute (${known.join(', ')})`, `hidden_act ${JSON.stringify(act)} ${model.hasSubNorms ? 'with' : 'without'} sub-norms`);
  }
  if (ARCHS[arch].act !== act) {
    throw new UnsupportedError({}, `a ${ARCHS[arch].act} model for --gguf-arch ${arch}: ${ARCHS[arch].engine} computes ${ARCHS[arch].act} for it`, `hidden_act ${act}, which it would compute wrongly${instead}`);
  }
  if (ARCHS[arch].subNorms !== model.hasSubNorms) {
    throw new UnsupportedError(
      {},
      ARCHS[arch].subNorms ? `a model with attn_sub_norm and ffn_sub_norm (${ARCHS[arch].engine} computes them for --gguf-arch ${arch})` : `a model without sub-norms for --gguf-arch ${arch} (${ARCHS[arch].engine} computes none)`,
      `a ${model.layout} checkpoint ${model.hasSubNorms ? 'with' : 'without'} them${instead}`,
    );
  }
  const type = o.ggufType === 'auto' ? ARCHS[arch].defaultType : o.ggufType;
  if (!ARCHS[arch].types.includes(type)) {
    const other = (Object.keys(ARCHS) as Arch[]).find((a) => ARCHS[a].types.includes(type));
    throw new UnsupportedError(
      {},
      `a --gguf-type that ${ARCHS[arch].engine} computes for --gguf-arch ${arch} (${ARCHS[arch].types.join(', ')})`,
      `${type}${other ? ` (only ${ARCHS[other].engine}, arch ${other}, reads it)` : ''}`,
    );
  }
  return { ggufArch: arch, ggufType: type, ggufEmbdType: o.ggufEmbdType, ggufPre: o.ggufPre };
}

export const gguf: OutputFormat<Item[], Own> = {
  id: 'gguf',
  about: 'one .gguf for bitnet.cpp (arch bitnet-b1.58, I2_S) or llama.cpp (arch bitnet, TQ2_0/TQ1_0/Q2_0; arch llama for Llama-layout models, Q2_0), chosen from the model',
  options: OPTIONS,

  plan(model, o, input) {
    const { ggufArch: arch, ggufType: type } = choose(model, o);
    const rules = ARCHS[arch];
    if (!model.outputTied && !rules.untiedHead) {
      throw new UnsupportedError({ tensor: 'lm_head.weight' }, `a tied head (${rules.engine} takes the output head from token_embd for --gguf-arch ${arch})`, 'an untied lm_head.weight');
    }
    if (!model.outputTied && model.output.kind !== 'master') throw new UnsupportedError({ tensor: 'lm_head.weight' }, 'a float lm_head (output.weight is written as F16)', 'a packed one');
    const scaling = ropeScalingOf(model.config.raw, rules.ropeScaling, arch);
    if (o.granularity !== 'projection') throw new UnsupportedError({}, '--scale-granularity projection (one scale per tensor)', 'row');
    const c = model.config;
    const { name: ternaryType, packing } = ggmlOf(type);
    // token_embd and the untied head are [vocab, hidden]: Q8_0 blocks of 32 along hidden (docs/gguf.md 7)
    const embd = o.ggufEmbdType === 'q8_0' ? 'Q8_0' : 'F16';
    if (embd === 'Q8_0' && c.hiddenSize % 32 !== 0) {
      throw new UnsupportedError({ tensor: NAMES.model.token_embd }, 'rows of a multiple of 32 values for --gguf-embd-type q8_0 (its blocks)', `rows of ${c.hiddenSize}; --gguf-embd-type f16 holds them`);
    }
    const items: Omit<Item, 'at' | 'bytes'>[][] = [];
    const float = (name: string, w: FloatWeight, t: 'F16' | 'F32' | 'Q8_0') => ({ name, weight: w, type: t });
    items.push([float(NAMES.model.token_embd!, model.tokenEmbd, embd)], [float(NAMES.model.output_norm!, model.outputNorm, 'F32')]);
    if (!model.outputTied && model.output.kind === 'master') items.push([float(NAMES.model.output!, { kind: 'float', tensor: model.output.tensor }, embd)]);
    if (scaling.type === 'llama3') {
      if (c.headDim % 2 !== 0) throw new UnsupportedError({ file: 'config.json' }, 'an even head_dim for rope_freqs (one factor per rotary pair)', `head_dim ${c.headDim}`);
      items.push([{ name: ROPE_FREQS, weight: { kind: 'computed', values: [...llama3FreqFactors(scaling, c.headDim, c.ropeTheta)] }, type: 'F32' }]);
    }
    // q and k rows in adjacent-pair order for an arch whose RoPE wants it: each head's rows regrouped
    const heads: Partial<Record<BlockRole, number>> = rules.permuteQK ? { attn_q: c.numHeads, attn_k: c.numKvHeads } : {};
    for (const b of model.blocks) {
      items.push(
        BLOCK_ROLES.filter((role) => b[role] !== undefined).map((role) => {
          const name = blockTensorName(NAMES, b.index, `${BLOCK_TENSOR[role]}.weight`);
          if (isLinearRole(role)) {
            const w = b[role];
            const { rows, cols } = ternaryShape(w);
            const problem = packing && shapeProblem(PACKINGS[packing], rows, cols);
            if (problem) {
              const fit = [...packingsThatFit(rows, cols, rules.types.filter((t): t is GgufPackingId => t !== 'f16')), 'f16'];
              throw new UnsupportedError({ tensor: name }, `${problem} for ${type} (the engine would read garbage otherwise)`, `rows of ${cols}; --gguf-type ${fit.join(' or ')} holds them`);
            }
            const h = heads[role];
            if (h && (rows % h !== 0 || (rows / h) % 2 !== 0)) throw new UnsupportedError({ tensor: name }, `${h} heads of an even row count (rotary pairs)`, `${rows} rows`);
            return { name, weight: w as Weight, type: ternaryType, packing, heads: h };
          }
          return float(name, b[role]!, 'F32');
        }),
      );
    }
    const ne = (w: Weight | Computed) => (w.kind === 'computed' ? [w.values.length] : w.kind === 'float' ? (w.tensor.storedShape.length === 1 ? [w.tensor.shape[1]] : [w.tensor.shape[1], w.tensor.shape[0]]) : [ternaryShape(w).cols, ternaryShape(w).rows]);
    const flat = items.flat();
    const infos: GgufTensorInfo[] = flat.map((i) => ({ name: i.name, ne: ne(i.weight), type: i.type }));
    const A = arch;
    const kvs: GgufKv[] = [
      kv.str('general.architecture', A),
      kv.str('general.name', model.gguf?.name ?? o.modelName),
      kv.u32('general.file_type', ggmlOf(type).fileType),
      kv.u32('general.quantization_version', 2),
      kv.u32('general.alignment', 32),
      kv.u32(`${A}.context_length`, c.maxPositionEmbeddings),
      kv.u32(`${A}.embedding_length`, c.hiddenSize),
      kv.u32(`${A}.block_count`, c.numLayers),
      kv.u32(`${A}.feed_forward_length`, c.intermediateSize),
      kv.u32(`${A}.attention.head_count`, c.numHeads),
      kv.u32(`${A}.attention.head_count_kv`, c.numKvHeads),
      kv.f32(`${A}.attention.layer_norm_rms_epsilon`, c.rmsNormEps),
      kv.f32(`${A}.rope.freq_base`, c.ropeTheta),
      kv.u32(`${A}.rope.dimension_count`, c.headDim),
      // linear: positions divided by the factor (llama.cpp: freq_scale = 1 / factor); llama3 is rope_freqs
      ...(scaling.type === 'linear' ? [kv.str(`${A}.rope.scaling.type`, 'linear'), kv.f32(`${A}.rope.scaling.factor`, scaling.factor)] : []),
      // a head_dim other than hidden / heads is read from these (llama.cpp defaults to hidden / heads)
      ...(c.headDim * c.numHeads !== c.hiddenSize ? [kv.u32(`${A}.attention.key_length`, c.headDim), kv.u32(`${A}.attention.value_length`, c.headDim)] : []),
      kv.u32(`${A}.vocab_size`, c.vocabSize),
      // a GGUF source's own vocabulary, as it stores it; else built from the tokenizer files
      ...(model.gguf ? sourceVocab(input, model.gguf.fileName) : ggufVocab(input, c, o.ggufPre)),
    ];
    const layout = layoutGguf(kvs, infos);
    const placed = new Map(flat.map((i, k) => [i.name, { at: layout.offsets[k], bytes: layout.sizes[k] }]));
    const file = `${o.modelName.replace(/[^A-Za-z0-9._-]+/g, '-')}-${type}.gguf`;
    const jobs: Job<Item[]>[] = items.map((g) => {
      const part: Item[] = g.map((i) => ({ ...i, ...placed.get(i.name)! }));
      return {
        format: 'gguf',
        file,
        cost: { bytes: g.reduce((n, i) => n + (i.weight.kind === 'computed' ? 0 : readCost(i.weight, o)), 0), tensors: g.length },
        part,
        regions: part.map((i) => ({ offset: i.at, bytes: i.bytes })),
      };
    });
    return { jobs, containers: [{ file, head: layout.head, bytes: layout.fileBytes }] };
  },

  write(j, s, out) {
    const k = s.kernels;
    for (const item of j.part) {
      const sink = out.sink(item.at);
      if (item.weight.kind === 'computed') {
        const bytes = new Uint8Array(4 * item.weight.values.length);
        const view = new DataView(bytes.buffer);
        item.weight.values.forEach((v, i) => view.setFloat32(4 * i, v, true));
        sink.write(bytes);
        continue;
      }
      if (item.weight.kind === 'float') {
        s.floats(item.weight.tensor, item.type as 'F16' | 'F32' | 'Q8_0', (bytes) => sink.write(bytes));
        continue;
      }
      const p = item.packing && PACKINGS[item.packing];
      const { cols } = ternaryShape(item.weight);
      const rowBytes = p ? p.bytes(1, cols) : 2 * cols;
      const t = s.ternary(item.weight, { packed: rowBytes });
      // the fp16 d (or F16 values); I2_S keeps the f32 scale, which is not rounded to fp16 at all
      const d = p?.scale === 'tail-f32' ? 0 : f16Scale(t.scaleAs('F16', true), { file: t.file, tensor: item.name }, t.name, true);
      const headRows = item.heads ? t.rows / item.heads : 0;
      for (let r = 0; r < t.rows; r += t.rowsPerChunk) {
        const n = Math.min(t.rowsPerChunk, t.rows - r);
        if (headRows) {
          // rows regrouped one at a time from their source rows, then packed as a chunk
          for (let x = 0; x < n; x++) t.i8(interleavedRopeSource(r + x, headRows), 1, t.i8Buffer + x * cols);
          if (p) p.pack(k.exports, t.i8Buffer, n, cols, t.buffers.packed, d);
        } else if (p) {
          t.packed(p, r, n, t.buffers.packed, d);
        } else {
          t.i8(r, n, t.i8Buffer);
        }
        if (!p) ternaryAsF16(k.i8(t.i8Buffer, n * cols), k.u16(t.buffers.packed, n * cols), d);
        sink.write(k.u8(t.buffers.packed, n * rowBytes));
      }
      if (p?.scale === 'tail-f32') {
        // the tail: the f32 scale (multiplied), then zero bytes
        const tail = new Uint8Array(p.tailBytes);
        new DataView(tail.buffer).setFloat32(0, t.scaleAs('F32'), true);
        sink.write(tail);
      }
      t.done();
    }
  },

  finish() {
    return [];
  },

  resolve: choose,

  describe(model, o) {
    return { engine: ARCHS[choose(model, o).ggufArch].engine };
  },

  read(folder) {
    return readAll(gguf.tensors(folder));
  },

  expected(folder) {
    // the dimensions from the file's own KVs (an engine reads those, not a config.json); names and ne as plan() writes them
    const file = ggufFile(folder);
    const head = ggufHead(folder, file);
    const kvs = head.kvs;
    const arch = kvs.get('general.architecture')?.value;
    if (typeof arch !== 'string') throw new CorruptFileError({ file }, 'general.architecture, a string', describe(arch));
    const dim = (key: string): number => {
      const v = kvs.get(`${arch}.${key}`)?.value;
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw new CorruptFileError({ file }, `${arch}.${key}, a positive integer`, describe(v));
      return v;
    };
    const c = checkedLayers({
      hiddenSize: dim('embedding_length'), intermediateSize: dim('feed_forward_length'), numLayers: dim('block_count'),
      numHeads: dim('attention.head_count'), numKvHeads: dim('attention.head_count_kv'), headDim: dim('rope.dimension_count'), vocabSize: dim('vocab_size'),
    }, file);
    const { linear, norm } = roleShapes(c);
    const tensors = new Map<string, ExpectedTensor>([
      ['token_embd.weight', exactly(file, c.hiddenSize, c.vocabSize)],
      ['output_norm.weight', vector(file, c.hiddenSize, { reversed: true })],
    ]);
    // arch llama: no sub-norms, and output.weight where the model's head is untied (the file says which)
    const rules = Object.hasOwn(ARCHS, arch) ? ARCHS[arch as Arch] : undefined;
    if (rules?.untiedHead && head.tensors.some((t) => t.name === NAMES.model.output)) tensors.set(NAMES.model.output!, exactly(file, c.hiddenSize, c.vocabSize));
    if (rules?.ropeScaling.includes('llama3')) tensors.set(ROPE_FREQS, { ...exactly(file, c.headDim / 2), optional: true });
    for (let i = 0; i < c.numLayers; i++) {
      for (const r of LINEAR_ROLES) tensors.set(`blk.${i}.${BLOCK_TENSOR[r]}.weight`, exactly(file, linear[r][1], linear[r][0]));
      for (const [r, n] of Object.entries(norm)) {
        if (rules && !rules.subNorms && (r === 'attn_sub_norm' || r === 'ffn_sub_norm')) continue;
        tensors.set(`blk.${i}.${BLOCK_TENSOR[r as BlockRole]}.weight`, vector(file, n, { reversed: true }));
      }
    }
    return { from: `${file} (its ${arch}.* keys)`, tensors };
  },

  *tensors(folder, only): Generator<LazyTensor> {
    const file = ggufFile(folder);
    if (only && !only(file)) return;
    for (const t of ggufHead(folder, file).tensors) {
      const role = roleOfName(NAMES, t.name);
      const base = { name: t.name, role, file, dtype: t.type, shape: t.ne };
      // the projections are ternary (in a ternary type, or F16 holding values times the scale); any
      // other type (a foreign file's Q8_0 or F32 projections) is listed, not decoded
      if (typeof role !== 'object' || !role.roles.every(isLinearRole) || (t.type !== 'F16' && !GGML_TYPES[t.type].packing)) {
        yield base;
        continue;
      }
      const [cols, rows] = t.ne;
      yield { ...base, ternary: ggufRows(t.type, (offset, length, into) => readRange(folder, file, t.offset + offset, length, into), rows, cols, file, t.name) };
    }
  },
};

/**
 * The tokenizer.* KVs of a GGUF source, in its order (docs/gguf.md 10): its head read a prefix at a
 * time through the input folder, arrays kept.
 */
function sourceVocab(input: InputFolder, name: string): GgufKv[] {
  const size = input.sideSize?.(name);
  const at = input.readSideAt;
  if (size === undefined || !at) throw new UnsupportedError({ file: name }, 'a GGUF source this host reads in ranges (for its vocabulary)', 'none');
  // its arrays (tokens, scores, merges) as the file encodes them: copied, not decoded and encoded again
  const head = parseGgufPrefix((n) => at(name, 0, n), name, size, { arrays: 'raw' });
  return [...head.kvs].filter(([key]) => key.startsWith('tokenizer.')).map(([key, v]) => ({ key, v }));
}

/** The .gguf file of an output folder. */
function ggufFile(folder: OutputFolder): string {
  const file = folder.list().find((f) => f.endsWith('.gguf'));
  if (!file) throw new CorruptFileError({ file: 'output folder' }, 'a .gguf file', 'none');
  return file;
}

/** The head of a .gguf (KVs and tensor infos) from a prefix of the file (8 MiB: a 128k vocabulary fits), read larger only while the head goes on past it. */
function ggufHead(folder: OutputFolder, file: string): ReturnType<typeof parseGguf> {
  // the tensors only: the vocabulary is checked, not kept
  return parseGgufPrefix((n) => readRange(folder, file, 0, n), file, sizeOf(folder, file), { arrays: 'check' });
}

/**
 * A ternary tensor of any of the types written here, decoded a row range at a time (rows are whole
 * blocks: the head's parser checks it). I2_S has one scale (its tail); the others' row scales come out
 * of the blocks (or the F16 values), so those are decoded (and so checked) once here.
 */
function ggufRows(type: GgmlTypeName, bytes: (offset: number, length: number, into?: Uint8Array) => Uint8Array, rows: number, cols: number, file: string, tensor: string): TernaryRows {
  const id = GGML_TYPES[type].packing;
  const p = id && PACKING_ROWS[id];
  const rowBytes = p ? p.bytes(1, cols) : 2 * cols;
  const bytesOf = (row: number, count: number, into?: Uint8Array) => bytes(row * rowBytes, count * rowBytes, into);
  const rowScales = new Float32Array(rows);
  const unpack = (data: Uint8Array, row: number, count: number) => {
    if (!p) return ternaryFromF16(data, count, cols, row, rowScales);
    const q = p.unpack(data, count, cols, { file, tensor, row0: row, tensorRows: rows });
    if (p.blockScales) {
      const d = p.blockScales(data, count, cols);
      const perRow = cols / p.block.cols;
      for (let r = 0; r < count; r++) rowScales[row + r] = d[r * perRow];
    }
    return q;
  };
  if (p?.scale === 'tail-f32') {
    const tail = bytes(p.bytes(rows, cols), 4);
    rowScales.fill(new DataView(tail.buffer, tail.byteOffset, 4).getFloat32(0, true));
    return storedRows({ rows, cols, rowScales, bytesOf, unpack, bad: p.badCode2 === undefined ? undefined : (b) => anyCode(b, p.badCode2!) });
  }
  const t = storedRows({ rows, cols, rowScales, bytesOf, unpack });
  t.check(); // fills rowScales
  return { ...t, check: () => {} };
}

/** A ternary tensor stored as F16 values: each is -d, 0 or +d; sets the rows' scales. */
function ternaryFromF16(data: Uint8Array, rows: number, cols: number, row0: number, rowScales: Float32Array): Int8Array {
  const q = new Int8Array(rows * cols);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i < rows * cols; i++) {
    const v = f16ToF32(view.getUint16(2 * i, true));
    q[i] = Math.sign(v);
    if (v !== 0) rowScales[row0 + Math.floor(i / cols)] = Math.abs(v);
  }
  return q;
}

/**
 * The scale as fp16 bits for the blocks' `d` (or F16 values), refused where fp16 cannot hold it to its
 * rounding: above its largest value or below its normal range, where it keeps fewer than 11 bits.
 */
function f16Scale(scale: number, place: ErrorPlace, source: string, needed: boolean): number {
  if (needed && !(scale >= 2 ** -14 && scale <= 65504)) {
    // the input file and the output tensor, and the source tensor when its name is another
    const of = source === place.tensor ? '' : ` (the scale of ${source})`;
    throw new UnsupportedError(place, 'a scale fp16 holds (6.1e-5 to 65504) for the blocks\' d', `${scale}${of}; --gguf-type i2_s keeps it as f32`);
  }
  return f32ToF16(scale);
}

/** --gguf-type f16: each ternary value times the scale, as f16 bits (three possible values). */
function ternaryAsF16(q: Int8Array, dst: Uint16Array, d: number): void {
  const neg = d | 0x8000;
  for (let i = 0; i < q.length; i++) dst[i] = q[i] > 0 ? d : q[i] < 0 ? neg : 0;
}


// GGUF for the engines people run BitNet b1.58 with (docs/gguf.md): llama.cpp's arch `bitnet` (SiLU FFN;
// TQ1_0/TQ2_0) and bitnet.cpp's `bitnet-b1.58` (relu^2 FFN; I2_S, its fork's type 36). One .gguf
// whose head (KVs with the vocabulary, tensor infos) and every tensor offset follow from the shapes:
// the main thread writes the head into a preallocated file, the workers fill the tensors' regions.
// A combination an engine would compute wrongly is refused with the reason and what to use instead.

import { CorruptFileError, UnsupportedError } from '../../errors.js';
import { GGML_TYPES, kv, layoutGguf, parseGguf, type GgmlTypeName, type GgufKv, type GgufTensorInfo } from '../../formats/gguf.js';
import type { BlockRole, FloatWeight, ModelPlan, TernaryWeight, Weight } from '../../model/plan.js';
import { BLOCK_ROLES, LINEAR_ROLES, ternaryShape } from '../../model/plan.js';
import { f16ToF32, f32ToF16 } from '../../quant/floats.js';
import { anyCode3, badCode, readAll, readRange, sizeOf, storedRows } from '../read-helpers.js';
import { readCost } from '../../stream/weights.js';
import type { FormatOptions, Job, LazyTensor, OutputFolder, OutputFormat, TernaryRows } from '../types.js';
import { ggufVocab } from './vocab.js';

type Arch = 'bitnet' | 'bitnet-b1.58';
type TernaryType = 'i2_s' | 'tq2_0' | 'tq1_0' | 'f16';

/** Which engine computes which architecture, and with which tensor types (docs/gguf.md section 1). */
const ARCHS: Record<Arch, { engine: string; act: string; types: readonly TernaryType[]; defaultType: TernaryType }> = {
  bitnet: { engine: 'llama.cpp (upstream; node-llama-cpp)', act: 'silu', types: ['tq2_0', 'tq1_0', 'f16'], defaultType: 'tq2_0' },
  'bitnet-b1.58': { engine: 'bitnet.cpp (microsoft/BitNet)', act: 'relu2', types: ['i2_s', 'f16'], defaultType: 'i2_s' },
};

/** Ternary tensor types: the ggml type, general.file_type, and the packing kernel. */
const TYPES: Record<TernaryType, { ggml: GgmlTypeName; fileType: number }> = {
  i2_s: { ggml: 'I2_S', fileType: 40 }, // bitnet.cpp's LLAMA_FTYPE_MOSTLY_I2_S
  tq2_0: { ggml: 'TQ2_0', fileType: 37 },
  tq1_0: { ggml: 'TQ1_0', fileType: 36 },
  f16: { ggml: 'F16', fileType: 1 },
};

/** Role -> GGUF tensor name inside `blk.<i>.` (llama.cpp's TENSOR_NAMES for MODEL_ARCH.BITNET). */
const BLOCK_TENSOR: Record<BlockRole, string> = {
  attn_norm: 'attn_norm', attn_q: 'attn_q', attn_k: 'attn_k', attn_v: 'attn_v', attn_o: 'attn_output', attn_sub_norm: 'attn_sub_norm',
  ffn_norm: 'ffn_norm', ffn_gate: 'ffn_gate', ffn_up: 'ffn_up', ffn_down: 'ffn_down', ffn_sub_norm: 'ffn_sub_norm',
};

interface Item {
  name: string;
  weight: Weight;
  /** F16 / F32 for float tensors; the ternary type for ternary ones. */
  type: GgmlTypeName;
  at: number;
  bytes: number;
}

/** The architecture and type for this model, or a refusal that says why and what to use instead. */
function choose(model: ModelPlan, o: FormatOptions): { arch: Arch; type: TernaryType } {
  const act = model.config.hiddenAct ?? '';
  const byAct = (Object.keys(ARCHS) as Arch[]).find((a) => ARCHS[a].act === act);
  const arch = o.gguf.arch === 'auto' ? byAct : o.gguf.arch;
  if (!arch) {
    throw new UnsupportedError({}, `hidden_act ${Object.values(ARCHS).map((a) => a.act).join(' or ')} (the FFNs GGUF engines compute)`, JSON.stringify(act));
  }
  if (ARCHS[arch].act !== act) {
    const instead = byAct ? `; use --gguf-arch ${byAct} (${ARCHS[byAct].engine})` : '';
    throw new UnsupportedError({}, `a ${ARCHS[arch].act} model for --gguf-arch ${arch}: ${ARCHS[arch].engine} computes ${ARCHS[arch].act} for it`, `hidden_act ${act}, which it would compute wrongly${instead}`);
  }
  const type = o.gguf.type === 'auto' ? ARCHS[arch].defaultType : o.gguf.type;
  if (!ARCHS[arch].types.includes(type)) {
    const other = (Object.keys(ARCHS) as Arch[]).find((a) => ARCHS[a].types.includes(type));
    throw new UnsupportedError(
      {},
      `a --gguf-type that ${ARCHS[arch].engine} computes for --gguf-arch ${arch} (${ARCHS[arch].types.join(', ')})`,
      `${type}${other ? ` (only ${ARCHS[other].engine}, arch ${other}, reads it)` : ''}`,
    );
  }
  return { arch, type };
}

export const gguf: OutputFormat = {
  id: 'gguf',
  about: 'one .gguf for bitnet.cpp (arch bitnet-b1.58, I2_S) or llama.cpp (arch bitnet, TQ2_0/TQ1_0), chosen from hidden_act',

  plan(model, o, input) {
    const { arch, type } = choose(model, o);
    if (!model.hasSubNorms) throw new UnsupportedError({}, 'a model with attn_sub_norm and ffn_sub_norm (both engines compute them)', `a ${model.layout} checkpoint without them`);
    if (!model.outputTied) {
      throw new UnsupportedError({ tensor: 'lm_head.weight' }, 'a tied head (both engines take the output head from token_embd)', 'an untied lm_head.weight');
    }
    if (o.granularity !== 'projection') throw new UnsupportedError({}, '--scale-granularity projection (one scale per tensor)', 'row');
    const c = model.config;
    const ternaryType = TYPES[type].ggml;
    const items: Omit<Item, 'at' | 'bytes'>[][] = [];
    const float = (name: string, w: FloatWeight, t: 'F16' | 'F32') => ({ name, weight: w, type: t });
    items.push([float('token_embd.weight', model.tokenEmbd, 'F16')], [float('output_norm.weight', model.outputNorm, 'F32')]);
    for (const b of model.blocks) {
      items.push(
        BLOCK_ROLES.map((role) => {
          const name = `blk.${b.index}.${BLOCK_TENSOR[role]}.weight`;
          if ((LINEAR_ROLES as readonly string[]).includes(role)) {
            const w = b[role as (typeof LINEAR_ROLES)[number]];
            const { cols } = ternaryShape(w);
            const block = GGML_TYPES[ternaryType].blockValues * (ternaryType === 'I2_S' ? 32 : 1); // I2_S: rows of whole 128-value groups
            if (cols % block !== 0) {
              throw new UnsupportedError({ tensor: name }, `rows of a multiple of ${block} values for ${type} (the engine would read garbage otherwise)`, `rows of ${cols}`);
            }
            return { name, weight: w as Weight, type: ternaryType };
          }
          return float(name, b[role as Exclude<BlockRole, (typeof LINEAR_ROLES)[number]>]!, 'F32');
        }),
      );
    }
    const ne = (w: Weight) => (w.kind === 'float' ? (w.tensor.storedShape.length === 1 ? [w.tensor.shape[1]] : [w.tensor.shape[1], w.tensor.shape[0]]) : [ternaryShape(w).cols, ternaryShape(w).rows]);
    const flat = items.flat();
    const infos: GgufTensorInfo[] = flat.map((i) => ({ name: i.name, ne: ne(i.weight), type: i.type }));
    const A = arch;
    const kvs: GgufKv[] = [
      kv.str('general.architecture', A),
      kv.str('general.name', o.modelName),
      kv.u32('general.file_type', TYPES[type].fileType),
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
      kv.u32(`${A}.vocab_size`, c.vocabSize),
      ...ggufVocab(input, c),
    ];
    const layout = layoutGguf(kvs, infos);
    const placed = new Map(flat.map((i, k) => [i.name, { at: layout.offsets[k], bytes: layout.sizes[k] }]));
    const file = `${o.modelName.replace(/[^A-Za-z0-9._-]+/g, '-')}-${type}.gguf`;
    const jobs: Job[] = items.map((g) => {
      const part: Item[] = g.map((i) => ({ ...i, ...placed.get(i.name)! }));
      return {
        format: 'gguf',
        file,
        cost: { bytes: g.reduce((n, i) => n + readCost(i.weight, o), 0), tensors: g.length },
        part,
        regions: part.map((i) => ({ offset: i.at, bytes: i.bytes })),
      };
    });
    return { jobs, containers: [{ file, head: layout.head, bytes: layout.fileBytes }] };
  },

  write(j, s, out) {
    const k = s.kernels;
    for (const item of j.part as Item[]) {
      const sink = out.sink(item.at);
      if (item.weight.kind === 'float') {
        s.floats(item.weight.tensor, item.type as 'F16' | 'F32', (bytes) => sink.write(bytes));
        continue;
      }
      const { cols } = ternaryShape(item.weight);
      const t = s.ternary(item.weight as TernaryWeight, { packed: rowBytes(item.type, cols) });
      const d = f32ToF16(t.scaleAs('F16'));
      for (let r = 0; r < t.rows; r += t.rowsPerChunk) {
        const n = Math.min(t.rowsPerChunk, t.rows - r);
        t.i8(r, n, t.i8Buffer);
        const dst = t.buffers.packed;
        if (item.type === 'TQ2_0') k.exports.packTq2_0(t.i8Buffer, n, cols, d, dst);
        else if (item.type === 'TQ1_0') k.exports.packTq1_0(t.i8Buffer, n, cols, d, dst);
        else if (item.type === 'I2_S') k.exports.packI2s(t.i8Buffer, n, cols, dst);
        else ternaryAsF16(k.i8(t.i8Buffer, n * cols), k.u16(dst, n * cols), d);
        sink.write(k.u8(dst, n * rowBytes(item.type, cols)));
      }
      if (item.type === 'I2_S') {
        // the tail: the f32 scale (multiplied), then 28 zero bytes
        const tail = new Uint8Array(32);
        new DataView(tail.buffer).setFloat32(0, t.scaleAs('F32'), true);
        sink.write(tail);
      }
      t.done();
    }
  },

  finish() {
    return [];
  },

  describe(model, o) {
    const { arch, type } = choose(model, o);
    return { gguf_arch: arch, gguf_type: type, engine: ARCHS[arch].engine };
  },

  read(folder) {
    return readAll(gguf.tensors(folder));
  },

  *tensors(folder, only): Generator<LazyTensor> {
    const file = folder.list().find((f) => f.endsWith('.gguf'));
    if (!file) throw new CorruptFileError({ file: 'output folder' }, 'a .gguf file', 'none');
    if (only && !only(file)) return;
    for (const t of ggufHead(folder, file).tensors) {
      const base = { name: t.name, dtype: t.type, shape: t.ne };
      const ternary = /\.(attn_[qkv]|attn_output|ffn_gate|ffn_up|ffn_down)\.weight$/.test(t.name);
      if (!ternary) {
        yield base;
        continue;
      }
      const [cols, rows] = t.ne;
      yield { ...base, ternary: ggufRows(t.type, (offset, length, into) => readRange(folder, file, t.offset + offset, length, into), rows, cols, file, t.name) };
    }
  },
};

/** The head of a .gguf (KVs and tensor infos) from a prefix of the file (8 MiB: a 128k vocabulary fits), read larger until it holds the head. */
function ggufHead(folder: OutputFolder, file: string): ReturnType<typeof parseGguf> {
  const size = sizeOf(folder, file);
  for (let n = Math.min(size, 1 << 23); ; n = Math.min(size, 2 * n)) {
    try {
      return parseGguf(readRange(folder, file, 0, n), file, size, { arrays: 'check' }); // the tensors only: the vocabulary is checked, not kept
    } catch (e) {
      if (n >= size || n >= 1 << 28 || !(e instanceof CorruptFileError)) throw e;
    }
  }
}

/**
 * A ternary tensor of any of the types written here, decoded a row range at a time. Rows of whole blocks
 * (I2_S: 128 values, TQ: 256) are stored in order; otherwise the tensor is one chunk. I2_S has one scale
 * (its tail); the others' row scales come out of the values, so those are decoded (and so checked) once here.
 */
function ggufRows(type: GgmlTypeName, bytes: (offset: number, length: number, into?: Uint8Array) => Uint8Array, rows: number, cols: number, file: string, tensor: string): TernaryRows {
  const perBlock = type === 'I2_S' ? 128 : type === 'F16' ? 1 : 256;
  const whole = cols % perBlock !== 0;
  const rowBytes = type === 'I2_S' ? cols / 4 : type === 'F16' ? 2 * cols : (cols / 256) * GGML_TYPES[type].blockBytes;
  const bytesOf = (row: number, count: number, into?: Uint8Array) =>
    whole ? bytes(0, Math.ceil((rows * cols) / perBlock) * (type === 'I2_S' ? 32 : type === 'F16' ? 2 : GGML_TYPES[type].blockBytes), into) : bytes(row * rowBytes, count * rowBytes, into);
  const rowScales = new Float32Array(rows);
  const multiple = whole ? rows : 1;
  const unpack = (data: Uint8Array, row: number, count: number) => unpackGguf(type, data, count, cols, file, tensor, row, rowScales);
  if (type === 'I2_S') {
    const tail = bytes(Math.floor((rows * cols) / 4), 4);
    rowScales.fill(new DataView(tail.buffer, tail.byteOffset, 4).getFloat32(0, true));
    return storedRows({ rows, cols, rowScales, multiple, bytesOf, unpack, bad: anyCode3 });
  }
  const t = storedRows({ rows, cols, rowScales, multiple, bytesOf, unpack });
  t.check(); // fills rowScales
  return { ...t, check: () => {} };
}

/** Decodes `rows` rows of a ternary tensor (from row `row0`) of any of the types written here, setting their row scales. */
function unpackGguf(type: GgmlTypeName, data: Uint8Array, rows: number, cols: number, file: string, tensor: string, row0: number, rowScales: Float32Array): Int8Array {
  const q = new Int8Array(rows * cols);
  const base = row0 * cols;
  const put = (i: number, code: number) => (code > 2 ? badCode(file, tensor, base + i, code) : (q[i] = code - 1));
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (type === 'I2_S') {
    // byte 32*(i/128) + i%32 holds value i at bits 6 - 2*((i%128)/32); the scale is the tail's (set by the caller)
    for (let i = 0; i < rows * cols; i++) put(i, (data[32 * Math.floor(i / 128) + (i % 32)] >> (6 - 2 * ((i % 128) >> 5))) & 3);
  } else if (type === 'TQ2_0' || type === 'TQ1_0') {
    const blockBytes = GGML_TYPES[type].blockBytes;
    for (let b = 0; b < (rows * cols) / 256; b++) {
      const block = data.subarray(b * blockBytes, (b + 1) * blockBytes);
      const at = b * 256;
      if (type === 'TQ2_0') {
        // value 128h + 32n + m at bits 2n of qs[32h + m]
        for (let j = 0; j < 256; j++) put(at + j, (block[32 * (j >> 7) + (j & 31)] >> (2 * ((j >> 5) & 3))) & 3);
      } else {
        // base-3 bytes, first trit most significant: trit n of byte x is ((uint8)(x * 3^n) * 3) >> 8
        const trit = (x: number, n: number) => (((x * 3 ** n) & 255) * 3) >> 8;
        for (let m = 0; m < 32; m++) for (let n = 0; n < 5; n++) put(at + m + 32 * n, trit(block[m], n));
        for (let m = 0; m < 16; m++) for (let n = 0; n < 5; n++) put(at + 160 + m + 16 * n, trit(block[32 + m], n));
        for (let j = 0; j < 4; j++) for (let n = 0; n < 4; n++) put(at + 240 + j + 4 * n, trit(block[48 + j], n));
      }
      if (at % cols === 0) rowScales[row0 + at / cols] = f16ToF32(view.getUint16(b * blockBytes + blockBytes - 2, true));
    }
  } else {
    // F16: each value is -d, 0 or +d
    for (let i = 0; i < rows * cols; i++) {
      const v = f16ToF32(view.getUint16(2 * i, true));
      q[i] = Math.sign(v);
      if (v !== 0) rowScales[row0 + Math.floor(i / cols)] = Math.abs(v);
    }
  }
  return q;
}

/** Bytes one row of `cols` ternary values takes in a type (without I2_S's tail). */
function rowBytes(type: GgmlTypeName, cols: number): number {
  const t = GGML_TYPES[type];
  return (cols / t.blockValues) * t.blockBytes;
}

/** --gguf-type f16: each ternary value times the scale, as f16 bits (three possible values). */
function ternaryAsF16(q: Int8Array, dst: Uint16Array, d: number): void {
  const neg = d | 0x8000;
  for (let i = 0; i < q.length; i++) dst[i] = q[i] > 0 ? d : q[i] < 0 ? neg : 0;
}


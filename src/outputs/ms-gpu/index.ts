// Microsoft's BitNet GPU int2 layout (docs/formats.md section 5; microsoft/BitNet gpu/convert_safetensors.py,
// convert_checkpoint.py, pack_weight.py): one .safetensors with Microsoft's names, wqkv = q|k|v with q
// and k rows un-permuted from Hugging Face's rotate-half order, w13 = gate|up, each projection
// ternarized on its own and packed by the 16x32 tile permutation + int32 interleave kernel (I8 [N, K/4]),
// `weight_scale` BF16 [4] (one scale per stacked projection, zero-filled), float tensors copied as they are.
// Tensors are laid out by name, as in the golden file Microsoft's scripts produced.

import { CorruptFileError, UnsupportedError } from '../../errors.js';
import type { BlockRole, FloatWeight, LinearRole, NormRole, TernaryWeight } from '../../model/plan.js';
import { interleavedRopeSource, isLinearRole, roleShapes, ternaryShape } from '../../model/plan.js';
import { configOf, exactly, vector, type ExpectedTensor } from '../expected.js';
import { floatEntry, planContainer, scaleBytes, writeFloatEntry, type Entry, type FloatEntry, type Placed } from '../safetensors-container.js';
import type { OutputFormat } from '../types.js';
import { jsonFile, readAll, storedRows, tensorsWithScales } from '../read-helpers.js';
import { ENGINE_NAMES, blockTensorName } from '../tensor-names.js';
import { PACKINGS, anyCode, shapeProblem } from '../../kernels/packings.js';
import { f32ToBf16 } from '../../quant/floats.js';
import type { OpenTernary, WeightStream } from '../../stream/weights.js';
import type { ByteSink } from '../../stream/ports.js';

const INT2 = PACKINGS['ms-int2'];
import { jsonBytes } from '../../formats/json-text.js';

const FILE = 'model_state_int2.safetensors';
/** The prefill weights gpu/generate.py loads beside FILE (as model_state_fp16.pt; docs/formats.md 5). */
const PREFILL_FILE = 'model_state_fp16.safetensors';

const OPTIONS = [
  {
    key: 'msGpuPrefill',
    values: ['none', 'bf16'],
    default: 'none',
    help: `bf16: also write ${PREFILL_FILE}, every projection as BF16 ternary x scale under the same names, which gpu/generate.py's prefill loads (2 bytes a weight more)`,
    label: 'Prefill weights',
  },
] as const;
type Own = { msGpuPrefill: (typeof OPTIONS)[0]['values'][number] };

/** Stacked projections packed as I8 [N, K/4] + BF16 [4] scales; `heads[i]` un-permutes part i's rows per head (q, k). */
type Int2Entry = Entry & { kind: 'int2'; weights: TernaryWeight[]; heads: (number | undefined)[] };
/** The same projections stacked as BF16 [N, K], ternary x scale, for the prefill file. */
type Bf16Entry = Omit<Int2Entry, 'kind'> & { kind: 'bf16' };

const copied = (name: string, w: FloatWeight): FloatEntry => floatEntry(name, w, 'source', w.tensor.storedShape);

export const msGpu: OutputFormat<Placed<Int2Entry | Bf16Entry | FloatEntry>[], Own> = {
  id: 'ms-gpu',
  about: "Microsoft BitNet's GPU int2 layout (model_state_int2 as safetensors: wqkv/w13 with 16x32 tile permutation and int32 interleave; with prefill bf16, model_state_fp16 too)",
  options: OPTIONS,

  plan(model, o) {
    if (!model.hasSubNorms) throw new UnsupportedError({}, 'a model with attn_sub_norm and ffn_sub_norm (the GPU kernels compute them)', `a ${model.layout} checkpoint without them`);
    if (o.granularity !== 'projection') throw new UnsupportedError({}, '--scale-granularity projection (weight_scale holds one value per projection)', 'row');
    const { headDim, numHeads, numKvHeads } = model.config;
    const int2 = (name: string, ...parts: [TernaryWeight, number?][]): Int2Entry => {
      const cols = ternaryShape(parts[0][0]).cols;
      for (const [w] of parts) {
        const rows = ternaryShape(w).rows;
        if (shapeProblem(INT2, rows, cols)) {
          throw new UnsupportedError({ tensor: name }, `projections of a multiple of ${INT2.rowMultiple} rows and ${INT2.colMultiple} columns (16x32 tiles)`, `[${rows}, ${cols}]`);
        }
      }
      if (headDim % 2 !== 0) throw new UnsupportedError({ tensor: name }, 'an even head_dim (rotate-half pairs)', String(headDim));
      const rows = parts.reduce((n, [w]) => n + ternaryShape(w).rows, 0);
      return {
        kind: 'int2',
        tensors: [
          { name, dtype: 'I8', shape: [rows, INT2.bytes(1, cols)] },
          { name: name + '_scale', dtype: 'BF16', shape: [4] },
        ],
        weights: parts.map(([w]) => w),
        heads: parts.map(([, h]) => h),
      };
    };
    const output: FloatWeight = { kind: 'float', tensor: model.output.kind === 'master' ? model.output.tensor : model.tokenEmbd.tensor };
    // q and k rows are un-permuted per head (rotate-half pairs)
    const heads: Partial<Record<BlockRole, number>> = { attn_q: numHeads, attn_k: numKvHeads };
    const n = ENGINE_NAMES.model;
    const groups: (Int2Entry | FloatEntry)[][] = [
      [copied(n.token_embd!, model.tokenEmbd)],
      [copied(n.output!, output)],
      [copied(n.output_norm!, model.outputNorm)],
      ...model.blocks.map((b) =>
        Object.entries(ENGINE_NAMES.block).map(([suffix, roles]) => {
          const name = blockTensorName(ENGINE_NAMES, b.index, suffix);
          return roles.every(isLinearRole) ? int2(name, ...roles.map((r): [TernaryWeight, number?] => [b[r as LinearRole], heads[r]])) : copied(name, b[roles[0] as NormRole]!);
        }),
      ),
    ];
    const int2Plan = planContainer('ms-gpu', FILE, groups, 'name', o);
    if (o.msGpuPrefill !== 'bf16') return int2Plan;
    // the prefill file: the same names, each projection BF16 [N, K] (its own jobs, reading the weights again), the floats copied again
    const bf16 = (e: Int2Entry): Bf16Entry => ({ ...e, kind: 'bf16', tensors: [{ name: e.tensors[0].name, dtype: 'BF16', shape: [e.tensors[0].shape[0], ternaryShape(e.weights[0]).cols] }] });
    const prefill = planContainer('ms-gpu', PREFILL_FILE, groups.map((g) => g.map((e) => (e.kind === 'int2' ? bf16(e) : e))), 'name', o);
    return { jobs: [...int2Plan.jobs, ...prefill.jobs], containers: [...int2Plan.containers, ...prefill.containers] };
  },

  write(j, s, out) {
    const k = s.kernels;
    for (const e of j.part) {
      if (e.kind === 'floats') {
        writeFloatEntry(s, out, e);
        continue;
      }
      const sink = out.sink(e.at[0]);
      if (e.kind === 'bf16') {
        writePrefill(s, sink, e);
        continue;
      }
      const scales = new Uint8Array(8); // BF16 [4], unused entries zero
      (e.weights as TernaryWeight[]).forEach((w, i) => {
        const { cols } = ternaryShape(w);
        const heads = e.heads[i];
        const t = s.ternary(w, { packed: INT2.bytes(1, cols) }, { rowMultiple: INT2.rowMultiple });
        for (let r = 0; r < t.rows; r += t.rowsPerChunk) {
          const n = Math.min(t.rowsPerChunk, t.rows - r);
          inFileOrder(t, heads, r, n, (row, count, x) => t.i8(row, count, t.i8Buffer + x * cols));
          INT2.pack(k.exports, t.i8Buffer, n, cols, t.buffers.packed);
          sink.write(k.u8(t.buffers.packed, INT2.bytes(n, cols)));
        }
        scales.set(scaleBytes(t.scaleAs('BF16'), 'BF16'), 2 * i);
        t.done();
      });
      out.sink(e.at[1]).write(scales);
    }
  },

  finish(model) {
    // Microsoft's scripts take the shapes from their own model args; the config lets a reader split
    // wqkv and w13 into their projections (and so their scales)
    return [{ name: 'config.json', bytes: jsonBytes(model.config.raw) }];
  },

  describe() {
    return {};
  },

  read(folder) {
    return readAll(msGpu.tensors(folder));
  },

  expected(folder) {
    // plan()'s names and shapes: I8 [N, K/4] with q|k|v and gate|up stacked, floats as the source stored them
    const c = configOf(folder);
    const { linear, norm } = roleShapes(c);
    const int2 = (rows: number, cols: number) => exactly(FILE, rows, INT2.bytes(1, cols));
    const tensors = new Map<string, ExpectedTensor>([
      ['tok_embeddings.weight', exactly(FILE, c.vocabSize, c.hiddenSize)],
      ['output.weight', exactly(FILE, c.vocabSize, c.hiddenSize)],
      ['norm.weight', vector(FILE, c.hiddenSize)],
    ]);
    for (let i = 0; i < c.numLayers; i++) {
      const p = `layers.${i}.`;
      tensors.set(p + 'attention.wqkv.weight', int2(linear.attn_q[0] + linear.attn_k[0] + linear.attn_v[0], c.hiddenSize));
      tensors.set(p + 'attention.wo.weight', int2(...linear.attn_o));
      tensors.set(p + 'feed_forward.w13.weight', int2(linear.ffn_gate[0] + linear.ffn_up[0], c.hiddenSize));
      tensors.set(p + 'feed_forward.w2.weight', int2(...linear.ffn_down));
      tensors.set(p + 'attention_norm.weight', vector(FILE, norm.attn_norm));
      tensors.set(p + 'ffn_norm.weight', vector(FILE, norm.ffn_norm));
      tensors.set(p + 'attention.attn_sub_norm.weight', vector(FILE, norm.attn_sub_norm));
      tensors.set(p + 'feed_forward.ffn_sub_norm.weight', vector(FILE, norm.ffn_sub_norm));
    }
    return { from: 'config.json', tensors };
  },

  *tensors(folder, only) {
    if (only && !only(FILE)) return;
    const config = jsonFile<Record<string, number>>(folder, 'config.json');
    const heads = config.num_attention_heads;
    const headDim = config.head_dim ?? config.hidden_size / heads;
    const q = heads * headDim;
    const kv = (config.num_key_value_heads ?? heads) * headDim;
    // the rows of each stacked projection, by its role
    const partRows: Partial<Record<BlockRole, number>> = { attn_q: q, attn_k: kv, attn_v: kv, ffn_gate: config.intermediate_size, ffn_up: config.intermediate_size };
    yield* tensorsWithScales(folder, FILE, ENGINE_NAMES, only, (t) => t.dtype === 'I8', () => 4, (info, scales, bytes, role) => {
      const [rows, quarterCols] = info.storedShape;
      const cols = quarterCols * 4;
      const split = typeof role === 'object' && role.roles.length > 1 ? role.roles.map((r) => partRows[r] ?? 0) : [rows];
      if (split.reduce((a, b) => a + b, 0) !== rows) throw new CorruptFileError({ file: FILE, tensor: info.name }, `${split.join(' + ')} rows from config.json`, `${rows}`);
      if (shapeProblem(INT2, rows, cols)) throw new CorruptFileError({ file: FILE, tensor: info.name }, 'whole 16x32 tiles', `[${rows}, ${cols}]`);
      const rowScales = new Float32Array(rows);
      split.reduce((row0, n, i) => (rowScales.fill(scales[i], row0, row0 + n), row0 + n), 0);
      // rows as stored: q and k in Microsoft's interleaved order; tiles of 16 rows stored in order
      return storedRows({
        rows,
        cols,
        rowScales,
        multiple: INT2.rowMultiple,
        bytesOf: (row, count, into) => bytes(INT2.bytes(row, cols), INT2.bytes(count, cols), into),
        unpack: (data, row, count) => INT2.unpack(data, count, cols, { file: FILE, tensor: info.name, row0: row, tensorRows: rows }),
        bad: (data) => anyCode(data, INT2.badCode2),
      });
    });
  },
};

/**
 * A stacked projection as BF16 rows, each value ternary x its part's scale (a zero keeps the sign of the
 * master value it was rounded from), rows in the int2 file's order: Microsoft's quant_weight_fp16.
 */
function writePrefill(s: WeightStream, sink: ByteSink, e: Placed<Bf16Entry>): void {
  (e.weights as TernaryWeight[]).forEach((w, i) => {
    const { cols } = ternaryShape(w);
    const heads = e.heads[i];
    const t = s.ternary(w, { bf16: 2 * cols });
    const bits = f32ToBf16(t.scaleAs('BF16'));
    for (let r = 0; r < t.rows; r += t.rowsPerChunk) {
      const n = Math.min(t.rowsPerChunk, t.rows - r);
      inFileOrder(t, heads, r, n, (row, count, x) => t.bf16(row, count, t.buffers.bf16 + 2 * x * cols, bits));
      sink.write(s.kernels.u8(t.buffers.bf16, 2 * n * cols));
    }
    t.done();
  });
}

/**
 * Rows [r, r + n) of the file, in its order: as the source has them, or (`heads`: q, k) one at a time from
 * the rotate-half row each comes from; `take(row, count, x)` puts source rows at the chunk's row x.
 */
function inFileOrder(t: OpenTernary, heads: number | undefined, r: number, n: number, take: (row: number, count: number, x: number) => void): void {
  if (!heads) return take(r, n, 0);
  const headRows = t.rows / heads;
  for (let x = 0; x < n; x++) take(interleavedRopeSource(r + x, headRows), 1, x);
}

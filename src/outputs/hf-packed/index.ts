// The packed checkpoint transformers loads (microsoft/bitnet-b1.58-2B-4T's form): BitNetForCausalLM,
// projections as U8 [out/4, in] (transformers pack_weights: bits 2i..2i+1 of byte [r, c] hold
// W[i*out/4 + r, c] + 1) with a `weight_scale` [1] that AutoBitLinear multiplies, every float tensor
// in the source dtype under the BitNet names, quantization_config offline autobitlinear, tokenizer and
// generation files copied. How a user who fine-tuned the BF16 master gets the small form back.

import { jsonBytes } from '../../formats/json-text.js';
import { UnsupportedError } from '../../errors.js';
import type { BlockRole, FloatWeight, TernaryWeight } from '../../model/plan.js';
import { BLOCK_ROLES, LINEAR_ROLES, roleShapes, ternaryShape } from '../../model/plan.js';
import type { TensorNames } from '../tensor-names.js';
import { configOf, exactly, vector, type ExpectedTensor } from '../expected.js';
import type { FloatDType } from '../../quant/rule.js';
import { floatEntry, planContainer, scaleBytes, writeFloatEntry, type Entry, type FloatEntry, type Placed } from '../safetensors-container.js';
import { copySideFiles } from '../side-files.js';
import { chunkRows, readAll, tensorsWithScales } from '../read-helpers.js';
import { PACKINGS, anyCode, shapeProblem } from '../../kernels/packings.js';

const U8 = PACKINGS['hf-u8'];
import type { BaseFormatOptions, OutputFormat } from '../types.js';

const FILE = 'model.safetensors';
/** The transformers class that loads this format, and its tensor names (its modeling_bitnet.py) by role. */
const TRANSFORMERS_CLASS = 'BitNetForCausalLM';
const MODEL_NAMES = { token_embd: 'model.embed_tokens.weight', output_norm: 'model.norm.weight', output: 'lm_head.weight' } as const;
const BLOCK_NAMES: Record<BlockRole, string> = {
  attn_norm: 'input_layernorm.weight',
  attn_q: 'self_attn.q_proj.weight',
  attn_k: 'self_attn.k_proj.weight',
  attn_v: 'self_attn.v_proj.weight',
  attn_o: 'self_attn.o_proj.weight',
  attn_sub_norm: 'self_attn.attn_sub_norm.weight',
  ffn_norm: 'post_attention_layernorm.weight',
  ffn_gate: 'mlp.gate_proj.weight',
  ffn_up: 'mlp.up_proj.weight',
  ffn_down: 'mlp.down_proj.weight',
  ffn_sub_norm: 'mlp.ffn_sub_norm.weight',
};
const BLOCK_PREFIX = 'model.layers.';
const blockName = (i: number, role: BlockRole) => `${BLOCK_PREFIX}${i}.${BLOCK_NAMES[role]}`;
/** The same names for the reader, which reports each tensor's role. */
const NAMES: TensorNames = { model: MODEL_NAMES, prefix: BLOCK_PREFIX, block: Object.fromEntries(BLOCK_ROLES.map((r) => [BLOCK_NAMES[r], [r]])) };
/** A packed projection's scale (AutoBitLinear's weight_scale). */
const scaleNameOf = (weightName: string) => `${weightName}_scale`;

/** A projection as U8 [out/4, in] + its weight_scale [1], or without it (one tensor) where a ScaleEntry writes it. */
type U8Entry = Entry & { kind: 'u8'; weights: [TernaryWeight]; scaleDtype: FloatDType };
/** The weight_scale of a packed source's projection, stored apart from its codes: written before the codes are read. */
type ScaleEntry = Entry & { kind: 'scale'; of: TernaryWeight; scaleDtype: FloatDType };

/** A float tensor copied in the source dtype and stored shape. */
const copied = (name: string, w: FloatWeight): FloatEntry => floatEntry(name, w, 'source', w.tensor.storedShape);

/**
 * The dtype a projection's weight_scale is stored in: the one its value is exact in, so a round trip is
 * lossless (the rule's arithmetic dtype; a packed input's own scale dtype, to which a divided scale's
 * exact inverse is rounded once).
 */
function scaleDtypeOf(w: TernaryWeight, o: BaseFormatOptions): FloatDType {
  if (w.kind === 'packed') return w.scale === 'blocks' ? 'F16' : w.scale.dtype; // a GGUF block's d is fp16
  return o.rule === 'offline' ? w.tensor.dtype : 'F32';
}

export const hfPacked: OutputFormat<Placed<U8Entry | ScaleEntry | FloatEntry>[]> = {
  id: 'hf-packed',
  about: 'the packed checkpoint transformers loads (BitNetForCausalLM, U8 + weight_scale, autobitlinear offline)',
  options: [],

  plan(model, o) {
    if (!model.hasSubNorms) {
      throw new UnsupportedError({ tensor: blockName(0, 'attn_sub_norm') }, 'a model with attn_sub_norm and ffn_sub_norm (BitNetForCausalLM computes them)', `a ${model.layout} checkpoint without sub-norms; choose --format bitnet-rs`);
    }
    if (o.granularity !== 'projection') throw new UnsupportedError({}, '--scale-granularity projection (weight_scale is one value per projection)', 'row');
    // The file puts its F32 tensors first (writer order), the norms and scales among them, and its hash
    // follows the writes only once that prefix is complete: one first, tiny job writes every norm and
    // every scale the source stores (a packed input's), the blocks' jobs their codes (docs/performance.md).
    const first: (ScaleEntry | FloatEntry)[] = [copied(MODEL_NAMES.output_norm, model.outputNorm)];
    const u8 = (name: string, weight: TernaryWeight): U8Entry => {
      const { rows, cols } = ternaryShape(weight);
      if (shapeProblem(U8, rows, cols)) throw new UnsupportedError({ tensor: name }, `a row count divisible by ${U8.rowMultiple} (U8 [out/4, in])`, `${rows} rows`);
      const scaleDtype = scaleDtypeOf(weight, o);
      const scale = { name: scaleNameOf(name), dtype: scaleDtype, shape: [1] };
      const stored = weight.kind === 'packed' && weight.scale !== 'blocks';
      if (stored) first.push({ kind: 'scale', tensors: [scale], weights: [], of: weight, scaleDtype });
      const tensors = [{ name, dtype: 'U8' as const, shape: [rows / 4, cols] }, ...(stored ? [] : [scale])];
      return { kind: 'u8', tensors, weights: [weight], scaleDtype };
    };
    const groups: (U8Entry | ScaleEntry | FloatEntry)[][] = [[copied(MODEL_NAMES.token_embd, model.tokenEmbd)], first];
    if (!model.outputTied) {
      const head = model.output;
      if (head.kind !== 'master') throw new UnsupportedError({ tensor: MODEL_NAMES.output }, 'a float lm_head', 'a packed one');
      groups.push([copied(MODEL_NAMES.output, { kind: 'float', tensor: head.tensor })]);
    }
    for (const b of model.blocks) {
      groups.push(LINEAR_ROLES.map((r) => u8(blockName(b.index, r), b[r])));
      first.push(...(['attn_norm', 'attn_sub_norm', 'ffn_norm', 'ffn_sub_norm'] as const).map((r) => copied(blockName(b.index, r), b[r]!)));
    }
    return planContainer('hf-packed', FILE, groups, 'writer', o, { format: 'pt' });
  },

  write(j, s, out) {
    const k = s.kernels;
    for (const e of j.part) {
      if (e.kind === 'floats') {
        writeFloatEntry(s, out, e);
        continue;
      }
      if (e.kind === 'scale') {
        out.sink(e.at[0]).write(scaleBytes(s.storedScale(e.of, e.scaleDtype)!, e.scaleDtype));
        continue;
      }
      const sink = out.sink(e.at[0]);
      const { cols } = ternaryShape(e.weights[0]);
      // a byte holds the same row of the 4 row quarters: take the 4 bands of each chunk into the i8
      // buffer (a chunk's rows in all, so the worker's memory is what a consecutive packing needs), then pack
      const t = s.ternary(e.weights[0], { packed: Math.ceil(U8.bytes(4, cols) / 4) }, { rowMultiple: 4 });
      const quarter = t.rows / 4;
      const per = t.rowsPerChunk / 4;
      for (let r = 0; r < quarter; r += per) {
        const n = Math.min(per, quarter - r);
        if (!t.bandsPacked(U8, r, n, t.i8Buffer, t.buffers.packed)) {
          for (let q = 0; q < 4; q++) t.i8(q * quarter + r, n, t.i8Buffer + q * n * cols);
          U8.pack(k.exports, t.i8Buffer, 4 * n, cols, t.buffers.packed);
        }
        sink.write(k.u8(t.buffers.packed, U8.bytes(4 * n, cols)));
      }
      if (e.at.length > 1) out.sink(e.at[1]).write(scaleBytes(t.scaleAs(e.scaleDtype), e.scaleDtype));
      t.done();
    }
  },

  finish(model, o, input) {
    // a config that is already BitNetForCausalLM's is kept whole; another family's remote code does not apply
    const { auto_map: _remoteCode, ...raw } = model.config.raw;
    const config = {
      ...(model.config.architecture === TRANSFORMERS_CLASS ? model.config.raw : raw),
      architectures: [TRANSFORMERS_CLASS],
      model_type: 'bitnet',
      hidden_act: model.config.hiddenAct,
      num_key_value_heads: model.config.numKvHeads,
      tie_word_embeddings: model.outputTied,
      quantization_config: { quant_method: 'bitnet', linear_class: 'autobitlinear', quantization_mode: 'offline' },
    };
    return [{ name: 'config.json', bytes: jsonBytes(config) }, ...copySideFiles(input)];
  },

  describe() {
    return {};
  },

  read(folder) {
    return readAll(hfPacked.tensors(folder));
  },

  expected(folder) {
    // the names and shapes plan() writes: U8 [out/4, in], floats as the source stored them, lm_head only untied
    const c = configOf(folder);
    const { linear, norm } = roleShapes(c);
    const tensors = new Map<string, ExpectedTensor>([[MODEL_NAMES.token_embd, exactly(FILE, c.vocabSize, c.hiddenSize)], [MODEL_NAMES.output_norm, vector(FILE, c.hiddenSize)]]);
    if (!c.tieWordEmbeddings) tensors.set(MODEL_NAMES.output, exactly(FILE, c.vocabSize, c.hiddenSize));
    for (let i = 0; i < c.numLayers; i++) {
      for (const r of LINEAR_ROLES) tensors.set(blockName(i, r), exactly(FILE, linear[r][0] / 4, linear[r][1]));
      for (const [r, n] of Object.entries(norm)) tensors.set(blockName(i, r as keyof typeof norm), vector(FILE, n));
    }
    return { from: 'config.json', tensors };
  },

  tensors(folder, only) {
    return tensorsWithScales(folder, FILE, NAMES, only, (t) => t.dtype === 'U8', () => 1, (info, scales, bytes) => {
      const [quarter, cols] = info.storedShape;
      const rows = 4 * quarter;
      const rowsPerChunk = chunkRows(rows, cols);
      return {
        rows,
        cols,
        rowScales: new Float32Array(rows).fill(scales[0]),
        rowsPerChunk,
        decode(row, count) {
          // rows of band i (W[i*quarter + r]) sit in bits 2i..2i+1 of byte row r: decode each band's part of the range
          const q = new Int8Array(count * cols);
          for (let band = 0; band < 4; band++) {
            const from = Math.max(row, band * quarter);
            const to = Math.min(row + count, (band + 1) * quarter);
            if (from >= to) continue;
            const r0 = from - band * quarter;
            const data = bytes(U8.bytes(4 * r0, cols), U8.bytes(4 * (to - from), cols));
            q.set(U8.unpack(data, 4 * (to - from), cols, { file: FILE, tensor: info.name, row0: r0, tensorRows: rows, band }), (from - row) * cols);
          }
          return q;
        },
        check() {
          // each byte row once, all four bands; a bad code is named as the whole-tensor decode names it (band order)
          const byteRows = chunkRows(quarter, cols);
          let buffer: Uint8Array | undefined;
          for (let r = 0; r < quarter; r += byteRows) {
            const n = Math.min(byteRows, quarter - r);
            const data = bytes(U8.bytes(4 * r, cols), U8.bytes(4 * n, cols), buffer);
            buffer ??= data;
            if (anyCode(data, U8.badCode2)) U8.unpack(data, 4 * n, cols, { file: FILE, tensor: info.name, row0: r, tensorRows: rows });
          }
        },
      };
    });
  },
};

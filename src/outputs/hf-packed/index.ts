// The packed checkpoint transformers loads (microsoft/bitnet-b1.58-2B-4T's form): BitNetForCausalLM,
// projections as U8 [out/4, in] (transformers pack_weights: bits 2i..2i+1 of byte [r, c] hold
// W[i*out/4 + r, c] + 1) with a `weight_scale` [1] that AutoBitLinear multiplies, every float tensor
// in the source dtype under the BitNet names, quantization_config offline autobitlinear, tokenizer and
// generation files copied. How a user who fine-tuned the BF16 master gets the small form back.

import { jsonBytes } from '../../formats/json-text.js';
import { UnsupportedError } from '../../errors.js';
import type { FloatWeight, TernaryWeight } from '../../model/plan.js';
import { LINEAR_ROLES, ternaryShape } from '../../model/plan.js';
import { BLOCK_NAMES, MODEL_NAMES, blockPrefix, scaleNameOf } from '../../layouts/names.js';
import type { FloatDType } from '../../quant/rule.js';
import { floatEntry, planContainer, scaleBytes, writeFloatEntry, type Entry, type FloatEntry, type Placed } from '../safetensors-container.js';
import { copySideFiles } from '../side-files.js';
import { anyCode3, badCode, chunkRows, readAll, tensorsWithScales } from '../read-helpers.js';
import type { FormatOptions, OutputFormat } from '../types.js';

const FILE = 'model.safetensors';

/** A projection as U8 [out/4, in] + its weight_scale [1]. */
type U8Entry = Entry & { kind: 'u8'; weights: [TernaryWeight]; scaleDtype: FloatDType };

/** A float tensor copied in the source dtype and stored shape. */
const copied = (name: string, w: FloatWeight): FloatEntry => floatEntry(name, w, 'source', w.tensor.storedShape);

/**
 * The dtype a projection's weight_scale is stored in: the one its value is exact in, so a round trip is
 * lossless (the rule's arithmetic dtype; a packed input's own scale dtype, to which a divided scale's
 * exact inverse is rounded once).
 */
function scaleDtypeOf(w: TernaryWeight, o: FormatOptions): FloatDType {
  if (w.kind === 'packed') return w.scale.dtype;
  return o.rule === 'offline' ? w.tensor.dtype : 'F32';
}

export const hfPacked: OutputFormat = {
  id: 'hf-packed',
  about: 'the packed checkpoint transformers loads (BitNetForCausalLM, U8 + weight_scale, autobitlinear offline)',

  plan(model, o) {
    if (!model.hasSubNorms) {
      throw new UnsupportedError({ tensor: blockPrefix(0) + BLOCK_NAMES.attn_sub_norm[0] }, 'a model with attn_sub_norm and ffn_sub_norm (BitNetForCausalLM computes them)', `a ${model.layout} checkpoint without sub-norms; choose --format bitnet-rs`);
    }
    if (o.granularity !== 'projection') throw new UnsupportedError({}, '--scale-granularity projection (weight_scale is one value per projection)', 'row');
    const u8 = (name: string, weight: TernaryWeight): U8Entry => {
      const { rows, cols } = ternaryShape(weight);
      if (rows % 4 !== 0) throw new UnsupportedError({ tensor: name }, 'a row count divisible by 4 (U8 [out/4, in])', `${rows} rows`);
      const scaleDtype = scaleDtypeOf(weight, o);
      const tensors = [{ name, dtype: 'U8' as const, shape: [rows / 4, cols] }, { name: scaleNameOf(name), dtype: scaleDtype, shape: [1] }];
      return { kind: 'u8', tensors, weights: [weight], scaleDtype };
    };
    const groups: (U8Entry | FloatEntry)[][] = [[copied(MODEL_NAMES.token_embd[0], model.tokenEmbd)], [copied(MODEL_NAMES.output_norm[0], model.outputNorm)]];
    if (!model.outputTied) {
      const head = model.output;
      if (head.kind !== 'master') throw new UnsupportedError({ tensor: MODEL_NAMES.output[0] }, 'a float lm_head', 'a packed one');
      groups.push([copied(MODEL_NAMES.output[0], { kind: 'float', tensor: head.tensor })]);
    }
    for (const b of model.blocks) {
      const p = blockPrefix(b.index);
      groups.push([
        ...LINEAR_ROLES.map((r) => u8(p + BLOCK_NAMES[r][0], b[r])),
        ...(['attn_norm', 'attn_sub_norm', 'ffn_norm', 'ffn_sub_norm'] as const).map((r) => copied(p + BLOCK_NAMES[r][0], b[r]!)),
      ]);
    }
    return planContainer('hf-packed', FILE, groups, 'writer', o, { format: 'pt' });
  },

  write(j, s, out) {
    const k = s.kernels;
    for (const e of j.part as Placed<U8Entry | FloatEntry>[]) {
      if (e.kind === 'floats') {
        writeFloatEntry(s, out, e);
        continue;
      }
      const sink = out.sink(e.at[0]);
      const { cols } = ternaryShape(e.weights[0]);
      // a byte holds the same row of the 4 row quarters: take the 4 bands of each chunk, then pack
      const t = s.ternary(e.weights[0], { bands: 4 * cols, packed: cols });
      const quarter = t.rows / 4;
      for (let r = 0; r < quarter; r += t.rowsPerChunk) {
        const n = Math.min(t.rowsPerChunk, quarter - r);
        for (let q = 0; q < 4; q++) t.i8(q * quarter + r, n, t.buffers.bands + q * n * cols);
        k.exports.packHfU8(t.buffers.bands, n, cols, t.buffers.packed);
        sink.write(k.u8(t.buffers.packed, n * cols));
      }
      out.sink(e.at[1]).write(scaleBytes(t.scaleAs(e.scaleDtype), e.scaleDtype));
      t.done();
    }
  },

  finish(model, o, input) {
    const { auto_map: _remoteCode, ...raw } = model.config.raw; // the remote code of another family does not apply
    const config = {
      ...(model.layout === 'hf-bitnet' || model.layout === 'hf-bitnet-packed' ? model.config.raw : raw),
      architectures: ['BitNetForCausalLM'],
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

  tensors(folder, only) {
    return tensorsWithScales(folder, FILE, only, (t) => t.dtype === 'U8', () => 1, (info, scales, bytes) => {
      const [quarter, cols] = info.storedShape;
      const rows = 4 * quarter;
      const rowsPerChunk = chunkRows(rows, cols);
      return {
        rows,
        cols,
        rowScales: new Float32Array(rows).fill(scales[0]),
        rowsPerChunk,
        decode(row, count) {
          // rows of band i (W[i*quarter + r]) sit in bits 2i..2i+1 of byte row r
          const q = new Int8Array(count * cols);
          for (let i = 0; i < 4; i++) {
            const from = Math.max(row, i * quarter);
            const to = Math.min(row + count, (i + 1) * quarter);
            if (from >= to) continue;
            const data = bytes((from - i * quarter) * cols, (to - from) * cols);
            unpackHfBand(data, i, from, to - from, cols, q, (from - row) * cols, info.name);
          }
          return q;
        },
        check() {
          // each byte row once; a bad code is named as the whole-tensor decode names it (byte order, then band)
          const byteRows = chunkRows(quarter, cols);
          let buffer: Uint8Array | undefined;
          for (let r = 0; r < quarter; r += byteRows) {
            const n = Math.min(byteRows, quarter - r);
            const data = bytes(r * cols, n * cols, buffer);
            buffer ??= data;
            if (!anyCode3(data)) continue;
            for (let k = 0; k < data.length; k++) {
              for (let i = 0; i < 4; i++) if (((data[k] >> (2 * i)) & 3) === 3) badCode(FILE, info.name, (i * quarter + r + Math.floor(k / cols)) * cols + (k % cols), 3);
            }
          }
        },
      };
    });
  },
};

/** transformers' unpack_weights for band i: bits 2i..2i+1 of byte [r, c] hold W[i*R + r, c] + 1 (rows from `row`); code 3 is refused. */
function unpackHfBand(data: Uint8Array, band: number, row: number, count: number, cols: number, q: Int8Array, at: number, tensor: string): void {
  const shift = 2 * band;
  for (let k = 0; k < count * cols; k++) {
    const code = (data[k] >> shift) & 3;
    if (code === 3) badCode(FILE, tensor, row * cols + k, code);
    q[at + k] = code - 1;
  }
}

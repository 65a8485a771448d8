// Proves the independent format references (test/reference/formats-ref.ts) against facts: Microsoft's
// own GPU conversion of the golden model, the reference ternaries, worked examples derived by hand
// from docs/formats.md, and round trips on seeded random data. Nothing here runs the converter.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32, type Rng } from './helpers/common.js';
import { readSafetensors, type RawTensor } from './helpers/read-safetensors.js';
import {
  bytesFromU32s,
  checkAgainst,
  checkHfPackedConfig,
  decodeBitnetRsWords,
  decodeHfU8,
  decodeMsInt2,
  encodeExpected,
  encodeFloats,
  expectedBitnetRsSafetensors,
  expectedHfPacked,
  expectedMsGpu,
  expectedMsGpuPrefill,
  packBitnetRsWords,
  packHfU8,
  packMsInt2,
  parseSafetensorsBytes,
  permuteRows,
  unpermuteRows,
  type ExpectedFile,
} from './reference/formats-ref.js';
import { bf16ToNumber, decodeValues, toBf16, type Dt } from './reference/ternary-ref.js';

const GOLDEN = new URL('./fixtures/golden-tiny/', import.meta.url).pathname;
const goldenModel = readSafetensors(join(GOLDEN, 'model.safetensors'));
const goldenConfig = JSON.parse(readFileSync(join(GOLDEN, 'config.json'), 'utf8')) as Record<string, unknown>;
const goldenRef = readSafetensors(join(GOLDEN, 'reference-ternary.safetensors'));
const msGpuBytes = new Uint8Array(readFileSync(join(GOLDEN, 'ms-gpu-int2.safetensors')));
const msGpu = readSafetensors(join(GOLDEN, 'ms-gpu-int2.safetensors'));

const randomTernary = (rng: Rng, n: number) => Int8Array.from({ length: n }, () => Math.floor(rng() * 3) - 1);
const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
const i8 = (t: RawTensor) => new Int8Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.length);
const ternaryOf = (name: string) => i8(goldenRef.get(name)!);
const scaleOf = (name: string) => bf16ToNumber(goldenRef.get(`${name}_scale`)!.bytes[0] | (goldenRef.get(`${name}_scale`)!.bytes[1] << 8));
const concat = (...parts: Int8Array[]) => {
  const out = new Int8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
/** Asserts two arrays are equal, naming only the first difference (large arrays make unreadable diffs). */
function same(got: ArrayLike<number> | false, want: ArrayLike<number>, label = '') {
  assert.ok(got, `${label}: wrong kind of content`);
  if (!got) return;
  assert.is(got.length, want.length, `${label}: length`);
  let i = 0;
  while (i < got.length && Object.is(got[i], want[i])) i++;
  assert.ok(i === got.length, `${label}: first difference at ${i}: found ${got[i]}, expected ${want[i]}`);
}
const shapes = (e: ExpectedFile) => Object.fromEntries([...e.tensors].map(([n, t]) => [n, `${t.dtype} [${t.shape}]`]));

// ---------------------------------------------------------------------------------------------
const packings = suite('format references: packings');

packings('hf U8: a worked example from docs/formats.md (quarter blocks of rows, code = value + 1)', () => {
  // rows 8, 1 column: R = 2; byte r holds W[r], W[2 + r], W[4 + r], W[6 + r] at bits 0, 2, 4, 6
  const w = Int8Array.from([1, 0, -1, 1, 0, 0, -1, -1]);
  const bytes = Uint8Array.from([0b00_01_00_10, 0b00_01_10_01]);
  assert.equal(Array.from(packHfU8(w, 8, 1)), Array.from(bytes));
  assert.equal(Array.from(decodeHfU8(bytes, 8, 1)), Array.from(w));
});

packings('hf U8: round trips on random matrices; code 3 and bad shapes throw naming the place', () => {
  const rng = mulberry32(11);
  for (let n = 0; n < 40; n++) {
    const rows = 4 * int(rng, 1, 20);
    const cols = int(rng, 1, 50);
    const w = randomTernary(rng, rows * cols);
    same(decodeHfU8(packHfU8(w, rows, cols), rows, cols), w, `${rows}x${cols}`);
  }
  const bytes = packHfU8(new Int8Array(8 * 3), 8, 3);
  bytes[1 * 3 + 2] |= 3 << 4; // packed [1, 2], slot 2 -> W[2 * 2 + 1, 2]
  assert.throws(() => decodeHfU8(bytes, 8, 3), /code 3 at packed \[1, 2\] bits 4\.\.5 \(W\[5, 2\]\)/);
  assert.throws(() => decodeHfU8(new Uint8Array(6), 6, 4), /not a multiple of 4/);
  assert.throws(() => decodeHfU8(new Uint8Array(5), 8, 3), /expected 6 bytes/);
});

packings('bitnet-rs u32: a worked example and round trips with padded rows', () => {
  // 16 values in one word: value i at bits 2i, +1 = 01, -1 = 10
  const w = Int8Array.from([1, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1]);
  const word = 0b01 | (0b10 << 2) | (0b10 << 30);
  assert.equal(Array.from(packBitnetRsWords(w, 1, 16)), [word >>> 0]);
  assert.equal(Array.from(decodeBitnetRsWords(Uint32Array.from([word >>> 0]), 1, 16)), Array.from(w));
  assert.equal(bytesFromU32s(Uint32Array.from([word >>> 0])), Uint8Array.from([0b1001, 0, 0, 0b10000000]));
  const rng = mulberry32(12);
  for (let n = 0; n < 40; n++) {
    const rows = int(rng, 1, 20);
    const cols = int(rng, 1, 70);
    const q = randomTernary(rng, rows * cols);
    const words = packBitnetRsWords(q, rows, cols);
    assert.is(words.length, rows * Math.ceil(cols / 16));
    same(decodeBitnetRsWords(words, rows, cols), q, `${rows}x${cols}`);
  }
  const padded = packBitnetRsWords(new Int8Array(2 * 17), 2, 17);
  padded[3] = 1 << 4; // row 1, second word, value 18 of the row: padding
  assert.throws(() => decodeBitnetRsWords(padded, 2, 17), /padding at row 1/);
});

packings('ms int2: worked examples derived by hand from docs/formats.md section 5', () => {
  // one 16x32 tile of zeros (code 2 everywhere: bytes 0b10101010) except one +1 (code 3)
  const at = (row: number, col: number) => {
    const q = new Int8Array(16 * 32);
    q[row * 32 + col] = 1;
    return q;
  };
  const expectByte = (q: Int8Array, index: number, value: number, label: string) => {
    const want = new Uint8Array(128).fill(0xaa);
    want[index] = value;
    assert.equal(Array.from(packMsInt2(q, 16, 32)), Array.from(want), `${label} packs`);
    assert.equal(Array.from(decodeMsInt2(want, 16, 32)), Array.from(q), `${label} decodes`);
  };
  // [0, 1]: t = 0, tile (0, 1), byte 0 code 1; in the u32 code o = 1 moves to bit 8: byte 1 bits 0..1
  expectByte(at(0, 1), 1, 0xab, '[0, 1]');
  // [0, 4]: tile (0, 4), byte 1 code 0; o = 4 moves to bit 2: byte 0 bits 2..3
  expectByte(at(0, 4), 0, 0xae, '[0, 4]');
  // [8, 0]: row 8 = (t//16)*8 + t%8 with column half 0 -> t = 16 -> tile (8, 0) -> byte 8*8, o = 0
  expectByte(at(8, 0), 64, 0xab, '[8, 0]');
  // [0, 16]: column half 1 -> t = 8 -> tile (4, 0): byte 32, o = 0
  expectByte(at(0, 16), 32, 0xab, '[0, 16]');
});

packings('ms int2: round trips on random matrices; code 0 and bad shapes throw', () => {
  const rng = mulberry32(13);
  for (let n = 0; n < 20; n++) {
    const N = 16 * int(rng, 1, 4);
    const K = 32 * int(rng, 1, 4);
    const q = randomTernary(rng, N * K);
    const packed = packMsInt2(q, N, K);
    assert.is(packed.length, (N * K) / 4);
    same(decodeMsInt2(packed, N, K), q, `${N}x${K}`);
  }
  const packed = packMsInt2(new Int8Array(16 * 32), 16, 32);
  packed[64] &= ~3; // byte 64 bits 0..1 are W[8, 0] (worked example above)
  assert.throws(() => decodeMsInt2(packed, 16, 32), /code 0 at byte 64 \(\[8, 0\]\) bits 0\.\.1 \(W\[8, 0\]\)/);
  assert.throws(() => decodeMsInt2(new Uint8Array(8), 8, 32), /N % 16 == 0/);
  assert.throws(() => packMsInt2(new Int8Array(16 * 48), 16, 48), /K % 32 == 0/);
});

packings("unpermuteRows: '(h l d) i -> (h d l) i' with l = 2, and permuteRows undoes it", () => {
  // one head, d = 2: rows (l d) = [l0d0, l0d1, l1d0, l1d1] -> (d l) = [l0d0, l1d0, l0d1, l1d1]
  assert.equal(Array.from(unpermuteRows(Int8Array.from([0, 1, 2, 3]), 4, 1, 1)), [0, 2, 1, 3]);
  // two heads, d = 3, two columns: each head's 6 rows are interleaved on their own
  const m = Int8Array.from({ length: 24 }, (_, i) => i);
  const rowsOf = (x: Int8Array) => Array.from({ length: 12 }, (_, r) => x[2 * r] / 2);
  assert.equal(rowsOf(unpermuteRows(m, 12, 2, 2)), [0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11]);
  const rng = mulberry32(14);
  const q = randomTernary(rng, 64 * 5);
  same(permuteRows(unpermuteRows(q, 64, 5, 4), 64, 5, 4), q, 'permute after unpermute');
  assert.throws(() => unpermuteRows(q, 64, 5, 3), /do not split into 3 heads/);
});

packings.run();

// ---------------------------------------------------------------------------------------------
const golden = suite("format references: Microsoft's GPU conversion of the golden model");

golden('decodeMsInt2 of every packed tensor = the reference ternaries, stacked, q and k un-permuted; scales zero-filled', () => {
  const heads = goldenConfig.num_attention_heads as number;
  const kvHeads = goldenConfig.num_key_value_heads as number;
  const hidden = goldenConfig.hidden_size as number;
  const inter = goldenConfig.intermediate_size as number;
  assert.is(hidden / heads, 16, 'head_dim');
  let checked = 0;
  for (let i = 0; i < (goldenConfig.num_hidden_layers as number); i++) {
    const p = `model.layers.${i}.`;
    const q = ternaryOf(`${p}self_attn.q_proj.weight`);
    const k = ternaryOf(`${p}self_attn.k_proj.weight`);
    const cases: [string, Int8Array, number, number, string[]][] = [
      ['attention.wqkv', concat(unpermuteRows(q, hidden, hidden, heads), unpermuteRows(k, k.length / hidden, hidden, kvHeads), ternaryOf(`${p}self_attn.v_proj.weight`)), hidden, hidden, ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj']],
      ['attention.wo', ternaryOf(`${p}self_attn.o_proj.weight`), hidden, hidden, ['self_attn.o_proj']],
      ['feed_forward.w13', concat(ternaryOf(`${p}mlp.gate_proj.weight`), ternaryOf(`${p}mlp.up_proj.weight`)), hidden, hidden, ['mlp.gate_proj', 'mlp.up_proj']],
      ['feed_forward.w2', ternaryOf(`${p}mlp.down_proj.weight`), inter, inter, ['mlp.down_proj']],
    ];
    for (const [name, want, K, , parts] of cases) {
      const t = msGpu.get(`layers.${i}.${name}.weight`)!;
      const N = want.length / K;
      assert.equal([t.dtype, t.shape], ['I8', [N, K / 4]], name);
      same(decodeMsInt2(t.bytes, N, K), want, `layers.${i}.${name}`);
      const scales = decodeValues(msGpu.get(`layers.${i}.${name}.weight_scale`)!.bytes, 'BF16');
      assert.equal(scales, [0, 1, 2, 3].map((j) => (parts[j] ? scaleOf(`${p}${parts[j]}.weight`) : 0)), `${name} scales`);
      checked++;
    }
  }
  assert.is(checked, 8);
});

golden('the same without the un-permutation does not match (the permutation is a real fact of the layout)', () => {
  const q = ternaryOf('model.layers.0.self_attn.q_proj.weight');
  const got = decodeMsInt2(msGpu.get('layers.0.attention.wqkv.weight')!.bytes, 128, 64).subarray(0, q.length);
  assert.ok(got.some((v, j) => v !== q[j]));
  same(permuteRows(got, 64, 64, 4), q, 'q re-permuted');
});

golden('expectedMsGpu(model.safetensors) passes checkAgainst(ms-gpu-int2.safetensors) and encodes to the same bytes', () => {
  const expected = expectedMsGpu(goldenModel, goldenConfig);
  assert.equal(checkAgainst(expected, msGpuBytes), []);
  const encoded = encodeExpected(expected);
  assert.is(encoded.length, msGpuBytes.length, 'file size');
  const first = encoded.findIndex((b, i) => b !== msGpuBytes[i]);
  assert.is(first, -1, `first differing byte ${first}`);
});

golden('expectedMsGpuPrefill: from Microsoft\'s own int2 file (its ternaries and scales) and the source\'s signs, as its quant_weight_fp16 computes in BF16', () => {
  const expected = expectedMsGpuPrefill(goldenModel, goldenConfig);
  const file = encodeExpected(expected);
  const parsed = parseSafetensorsBytes(file);
  const heads = goldenConfig.num_attention_heads as number;
  const kvHeads = goldenConfig.num_key_value_heads as number;
  // the top bit of each BF16 source value, rows in Microsoft's order (q and k un-permuted)
  const signs = (name: string, h?: number) => {
    const t = goldenModel.get(name)!;
    const neg = Int8Array.from({ length: t.bytes.length / 2 }, (_, j) => t.bytes[2 * j + 1]! >> 7);
    return h ? unpermuteRows(neg, t.shape[0], t.shape[1], h) : neg;
  };
  let negativeZeros = 0;
  for (let i = 0; i < 2; i++) {
    const p = `model.layers.${i}.`;
    const cases: [string, Int8Array, number][] = [
      ['attention.wqkv', concat(signs(`${p}self_attn.q_proj.weight`, heads), signs(`${p}self_attn.k_proj.weight`, kvHeads), signs(`${p}self_attn.v_proj.weight`)), 64],
      ['attention.wo', signs(`${p}self_attn.o_proj.weight`), 64],
      ['feed_forward.w13', concat(signs(`${p}mlp.gate_proj.weight`), signs(`${p}mlp.up_proj.weight`)), 64],
      ['feed_forward.w2', signs(`${p}mlp.down_proj.weight`), 160],
    ];
    for (const [name, neg, K] of cases) {
      const N = neg.length / K;
      const q = decodeMsInt2(msGpu.get(`layers.${i}.${name}.weight`)!.bytes, N, K);
      const scaleBits = new Uint16Array(msGpu.get(`layers.${i}.${name}.weight_scale`)!.bytes.slice().buffer);
      // which stacked part each row is in: its scale is that part's
      const partRows = { 'attention.wqkv': [64, 32, 32], 'attention.wo': [64], 'feed_forward.w13': [160, 160], 'feed_forward.w2': [64] }[name]!;
      const partOf = (row: number) => partRows.findIndex((_, j) => row < partRows.slice(0, j + 1).reduce((a, b) => a + b, 0));
      // round(w * s) clamped, / s: q / s is +-(1/s) rounded to BF16, Microsoft's weight_scale; a zero keeps w's sign
      const want = Uint16Array.from(q, (v, j) => (neg[j]! << 15) | (v !== 0 ? scaleBits[partOf(Math.floor(j / K))]! : 0));
      const e = parsed.entries.find((x) => x.name === `layers.${i}.${name}.weight`)!;
      assert.equal([e.dtype, e.shape], ['BF16', [N, K]], name);
      const got = new Uint16Array(file.slice(parsed.dataStart + e.begin, parsed.dataStart + e.end).buffer);
      same(Int32Array.from(got), Int32Array.from(want), `layers.${i}.${name}`);
      negativeZeros += want.filter((b) => b === 0x8000).length;
    }
  }
  assert.ok(negativeZeros > 1000, `negative zeros: ${negativeZeros}`);
  // the floats as the int2 file has them, and nothing else
  for (const e of parsed.entries.filter((x) => !/\.(wqkv|wo|w13|w2)\.weight$/.test(x.name))) {
    assert.ok(Buffer.from(file.subarray(parsed.dataStart + e.begin, parsed.dataStart + e.end)).equals(msGpu.get(e.name)!.bytes), e.name);
  }
  assert.equal(parsed.entries.map((e) => e.name).sort(), [...msGpu.keys()].filter((n) => !n.endsWith('_scale')).sort());
});

golden('checkAgainst names the tensor, the index, the expected and the found value', () => {
  const expected = expectedMsGpu(goldenModel, goldenConfig);
  const parsed = parseSafetensorsBytes(msGpuBytes);
  const offsetOf = (name: string) => parsed.dataStart + parsed.entries.find((e) => e.name === name)!.begin;

  const flipped = msGpuBytes.slice();
  flipped[offsetOf('layers.1.feed_forward.w2.weight')] ^= 0b11; // byte 0 bits 0..1: W[0, 0] (code 1 <-> 2, or 3 <-> 0)
  const msgs = checkAgainst(expected, flipped);
  assert.is(msgs.length, 1, msgs.join('\n'));
  assert.match(msgs[0], /^layers\.1\.feed_forward\.w2\.weight: (1 of 10240 ternary values differ; first at 0 \[0, 0\]: expected -?\d, found -?\d|does not decode as ms-int2: .*W\[0, 0\])/);

  const scaled = msGpuBytes.slice();
  scaled[offsetOf('layers.0.attention.wqkv.weight_scale') + 2] ^= 1; // sk, low mantissa bit
  assert.match(checkAgainst(expected, scaled).join('\n'), /^layers\.0\.attention\.wqkv\.weight_scale: 1 of 4 scales differ; first at 1: expected [\d.e-]+, found [\d.e-]+$/);

  const norm = msGpuBytes.slice();
  norm[offsetOf('norm.weight') + 7] ^= 0x80; // the sign of element 3
  assert.match(checkAgainst(expected, norm).join('\n'), /^norm\.weight: 1 of 64 elements differ; first at element 3: expected 0x[0-9a-f]{4} \(.+\), found 0x[0-9a-f]{4} \(.+\)$/);

  const fewer = new Map(expected.tensors);
  fewer.delete('norm.weight');
  assert.equal(checkAgainst({ ...expected, tensors: fewer }, msGpuBytes), ['unexpected tensors (1): norm.weight']);
  assert.match(checkAgainst({ ...expected, metadata: { format: 'pt' } }, msGpuBytes).join('\n'), /__metadata__ expected \{"format":"pt"\}, found absent/);
  // the golden file's order (by name) is not the crate writer's (U8/I8 last)
  assert.equal(checkAgainst({ ...expected, order: 'crate' }, msGpuBytes), ['layout: data order (crate) differs at position 1: expected layers.0.attention.wo.weight_scale, found layers.0.attention.wo.weight']);
});

golden('checkAgainst checks the container: padding, alignment, contiguity, dtype and shape', () => {
  const expected = expectedMsGpu(goldenModel, goldenConfig);
  const parsed = parseSafetensorsBytes(msGpuBytes);
  const rebuild = (edit: (h: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>) => void, pad = ' ', shift = 0) => {
    const h = JSON.parse(parsed.headerText);
    edit(h);
    let text = JSON.stringify(h) + pad;
    while ((text.length + shift) % 8 !== 0) text += pad;
    const json = Buffer.from(text);
    const data = msGpuBytes.subarray(parsed.dataStart);
    const out = new Uint8Array(8 + json.length + data.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    out.set(data, 8 + json.length);
    return out;
  };
  assert.equal(checkAgainst(expected, rebuild(() => {})), []);
  assert.match(checkAgainst(expected, rebuild(() => {}, '\n')).join('\n'), /header: padded with "(\\n)+", not only spaces/);
  const odd = checkAgainst(expected, rebuild(() => {}, ' ', 1)).join('\n');
  assert.match(odd, /header: length \d+ is not a multiple of 8/);
  assert.match(odd, /layout: layers\.0\.attention\.wo\.weight_scale \(BF16\) at absolute offset \d+, not a multiple of 2/);
  assert.match(checkAgainst(expected, rebuild((h) => (h['norm.weight'].dtype = 'F16'))).join('\n'), /^norm\.weight: dtype expected BF16, found F16$/m);
  assert.match(checkAgainst(expected, rebuild((h) => (h['norm.weight'].shape = [1, 64]))).join('\n'), /^norm\.weight: shape expected \[64\], found \[1,64\]$/m);
  assert.match(checkAgainst(expected, rebuild((h) => (h['norm.weight'].data_offsets[1] -= 2))).join('\n'), /layout: output\.weight starts at 23104, expected 23102/);
});

golden.run();

// ---------------------------------------------------------------------------------------------
const builders = suite('format references: expected-output builders');

builders('bitnet-rs safetensors of the golden model: the tensor list of docs/formats.md 4b with the sub-norms', () => {
  const e = expectedBitnetRsSafetensors(goldenModel, goldenConfig);
  const want: Record<string, string> = {
    'tok_embeddings.weight': 'BF16 [256,64]',
    'norm.weight': 'BF16 [1,64]',
    'output.weight': 'U32 [256,4]',
    'output.weight_scale': 'BF16 [256]',
  };
  for (const i of [0, 1]) {
    Object.assign(want, {
      [`layers.${i}.attention.wqkv.weight`]: 'U32 [128,4]',
      [`layers.${i}.attention.wqkv.weight_scale`]: 'BF16 [128]',
      [`layers.${i}.attention.wo.weight`]: 'U32 [64,4]',
      [`layers.${i}.attention.wo.weight_scale`]: 'BF16 [64]',
      [`layers.${i}.feed_forward.w13.weight`]: 'U32 [320,4]',
      [`layers.${i}.feed_forward.w13.weight_scale`]: 'BF16 [320]',
      [`layers.${i}.feed_forward.w2.weight`]: 'U32 [64,10]',
      [`layers.${i}.feed_forward.w2.weight_scale`]: 'BF16 [64]',
      [`layers.${i}.attention_norm.weight`]: 'BF16 [1,64]',
      [`layers.${i}.ffn_norm.weight`]: 'BF16 [1,64]',
      [`layers.${i}.attention.attn_sub_norm.weight`]: 'BF16 [1,64]',
      [`layers.${i}.feed_forward.ffn_sub_norm.weight`]: 'BF16 [1,160]',
    });
  }
  assert.equal(shapes(e), want);
  assert.equal([e.metadata, e.order], [undefined, 'crate']);
  // contents: the reference ternaries, each projection's scale repeated over its rows
  const wqkv = e.tensors.get('layers.1.attention.wqkv.weight')!.content;
  const p = 'model.layers.1.self_attn.';
  same(wqkv.kind === 'bitnet-rs-u32' && wqkv.ternary, concat(ternaryOf(p + 'q_proj.weight'), ternaryOf(p + 'k_proj.weight'), ternaryOf(p + 'v_proj.weight')), 'wqkv');
  const scales = e.tensors.get('layers.1.attention.wqkv.weight_scale')!.content;
  assert.equal(scales.kind === 'scales' && scales.values, [...Array(64).fill(scaleOf(p + 'q_proj.weight')), ...Array(32).fill(scaleOf(p + 'k_proj.weight')), ...Array(32).fill(scaleOf(p + 'v_proj.weight'))]);
  const emb = e.tensors.get('tok_embeddings.weight')!.content;
  same(emb.kind === 'bytes' && emb.bytes, goldenModel.get('model.embed_tokens.weight')!.bytes, 'embedding');
  // the encoded file: U32 first, then BF16, each by name, aligned; and it checks clean
  const file = encodeExpected(e);
  const parsed = parseSafetensorsBytes(file);
  const order = [...parsed.entries].sort((a, b) => a.begin - b.begin);
  const u32 = order.filter((x) => x.dtype === 'U32').map((x) => x.name);
  assert.equal(order.map((x) => x.name), [...u32, ...order.filter((x) => x.dtype === 'BF16').map((x) => x.name)]);
  assert.equal(u32, [...u32].sort());
  assert.ok(order.every((x) => (parsed.dataStart + x.begin) % (x.dtype === 'U32' ? 4 : 2) === 0));
  assert.is(parsed.headerLength % 8, 0);
  assert.is(parsed.metadata, undefined);
  assert.equal(checkAgainst(e, file), []);
});

builders('bitnet-rs: non-zero row padding, a flipped value and a by-name order are all reported', () => {
  const { tensors, config } = synthSource({ dtype: 'BF16', hidden: 40, inter: 24, vocab: 12, seed: 4 });
  const e = expectedBitnetRsSafetensors(tensors, config);
  const file = encodeExpected(e);
  assert.equal(checkAgainst(e, file), []);
  const parsed = parseSafetensorsBytes(file);
  const wo = parsed.dataStart + parsed.entries.find((x) => x.name === 'layers.0.attention.wo.weight')!.begin;
  const padded = file.slice();
  padded[wo + 4 * 2 + 2] |= 1; // row 0, word 2, bits 16..17: value 40 of a 40-value row, padding
  assert.equal(checkAgainst(e, padded), ['layers.0.attention.wo.weight: does not decode as bitnet-rs-u32: non-zero padding at row 0']);
  const flipped = file.slice();
  flipped[wo + 3 * 4 + 1] ^= 0b11; // row 1, word 0, bits 8..9: value 4 of row 1
  assert.match(checkAgainst(e, flipped).join('\n'), /^layers\.0\.attention\.wo\.weight: (1 of 1600 ternary values differ; first at 44 \[1, 4\]: expected -?\d, found -?\d|does not decode as bitnet-rs-u32: invalid code 3 at row 1, col 4)$/);
  assert.match(checkAgainst({ ...e, order: 'name' }, file).join('\n'), /^layout: data order \(name\) differs at position 0: expected layers\.0\.attention\.attn_sub_norm\.weight, found layers\.0\.attention\.wo\.weight$/);
});

builders('hf-packed of the golden model: BitNet names, U8 [out/4, in], multiplying BF16 scales, floats copied, metadata pt', () => {
  const e = expectedHfPacked(goldenModel, goldenConfig);
  const want: Record<string, string> = { 'model.embed_tokens.weight': 'BF16 [256,64]', 'model.norm.weight': 'BF16 [64]' };
  for (const i of [0, 1]) {
    const p = `model.layers.${i}.`;
    const proj = { 'self_attn.q_proj': [64, 64], 'self_attn.k_proj': [32, 64], 'self_attn.v_proj': [32, 64], 'self_attn.o_proj': [64, 64], 'mlp.gate_proj': [160, 64], 'mlp.up_proj': [160, 64], 'mlp.down_proj': [64, 160] };
    for (const [n, [o, k]] of Object.entries(proj)) {
      want[`${p}${n}.weight`] = `U8 [${o / 4},${k}]`;
      want[`${p}${n}.weight_scale`] = 'BF16 [1]';
    }
    for (const n of ['input_layernorm', 'post_attention_layernorm', 'self_attn.attn_sub_norm']) want[`${p}${n}.weight`] = 'BF16 [64]';
    want[`${p}mlp.ffn_sub_norm.weight`] = 'BF16 [160]';
  }
  assert.equal(shapes(e), want);
  assert.equal(e.metadata, { format: 'pt' });
  for (const [name, t] of goldenRef) {
    const c = e.tensors.get(name)!.content;
    if (name.endsWith('_scale')) assert.equal(c.kind === 'scales' && c.values, [scaleOf(name.slice(0, -6))], name);
    else same(c.kind === 'hf-u8' && c.ternary, i8(t), name);
  }
  const file = encodeExpected(e);
  assert.equal(checkAgainst(e, file), []);
  // the packed file read back as a source (the packed-release layout) gives the same expectations
  const parsed = parseSafetensorsBytes(file);
  const asSource = new Map(parsed.entries.map((x) => [x.name, { dtype: x.dtype, shape: x.shape, bytes: file.subarray(parsed.dataStart + x.begin, parsed.dataStart + x.end) }]));
  const packedConfig = { ...goldenConfig, quantization_config: { quant_method: 'bitnet', linear_class: 'autobitlinear', quantization_mode: 'offline' } };
  assert.equal(checkAgainst(expectedHfPacked(asSource, packedConfig), file), []);
  assert.equal(checkAgainst(expectedMsGpu(asSource, packedConfig), msGpuBytes), []);
  const bitnetRs = encodeExpected(expectedBitnetRsSafetensors(goldenModel, goldenConfig));
  assert.equal(checkAgainst(expectedBitnetRsSafetensors(asSource, packedConfig), bitnetRs), []);
  // a dividing (BitLinear) source means the exact reciprocal of the stored scale
  const qScale = 'model.layers.0.self_attn.q_proj.weight_scale';
  const firstScale = (f: ReturnType<typeof expectedHfPacked>) => {
    const c = f.tensors.get(qScale)!.content;
    return c.kind === 'scales' ? c.values[0] : NaN;
  };
  const divided = expectedHfPacked(asSource, { ...packedConfig, quantization_config: { quant_method: 'bitnet', linear_class: 'bitlinear' } });
  assert.is(firstScale(divided), 1 / firstScale(expectedHfPacked(asSource, packedConfig)));
});

builders('hf-packed config.json expectations', () => {
  const good = { ...goldenConfig, quantization_config: { quant_method: 'bitnet', linear_class: 'autobitlinear', quantization_mode: 'offline' } };
  assert.equal(checkHfPackedConfig(goldenConfig, good), []);
  const oneBit = { architectures: ['BitnetForCausalLM'], model_type: 'llama', hidden_act: 'silu', hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4 };
  const written = { ...oneBit, architectures: ['BitNetForCausalLM'], model_type: 'bitnet', tie_word_embeddings: true, quantization_config: good.quantization_config };
  assert.equal(checkHfPackedConfig(oneBit, written), []);
  assert.equal(checkHfPackedConfig(oneBit, { ...written, tie_word_embeddings: undefined, hidden_act: 'relu2', quantization_config: { ...good.quantization_config, linear_class: 'bitlinear' } }), [
    'config.json quantization_config.linear_class: expected "autobitlinear", found "bitlinear"',
    'config.json tie_word_embeddings: expected true, found undefined',
    'config.json hidden_act: expected "silu", found "relu2"',
  ]);
});

/** A random source checkpoint in a float dtype, BitNet or 1bitLLM sub-norm names, tied or not. */
function synthSource(o: { dtype: Dt; hidden: number; inter: number; vocab: number; oneBit?: boolean; untied?: boolean; seed: number }) {
  const rng = mulberry32(o.seed);
  const tensors = new Map<string, RawTensor>();
  const add = (name: string, shape: number[], amp = 0.05) => {
    const values = Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rng() - 0.5) * 2 * amp);
    tensors.set(name, { dtype: o.dtype, shape, bytes: encodeFloats(values, o.dtype) });
  };
  const { hidden: E, inter: F } = o;
  const kv = E / 2;
  add('model.embed_tokens.weight', [o.vocab, E]);
  add('model.norm.weight', [E], 1);
  if (o.untied) add('lm_head.weight', [o.vocab, E]);
  for (const i of [0, 1]) {
    const p = `model.layers.${i}.`;
    for (const [n, shape] of [['self_attn.q_proj', [E, E]], ['self_attn.k_proj', [kv, E]], ['self_attn.v_proj', [kv, E]], ['self_attn.o_proj', [E, E]], ['mlp.gate_proj', [F, E]], ['mlp.up_proj', [F, E]], ['mlp.down_proj', [E, F]]] as const) add(`${p}${n}.weight`, [...shape]);
    add(`${p}input_layernorm.weight`, [E], 1);
    add(`${p}post_attention_layernorm.weight`, [E], 1);
    add(`${p}${o.oneBit ? 'self_attn.inner_attn_ln' : 'self_attn.attn_sub_norm'}.weight`, [E], 1);
    add(`${p}${o.oneBit ? 'mlp.ffn_layernorm' : 'mlp.ffn_sub_norm'}.weight`, [F], 1);
  }
  const config = { num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, hidden_size: E, intermediate_size: F, vocab_size: o.vocab, tie_word_embeddings: !o.untied };
  return { tensors, config };
}

builders('1bitLLM names, F32 and F16 sources, an untied head, rows not a multiple of 16', () => {
  for (const dtype of ['F32', 'F16'] as const) {
    const { tensors, config } = synthSource({ dtype, hidden: 40, inter: 24, vocab: 12, oneBit: true, untied: true, seed: dtype === 'F32' ? 1 : 2 });
    const rs = expectedBitnetRsSafetensors(tensors, config);
    assert.equal(shapes(rs)['layers.0.attention.attn_sub_norm.weight'], 'BF16 [1,40]');
    assert.equal(shapes(rs)['layers.1.feed_forward.ffn_sub_norm.weight'], 'BF16 [1,24]');
    assert.equal(shapes(rs)['layers.0.feed_forward.w2.weight'], 'U32 [40,2]', 'ceil(24/16) words a row');
    // the untied head is lm_head ternarized, not the embedding
    const head = rs.tensors.get('output.weight')!.content;
    const fromLmHead = expectedBitnetRsSafetensors(new Map([...tensors, ['model.embed_tokens.weight', tensors.get('lm_head.weight')!]]), { ...config, tie_word_embeddings: true });
    const tiedHead = fromLmHead.tensors.get('output.weight')!.content;
    same(head.kind === 'bitnet-rs-u32' && head.ternary, tiedHead.kind === 'bitnet-rs-u32' ? tiedHead.ternary : [], 'untied head');
    // embedding and norms: the source values rounded to bf16
    const emb = rs.tensors.get('tok_embeddings.weight')!.content;
    const src = decodeValues(tensors.get('model.embed_tokens.weight')!.bytes, dtype);
    assert.equal(emb.kind === 'bytes' && decodeValues(emb.bytes, 'BF16'), src.map(toBf16));
    const rsScale = rs.tensors.get('layers.0.attention.wo.weight_scale')!.content;
    assert.is(rsScale.kind === 'scales' && rsScale.relTol, dtype === 'F32' ? 1e-6 : 0);
    assert.equal(checkAgainst(rs, encodeExpected(rs)), []);

    const hf = expectedHfPacked(tensors, config);
    assert.ok(hf.tensors.has('model.layers.1.self_attn.attn_sub_norm.weight') && hf.tensors.has('model.layers.1.mlp.ffn_sub_norm.weight'), 'BitNet sub-norm names');
    assert.not.ok([...hf.tensors.keys()].some((n) => n.includes('inner_attn_ln') || n.includes('ffn_layernorm')));
    assert.equal(shapes(hf)['lm_head.weight'], `${dtype} [12,40]`);
    assert.equal(shapes(hf)['model.layers.0.self_attn.q_proj.weight_scale'], `${dtype} [1]`);
    assert.equal(shapes(expectedHfPacked(tensors, config, { rule: 'online' }))['model.layers.0.self_attn.q_proj.weight_scale'], 'F32 [1]');
    assert.equal(checkAgainst(hf, encodeExpected(hf)), []);
    assert.throws(() => expectedMsGpu(tensors, config), /K % 32 == 0/);
  }
});

builders('ms-gpu of an untied model: output.weight is lm_head; the online rule reaches the projections', () => {
  const { tensors, config } = synthSource({ dtype: 'BF16', hidden: 64, inter: 32, vocab: 16, untied: true, seed: 3 });
  const e = expectedMsGpu(tensors, config);
  const out = e.tensors.get('output.weight')!.content;
  same(out.kind === 'bytes' && out.bytes, tensors.get('lm_head.weight')!.bytes, 'output.weight');
  assert.equal(shapes(e)['layers.0.attention.wqkv.weight'], 'I8 [128,16]');
  assert.equal(checkAgainst(e, encodeExpected(e)), []);
  const differences = checkAgainst(expectedMsGpu(tensors, config, { rule: 'online' }), encodeExpected(e));
  assert.ok(differences.length > 0, 'offline and online differ somewhere');
  assert.ok(differences.every((m) => /^layers\.\d\.(attention\.(wqkv|wo)|feed_forward\.(w13|w2))\.weight(_scale)?: /.test(m)), differences.join('\n'));
});

builders('a missing source tensor is named', () => {
  const tensors = new Map(goldenModel);
  tensors.delete('model.layers.1.mlp.up_proj.weight');
  assert.throws(() => expectedMsGpu(tensors, goldenConfig), /source has no model\.layers\.1\.mlp\.up_proj\.weight/);
  assert.throws(() => expectedBitnetRsSafetensors(goldenModel, { ...goldenConfig, tie_word_embeddings: false }), /source has no lm_head\.weight/);
});

builders.run();

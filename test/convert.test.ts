// End-to-end conversions, decoded back and checked against the golden reference output
// and against the independent reference rule in test/reference/.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert, type ConvertOptions } from '../build/js/run/convert.js';
import { jobOrder } from '../build/js/pipeline/conversion.js';
import { readConvertedModel } from './helpers/common.js';
import { generateCheckpoint, type SynthOptions } from '../build/js/synth/generate.js';
import { decode, encode, readModel, writeBlock, writeModel, type BitLinearRecord, type ModelRecord } from '../build/js/outputs/bitnet-rs/records.js';
import { readCheckpointTensors, readSafetensors, type RawTensor } from './helpers/read-safetensors.js';
import { bf16ToNumber, decodeValues, oldTorchTernary, referenceRowTernary, referenceTernary, unpackRows, type Dt, type Rule } from './reference/ternary-ref.js';
import { encodeExpected, expectedMsGpuPrefill } from './reference/formats-ref.js';

const GOLDEN = new URL('./fixtures/golden-tiny/', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'bitnet-convert-'));
let n = 0;
const fresh = (name: string) => join(tmp, `${name}-${n++}`);

async function run(inputDir: string, extra: Partial<ConvertOptions> = {}): Promise<{ dir: string; model: ModelRecord }> {
  const outputDir = fresh('out');
  await convert({ inputDir, outputDir, threads: 0, timestamp: 1_700_000_000, chunkBytes: 1 << 12, ...extra });
  return { dir: outputDir, model: readConvertedModel(outputDir) };
}

function synth(o: Partial<SynthOptions>): string {
  const outDir = fresh('in');
  generateCheckpoint({ outDir, ...o });
  return outDir;
}

/** Checks a BitLinear record against the reference rule applied to each stacked projection. */
function checkLinear(rec: BitLinearRecord, parts: RawTensor[], label: string, golden?: { q: Int8Array; scale: number }[], rule: Rule = 'offline') {
  const cols = parts[0].shape[1];
  const rows = parts.reduce((s, p) => s + p.shape[0], 0);
  assert.is(rec.inFeatures, cols, `${label} in_features`);
  assert.is(rec.outFeatures, rows, `${label} out_features`);
  const q = unpackRows(rec.packedWeights, rows, cols);
  let row0 = 0;
  parts.forEach((p, i) => {
    const want = golden?.[i] ?? referenceTernary(decodeValues(p.bytes, p.dtype as Dt), p.dtype as Dt, rule);
    const got = q.subarray(row0 * cols, (row0 + p.shape[0]) * cols);
    const bad = got.findIndex((v, j) => v !== want.q[j]);
    assert.is(bad, -1, `${label} part ${i}: first differing value at ${bad}: got ${got[bad]}, want ${want.q[bad]}`);
    for (let r = row0; r < row0 + p.shape[0]; r++) assert.is(rec.weightScales[r], want.scale, `${label} part ${i} scale of row ${r}`);
    row0 += p.shape[0];
  });
}

function checkFloats(got: Float32Array, t: RawTensor, label: string) {
  const want = decodeValues(t.bytes, t.dtype as Dt);
  assert.is(got.length, want.length, `${label} length`);
  const bad = want.findIndex((v, i) => !Object.is(Math.fround(v), got[i]));
  assert.is(bad, -1, `${label} value ${bad}`);
}

/** The whole output checked against the input tensors, with the reference rule. */
function checkModel(model: ModelRecord, input: Map<string, RawTensor>, golden?: Map<string, RawTensor>, rule: Rule = 'offline') {
  const t = (name: string) => {
    const v = input.get(name);
    if (!v) throw new Error(`test input has no ${name}`);
    return v;
  };
  const goldenOf = (name: string) => {
    if (!golden) return undefined;
    const q = golden.get(name)!;
    const scale = golden.get(name + '_scale')!;
    return { q: new Int8Array(q.bytes.buffer, q.bytes.byteOffset, q.bytes.length), scale: bf16ToNumber(scale.bytes[0] | (scale.bytes[1] << 8)) };
  };
  const hidden = t('model.embed_tokens.weight').shape[1];
  assert.equal(model.embedding.shape, t('model.embed_tokens.weight').shape);
  checkFloats(model.embedding.weight, t('model.embed_tokens.weight'), 'embedding');
  checkFloats(model.norm.weight, t('model.norm.weight'), 'norm');
  assert.equal(model.norm.shape, [1, hidden]);
  model.blocks.forEach((b, i) => {
    const p = `model.layers.${i}.`;
    const lin = (rec: BitLinearRecord, names: string[], label: string) =>
      checkLinear(rec, names.map((x) => t(p + x)), `block ${i} ${label}`, golden ? names.map((x) => goldenOf(p + x)!) : undefined, rule);
    lin(b.attention.wqkv, ['self_attn.q_proj.weight', 'self_attn.k_proj.weight', 'self_attn.v_proj.weight'], 'wqkv');
    lin(b.attention.oProj, ['self_attn.o_proj.weight'], 'o_proj');
    lin(b.feedForward.w13, ['mlp.gate_proj.weight', 'mlp.up_proj.weight'], 'w13');
    lin(b.feedForward.w2, ['mlp.down_proj.weight'], 'w2');
    checkFloats(b.attentionNorm.weight, t(p + 'input_layernorm.weight'), `block ${i} attention_norm`);
    checkFloats(b.ffnNorm.weight, t(p + 'post_attention_layernorm.weight'), `block ${i} ffn_norm`);
    assert.ok(b.attnSubNorm && b.ffnSubNorm, `block ${i} has both sub-norms`);
    checkFloats(b.attnSubNorm!.weight, t(p + 'self_attn.attn_sub_norm.weight'), `block ${i} attn_sub_norm`);
    checkFloats(b.ffnSubNorm!.weight, t(p + 'mlp.ffn_sub_norm.weight'), `block ${i} ffn_sub_norm`);
    assert.equal(b.ffnSubNorm!.shape, [1, t(p + 'mlp.ffn_sub_norm.weight').shape[0]]);
  });
  const head = input.get('lm_head.weight') ?? t('model.embed_tokens.weight');
  checkLinear(model.lmHead, [head], 'lm_head', undefined, rule);
}

const golden = suite('golden tiny model');

golden('every projection and scale equals reference-ternary.safetensors bit for bit', async () => {
  const { model, dir } = await run(GOLDEN);
  const input = readSafetensors(join(GOLDEN, 'model.safetensors'));
  checkModel(model, input, readSafetensors(join(GOLDEN, 'reference-ternary.safetensors')));
  assert.equal(model.metadata, { numLayers: 2, vocabSize: 256, hiddenSize: 64, conversionTimestamp: 1_700_000_000 });
  // the per-file outputs reassemble into one full model record that round-trips through bincode
  assert.equal(decode(readModel, encode(writeModel, model)), model);
  const blockBytes = readFileSync(join(dir, 'block_1.bin'));
  assert.ok(Buffer.from(encode(writeBlock, model.blocks[1])).equals(blockBytes), 'block_1.bin is exactly the record encoding');
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.is(config.bitnet_packed, true);
  assert.is(config.hidden_size, 64);
  assert.is(config.bitnet_layout.lm_head_tied, true);
  assert.equal(
    readdirSync(dir).sort(),
    ['block_0.bin', 'block_1.bin', 'config.json', 'embedding.bin', 'lm_head.bin', 'manifest.json', 'metadata.bin', 'norm.bin'],
  );
});

golden('the independent reference rule agrees with the golden file (so the other tests can use it)', () => {
  const input = readSafetensors(join(GOLDEN, 'model.safetensors'));
  const ref = readSafetensors(join(GOLDEN, 'reference-ternary.safetensors'));
  let checked = 0;
  for (const [name, t] of input) {
    const g = ref.get(name);
    if (!g) continue;
    const want = referenceTernary(decodeValues(t.bytes, 'BF16'), 'BF16');
    assert.equal(Array.from(want.q), Array.from(new Int8Array(g.bytes.buffer, g.bytes.byteOffset, g.bytes.length)), name);
    const s = ref.get(name + '_scale')!.bytes;
    assert.is(want.scale, bf16ToNumber(s[0] | (s[1] << 8)), name + ' scale');
    checked++;
  }
  assert.is(checked, 14);
});

golden('scales equal those in microsoft/BitNet\'s own GPU conversion (ms-gpu-int2.safetensors)', async () => {
  const { model } = await run(GOLDEN);
  const ms = readSafetensors(join(GOLDEN, 'ms-gpu-int2.safetensors'));
  const scales = (name: string) => {
    const b = ms.get(name)!.bytes;
    return [0, 1, 2, 3].map((i) => bf16ToNumber(b[2 * i] | (b[2 * i + 1] << 8)));
  };
  model.blocks.forEach((b, i) => {
    const firstOfEach = (rec: BitLinearRecord, rows: number[]) => {
      const out: number[] = [];
      let r = 0;
      for (const n of rows) {
        out.push(rec.weightScales[r]);
        r += n;
      }
      return out;
    };
    assert.equal(firstOfEach(b.attention.wqkv, [64, 32, 32]), scales(`layers.${i}.attention.wqkv.weight_scale`).slice(0, 3), `wqkv ${i}`);
    assert.equal(firstOfEach(b.attention.oProj, [64]), scales(`layers.${i}.attention.wo.weight_scale`).slice(0, 1), `wo ${i}`);
    assert.equal(firstOfEach(b.feedForward.w13, [160, 160]), scales(`layers.${i}.feed_forward.w13.weight_scale`).slice(0, 2), `w13 ${i}`);
    assert.equal(firstOfEach(b.feedForward.w2, [64]), scales(`layers.${i}.feed_forward.w2.weight_scale`).slice(0, 1), `w2 ${i}`);
  });
});

golden('--format ms-gpu reproduces Microsoft\'s own conversion (ms-gpu-int2.safetensors) byte for byte', async () => {
  for (const holdBytes of [undefined, 0]) {
    const dir = fresh('ms-gpu');
    await convert({ inputDir: GOLDEN, outputDir: dir, format: 'ms-gpu', threads: 2, holdBytes, chunkBytes: 1 << 12 });
    assert.ok(readFileSync(join(dir, 'model_state_int2.safetensors')).equals(readFileSync(join(GOLDEN, 'ms-gpu-int2.safetensors'))), `holdBytes ${holdBytes}`);
  }
});

golden('--ms-gpu-prefill bf16: model_state_fp16 is the reference of Microsoft\'s quant_weight_fp16 byte for byte (any chunking, held or read twice); the int2 file unchanged; progress counts both', async () => {
  const want = encodeExpected(expectedMsGpuPrefill(readSafetensors(join(GOLDEN, 'model.safetensors')), JSON.parse(readFileSync(join(GOLDEN, 'config.json'), 'utf8'))));
  for (const [holdBytes, threads] of [[undefined, 2], [0, 0]] as const) {
    const dir = fresh('ms-gpu-prefill');
    let last = { tensorsDone: 0, tensorsTotal: -1 };
    await convert({ inputDir: GOLDEN, outputDir: dir, format: 'ms-gpu', msGpuPrefill: 'bf16', threads, holdBytes, chunkBytes: 1 << 12, onProgress: (p) => (last = p) } as Parameters<typeof convert>[0]);
    assert.ok(readFileSync(join(dir, 'model_state_fp16.safetensors')).equals(want), `holdBytes ${holdBytes}`);
    assert.ok(readFileSync(join(dir, 'model_state_int2.safetensors')).equals(readFileSync(join(GOLDEN, 'ms-gpu-int2.safetensors'))));
    assert.is(last.tensorsDone, last.tensorsTotal);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    assert.is(manifest.options.ms_gpu_prefill, 'bf16', 'the manifest records it (verify --against re-derives with it)');
  }
});

golden('progress ends at every byte and tensor of the plan', async () => {
  // holdBytes 0: every projection is read twice (pass 1 for the mean, pass 2 to quantize)
  for (const threads of [0, 2]) {
    const seen: { bytesRead: number; bytesTotal: number; tensorsDone: number; tensorsTotal: number }[] = [];
    await convert({ inputDir: GOLDEN, outputDir: fresh('progress'), threads, holdBytes: 0, onProgress: (p) => seen.push(p) });
    const last = seen[seen.length - 1];
    assert.is(last.tensorsTotal, 3 + 11 * 2);
    assert.is(last.tensorsDone, last.tensorsTotal);
    const projections = 2 * (64 * 64 * 2 + 32 * 64 * 2 + 160 * 64 * 2 + 64 * 160) * 2 * 2; // 2 layers, bf16, two passes
    const embedding = 256 * 64 * 2;
    const norms = (2 * (3 * 64 + 160) + 64) * 2;
    assert.is(last.bytesTotal, projections + embedding * 3 + norms); // embedding once as f32, twice for the tied head
    assert.is(last.bytesRead, last.bytesTotal);
  }
});

golden('output is identical whatever the thread count, chunk size and holding', async () => {
  const a = await run(GOLDEN, { threads: 0 });
  for (const other of [{ threads: 2, chunkBytes: 1 << 20 }, { threads: 1, holdBytes: 0 }, { threads: 2, holdBytes: 9000, chunkBytes: 300 }]) {
    const b = await run(GOLDEN, other);
    for (const f of readdirSync(a.dir)) assert.ok(readFileSync(join(a.dir, f)).equals(readFileSync(join(b.dir, f))), `${f} ${JSON.stringify(other)}`);
  }
});

golden.run();

const layouts = suite('synthetic layouts');

layouts('rows not a multiple of 16 (odd preset), F32, sharded, untied', async () => {
  const input = synth({ preset: 'odd', dtype: 'F32', shards: 3, untied: true, seed: 3 });
  const { model } = await run(input, { threads: 2 });
  checkModel(model, readCheckpointTensors(input));
  assert.is(model.lmHead.outFeatures, 300);
});

layouts('F16 input follows the rule in f16', async () => {
  const input = synth({ preset: 'odd', dtype: 'F16', seed: 4 });
  checkModel((await run(input)).model, readCheckpointTensors(input));
});

layouts('F16 projections whose |w| sum passes the f16 range (65504) keep a finite scale', async () => {
  const shape = { hidden_size: 256, intermediate_size: 512, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 32768 };
  const input = synth({ shape, dtype: 'F16', seed: 8 });
  const { model } = await run(input, { chunkBytes: 1 << 20 });
  const head = model.lmHead;
  assert.ok(Number.isFinite(head.weightScales[0]) && head.weightScales[0] > 0.005 && head.weightScales[0] < 0.05, `scale ${head.weightScales[0]}`);
  checkModel(model, readCheckpointTensors(input));
});

layouts('BF16 sharded input equals the single-file conversion', async () => {
  const single = await run(synth({ preset: 'tiny', seed: 5 }));
  const sharded = await run(synth({ preset: 'tiny', seed: 5, shards: 4 }));
  for (const f of ['embedding.bin', 'lm_head.bin', 'norm.bin', 'block_0.bin', 'block_1.bin', 'metadata.bin']) {
    assert.ok(readFileSync(join(single.dir, f)).equals(readFileSync(join(sharded.dir, f))), f);
  }
});

layouts('legacy bincode decodes to the same model', async () => {
  const input = synth({ preset: 'odd', seed: 6 });
  const std = await run(input);
  const legacy = await run(input, { bincode: 'legacy' });
  assert.equal(legacy.model, std.model);
  // legacy is fixed width: every size follows from the shapes (odd preset: hidden 72, ffn 200, kv 36)
  const linear = (rows: number, cols: number) => 8 + rows * Math.ceil(cols / 16) * 4 + 8 + rows * 4 + 8 + 8;
  const norm = (n: number) => 8 + n * 4 + 8 + 2 * 8;
  const want = linear(72 + 36 + 36, 72) + linear(72, 72) + linear(400, 72) + linear(72, 200) + 3 * norm(72) + norm(200);
  assert.is(readFileSync(join(legacy.dir, 'block_0.bin')).length, want);
});

layouts('--scale-granularity row follows the seed per-row rule', async () => {
  const input = synth({ preset: 'odd', seed: 7 });
  const { model } = await run(input, { granularity: 'row' });
  const t = readCheckpointTensors(input).get('model.layers.1.mlp.down_proj.weight')!;
  const want = referenceRowTernary(decodeValues(t.bytes, 'BF16'), t.shape[1]);
  const rec = model.blocks[1].feedForward.w2;
  assert.equal(Array.from(unpackRows(rec.packedWeights, t.shape[0], t.shape[1])), Array.from(want.q));
  assert.equal(Array.from(rec.weightScales), want.scales);
});

/** Projections of a checkpoint whose ternaries or scale differ between the reference and torch 1.13's double-rounded mean. */
function oldTorchDiffers(input: Map<string, RawTensor>, dt: Dt): string[] {
  const differing: string[] = [];
  for (const [name, t] of input) {
    if (t.shape.length !== 2 || name.endsWith('layernorm.weight')) continue;
    const w = decodeValues(t.bytes, dt);
    const a = referenceTernary(w, dt);
    const b = oldTorchTernary(w, dt);
    if (a.scale !== b.scale || a.q.some((v, i) => v !== b.q[i])) differing.push(name);
  }
  return differing;
}

// 1000 x 192 = 192000 elements (9 significant bits): bf16(n) != n, so torch 1.13's mean is off more often.
const WIDE_COUNT = { hidden_size: 192, intermediate_size: 320, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 1000 };

for (const dtype of ['BF16', 'F16'] as const) {
  layouts(`${dtype}: the mean is rounded once (modern torch), also where torch 1.13's double rounding differs`, async () => {
    const input = synth({ shape: WIDE_COUNT, dtype, seed: 11 });
    const tensors = readCheckpointTensors(input);
    const differing = oldTorchDiffers(tensors, dtype);
    assert.ok(differing.length > 0, 'the fixture has a projection the two mean roundings disagree on');
    checkModel((await run(input)).model, tensors);
  });
}

layouts('--rule online follows transformers\' f32 WeightQuant, differs from offline, and is recorded', async () => {
  const input = synth({ shape: WIDE_COUNT, seed: 12 });
  const tensors = readCheckpointTensors(input);
  const online = await run(input, { rule: 'online' });
  checkModel(online.model, tensors, undefined, 'online');
  const offline = await run(input);
  assert.not.equal(online.model.lmHead.packedWeights, offline.model.lmHead.packedWeights, 'f32 and bf16 arithmetic disagree on some values');
  assert.is(JSON.parse(readFileSync(join(online.dir, 'manifest.json'), 'utf8')).options.rule, 'online');
  assert.is(JSON.parse(readFileSync(join(offline.dir, 'manifest.json'), 'utf8')).options.rule, 'offline');
});

layouts.after(() => rmSync(tmp, { recursive: true, force: true }));
layouts.run();

const order = suite('job order');

order('tiny jobs first in plan order; then jobs of 1/8 of the bytes, largest first; then the rest in the order of their place in the file', () => {
  const M = 2 ** 20;
  // 12 layers of 30 MiB at the start of the file, a tensor in 4 pieces of 40 MiB at its end: none is 1/8
  // of the 520 MiB, so all go in file order, the larger pieces last (largest first, the hash would reach
  // them only once every layer had ended)
  const layers = Array.from({ length: 12 }, (_, i) => i);
  assert.equal(jobOrder([...layers.map(() => 30 * M), 40 * M, 40 * M, 40 * M, 40 * M], [...layers.map((i) => i * 100), 5000, 5100, 5200, 5300]), [...layers, 12, 13, 14, 15]);
  // one of 200 MiB at the end (1/8 of 560 is 70): first, or it would run alone at the end
  assert.equal(jobOrder([...layers.map(() => 30 * M), 200 * M], [...layers.map((i) => i * 100), 5000]), [12, ...layers]);
  // files of their own (no region) beside regions: largest first, before those in file order
  assert.equal(jobOrder([30 * M, 20 * M, 40 * M, 30 * M, 30 * M, 30 * M, 30 * M, 30 * M, 30 * M], [500, undefined, undefined, 300, 100, 200, 400, 0, 600]), [2, 1, 7, 4, 5, 3, 6, 0, 8]);
  // tiny: under 1/64 of the largest, or 4 MiB (the first two here); the three of 10 MiB by their first region's offset
  assert.equal(jobOrder([3 * M, 10 * M, 640 * M, 10 * M, 9 * M, 10 * M], [900, 700, 40, 100, 0, 400]), [0, 4, 2, 3, 5, 1]);
  assert.equal(jobOrder([M, 2 * M, 5 * M], [0, 10, 20]), [0, 1, 2], 'all tiny: plan order');
  // no offsets (own files): plan order among equals
  assert.equal(jobOrder([10 * M, 10 * M, 30 * M]), [2, 0, 1]);
});

order('a large float tensor written in pieces (one job a piece): the same files, every tensor counted once', async () => {
  // untied (a head of its own), F32; pieces of a fifth of the embedding (and of the head)
  const input = synth({ preset: 'tiny', dtype: 'F32', untied: true, seed: 9 });
  const embedding = readCheckpointTensors(input).get('model.embed_tokens.weight')!;
  const pieceBytes = Math.floor(embedding.bytes.byteLength / 5);
  for (const format of ['hf-packed', 'bitnet-rs-safetensors', 'ms-gpu']) {
    type Last = { tensorsDone: number; tensorsTotal: number; bytesRead: number; bytesTotal: number };
    const whole = fresh('whole');
    let once: Last | undefined;
    const w = await convert({ inputDir: input, outputDir: whole, format, threads: 0, timestamp: 1_700_000_000, onProgress: (p) => (once = p) });
    for (const threads of [0, 2]) {
      const pieces = fresh('pieces');
      let last: Last | undefined;
      const r = await convert({ inputDir: input, outputDir: pieces, format, threads, timestamp: 1_700_000_000, pieceBytes, onProgress: (p) => (last = p) });
      for (const f of readdirSync(whole)) assert.ok(readFileSync(join(whole, f)).equals(readFileSync(join(pieces, f))), `${format} ${threads} threads: ${f} as written whole`);
      assert.is(r.bytesRead, w.bytesRead, `${format}: the same bytes read`);
      // the progress's last report: every tensor done once, as many as written whole
      assert.equal([last!.tensorsDone, last!.tensorsTotal, last!.bytesRead, last!.bytesTotal], [once!.tensorsDone, once!.tensorsTotal, once!.bytesRead, once!.bytesTotal], format);
      assert.is(last!.tensorsDone, last!.tensorsTotal, format);
    }
  }
});

order.run();

// Our GGUF writer proven in a real engine: node-llama-cpp (pinned, prebuilt CPU llama.cpp) loads the
// TQ2_0, TQ1_0 and Q2_0 files the converter writes for a SiLU (1bitLLM-layout) synthetic model, and its
// next-token log-probabilities match the independent float64 reference forward pass of the SOURCE
// checkpoint (test/reference/forward-ref.ts, written from the transformers modelling code, not from
// our writer) with correlation >= 0.999 at every position. Negative controls in the same test: our
// file with one tensor's scale flipped, or a sub-norm dropped (set to ones), falls below. Also a
// linear rope_scaling, written as bitnet.rope.scaling.* keys (docs/gguf.md 9).
//
// Needs node-llama-cpp in test/engines (`npm test` installs it). Skipped without it, except in CI.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert } from '../build/js/run/convert.js';
import { generateCheckpoint } from '../build/js/synth/generate.js';
import { parseGguf } from '../build/js/formats/gguf.js';
import { ENGINE_SHAPE, ENGINE_TOKENS, correlations, engineProblem, engineTestsEnabled, requireEngine, runLlama, type LlamaRun } from './helpers/engine.js';
import { forwardReference, loadReferenceModel, pearson } from './reference/forward-ref.js';

const enabled = engineTestsEnabled();
const engine = suite('our GGUF in node-llama-cpp against the reference');
const test = enabled ? engine : engine.skip;
if (!enabled) console.log(`engine tests skipped: ${engineProblem()}`);

const root = mkdtempSync(join(tmpdir(), 'bitnet-engine-gguf-'));
const THRESHOLD = 0.999;
const input = join(root, 'checkpoint');
generateCheckpoint({ outDir: input, layout: '1bitllm', shape: ENGINE_SHAPE, seed: 21 });
const reference = forwardReference(loadReferenceModel(input), ENGINE_TOKENS).logprobs;

const converted = new Map<string, Promise<string>>();
/** Our .gguf of the checkpoint in a type (converted once). */
function ours(type: 'tq2_0' | 'tq1_0' | 'q2_0'): Promise<string> {
  if (!converted.has(type)) {
    const out = join(root, type);
    converted.set(type, convert({ inputDir: input, outputDir: out, format: 'gguf', ggufType: type, threads: 2, timestamp: 1 }).then(() => join(out, readdirSync(out).find((f) => f.endsWith('.gguf'))!)));
  }
  return converted.get(type)!;
}

const correlationsOf = (run: LlamaRun) => correlations(run, reference);

const fmt = (cs: number[]) => `min ${Math.min(...cs).toFixed(6)} over ${cs.length} positions`;

/** A copy of a GGUF file with one tensor's bytes edited. */
function edited(file: string, tensor: string, edit: (data: Uint8Array, type: string) => void): string {
  const bytes = new Uint8Array(readFileSync(file));
  const t = parseGguf(bytes, file).tensors.find((x) => x.name === tensor)!;
  edit(bytes.subarray(t.offset, t.offset + t.bytes), t.type);
  const path = `${file}.${tensor}.gguf`;
  writeFileSync(path, bytes);
  return path;
}

for (const type of ['tq2_0', 'tq1_0', 'q2_0'] as const) {
  test(`${type}: node-llama-cpp computes our file as the reference computes the source (>= ${THRESHOLD} at every position)`, async () => {
    requireEngine();
    const file = await ours(type);
    const run = await runLlama(file, ENGINE_TOKENS, { timeoutMs: 60_000 });
    assert.is(run.vocabSize, ENGINE_SHAPE.vocab_size);
    const cs = correlationsOf(run);
    assert.ok(Math.min(...cs) >= THRESHOLD, `${type}: ${fmt(cs)}`);
    console.log(`  ${type}: ${fmt(cs)}`);
  });
}

test(`rope_scaling linear on arch bitnet (llama.rope.scaling.* as bitnet.*): q2_0 computed as the reference applies it to the source (>= ${THRESHOLD})`, async () => {
  requireEngine();
  const scaled = join(root, 'rope-linear');
  generateCheckpoint({ outDir: scaled, layout: '1bitllm', shape: ENGINE_SHAPE, seed: 22 });
  const cfg = join(scaled, 'config.json');
  writeFileSync(cfg, JSON.stringify({ ...JSON.parse(readFileSync(cfg, 'utf8')), rope_theta: 10, rope_scaling: { type: 'linear', factor: 4.0 } }));
  const out = join(root, 'rope-linear-q2_0');
  await convert({ inputDir: scaled, outputDir: out, format: 'gguf', threads: 2, timestamp: 1 });
  const file = join(out, readdirSync(out).find((f) => f.endsWith('.gguf'))!);
  const g = parseGguf(new Uint8Array(readFileSync(file)), file);
  assert.equal([g.kvs.get('bitnet.rope.scaling.type')?.value, g.kvs.get('bitnet.rope.scaling.factor')?.value], ['linear', 4]);
  const model = loadReferenceModel(scaled);
  const want = forwardReference(model, ENGINE_TOKENS).logprobs;
  const cs = correlations(await runLlama(file, ENGINE_TOKENS, { timeoutMs: 60_000 }), want);
  assert.ok(Math.min(...cs) >= THRESHOLD, `linear: ${fmt(cs)}`);
  const plain = forwardReference({ ...model, invFreq: undefined }, ENGINE_TOKENS).logprobs;
  const apart = want.map((w, i) => pearson(w, plain[i]));
  console.log(`  bitnet, rope_scaling linear: ${fmt(cs)} (scaled against unscaled reference: min ${Math.min(...apart).toFixed(6)})`);
  assert.ok(Math.min(...apart) < THRESHOLD, 'the scaling shows at these positions');
});

test('negative controls: a flipped scale or a dropped sub-norm in our file fails the same check', async () => {
  requireEngine();
  const file = await ours('tq2_0');
  const flipped = edited(file, 'blk.0.attn_v.weight', (d) => {
    for (let b = 0; b < d.length / 66; b++) d[b * 66 + 65] ^= 0x80; // the sign of every block's fp16 d
  });
  const dropped = edited(file, 'blk.0.attn_sub_norm.weight', (d) => {
    const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
    for (let i = 0; i < d.length / 4; i++) v.setFloat32(4 * i, 1, true); // the norm's weights removed
  });
  const q2 = await ours('q2_0');
  const flippedQ2 = edited(q2, 'blk.0.attn_v.weight', (d) => {
    for (let b = 0; b < d.length / 18; b++) d[b * 18 + 1] ^= 0x80; // Q2_0: d is the first 2 bytes of every block
  });
  for (const [label, path] of [['flipped scale', flipped], ['dropped sub-norm', dropped], ['flipped Q2_0 scale', flippedQ2]]) {
    const cs = correlationsOf(await runLlama(path, ENGINE_TOKENS, { timeoutMs: 60_000 }));
    assert.ok(Math.min(...cs) < THRESHOLD, `${label} should fail the check: ${fmt(cs)}`);
    console.log(`  ${label}: ${fmt(cs)}`);
  }
});

engine.run();

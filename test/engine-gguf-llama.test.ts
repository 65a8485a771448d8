// Llama-layout ternary models (HF1BitLLM Llama3-8B-1.58, Falcon3-1.58bit, onebitllms fine-tunes:
// LlamaForCausalLM, U8-packed projections whose weight_scale divides, no sub-norms, an untied head,
// grouped-query attention) written as GGUF arch `llama` and computed by a real engine: node-llama-cpp
// (prebuilt CPU llama.cpp) loads our Q2_0, TQ2_0 and TQ1_0 files and its next-token log-probabilities
// match the float64 reference forward pass of the SOURCE checkpoint (Hugging Face semantics:
// rotate-half RoPE on the unpermuted rows, test/reference/forward-ref.ts) with correlation >= 0.999 at
// every position; so does our Q2_0 file with --gguf-embd-type q8_0 (token_embd and output.weight as
// Q8_0 blocks, docs/gguf.md 7); and a llama-latent checkpoint (float latent projections ternarized
// here) whose head_dim (32) is not hidden / heads (64), written with llama.attention.key_length and
// value_length, which is where converters usually go wrong; and rope_scaling llama3 (rope_freqs.weight) and
// linear (llama.rope.scaling.*) against a reference applying transformers' scaled frequencies, docs/gguf.md 9. Negative controls in the same test, edited copies of our Q2_0 file: q/k rows left
// in Hugging Face order (no permutation), every block's d inverted (the wrong scale sense), and the
// untied head replaced by the embedding (a tied head): each falls below the threshold.
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
import { f16ToF32, f32ToF16 } from '../build/js/quant/floats.js';
import { ENGINE_SHAPE, ENGINE_TOKENS, correlations, engineProblem, engineTestsEnabled, requireEngine, runLlama } from './helpers/engine.js';
import { forwardReference, loadReferenceModel, pearson } from './reference/forward-ref.js';

const enabled = engineTestsEnabled();
const engine = suite('arch llama: our GGUF of a Llama-layout ternary model in node-llama-cpp against the reference');
const test = enabled ? engine : engine.skip;
if (!enabled) console.log(`engine tests skipped: ${engineProblem()}`);

const root = mkdtempSync(join(tmpdir(), 'bitnet-engine-llama-gguf-'));
const THRESHOLD = 0.999;
const input = join(root, 'checkpoint');
generateCheckpoint({ outDir: input, layout: 'llama-packed', shape: ENGINE_SHAPE, seed: 31 });
// a small rope_theta makes every rotary pair turn within 16 positions, so the pairing (the permutation) shows
const configPath = join(input, 'config.json');
writeFileSync(configPath, JSON.stringify({ ...JSON.parse(readFileSync(configPath, 'utf8')), rope_theta: 100 }));
const reference = forwardReference(loadReferenceModel(input), ENGINE_TOKENS).logprobs;
const fmt = (cs: number[]) => `min ${Math.min(...cs).toFixed(6)} over ${cs.length} positions`;

const converted = new Map<string, Promise<string>>();
/** Our .gguf of the checkpoint in a type (arch auto, which must pick llama), converted once. */
function ours(type: 'q2_0' | 'tq2_0' | 'tq1_0', embd: 'f16' | 'q8_0' = 'f16'): Promise<string> {
  const key = `${type}-${embd}`;
  if (!converted.has(key)) {
    const out = join(root, key);
    converted.set(key, convert({ inputDir: input, outputDir: out, format: 'gguf', ggufType: type, ggufEmbdType: embd, threads: 2, timestamp: 1 }).then(() => join(out, readdirSync(out).find((f) => f.endsWith('.gguf'))!)));
  }
  return converted.get(key)!;
}

/** A copy of a GGUF file with tensors' bytes edited (given every tensor's bytes by name). */
function edited(file: string, label: string, edit: (data: (name: string) => Uint8Array) => void): string {
  const bytes = new Uint8Array(readFileSync(file));
  const g = parseGguf(bytes, file);
  edit((name) => {
    const t = g.tensors.find((x) => x.name === name)!;
    return bytes.subarray(t.offset, t.offset + t.bytes);
  });
  const path = `${file}.${label}.gguf`;
  writeFileSync(path, bytes);
  return path;
}

for (const type of ['q2_0', 'tq2_0', 'tq1_0'] as const) {
  test(`${type}: arch llama, GQA, q/k permuted, untied head: node-llama-cpp computes our file as the reference computes the source (>= ${THRESHOLD})`, async () => {
    requireEngine();
    const file = await ours(type);
    const g = parseGguf(new Uint8Array(readFileSync(file)), file);
    assert.is(g.kvs.get('general.architecture')!.value, 'llama');
    assert.is(g.kvs.get('llama.attention.head_count_kv')!.value, ENGINE_SHAPE.num_key_value_heads);
    assert.ok(g.tensors.some((t) => t.name === 'output.weight'), 'the untied head is written');
    assert.not.ok(g.tensors.some((t) => t.name.includes('sub_norm')), 'no sub-norms');
    const run = await runLlama(file, ENGINE_TOKENS, { timeoutMs: 60_000 });
    assert.is(run.vocabSize, ENGINE_SHAPE.vocab_size);
    const cs = correlations(run, reference);
    assert.ok(Math.min(...cs) >= THRESHOLD, `${type}: ${fmt(cs)}`);
    console.log(`  llama ${type}: ${fmt(cs)}`);
  });
}

test(`q2_0 with --gguf-embd-type q8_0: token_embd and output.weight as Q8_0, computed as the reference computes the source (>= ${THRESHOLD})`, async () => {
  requireEngine();
  const file = await ours('q2_0', 'q8_0');
  const g = parseGguf(new Uint8Array(readFileSync(file)), file);
  assert.equal(['token_embd.weight', 'output.weight'].map((n) => g.tensors.find((t) => t.name === n)!.type), ['Q8_0', 'Q8_0']);
  const run = await runLlama(file, ENGINE_TOKENS, { timeoutMs: 60_000 });
  assert.equal(run.tensors.filter((t) => t.type === 8).map((t) => t.name).sort(), ['output.weight', 'token_embd.weight'], 'the engine reads them as type 8');
  const cs = correlations(run, reference);
  assert.ok(Math.min(...cs) >= THRESHOLD, `q8_0 embeddings: ${fmt(cs)}`);
  console.log(`  llama q2_0 + q8_0 embeddings: ${fmt(cs)}`);
});

test(`llama-latent with head_dim 32 != hidden / heads: key_length/value_length written, q2_0 computed as the reference computes the source (>= ${THRESHOLD})`, async () => {
  requireEngine();
  const latent = join(root, 'latent');
  generateCheckpoint({ outDir: latent, layout: 'llama-latent', shape: { ...ENGINE_SHAPE, head_dim: 32 }, untied: true, seed: 32 });
  const cfg = join(latent, 'config.json');
  writeFileSync(cfg, JSON.stringify({ ...JSON.parse(readFileSync(cfg, 'utf8')), rope_theta: 100 }));
  assert.is(JSON.parse(readFileSync(cfg, 'utf8')).head_dim, 32);
  const out = join(root, 'latent-q2_0');
  await convert({ inputDir: latent, outputDir: out, format: 'gguf', layout: 'llama-latent', threads: 2, timestamp: 1 });
  const file = join(out, readdirSync(out).find((f) => f.endsWith('.gguf'))!);
  const g = parseGguf(new Uint8Array(readFileSync(file)), file);
  const num = (k: string) => g.kvs.get(k)?.value;
  assert.equal([num('llama.attention.key_length'), num('llama.attention.value_length'), num('llama.rope.dimension_count')], [32, 32, 32]);
  assert.equal(g.tensors.find((t) => t.name === 'blk.0.attn_q.weight')!.ne, [ENGINE_SHAPE.hidden_size, ENGINE_SHAPE.num_attention_heads * 32]);
  const want = forwardReference(loadReferenceModel(latent), ENGINE_TOKENS).logprobs;
  const cs = correlations(await runLlama(file, ENGINE_TOKENS, { timeoutMs: 60_000 }), want);
  assert.ok(Math.min(...cs) >= THRESHOLD, `head_dim 32: ${fmt(cs)}`);
  console.log(`  llama-latent, head_dim 32: ${fmt(cs)}`);
});

// Llama 3.1's rope_scaling keys with a context of 32 and rope_theta 10 (head_dim 64): pairs 0-3 keep their
// frequency, 23-31 are divided by 32 and 4-22 are blended, so all three bands turn within 16 positions
// (this model's log-probs move little with RoPE: scaled and unscaled references correlate 0.998)
const LLAMA3 = { rope_type: 'llama3', factor: 32.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 32 };

test(`rope_scaling llama3 (rope_freqs.weight) and linear (llama.rope.scaling.*): q2_0 computed as the reference applies the scaling to the source (>= ${THRESHOLD}); rope_freqs all 1 falls below`, async () => {
  requireEngine();
  for (const [label, scaling] of [['llama3', LLAMA3], ['linear', { type: 'linear', factor: 4.0 }]] as const) {
    const scaled = join(root, `rope-${label}`);
    generateCheckpoint({ outDir: scaled, layout: 'llama-packed', shape: ENGINE_SHAPE, seed: 33 });
    const cfg = join(scaled, 'config.json');
    writeFileSync(cfg, JSON.stringify({ ...JSON.parse(readFileSync(cfg, 'utf8')), rope_theta: 10, rope_scaling: scaling }));
    const out = join(root, `rope-${label}-q2_0`);
    await convert({ inputDir: scaled, outputDir: out, format: 'gguf', threads: 2, timestamp: 1 });
    const file = join(out, readdirSync(out).find((f) => f.endsWith('.gguf'))!);
    const model = loadReferenceModel(scaled);
    assert.ok(model.invFreq, 'the reference applies the scaling');
    const want = forwardReference(model, ENGINE_TOKENS).logprobs;
    const cs = correlations(await runLlama(file, ENGINE_TOKENS, { timeoutMs: 60_000 }), want);
    assert.ok(Math.min(...cs) >= THRESHOLD, `${label}: ${fmt(cs)}`);
    console.log(`  rope_scaling ${label}: ${fmt(cs)}`);
    // the scaling matters at these positions: the unscaled reference is far from it
    const plain = forwardReference({ ...model, invFreq: undefined }, ENGINE_TOKENS).logprobs;
    const apart = want.map((w, i) => pearson(w, plain[i]));
    assert.ok(Math.min(...apart) < THRESHOLD, `${label}: scaled and unscaled references should differ: min ${Math.min(...apart)}`);
    if (label !== 'llama3') continue;
    // the engine reads the factors: every one set to 1 (no scaling) fails the check
    const ones = edited(file, 'ones', (data) => {
      const d = data('rope_freqs.weight');
      const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
      for (let k = 0; k < d.length; k += 4) v.setFloat32(k, 1, true);
    });
    const off = correlations(await runLlama(ones, ENGINE_TOKENS, { timeoutMs: 60_000 }), want);
    assert.ok(Math.min(...off) < THRESHOLD, `rope_freqs all 1 should fail the check: ${fmt(off)}`);
    console.log(`  rope_freqs all 1: ${fmt(off)}`);
  }
});

test('negative controls: no q/k permutation, the inverted scale sense, a tied head on the untied model: each fails the check', async () => {
  requireEngine();
  const file = await ours('q2_0');
  const { hidden_size: hidden, num_attention_heads: heads, num_key_value_heads: kvHeads } = ENGINE_SHAPE;
  const headDim = hidden / heads;
  const rowBytes = (hidden / 64) * 18; // Q2_0 rows of `hidden` values
  // our rows t hold source row (h, l, d) at (h, d, l): put each back where Hugging Face has it
  const unpermuted = edited(file, 'unpermuted', (data) => {
    for (const [name, n] of [['attn_q', heads], ['attn_k', kvHeads]] as const) {
      for (const b of [0, 1]) {
        const d = data(`blk.${b}.${name}.weight`);
        const copy = d.slice();
        for (let t = 0; t < n * headDim; t++) {
          const h = Math.floor(t / headDim);
          const r = t % headDim;
          const source = h * headDim + (r % 2) * (headDim / 2) + Math.floor(r / 2);
          d.set(copy.subarray(t * rowBytes, (t + 1) * rowBytes), source * rowBytes);
        }
      }
    }
  });
  // d -> 1/d in every block of every projection (a scale that divides read as one that multiplies)
  const inverted = edited(file, 'inverted', (data) => {
    for (let b = 0; b < 2; b++) {
      for (const name of ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down']) {
        const d = data(`blk.${b}.${name}.weight`);
        const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
        for (let k = 0; k < d.length; k += 18) v.setUint16(k, f32ToF16(1 / f16ToF32(v.getUint16(k, true))), true);
      }
    }
  });
  // the head replaced by the embedding (both F16 [hidden, vocab])
  const tied = edited(file, 'tied', (data) => data('output.weight').set(data('token_embd.weight')));
  for (const [label, path] of [['no permutation', unpermuted], ['inverted scale sense', inverted], ['tied head', tied]]) {
    const cs = correlations(await runLlama(path, ENGINE_TOKENS, { timeoutMs: 60_000 }), reference);
    assert.ok(Math.min(...cs) < THRESHOLD, `${label} should fail the check: ${fmt(cs)}`);
    console.log(`  ${label}: ${fmt(cs)}`);
  }
});

engine.run();

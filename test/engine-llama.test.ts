// End to end WITHOUT the converter's GGUF writer: a synthetic 1bitLLM-layout checkpoint (SiLU, the
// FFN llama.cpp's arch `bitnet` computes), its effective weights (ternary * scale) written as F32 in
// a hand-made GGUF (test/helpers/gguf-literal.ts), run through node-llama-cpp in a child process,
// and compared with the float64 reference forward pass of the checkpoint itself. This proves that
// the harness (runLlama), the reference and the engine agree before any writer output is checked
// with them; the negative controls prove the comparison can fail.
//
// Needs node-llama-cpp in test/engines (node scripts/install-engines.mjs). Without it the tests are
// skipped, except in CI (CI=true), which installs it: there they fail.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCheckpoint } from '../build/js/synth/generate.js';
import { spmVocabulary } from '../build/js/synth/tokenizer.js';
import { ENGINE_SHAPE, ENGINE_TOKENS, EngineError, PINNED, correlations, engineProblem, engineTestsEnabled, requireEngine, runLlama, type LlamaRun } from './helpers/engine.js';
import { TOKEN_TYPE, bitnetF32Gguf, minimalSpmVocabulary, writeGguf, type BitnetGgufOptions, type SpmToken } from './helpers/gguf-literal.js';
import { forwardReference, loadReferenceModel, type RefModel, type Variant } from './reference/forward-ref.js';

const enabled = engineTestsEnabled();
const engine = suite('node-llama-cpp against the reference');
const test = enabled ? engine : engine.skip;
if (!enabled) console.log(`engine tests skipped: ${engineProblem()}`);

const root = mkdtempSync(join(tmpdir(), 'bitnet-engine-'));
const THRESHOLD = 0.999;

let model: RefModel | undefined;
function referenceModel(): RefModel {
  if (!model) {
    const dir = join(root, 'checkpoint');
    generateCheckpoint({ outDir: dir, layout: '1bitllm', shape: ENGINE_SHAPE, seed: 11 });
    model = loadReferenceModel(dir);
  }
  return model;
}

/** The synthetic checkpoint's own SentencePiece vocabulary (its pieces, then <pad> and </line> as user-defined tokens). */
function synthVocabulary(): SpmToken[] {
  const v = spmVocabulary(ENGINE_SHAPE.vocab_size);
  return [...v.pieces, ...v.added.map(([, piece]) => ({ piece, score: 0, type: TOKEN_TYPE.userDefined }))];
}

let serial = 0;
function fixture(m: RefModel, o: BitnetGgufOptions = {}): string {
  const path = join(root, `f${serial++}.gguf`);
  writeGguf(path, bitnetF32Gguf(m, { vocabulary: synthVocabulary(), ...o }));
  return path;
}


const fmt = (cs: number[]) => `min ${Math.min(...cs).toFixed(7)} (per position ${cs.map((c) => c.toFixed(5)).join(' ')})`;

let good: LlamaRun | undefined;
async function goodRun(): Promise<LlamaRun> {
  requireEngine();
  good ??= await runLlama(fixture(referenceModel()), ENGINE_TOKENS, { timeoutMs: 60_000 });
  return good;
}

test(`the pinned engine loads a hand-made F32 bitnet GGUF and reports what it read`, async () => {
  const run = await goodRun();
  assert.is(run.engine.nodeLlamaCpp, PINNED['node-llama-cpp']);
  assert.is(run.engine.buildType, 'prebuilt');
  assert.is(run.engine.gpu, false);
  assert.is(run.vocabSize, ENGINE_SHAPE.vocab_size);
  assert.is(run.logprobs.length, ENGINE_TOKENS.length);
  assert.is(run.model.vocabularyType, 'spm');
  assert.is(run.model.embeddingVectorSize, ENGINE_SHAPE.hidden_size);
  const md = run.metadata as any;
  assert.is(md.general.architecture, 'bitnet');
  assert.is(md.bitnet.block_count, ENGINE_SHAPE.num_hidden_layers);
  assert.is(md.bitnet.attention.head_count_kv, ENGINE_SHAPE.num_attention_heads / 2);
  assert.is(run.tensors.length, 2 + 11 * ENGINE_SHAPE.num_hidden_layers);
  assert.is(run.underflowed, 0);
  // the synthetic vocabulary has real pieces (with the U+2581 space marker): node-llama-cpp's
  // tokenize/detokenize check on load stays quiet (it warns with the minimal byte-only vocabulary)
  assert.not.ok(run.stderr.includes('resulted in a different text'), run.stderr);
  console.log(`  engine: node-llama-cpp ${run.engine.nodeLlamaCpp} (llama.cpp ${run.engine.llamaCppRelease.release}), child ${run.wallMs} ms: ${JSON.stringify(run.timingsMs)}`);
});

test(`log-probabilities agree with the float64 reference: correlation >= ${THRESHOLD} at every position`, async () => {
  const run = await goodRun();
  const ref = forwardReference(referenceModel(), ENGINE_TOKENS).logprobs;
  const cs = correlations(run, ref);
  console.log(`  correct model: ${fmt(cs)}`);
  cs.forEach((c, i) => assert.ok(c >= THRESHOLD, `position ${i}: correlation ${c}`));
  // same top token everywhere, and close values (F32 weights: only the F16 KV cache and f32 sums differ)
  let maxDiff = 0;
  run.logprobs.forEach((row, i) => {
    const top = (r: ArrayLike<number>) => Array.prototype.indexOf.call(r, Math.max(...Array.from(r)));
    assert.is(top(row), top(ref[i]), `top token at position ${i}`);
    row.forEach((x, t) => (maxDiff = Math.max(maxDiff, Math.abs(x - ref[i][t]))));
  });
  console.log(`  largest |log p difference|: ${maxDiff.toExponential(2)}`);
  assert.ok(maxDiff < 0.05, `largest log p difference ${maxDiff}`);
});

test(`negative controls: the engine's output against a reference with a mistake falls below ${THRESHOLD}`, async () => {
  const run = await goodRun();
  const m = referenceModel();
  const mistakes: Array<[string, Variant]> = [
    ['sub-norms dropped', { dropSubNorms: true }],
    ['RoPE pairs adjacent (GPT-J) instead of NEOX', { ropePairing: 'adjacent' }],
    ['relu2 instead of SiLU', { act: 'relu2' }],
    ['scales ignored', { ignoreScale: true }],
  ];
  for (const [what, variant] of mistakes) {
    const cs = correlations(run, forwardReference(m, ENGINE_TOKENS, variant).logprobs);
    console.log(`  reference with ${what}: ${fmt(cs)}`);
    assert.ok(Math.min(...cs) < THRESHOLD, `${what}: min correlation ${Math.min(...cs)} should be below ${THRESHOLD}`);
  }
});

test(`negative control: a file whose layer-0 v_proj scale has the wrong sign falls below ${THRESHOLD}`, async () => {
  requireEngine();
  const m = referenceModel();
  const flipped = fixture(m, { editProjection: (layer, name, w) => (layer === 0 && name === 'v' ? w.map((x) => -x) : w) });
  const run = await runLlama(flipped, ENGINE_TOKENS, { timeoutMs: 60_000 });
  const cs = correlations(run, forwardReference(m, ENGINE_TOKENS).logprobs);
  console.log(`  file with v_proj scale negated: ${fmt(cs)}`);
  assert.ok(Math.min(...cs) < THRESHOLD);
});

test(`token_embd in F16 (as docs/gguf.md 3 writes it) still agrees: correlation >= ${THRESHOLD}`, async () => {
  requireEngine();
  const m = referenceModel();
  const run = await runLlama(fixture(m, { embeddingType: 'F16' }), ENGINE_TOKENS, { timeoutMs: 60_000 });
  const cs = correlations(run, forwardReference(m, ENGINE_TOKENS).logprobs);
  console.log(`  F16 token_embd: ${fmt(cs)}`);
  cs.forEach((c, i) => assert.ok(c >= THRESHOLD, `position ${i}: correlation ${c}`));
});

/** The EngineError runLlama rejects with for this file. */
async function engineError(path: string, timeoutMs = 60_000): Promise<EngineError> {
  try {
    await runLlama(path, [1, 2], { timeoutMs });
  } catch (e) {
    assert.instance(e, EngineError);
    return e as EngineError;
  }
  throw new Error(`${path}: expected runLlama to fail`);
}

test('a file the engine refuses: runLlama names the stage and llama.cpp reason (missing sub-norm tensor)', async () => {
  requireEngine();
  const err = await engineError(fixture(referenceModel(), { omitTensors: ['blk.1.attn_sub_norm.weight'] }));
  assert.is(err.detail.stage, 'loadModel');
  assert.ok(err.message.includes("missing tensor 'blk.1.attn_sub_norm.weight'"), err.message);
});

test('a native abort: runLlama reports the signal and llama.cpp assertion (duplicate vocabulary piece)', async () => {
  requireEngine();
  const vocab = minimalSpmVocabulary(ENGINE_SHAPE.vocab_size);
  vocab[299] = { ...vocab[298] };
  const err = await engineError(fixture(referenceModel(), { vocabulary: vocab }));
  assert.is(err.detail.signal, 'SIGABRT');
  assert.ok(err.message.includes('native abort') && err.message.includes('GGML_ASSERT(id_to_token.size() == token_to_id.size())'), err.message);
});

test('the timeout kills the child and says so', async () => {
  requireEngine();
  const err = await engineError(join(root, 'f0.gguf'), 50);
  assert.ok(err.message.includes('timed out after 50 ms'), err.message);
});

engine.run();

// A GGUF transcoded by the converter (docs/gguf.md 10) computed by a real engine: node-llama-cpp loads the
// Q2_0 file made from our I2_S file of a SiLU Llama-layout model (arch llama: its q/k rows un-permuted on
// the way in, permuted again on the way out; the f32 I2_S scales rounded to fp16 d with --allow-lossy),
// and the Q2_0 file made from our TQ2_0 file of a SiLU BitNet model (arch bitnet), and their next-token
// log-probabilities match those of the Q2_0 file converted directly from the source (>= 0.9999) and the
// float64 reference forward pass of the source checkpoint (>= 0.999) at every position.
//
// Needs node-llama-cpp in test/engines (`npm test` installs it). Skipped without it, except in CI.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert, type ConvertOptions } from '../build/js/run/convert.js';
import { generateCheckpoint } from '../build/js/synth/generate.js';
import { ENGINE_SHAPE, ENGINE_TOKENS, correlations, engineProblem, engineTestsEnabled, requireEngine, runLlama } from './helpers/engine.js';
import { forwardReference, loadReferenceModel } from './reference/forward-ref.js';

const enabled = engineTestsEnabled();
const engine = suite('a transcoded GGUF in node-llama-cpp against the direct file and the reference');
const test = enabled ? engine : engine.skip;
if (!enabled) console.log(`engine tests skipped: ${engineProblem()}`);

const root = mkdtempSync(join(tmpdir(), 'bitnet-engine-gguf-input-'));
const fmt = (cs: number[]) => `min ${Math.min(...cs).toFixed(6)} over ${cs.length} positions`;
let n = 0;

async function gguf(inputDir: string, o: Partial<ConvertOptions>): Promise<string> {
  const out = join(root, `out-${n++}`);
  await convert({ inputDir, outputDir: out, format: 'gguf', threads: 2, timestamp: 1, ...o } as ConvertOptions);
  return join(out, readdirSync(out).find((f) => f.endsWith('.gguf'))!);
}

const CASES = [
  // Llama-layout, packed with dividing scales (HF1BitLLM's form), rope_theta 100 so that a wrong q/k row order shows
  { name: 'llama-packed -> I2_S (arch llama) -> Q2_0', layout: 'llama-packed', from: 'i2_s', lossy: true, rope: 100 },
  { name: '1bitllm -> TQ2_0 (arch bitnet) -> Q2_0', layout: '1bitllm', from: 'tq2_0', lossy: false },
] as const;

for (const c of CASES) {
  test(`${c.name}: node-llama-cpp computes it as the direct Q2_0 file (>= 0.9999) and as the reference computes the source (>= 0.999)`, async () => {
    requireEngine();
    const input = join(root, c.layout);
    generateCheckpoint({ outDir: input, layout: c.layout, shape: ENGINE_SHAPE, seed: 41 });
    if ('rope' in c) {
      const configPath = join(input, 'config.json');
      writeFileSync(configPath, JSON.stringify({ ...JSON.parse(readFileSync(configPath, 'utf8')), rope_theta: c.rope }));
    }
    const reference = forwardReference(loadReferenceModel(input), ENGINE_TOKENS).logprobs;
    const direct = await gguf(input, { ggufType: 'q2_0' });
    const source = await gguf(input, { ggufType: c.from });
    const transcoded = await gguf(source, { ggufType: 'q2_0', allowLossy: c.lossy });
    const a = await runLlama(direct, ENGINE_TOKENS, { timeoutMs: 60_000 });
    const b = await runLlama(transcoded, ENGINE_TOKENS, { timeoutMs: 60_000 });
    const same = correlations(b, a.logprobs);
    const ref = correlations(b, reference);
    assert.ok(Math.min(...same) >= 0.9999, `transcoded against direct: ${fmt(same)}`);
    assert.ok(Math.min(...ref) >= 0.999, `transcoded against the reference: ${fmt(ref)}`);
    console.log(`  ${c.name}: against direct ${fmt(same)}, against the reference ${fmt(ref)}`);
  });
}

engine.after(() => rmSync(root, { recursive: true, force: true }));
engine.run();

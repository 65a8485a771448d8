// The synthetic checkpoint generator: every input layout the converter reads (master weights,
// the packed 2B-4T form, 1bitLLM, Llama-style packed), its config.json, tensors and tokenizer files.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCheckpoint, type SynthOptions } from '../build/js/synth/generate.js';
import { PRESETS } from '../build/js/synth/presets.js';

const root = mkdtempSync(join(tmpdir(), 'bitnet-synth-'));
let serial = 0;

function synth(o: Partial<SynthOptions>): string {
  const outDir = join(root, `m${serial++}`);
  generateCheckpoint({ outDir, ...o });
  return outDir;
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

test('master output is unchanged: the sha256 of files written before the layouts existed', () => {
  // recorded from the generator at dadf22f (before --layout)
  const tiny = synth({ preset: 'tiny' });
  assert.is(sha256(join(tiny, 'model.safetensors')), '5d5daf9a90f8f00c081b1d0fef831b214c1317c22e66b3e8eade23ac081756fc');
  assert.is(sha256(join(tiny, 'config.json')), '7fbc5b5b19ad39da2db2a5a539033a191ba66326ecc7bb8aaf73ab0787637fba');
  const f16 = synth({ preset: 'tiny', dtype: 'F16', untied: true, seed: 7 });
  assert.is(sha256(join(f16, 'model.safetensors')), '9ecbfaae61b659dd7e189ca9b80e83fa0ce191851058ee413a470db52f07b2e0');
  assert.is(sha256(join(f16, 'config.json')), '80f43b900d4c5f06a9d7605fb7590c0984fec9305f1fc476047e073a4804b9a0');
  const sharded = synth({ preset: 'odd', dtype: 'F32', shards: 3 });
  const expected: Record<string, string> = {
    'config.json': '304dfe7d8a5c3c9040505055d1985ef06ce0b13ef04328b55db5c5b9c1af9c0b',
    'model-00001-of-00003.safetensors': '32ce375ea15e131c145e2b719d44256f1704ef31c125cb1a09090276a96157d1',
    'model-00002-of-00003.safetensors': 'c38b10d13b9e19a9bee90d43d3e59760ead9f34e45dba0b43a434af3e8647261',
    'model-00003-of-00003.safetensors': 'fae143a9af42362ee7d3f78851c158a0fa3766ae1917c37332d2ab2320130605',
    'model.safetensors.index.json': '288a69da2483b754f4a0e6bceb1349f30b0f9bf7a62ef5be9a8b66f84a178282',
  };
  for (const [file, hash] of Object.entries(expected)) assert.is(sha256(join(sharded, file)), hash, file);
  assert.ok(readdirSync(sharded).length >= Object.keys(expected).length);
});

test('presets: the shapes of the real models', () => {
  const pick = (k: string) => {
    const { about: _about, ...shape } = PRESETS[k];
    return shape;
  };
  assert.equal(pick('1bitllm-large'), { hidden_size: 1536, intermediate_size: 4096, num_hidden_layers: 24, num_attention_heads: 16, num_key_value_heads: 16, vocab_size: 32002 });
  assert.equal(pick('1bitllm-3b'), { hidden_size: 3200, intermediate_size: 8640, num_hidden_layers: 26, num_attention_heads: 32, num_key_value_heads: 32, vocab_size: 32002 });
  assert.equal(pick('llama3-8b'), { hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, vocab_size: 128256 });
  // parameter counts of the real models: 1bitLLM large 729 M and 3B 3.32 B (tied), Llama3-8B 8.03 B (untied)
  const params = (k: string, untied: boolean) => {
    const s = pick(k);
    const kv = (s.num_key_value_heads * s.hidden_size) / s.num_attention_heads;
    const layer = 2 * s.hidden_size * s.hidden_size + 2 * kv * s.hidden_size + 3 * s.intermediate_size * s.hidden_size + 2 * s.hidden_size;
    return (untied ? 2 : 1) * s.vocab_size * s.hidden_size + s.num_hidden_layers * layer + s.hidden_size;
  };
  assert.is(Math.round(params('1bitllm-large', false) / 1e6), 729);
  assert.is(Math.round(params('1bitllm-3b', false) / 1e7), 332);
  assert.is(Math.round(params('llama3-8b', true) / 1e7), 803);
});

test.after(() => rmSync(root, { recursive: true, force: true }));

test.run();

// Model-level errors: each ends in a typed error naming the file, the tensor and what was
// expected, before any output is written (no output folder, no temporary folder left).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { convert } from '../build/js/run/convert.js';
import {
  ConversionError,
  CorruptFileError,
  InvalidConfigError,
  InvalidShapeError,
  InvalidTernaryWeightError,
  MissingTensorError,
  OutputError,
  UnsupportedError,
} from '../build/js/errors.js';
import { readSafetensors, type RawTensor } from './helpers/read-safetensors.js';
import { makeTmpDir, writeSafetensors, type TensorSpec } from './helpers/safetensors-file.js';
import { conversionFails, readConvertedModel } from './helpers/common.js';
import type { DType } from '../build/js/formats/safetensors.js';
import { bf16ToNumber, decodeValues, referenceTernary, unpackRows } from './reference/ternary-ref.js';

const GOLDEN = new URL('./fixtures/golden-tiny/', import.meta.url).pathname;
const goldenConfig = JSON.parse(readFileSync(join(GOLDEN, 'config.json'), 'utf8')) as Record<string, unknown>;
const goldenTensors = readSafetensors(join(GOLDEN, 'model.safetensors'));
const root = makeTmpDir('bitnet-errors-');

/** A copy of the golden model with edits to its tensors and config. */
function model(edit: (t: Map<string, RawTensor>) => void = () => {}, config: Record<string, unknown> = {}): string {
  const dir = join(root, `m${readdirSync(root).length}`);
  mkdirSync(dir);
  const tensors = new Map([...goldenTensors].map(([k, v]) => [k, { ...v, bytes: v.bytes.slice() }]));
  edit(tensors);
  const specs: TensorSpec[] = [...tensors].map(([name, t]) => ({ name, dtype: t.dtype as DType, shape: t.shape, data: t.bytes }));
  writeSafetensors(join(dir, 'model.safetensors'), specs);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...goldenConfig, ...config }));
  return dir;
}

/** Converts and expects an error of `cls` whose message matches every pattern; checks nothing was written. */
function fails(dir: string, cls: abstract new (...a: never[]) => ConversionError, ...patterns: RegExp[]) {
  const out = join(root, `out-${readdirSync(root).length}`);
  return conversionFails(() => convert({ inputDir: dir, outputDir: out, threads: 0 }), out, root, cls, patterns);
}

test('missing tensor names the tensor and the file searched', async () => {
  const dir = model((t) => t.delete('model.layers.1.mlp.up_proj.weight'));
  await fails(dir, MissingTensorError, /model\.layers\.1\.mlp\.up_proj\.weight/, /model\.safetensors/, /missing/);
});

test('a missing sub-norm is an error (a model without it would be broken)', async () => {
  const dir = model((t) => t.delete('model.layers.0.self_attn.attn_sub_norm.weight'));
  await fails(dir, MissingTensorError, /attn_sub_norm/);
});

test('wrong shape names tensor, expected and found', async () => {
  const dir = model((t) => {
    const q = t.get('model.layers.0.self_attn.k_proj.weight')!;
    t.set('model.layers.0.self_attn.k_proj.weight', { ...q, shape: [64, 32] });
  });
  await fails(dir, InvalidShapeError, /k_proj/, /expected \[32, 64\]/, /found \[64, 32\]/);
});

test('a norm of the wrong length is an invalid shape', async () => {
  const dir = model((t) => {
    const n = t.get('model.norm.weight')!;
    t.set('model.norm.weight', { ...n, shape: [32], bytes: n.bytes.slice(0, 64) });
  });
  await fails(dir, InvalidShapeError, /model\.norm\.weight/, /\[1, 64\]/);
});

test('unsupported dtype (pre-packed U8 projection)', async () => {
  const dir = model((t) => {
    t.set('model.layers.0.mlp.down_proj.weight', { dtype: 'U8', shape: [16, 160], bytes: new Uint8Array(16 * 160) });
  });
  await fails(dir, UnsupportedError, /down_proj/, /U8/, /BF16, F16 or F32/);
});

test('NaN and infinite weights are refused with the index', async () => {
  const nan = model((t) => {
    const v = t.get('model.layers.1.self_attn.o_proj.weight')!;
    v.bytes[2 * (3 * 64 + 5)] = 0xc0; // bf16 0x7FC0 = NaN at [3, 5]
    v.bytes[2 * (3 * 64 + 5) + 1] = 0x7f;
  });
  await fails(nan, InvalidTernaryWeightError, /o_proj/, /NaN at \[3, 5\]/, /finite/);
  const inf = model((t) => {
    const v = t.get('model.embed_tokens.weight')!;
    v.bytes[2 * 100] = 0x80; // bf16 0xFF80 = -Infinity at [1, 36]
    v.bytes[2 * 100 + 1] = 0xff;
  });
  await fails(inf, InvalidTernaryWeightError, /embed_tokens/, /-Infinity at \[1, 36\]/);
});

test('config: heads that do not divide the hidden size', async () => {
  await fails(model(undefined, { num_attention_heads: 5 }), InvalidConfigError, /config\.json/, /num_attention_heads/);
  await fails(model(undefined, { num_key_value_heads: 3 }), InvalidConfigError, /num_key_value_heads/);
});

test('config: layer count that does not match the tensors', async () => {
  await fails(model(undefined, { num_hidden_layers: 1 }), InvalidConfigError, /num_hidden_layers \(1\)/, /layer 1/);
  await fails(model(undefined, { num_hidden_layers: 3 }), MissingTensorError, /model\.layers\.2\./);
});

test('config: missing, not JSON, unknown architecture', async () => {
  const dir = model();
  rmSync(join(dir, 'config.json'));
  await fails(dir, InvalidConfigError, /config\.json/);
  writeFileSync(join(dir, 'config.json'), '{ not json');
  await fails(dir, InvalidConfigError, /config\.json/);
  await fails(model(undefined, { architectures: ['LlamaForCausalLM'] }), InvalidConfigError, /BitNetForCausalLM/, /LlamaForCausalLM/);
});

test('truncated safetensors file', async () => {
  const dir = model();
  const file = join(dir, 'model.safetensors');
  writeFileSync(file, readFileSync(file).subarray(0, 100_000));
  await fails(dir, CorruptFileError, /model\.safetensors/);
});

test('unknown extra tensors and 3-D tensors are reported as warnings, and the conversion succeeds', async () => {
  const dir = model((t) => {
    t.set('model.layers.0.self_attn.rotary_emb.inv_freq', { dtype: 'F32', shape: [8], bytes: new Uint8Array(32) });
    t.set('model.extra.weight', { dtype: 'BF16', shape: [4, 4], bytes: new Uint8Array(32) });
    t.set('model.cube.weight', { dtype: 'BF16', shape: [2, 2, 2], bytes: new Uint8Array(16) });
  });
  const warnings: string[] = [];
  await convert({ inputDir: dir, outputDir: join(root, 'warned'), threads: 0, onWarning: (w) => warnings.push(w) });
  assert.is(warnings.length, 2, warnings.join('\n'));
  assert.match(warnings.join('\n'), /model\.cube\.weight.*\[2,2,2\]/);
  assert.match(warnings.join('\n'), /1 tensors are not part of the layout.*model\.extra\.weight/);
  assert.not.match(warnings.join('\n'), /inv_freq/);
  assert.ok(existsSync(join(root, 'warned', 'block_1.bin')));
});

test('tensor contents: an all-zero projection uses the 1e-5 clamp, subnormals quantize like any value', async () => {
  const dir = model((t) => {
    t.get('model.layers.0.self_attn.q_proj.weight')!.bytes.fill(0);
    const k = t.get('model.layers.0.self_attn.k_proj.weight')!.bytes;
    for (let i = 0; i < k.length; i += 6) {
      k[i] = (i * 7) & 0x7f; // every third value a bf16 subnormal: exponent 0, both signs
      k[i + 1] = i % 4 ? 0x00 : 0x80;
    }
  });
  const out = join(root, 'contents');
  await convert({ inputDir: dir, outputDir: out, threads: 0 });
  const block = readConvertedModel(out).blocks[0];
  const q = referenceTernary(new Array(64 * 64).fill(0), 'BF16');
  const kIn = readSafetensors(join(dir, 'model.safetensors')).get('model.layers.0.self_attn.k_proj.weight')!;
  const k = referenceTernary(decodeValues(kIn.bytes, 'BF16'), 'BF16');
  const got = unpackRows(block.attention.wqkv.packedWeights, 128, 64);
  assert.equal(Array.from(got.subarray(0, 64 * 64)), Array.from(q.q));
  assert.equal(Array.from(got.subarray(64 * 64, 96 * 64)), Array.from(k.q));
  assert.is(block.attention.wqkv.weightScales[0], q.scale);
  assert.is(q.scale, bf16ToNumber(0x3728)); // bf16(1e-5) survives 1/(1/x) in bf16
  assert.is(block.attention.wqkv.weightScales[64], k.scale);
  assert.ok(k.q.some((v) => v !== 0) && k.q.some((v) => v === 0), 'a mixed projection');
});

test('an output folder that is or contains the input is refused, even with force', async () => {
  const dir = model();
  for (const outputDir of [dir, root, join(dir, '..')]) {
    let caught: unknown;
    try {
      await convert({ inputDir: dir, outputDir, threads: 0, force: true });
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof OutputError, String(caught));
    assert.match((caught as Error).message, /is or contains the input folder/);
    assert.ok(existsSync(join(dir, 'model.safetensors')), 'input intact');
  }
});

test('tie_word_embeddings decides the head, as in transformers', async () => {
  const untiedWithoutHead = model(undefined, { tie_word_embeddings: false });
  await fails(untiedWithoutHead, MissingTensorError, /lm_head\.weight/);
  const tiedWithHead = model((t) => t.set('lm_head.weight', { ...t.get('model.embed_tokens.weight')!, bytes: new Uint8Array(256 * 64 * 2) }));
  const warnings: string[] = [];
  const summary = await convert({ inputDir: tiedWithHead, outputDir: join(root, 'tied-head'), threads: 0, onWarning: (w) => warnings.push(w) });
  assert.ok(summary.tiedLmHead);
  assert.match(warnings.join('\n'), /not part of the layout.*lm_head\.weight/);
});

test('a FIFO in place of the weights is refused, not waited on', async () => {
  const dir = model();
  rmSync(join(dir, 'model.safetensors'));
  execFileSync('mkfifo', [join(dir, 'model.safetensors')]);
  await fails(dir, CorruptFileError, /model\.safetensors/, /not a regular file/);
});

test.after(() => rmSync(root, { recursive: true, force: true }));
test.run();

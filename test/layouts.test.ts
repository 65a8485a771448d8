// Input layouts: detection from config.json and the tensors, and every way a packed checkpoint can be
// wrong ends in one typed line naming the file and tensor, with nothing written.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { convert } from '../build/js/run/convert.js';
import { verify } from '../build/js/run/verify.js';
import { inspect } from '../build/js/run/inspect.js';
import { generateCheckpoint } from '../build/js/synth/generate.js';
import { generateGgufCheckpoint } from '../build/js/run/synth-gguf.js';
import { LAYOUTS } from '../build/js/layouts/index.js';
import { ConversionError, UsageError, InvalidConfigError, InvalidShapeError, InvalidTernaryWeightError, MissingTensorError, UnsupportedError } from '../build/js/errors.js';
import type { DType } from '../build/js/formats/safetensors.js';
import { readSafetensors, type RawTensor } from './helpers/read-safetensors.js';
import { makeTmpDir, writeSafetensors } from './helpers/safetensors-file.js';
import { conversionFails } from './helpers/common.js';

const root = makeTmpDir('bitnet-layouts-');
let count = 0;
const fresh = (name: string) => join(root, `${name}-${count++}`);

const packed = fresh('packed');
generateCheckpoint({ outDir: packed, layout: 'packed', preset: 'tiny', seed: 3 });
const packedConfig = JSON.parse(readFileSync(join(packed, 'config.json'), 'utf8')) as Record<string, unknown>;
const packedTensors = readSafetensors(join(packed, 'model.safetensors'));

/** A copy of the packed checkpoint with edits to its tensors and config. */
function variant(edit: (t: Map<string, RawTensor>) => void = () => {}, config: Record<string, unknown> = {}): string {
  const dir = fresh('variant');
  mkdirSync(dir);
  const tensors = new Map([...packedTensors].map(([k, v]) => [k, { ...v, bytes: v.bytes.slice() }]));
  edit(tensors);
  writeSafetensors(join(dir, 'model.safetensors'), [...tensors].map(([name, t]) => ({ name, dtype: t.dtype as DType, shape: t.shape, data: t.bytes })));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...packedConfig, ...config }));
  return dir;
}

function fails(dir: string, cls: abstract new (...a: never[]) => ConversionError, ...patterns: RegExp[]) {
  return failsWith(dir, undefined, cls, ...patterns);
}

function failsWith(dir: string, layout: string | undefined, cls: abstract new (...a: never[]) => ConversionError, ...patterns: RegExp[]) {
  const out = fresh('out');
  return conversionFails(() => convert({ inputDir: dir, outputDir: out, threads: 0, layout }), out, root, cls, patterns);
}

const detect = suite('layout detection');

for (const l of LAYOUTS) {
  const named = 'named' in l && l.named;
  detect(`synth --layout ${l.id} is read as that layout${named ? ' when named (--layout), and refused without it' : ''}`, async () => {
    const input = fresh(l.id);
    if (l.id === 'gguf') await generateGgufCheckpoint({ outDir: input, preset: 'tiny', seed: 1 }); // made by converting hf-bitnet
    else generateCheckpoint({ outDir: input, layout: l.id, preset: 'tiny', seed: 1 });
    if (named) await failsWith(input, undefined, InvalidConfigError, /LlamaForCausalLM with BF16 projections/, new RegExp(`only with --layout ${l.id}`));
    const summary = await convert({ inputDir: input, outputDir: fresh('out'), threads: 0, layout: named ? l.id : undefined });
    assert.is(summary.layout, l.id);
  });
}

detect('--layout names any layout; one that does not read the checkpoint is refused naming both, an unknown id is a usage error', async () => {
  const master = fresh('master');
  generateCheckpoint({ outDir: master, layout: 'hf-bitnet', preset: 'tiny', seed: 2 });
  assert.is((await convert({ inputDir: master, outputDir: fresh('out'), threads: 0, layout: 'hf-bitnet' })).layout, 'hf-bitnet');
  await failsWith(master, 'llama-latent', InvalidConfigError, /config\.json/, /--layout llama-latent/, /found BitNetForCausalLM/);
  // a packed Llama checkpoint (quant_method bitnet) is not latent weights
  const llamaPacked = fresh('llama-packed');
  generateCheckpoint({ outDir: llamaPacked, layout: 'llama-packed', preset: 'tiny', seed: 2 });
  await failsWith(llamaPacked, 'llama-latent', InvalidConfigError, /no quantization_config/, /llama-packed/);
  const out = fresh('out');
  try {
    await convert({ inputDir: master, outputDir: out, threads: 0, layout: 'llama' });
    assert.unreachable('an unknown layout');
  } catch (e) {
    assert.instance(e, UsageError);
    assert.match((e as Error).message, /--layout: expected one of .*llama-latent.*, found "llama"/);
  }
});

detect('an unknown architecture names what was found and every layout known', () =>
  fails(variant(undefined, { architectures: ['MistralForCausalLM'] }), InvalidConfigError, /MistralForCausalLM/, /hf-bitnet-packed/, /1bitllm/, /llama-packed/));

detect('a plain Llama checkpoint (no quant_method bitnet) is not taken for a BitNet one', () =>
  fails(variant(undefined, { architectures: ['LlamaForCausalLM'], quantization_config: undefined }), InvalidConfigError, /LlamaForCausalLM/));

detect('a named layout is recorded in manifest.json options; verify --against re-derives the output with it', async () => {
  const input = fresh('latent');
  generateCheckpoint({ outDir: input, layout: 'llama-latent', preset: 'tiny', seed: 4, untied: true });
  const out = fresh('out');
  await convert({ inputDir: input, outputDir: out, format: 'bitnet-rs', threads: 0, layout: 'llama-latent', timestamp: 1 });
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  assert.equal([manifest.options.layout, manifest.source.layout], ['llama-latent', 'llama-latent']);
  const v = await verify(out, input);
  assert.ok(v.ok, v.problems.join('; '));
  // detected layouts record none (manifests as before)
  const detected = fresh('out');
  await convert({ inputDir: packed, outputDir: detected, threads: 0, timestamp: 1 });
  assert.not.ok('layout' in JSON.parse(readFileSync(join(detected, 'manifest.json'), 'utf8')).options);
});

detect.run();

const bad = suite('bad packed checkpoints');
const Q = 'model.layers.1.self_attn.k_proj.weight';

bad('code 3 in a packed byte names the tensor, the byte and the bits', () =>
  fails(
    variant((t) => {
      t.get(Q)!.bytes[5 * 64 + 7] |= 0b11 << 4; // packed row 5, column 7, quarter 2
    }),
    InvalidTernaryWeightError,
    new RegExp(Q.replace(/\./g, '\\.')),
    /code 3 at byte \[5, 7\], bits 4\.\.5/,
  ));

bad('a missing weight_scale', () => fails(variant((t) => t.delete(Q + '_scale')), MissingTensorError, /k_proj\.weight_scale/));

bad('a weight_scale of two values', () =>
  fails(variant((t) => t.set(Q + '_scale', { dtype: 'BF16', shape: [2], bytes: new Uint8Array(4) })), UnsupportedError, /k_proj\.weight_scale/, /one BF16, F16 or F32 value/));

for (const [label, bits] of [['zero', 0x0000], ['negative', 0xbf80], ['NaN', 0x7fc0], ['infinite', 0x7f80]] as const) {
  bad(`a ${label} weight_scale`, () =>
    fails(variant((t) => t.get(Q + '_scale')!.bytes.set([bits & 0xff, bits >> 8])), InvalidTernaryWeightError, /k_proj\.weight_scale/, /a finite scale above 0/));
}

bad('a packed tensor of the wrong shape', () =>
  fails(variant((t) => t.set(Q, { dtype: 'U8', shape: [16, 64], bytes: new Uint8Array(16 * 64) })), InvalidShapeError, /\[8, 64\]/, /\[16, 64\]/));

bad('packed codes without quantization_config', () => fails(variant(undefined, { quantization_config: undefined }), InvalidConfigError, /quantization_config/));

bad('packed codes with quantization_mode online', () =>
  fails(variant(undefined, { quantization_config: { quant_method: 'bitnet', linear_class: 'autobitlinear', quantization_mode: 'online' } }), InvalidConfigError, /offline/));

bad('an unknown linear_class', () =>
  fails(variant(undefined, { quantization_config: { quant_method: 'bitnet', linear_class: 'bitlinear2' } }), InvalidConfigError, /autobitlinear/, /bitlinear2/));

bad('one float projection among packed ones', () =>
  fails(
    variant((t) => t.set(Q, { dtype: 'BF16', shape: [32, 64], bytes: new Uint8Array(32 * 64 * 2) })),
    UnsupportedError,
    /k_proj\.weight/,
    /dtype U8/,
  ));

bad('a Llama checkpoint with attention and MLP biases (attention_bias/mlp_bias): every format refuses, naming the file and the first bias, nothing written; inspect lists them', async () => {
  const llama = fresh('llama-bias');
  generateCheckpoint({ outDir: llama, layout: 'llama-packed', preset: 'tiny', seed: 4 });
  const file = join(llama, 'model.safetensors');
  const tensors = readSafetensors(file);
  // q_proj has 64 rows, down_proj 64 (hidden); one bias each, BF16 as the weights
  for (const name of ['model.layers.0.self_attn.q_proj.bias', 'model.layers.1.mlp.down_proj.bias']) tensors.set(name, { dtype: 'BF16', shape: [64], bytes: new Uint8Array(128).fill(0x3c) });
  writeSafetensors(file, [...tensors].map(([name, t]) => ({ name, dtype: t.dtype as DType, shape: t.shape, data: t.bytes })));
  writeFileSync(join(llama, 'config.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(llama, 'config.json'), 'utf8')), attention_bias: true, mlp_bias: true }));
  for (const format of ['gguf', 'bitnet-rs', 'hf-packed', 'ms-gpu'] as const) {
    const out = fresh('out');
    await conversionFails(() => convert({ inputDir: llama, outputDir: out, threads: 0, format, ggufType: 'f16' }), out, root, UnsupportedError, [
      /model\.safetensors: tensor model\.layers\.0\.self_attn\.q_proj\.bias: /,
      /no bias tensors/,
      /2 of them/,
    ]);
  }
  const seen = await inspect(llama, { threads: 0 });
  assert.equal(seen.tensors.filter((t) => t.name.endsWith('.bias') && t.role === undefined).length, 2, 'inspect shows them, with no role');
});

bad.after(() => rmSync(root, { recursive: true, force: true }));
bad.run();

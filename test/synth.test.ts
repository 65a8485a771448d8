// The synthetic checkpoint generator: every input layout the converter reads (master weights,
// the packed 2B-4T form, 1bitLLM, Llama-style packed), its config.json, tensors and tokenizer files.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../build/js/errors.js';
import { openCheckpoint } from '../build/js/io/checkpoint.js';
import { generateCheckpoint, LAYOUTS as SYNTH_LAYOUTS, type Layout, type SynthOptions } from '../build/js/synth/generate.js';
import { LAYOUT_IDS } from '../build/js/layouts/index.js';
import { PRESETS } from '../build/js/synth/presets.js';
import { LAYOUT_SPECS } from '../build/js/synth/layouts.js';
import { convert } from '../build/js/run/convert.js';
import { parseGguf } from '../build/js/formats/gguf.js';
import { readCheckpointTensors, type RawTensor } from './helpers/read-safetensors.js';
import { throwsTyped } from './helpers/common.js';

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
  // Falcon3-1.58bit 1B and 10B (their config.json); head_dim 256 is hidden / heads in both
  const shape = (k: string) => {
    const { about: _about, family: _family, ...rest } = PRESETS[k];
    return rest;
  };
  assert.equal(shape('falcon3-1b'), { hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 18, num_attention_heads: 8, num_key_value_heads: 4, head_dim: 256, vocab_size: 131072 });
  assert.equal(shape('falcon3-10b'), { hidden_size: 3072, intermediate_size: 23040, num_hidden_layers: 40, num_attention_heads: 12, num_key_value_heads: 4, head_dim: 256, vocab_size: 131072 });
  for (const k of ['falcon3-1b', 'falcon3-10b']) assert.is(shape(k).head_dim! * shape(k).num_attention_heads, shape(k).hidden_size, k);
  assert.is(Math.round(params('falcon3-1b', true) / 1e7), 167);
  assert.is(Math.round(params('falcon3-10b', true) / 1e8), 103);
  assert.equal([PRESETS['falcon-e-1b'].num_hidden_layers, PRESETS['falcon-e-1b'].family!.tie_word_embeddings], [24, false]);
});

test('Falcon presets: llama-packed writes Falcon3-1.58bit\'s config.json (its keys in its order and values), llama-latent the same without quantization', () => {
  // tiiuae/Falcon3-1B-Instruct-1.58bit config.json, but _name_or_path, and the token ids, which are synth's tokenizer's
  const real: Record<string, unknown> = {
    architectures: ['LlamaForCausalLM'], attention_bias: false, attention_dropout: 0.0, head_dim: 256, hidden_act: 'silu', hidden_size: 2048,
    initializer_range: 0.02, intermediate_size: 8192, is_bitnet_config: true, max_position_embeddings: 8192, mlp_bias: false, model_type: 'llama',
    num_attention_heads: 8, num_hidden_layers: 18, num_key_value_heads: 4, pretraining_tp: 1,
    quantization_config: { modules_to_not_convert: ['lm_head'], quant_method: 'bitnet' }, rms_norm_eps: 1e-6, rope_scaling: null, rope_theta: 1000042,
    tie_word_embeddings: false, torch_dtype: 'bfloat16', transformers_version: '4.48.0.dev0', use_cache: true, vocab_size: 131072,
  };
  const config = JSON.parse(LAYOUT_SPECS['llama-packed'].config(PRESETS['falcon3-1b'], 'BF16', true));
  const { bos_token_id, eos_token_id, ...rest } = config;
  assert.equal(rest, real);
  assert.equal(Object.keys(rest), Object.keys(real), 'the real key order');
  assert.equal([bos_token_id, eos_token_id], [131072 - 256 + 0, 131072 - 256 + 9], 'the ids of synth\'s Llama 3 special tokens');
  const ten = JSON.parse(LAYOUT_SPECS['llama-packed'].config(PRESETS['falcon3-10b'], 'BF16', true));
  assert.equal([ten.max_position_embeddings, ten.num_hidden_layers, ten.rope_theta, ten.head_dim], [32768, 40, 1000042, 256]);
  const latent = JSON.parse(LAYOUT_SPECS['llama-latent'].config(PRESETS['falcon-e-1b'], 'BF16', true));
  assert.not.ok('quantization_config' in latent || 'is_bitnet_config' in latent, 'latent weights: no quantization');
  assert.equal([latent.num_hidden_layers, latent.head_dim, latent.tie_word_embeddings], [24, 256, false]);
});

test('Falcon presets scaled down: untied by default, head_dim sizes q, k, v and o; the converter reads them (GGUF arch llama, key_length where head_dim is not hidden / heads)', async () => {
  const small = { ...PRESETS.tiny, hidden_size: 128, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 32, family: PRESETS['falcon3-1b'].family };
  const dir = synth({ layout: 'llama-packed', shape: small, seed: 5 });
  const tensors = readCheckpointTensors(dir);
  assert.equal(tensors.get('model.layers.0.self_attn.q_proj.weight')!.shape, [64 / 4, 128]); // 2 heads x 32, packed 4 rows a byte
  assert.equal(tensors.get('model.layers.0.self_attn.o_proj.weight')!.shape, [128 / 4, 64]);
  assert.equal(tensors.get('model.layers.0.self_attn.k_proj.weight')!.shape, [32 / 4, 128]);
  const latent = synth({ layout: 'llama-latent', shape: small, seed: 5 });
  assert.ok(readCheckpointTensors(latent).has('lm_head.weight'), 'untied as the family is');
  assert.is(readJson(join(latent, 'config.json')).tie_word_embeddings, false);
  assert.not.ok(readCheckpointTensors(synth({ layout: 'llama-latent', preset: 'tiny', seed: 5 })).has('lm_head.weight'), 'other presets stay tied');
  for (const [input, layout] of [[dir, undefined], [latent, 'llama-latent']] as const) {
    const out = join(root, `falcon-${layout ?? 'packed'}`);
    const summary = await convert({ inputDir: input, outputDir: out, format: 'gguf', ggufType: 'f16', layout, threads: 0, timestamp: 1 });
    assert.is(summary.layout, layout ?? 'llama-packed');
    const file = join(out, readdirSync(out).find((f) => f.endsWith('.gguf'))!);
    const g = parseGguf(new Uint8Array(readFileSync(file)), file);
    assert.equal([g.kvs.get('general.architecture')!.value, g.kvs.get('llama.attention.key_length')?.value, g.kvs.get('llama.rope.freq_base')!.value], ['llama', 32, 1000042]);
  }
});

type Shape = (typeof PRESETS)[string];
const LAYOUTS: Layout[] = ['hf-bitnet', 'hf-bitnet-packed', '1bitllm', 'llama-packed', 'llama-latent'];
const PACKED: Partial<Record<Layout, 'multiply' | 'divide'>> = { 'hf-bitnet-packed': 'multiply', 'llama-packed': 'divide' };

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

/** The tensors each layout must write, spelled out here independently of src/synth. */
function expectedTensors(layout: Layout, s: Shape, dtype: string, untied: boolean): Map<string, { dtype: string; shape: number[] }> {
  const h = s.hidden_size;
  const f = s.intermediate_size;
  const kv = (s.num_key_value_heads * h) / s.num_attention_heads;
  const packed = layout === 'hf-bitnet-packed' || layout === 'llama-packed';
  const out = new Map<string, { dtype: string; shape: number[] }>();
  const put = (name: string, shape: number[], dt = dtype) => out.set(name, { dtype: dt, shape });
  const proj = (name: string, rows: number, cols: number) => {
    if (!packed) return put(`${name}.weight`, [rows, cols]);
    put(`${name}.weight`, [rows / 4, cols], 'U8');
    put(`${name}.weight_scale`, [1]);
  };
  put('model.embed_tokens.weight', [s.vocab_size, h]);
  for (let i = 0; i < s.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    put(p + 'input_layernorm.weight', [h]);
    put(p + 'post_attention_layernorm.weight', [h]);
    proj(p + 'self_attn.q_proj', h, h);
    proj(p + 'self_attn.k_proj', kv, h);
    proj(p + 'self_attn.v_proj', kv, h);
    proj(p + 'self_attn.o_proj', h, h);
    proj(p + 'mlp.gate_proj', f, h);
    proj(p + 'mlp.up_proj', f, h);
    proj(p + 'mlp.down_proj', h, f);
    if (layout === 'hf-bitnet' || layout === 'hf-bitnet-packed') {
      put(p + 'self_attn.attn_sub_norm.weight', [h]);
      put(p + 'mlp.ffn_sub_norm.weight', [f]);
    } else if (layout === '1bitllm') {
      put(p + 'self_attn.inner_attn_ln.weight', [h]);
      put(p + 'mlp.ffn_layernorm.weight', [f]);
    }
  }
  put('model.norm.weight', [h]);
  if (untied || layout === 'llama-packed') put('lm_head.weight', [s.vocab_size, h]);
  return out;
}

/** Decodes a U8 [out/4, in] tensor (transformers' unpack_weights): bits 2i..2i+1 of [r, c] hold W[i*R + r, c] + 1. */
function unpack(t: RawTensor): Int8Array {
  const [quarter, cols] = t.shape;
  const w = new Int8Array(quarter * 4 * cols);
  for (let r = 0; r < quarter; r++) {
    for (let c = 0; c < cols; c++) {
      const byte = t.bytes[r * cols + c];
      for (let i = 0; i < 4; i++) {
        const code = (byte >> (2 * i)) & 3;
        if (code === 3) throw new Error(`code 3 at [${r}, ${c}] bits ${2 * i}`);
        w[(i * quarter + r) * cols + c] = code - 1;
      }
    }
  }
  return w;
}

function scalar(t: RawTensor): number {
  const v = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  if (t.dtype === 'F32') return v.getFloat32(0, true);
  if (t.dtype === 'BF16') return new Float32Array(new Uint32Array([v.getUint16(0, true) << 16]).buffer)[0];
  throw new Error(`scale dtype ${t.dtype}`);
}

const CONFIG_FACTS: Record<Layout, Record<string, unknown>> = {
  'hf-bitnet': { architectures: ['BitNetForCausalLM'], model_type: 'bitnet', hidden_act: 'relu2', rope_theta: 500000, max_position_embeddings: 4096, bos_token_id: 0, eos_token_id: 1 },
  'hf-bitnet-packed': {
    architectures: ['BitNetForCausalLM'],
    model_type: 'bitnet',
    hidden_act: 'relu2',
    rope_theta: 500000,
    max_position_embeddings: 4096,
    rms_norm_eps: 1e-5,
    quantization_config: { quant_method: 'bitnet', linear_class: 'autobitlinear', quantization_mode: 'offline' },
  },
  '1bitllm': {
    architectures: ['BitnetForCausalLM'],
    model_type: 'llama',
    hidden_act: 'silu',
    rope_theta: 10000,
    max_position_embeddings: 2048,
    rms_norm_eps: 1e-5,
    input_bits: 8,
    weight_bits: 1,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'float16',
    rope_scaling: null,
  },
  'llama-packed': {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_act: 'silu',
    rope_theta: 500000,
    max_position_embeddings: 8192,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: false,
    quantization_config: { quant_method: 'bitnet' },
    torch_dtype: 'bfloat16',
  },
  'llama-latent': {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_act: 'silu',
    rope_theta: 500000,
    rms_norm_eps: 1e-5,
    quantization_config: undefined,
    torch_dtype: 'bfloat16',
  },
};

for (const layout of LAYOUTS) {
  for (const preset of ['tiny', 'odd']) {
    test(`${layout} on ${preset}: config.json, tensor names, dtypes and shapes`, () => {
      const dir = synth({ layout, preset });
      const shape = PRESETS[preset];
      const config = readJson(join(dir, 'config.json'));
      for (const [k, v] of Object.entries(CONFIG_FACTS[layout])) assert.equal(config[k], v, k);
      for (const k of ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'vocab_size'] as const) {
        assert.is(config[k], shape[k], k);
      }
      if (layout !== 'llama-packed') assert.is(config.tie_word_embeddings, true);
      if (layout !== 'hf-bitnet') assert.not.ok('about' in config, 'no preset description in config.json');
      if (layout === 'llama-packed') {
        // the real file names quantization_config twice; the first one also carries modules_to_not_convert
        const text = readFileSync(join(dir, 'config.json'), 'utf8');
        assert.is(text.split('"quantization_config"').length - 1, 2);
        assert.ok(text.includes('"modules_to_not_convert": null'));
        assert.not.ok(text.includes('linear_class'), 'no linear_class: bitlinear');
      }
      const dtype = layout === '1bitllm' ? 'F32' : 'BF16';
      const expected = expectedTensors(layout, shape, dtype, false);
      const tensors = readCheckpointTensors(dir);
      assert.equal([...tensors.keys()].sort(), [...expected.keys()].sort());
      for (const [name, t] of tensors) assert.equal({ dtype: t.dtype, shape: t.shape }, expected.get(name), name);
    });
  }
}

for (const [layout, rule] of Object.entries(PACKED) as [Layout, 'multiply' | 'divide'][]) {
  for (const preset of ['tiny', 'odd']) {
    test(`${layout} on ${preset}: codes decode to -1/0/+1 with all three present; scales ${rule}`, () => {
      const tensors = readCheckpointTensors(synth({ layout, preset, seed: 3 }));
      let packed = 0;
      for (const [name, t] of tensors) {
        if (t.dtype !== 'U8') continue;
        packed++;
        for (const byte of t.bytes) for (let s = 0; s < 8; s += 2) assert.ok(((byte >> s) & 3) !== 3, `${name}: code 3`);
        const w = unpack(t);
        const counts = new Map<number, number>();
        for (const v of w) counts.set(v, (counts.get(v) ?? 0) + 1);
        assert.equal([...counts.keys()].sort(), [-1, 0, 1], name);
        // absmean on a triangular distribution: about 31% zeros
        const zeros = counts.get(0)! / w.length;
        assert.ok(zeros > 0.2 && zeros < 0.45, `${name}: ${zeros} zeros`);
        // the first three weights of the first row of each quarter are -1, 0, +1: byte row 0 holds
        // rows 0, R, 2R, 3R (quarter blocks, not adjacent rows)
        const cols = t.shape[1];
        for (let i = 0; i < 4; i++) {
          const row = i * t.shape[0];
          assert.equal([...w.subarray(row * cols, row * cols + 3)], [-1, 0, 1], `${name} row ${row}`);
        }
        assert.equal([t.bytes[0], t.bytes[1], t.bytes[2]], [0x00, 0x55, 0xaa], `${name}: first bytes`);
        const scale = scalar(tensors.get(`${name}_scale`)!);
        // std 0.03..0.05: mean |W| 0.024..0.041, its inverse 24..41
        if (rule === 'multiply') assert.ok(scale > 0.015 && scale < 0.06, `${name}: scale ${scale}`);
        else assert.ok(scale > 15 && scale < 60, `${name}: scale ${scale}`);
      }
      assert.is(packed, 2 * 7);
    });
  }
}

test('packed layouts: untied, F16, shards', () => {
  const packed = synth({ layout: 'hf-bitnet-packed', preset: 'odd', untied: true, dtype: 'F16', shards: 3 });
  assert.is(readJson(join(packed, 'config.json')).tie_word_embeddings, false);
  const tensors = readCheckpointTensors(packed);
  assert.equal({ dtype: tensors.get('lm_head.weight')!.dtype, shape: tensors.get('lm_head.weight')!.shape }, { dtype: 'F16', shape: [300, 72] });
  assert.is(tensors.get('model.layers.1.mlp.down_proj.weight_scale')!.dtype, 'F16');
  const oneBit = synth({ layout: '1bitllm', preset: 'tiny', untied: true, dtype: 'F16' });
  assert.is(readJson(join(oneBit, 'config.json')).tie_word_embeddings, false);
  assert.is(readCheckpointTensors(oneBit).get('lm_head.weight')!.dtype, 'F16');
});

for (const layout of LAYOUTS) {
  test(`${layout}: shards with a valid index`, () => {
    const dir = synth({ layout, preset: 'odd', shards: 4, seed: 9 });
    const index = readJson(join(dir, 'model.safetensors.index.json')) as { metadata: { total_size: number }; weight_map: Record<string, string> };
    const files = [...new Set(Object.values(index.weight_map))].sort();
    assert.equal(files, ['model-00001-of-00004.safetensors', 'model-00002-of-00004.safetensors', 'model-00003-of-00004.safetensors', 'model-00004-of-00004.safetensors']);
    assert.not.ok(readdirSync(dir).includes('model.safetensors'));
    const checkpoint = openCheckpoint(dir); // validates every header against the index
    assert.is(checkpoint.tensors.size + checkpoint.skipped.length, Object.keys(index.weight_map).length);
    assert.is(index.metadata.total_size, files.reduce((sum, f) => sum + readFileSync(join(dir, f)).length, 0));
    // the same tensors and bytes as one file
    const single = readCheckpointTensors(synth({ layout, preset: 'odd', seed: 9 }));
    const sharded = readCheckpointTensors(dir);
    assert.equal([...sharded.keys()], [...single.keys()]);
    for (const [name, t] of single) assert.ok(Buffer.from(t.bytes).equals(Buffer.from(sharded.get(name)!.bytes)), name);
  });
}

test('same seed, same bytes; another seed, other bytes', () => {
  for (const layout of LAYOUTS) {
    const a = synth({ layout, preset: 'tiny', seed: 42 });
    const b = synth({ layout, preset: 'tiny', seed: 42 });
    const c = synth({ layout, preset: 'tiny', seed: 43 });
    for (const f of readdirSync(a)) assert.is(sha256(join(a, f)), sha256(join(b, f)), `${layout} ${f}`);
    assert.is.not(sha256(join(a, 'model.safetensors')), sha256(join(c, 'model.safetensors')), layout);
  }
});

test('refusals: packed rows not a multiple of 4, an unknown layout', () => {
  const shape = { ...PRESETS.tiny, intermediate_size: 162 };
  throwsTyped(() => synth({ layout: 'hf-bitnet-packed', shape }), UsageError, ['model.layers.0.mlp.gate_proj.weight', '162 rows', 'multiple of 4']);
  throwsTyped(() => synth({ layout: 'llama-packed', shape: { ...PRESETS.tiny, hidden_size: 66, num_attention_heads: 2, num_key_value_heads: 2 } }), UsageError, [
    'model.layers.0.self_attn.q_proj.weight',
    '66 rows',
  ]);
  synth({ layout: '1bitllm', shape }); // float layouts take any row count
  const fiveTokens = { ...PRESETS.tiny, vocab_size: 5 };
  synth({ shape: fiveTokens }); // master writes whatever it wrote before
  throwsTyped(() => synth({ layout: 'hf-bitnet-packed', shape: fiveTokens }), UsageError, ['vocab_size 5', 'at least 32']);
  throwsTyped(() => synth({ layout: 'gguf' as Layout }), UsageError, ['--layout', 'hf-bitnet, hf-bitnet-packed, 1bitllm, llama-packed', 'master, packed', '"gguf"']);
});

interface TokenizerJson {
  added_tokens: Array<{ id: number; content: string; special: boolean }>;
  model: { type: string; vocab: Record<string, number>; merges: string[]; byte_fallback: boolean };
}

/** Field number, wire type and value of each field of a protobuf message (varints, length-delimited and fixed32 only). */
function protoFields(bytes: Uint8Array): Array<[number, number, number | Uint8Array]> {
  const out: Array<[number, number, number | Uint8Array]> = [];
  let pos = 0;
  const varint = () => {
    let v = 0;
    for (let shift = 1; ; shift *= 128) {
      const b = bytes[pos++];
      v += (b & 0x7f) * shift;
      if (b < 0x80) return v;
    }
  };
  while (pos < bytes.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) out.push([field, wire, varint()]);
    else if (wire === 2) {
      const n = varint();
      out.push([field, wire, bytes.subarray(pos, (pos += n))]);
    } else if (wire === 5) {
      out.push([field, wire, new DataView(bytes.buffer, bytes.byteOffset + pos, 4).getFloat32(0, true)]);
      pos += 4;
    } else throw new Error(`wire type ${wire}`);
  }
  assert.is(pos, bytes.length);
  return out;
}

for (const layout of LAYOUTS) {
  for (const preset of ['tiny', 'odd']) {
    test(`${layout} on ${preset}: tokenizer files parse, every id below vocab_size once, specials match config.json`, () => {
      const dir = synth({ layout, preset });
      const config = readJson(join(dir, 'config.json'));
      const vocabSize = config.vocab_size as number;
      const tok = readJson(join(dir, 'tokenizer.json')) as unknown as TokenizerJson;
      const tokConfig = readJson(join(dir, 'tokenizer_config.json'));
      const generation = readJson(join(dir, 'generation_config.json'));
      assert.is(tok.model.type, 'BPE');
      const byId = new Map<number, string>();
      const claim = (id: number, text: string) => {
        assert.ok(Number.isInteger(id) && id >= 0 && id < vocabSize, `id ${id} of ${text}`);
        assert.not.ok(byId.has(id), `id ${id} twice`);
        byId.set(id, text);
      };
      for (const [text, id] of Object.entries(tok.model.vocab)) claim(id, text);
      for (const t of tok.added_tokens) {
        if (tok.model.vocab[t.content] === t.id) continue; // SentencePiece specials are in both
        claim(t.id, t.content);
      }
      assert.is(byId.size, vocabSize, 'every id used');
      const known = new Set(byId.values());
      for (const m of tok.model.merges) {
        const [a, b, ...rest] = m.split(' ');
        assert.is(rest.length, 0, m);
        assert.ok(known.has(a) && known.has(b) && known.has(a + b), `merge ${m}`);
      }
      assert.ok(tok.model.merges.length > 0);
      const special = new Map(tok.added_tokens.filter((t) => t.special).map((t) => [t.id, t.content]));
      const bos = config.bos_token_id as number;
      const eos = config.eos_token_id as number;
      assert.is(special.get(bos), tokConfig.bos_token, 'bos');
      assert.is(special.get(eos), tokConfig.eos_token, 'eos');
      for (const k of ['bos_token_id', 'eos_token_id', 'pad_token_id']) {
        if (k in generation) assert.ok((generation[k] as number) < vocabSize, k);
      }
      const decoder = tokConfig.added_tokens_decoder as Record<string, { content: string }>;
      for (const [id, content] of special) assert.is(decoder[String(id)]?.content, content, `added_tokens_decoder ${id}`);

      if (layout === '1bitllm') {
        assert.equal([bos, eos, config.pad_token_id], [1, 2, vocabSize - 2]);
        assert.equal([special.get(0), special.get(1), special.get(2), special.get(vocabSize - 2), special.get(vocabSize - 1)], ['<unk>', '<s>', '</s>', '<pad>', '</line>']);
        assert.equal(readJson(join(dir, 'added_tokens.json')), { '</line>': vocabSize - 1, '<pad>': vocabSize - 2 });
        assert.equal(readJson(join(dir, 'special_tokens_map.json')).additional_special_tokens, ['</line>']);
        assert.equal(generation, { _from_model_config: true, bos_token_id: 0, eos_token_id: 2, pad_token_id: 1, transformers_version: '4.39.0' });
        // tokenizer.model: the same pieces in the same order, then the two added tokens
        const model = protoFields(readFileSync(join(dir, 'tokenizer.model')));
        const pieces = model.filter(([f]) => f === 1).map(([, , v]) => {
          const p = protoFields(v as Uint8Array);
          return { piece: new TextDecoder().decode(p.find(([f]) => f === 1)![2] as Uint8Array), score: p.find(([f]) => f === 2)![2], type: p.find(([f]) => f === 3)![2] };
        });
        assert.is(pieces.length, vocabSize - 2);
        pieces.forEach((p, id) => assert.is(byId.get(id), p.piece, `piece ${id}`));
        assert.equal(pieces.slice(0, 3).map((p) => p.type), [2, 3, 3]); // unknown, control, control
        const bytePieces = pieces.filter((p) => p.type === 6);
        assert.is(bytePieces.length, preset === 'tiny' ? 0 : 256, 'byte pieces: all 256 when they fit');
        bytePieces.forEach((p, b) => assert.is(p.piece, `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`));
        assert.is(tok.model.byte_fallback, bytePieces.length === 256);
        const normal = pieces.filter((p) => p.type === 1);
        for (let i = 1; i < normal.length; i++) assert.ok((normal[i].score as number) < (normal[i - 1].score as number), 'scores rank the pieces');
        const trainer = new Map(protoFields(model.find(([f]) => f === 2)![2] as Uint8Array).map(([f, , v]) => [f, v]));
        assert.equal([trainer.get(3), trainer.get(4), trainer.get(35), trainer.get(40), trainer.get(41), trainer.get(42)], [2, vocabSize - 2, bytePieces.length ? 1 : 0, 0, 1, 2]);
        const normalizer = new Map(protoFields(model.find(([f]) => f === 3)![2] as Uint8Array).map(([f, , v]) => [f, v]));
        assert.is(new TextDecoder().decode(normalizer.get(1) as Uint8Array), 'identity');
        assert.equal([normalizer.get(3), normalizer.get(4)], [1, 0]);
      } else {
        const base = layout === 'hf-bitnet' ? 0 : vocabSize - 10;
        const llama = layout === 'llama-packed' || layout === 'llama-latent';
        assert.equal([bos, eos], [base, llama ? base + 9 : base + 1]);
        assert.equal([...special.keys()].sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => base + i));
        assert.equal([special.get(base), special.get(base + 1), special.get(base + 9)], ['<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>']);
        const template = tokConfig.chat_template as string;
        assert.ok(template.includes('<|eot_id|>') && template.includes('bos_token'));
        if (llama) assert.ok(template.includes('<|start_header_id|>'));
        assert.equal([generation.bos_token_id, generation.eos_token_id], [bos, eos]);
        // byte-level alphabet: space is Ġ, newline Ċ
        assert.ok('Ġ' in tok.model.vocab && 'Ċ' in tok.model.vocab && 'a' in tok.model.vocab);
        if (preset === 'odd') assert.is(Object.keys(tok.model.vocab).filter((t) => [...t].length === 1).length, 256);
      }
    });
  }
}

test('tokenizer at the real sizes: Llama 3 specials at 128000.., 1bitLLM <pad> 32000 and </line> 32001', () => {
  const llama = synth({ layout: 'llama-packed', shape: { ...PRESETS.tiny, vocab_size: 128256 }, seed: 2 });
  const config = readJson(join(llama, 'config.json'));
  assert.equal([config.bos_token_id, config.eos_token_id], [128000, 128009]);
  const tok = readJson(join(llama, 'tokenizer.json')) as unknown as TokenizerJson;
  assert.is(Object.keys(tok.model.vocab).length, 128000);
  assert.is(tok.added_tokens.length, 256);
  // the real Llama 3 vocabulary (llama3-tokenizer-js) at this size: its own names for the reserved tokens
  assert.equal({ ...tok.added_tokens.at(-1), content: '' }, { id: 128255, content: '', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  assert.match(tok.added_tokens.at(-1)!.content, /^<\|reserved_special_token_\d+\|>$/);
  assert.is(tok.model.merges.length, 280147, 'the real merges');
  const packed = readJson(join(synth({ layout: 'hf-bitnet-packed', shape: { ...PRESETS.tiny, vocab_size: 128256 } }), 'config.json'));
  assert.equal([packed.bos_token_id, packed.eos_token_id], [128000, 128001]);
  const oneBit = synth({ layout: '1bitllm', shape: { ...PRESETS.tiny, vocab_size: 32002 } });
  assert.equal(readJson(join(oneBit, 'added_tokens.json')), { '</line>': 32001, '<pad>': 32000 });
  assert.is(readJson(join(oneBit, 'config.json')).pad_token_id, 32000);
});

test('the synth command takes --layout', () => {
  const main = fileURLToPath(new URL('../build/js/cli/main.js', import.meta.url));
  const out = join(root, 'cli-llama');
  const r = spawnSync(process.execPath, [main, 'synth', '--layout', 'llama-packed', '--preset', 'odd', '--shards', '2', '--out', out], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.equal(readJson(join(out, 'config.json')).architectures, ['LlamaForCausalLM']);
  assert.is(readCheckpointTensors(out).get('model.layers.0.self_attn.q_proj.weight')!.dtype, 'U8');
  const bad = spawnSync(process.execPath, [main, 'synth', '--layout', 'nope', '--out', join(root, 'cli-bad')], { encoding: 'utf8' });
  assert.is.not(bad.status, 0);
  assert.match(bad.stderr, /hf-bitnet, hf-bitnet-packed, 1bitllm, llama-packed/);
});

test('synth writes every layout the converter reads, by its ids; the old names master and packed write the same bytes', () => {
  // gguf: made by converting a synthetic checkpoint (src/run/synth-gguf.ts)
  assert.equal([...SYNTH_LAYOUTS, 'gguf'].sort(), [...LAYOUT_IDS].sort());
  for (const [old, id] of [['master', 'hf-bitnet'], ['packed', 'hf-bitnet-packed']] as const) {
    const a = synth({ layout: old, preset: 'tiny', seed: 5 });
    const b = synth({ layout: id, preset: 'tiny', seed: 5 });
    for (const f of readdirSync(b)) assert.is(sha256(join(a, f)), sha256(join(b, f)), `${old} ${f}`);
  }
  const main = fileURLToPath(new URL('../build/js/cli/main.js', import.meta.url));
  const r = spawnSync(process.execPath, [main, 'synth', '--layout', 'packed', '--out', join(root, 'cli-old-name')], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /wrote tiny hf-bitnet-packed checkpoint/);
});

test.after(() => rmSync(root, { recursive: true, force: true }));

test.run();

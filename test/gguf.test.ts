// GGUF output: the container read back by an independent reader (@huggingface/gguf) and by ours,
// every ternary tensor unpacked by the literal references of test/reference/packings-ref.ts and
// compared with the reference rule on the source, scales and floats checked, vocabularies, and every
// combination an engine would compute wrongly refused with nothing written.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gguf as hfGguf } from '@huggingface/gguf';
import { convert, type ConvertOptions } from '../build/js/run/convert.js';
import { generateCheckpoint, type SynthOptions } from '../build/js/synth/generate.js';
import { parseGguf, layoutGguf, kv, GGML_TYPES } from '../build/js/formats/gguf.js';
import { UnsupportedError, InvalidConfigError } from '../build/js/errors.js';
import { readCheckpointTensors } from './helpers/read-safetensors.js';
import { tokenizerFiles } from '../build/js/synth/tokenizer.js';
import { LAYOUT_SPECS } from '../build/js/synth/layouts.js';
import { PRESETS } from '../build/js/synth/presets.js';
import { parseModelConfig } from '../build/js/model/config.js';
import { ggufVocab } from '../build/js/outputs/gguf/vocab.js';
import { decodeValues, referenceTernary, toF16, type Dt } from './reference/ternary-ref.js';
import { i2s, q2_0, tq1_0, tq2_0, type RefPacking } from './reference/packings-ref.js';
import { decodeHfU8 } from './reference/formats-ref.js';
import { q8_0BlockRef } from './reference/q8_0-ref.js';
import { inspect } from '../build/js/run/inspect.js';
import { verify } from '../build/js/run/verify.js';
import { gguf as ggufFormat } from '../build/js/outputs/gguf/index.js';
import { outputFolder } from '../build/js/io/converted.js';
import { scaledInvFreq } from './reference/forward-ref.js';
import { encodeGguf, type GgufFile as LiteralGguf } from './helpers/gguf-literal.js';

const tmp = mkdtempSync(join(tmpdir(), 'bitnet-gguf-'));
let n = 0;
const fresh = (name: string) => join(tmp, `${name}-${n++}`);

/** Rows of 256: every ternary type can hold them (TQ needs multiples of 256, I2_S of 128). */
const SHAPE = { hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 512 };

function synth(o: Partial<SynthOptions>): string {
  const outDir = fresh('in');
  generateCheckpoint({ outDir, shape: SHAPE, ...o });
  return outDir;
}

async function run(input: string, extra: Partial<ConvertOptions> = {}): Promise<{ dir: string; file: string }> {
  const dir = fresh('out');
  await convert({ inputDir: input, outputDir: dir, format: 'gguf', threads: 2, timestamp: 1, chunkBytes: 1 << 14, ...extra });
  const files = readdirSync(dir).filter((f) => f.endsWith('.gguf'));
  assert.is(files.length, 1, 'one .gguf');
  return { dir, file: join(dir, files[0]) };
}

const REF: Record<string, RefPacking> = { I2_S: i2s, TQ2_0: tq2_0, TQ1_0: tq1_0, Q2_0: q2_0 };
/** Where a block's fp16 d sits (docs/gguf.md 4 and 7), and the block's bytes. */
const D_AT: Record<string, [number, number]> = { TQ2_0: [64, 66], TQ1_0: [52, 54], Q2_0: [0, 18] };
const PROJ: Record<string, string> = {
  attn_q: 'self_attn.q_proj', attn_k: 'self_attn.k_proj', attn_v: 'self_attn.v_proj', attn_output: 'self_attn.o_proj',
  ffn_gate: 'mlp.gate_proj', ffn_up: 'mlp.up_proj', ffn_down: 'mlp.down_proj',
};

const f16Bits = (x: number) => {
  const v = toF16(x);
  const a = Math.abs(v);
  if (a === 0) return 0;
  const e = Math.floor(Math.log2(a));
  return (v < 0 ? 0x8000 : 0) | (a < 2 ** -14 ? a / 2 ** -24 : ((e + 15) << 10) | ((a / 2 ** e - 1) * 1024));
};

/** Checks every tensor of a written GGUF against the source checkpoint with the reference rule. */
function checkTensors(file: string, input: string): void {
  const bytes = new Uint8Array(readFileSync(file));
  const g = parseGguf(bytes, file);
  const src = readCheckpointTensors(input);
  const data = (name: string) => {
    const t = g.tensors.find((x) => x.name === name)!;
    return bytes.subarray(t.offset, t.offset + t.bytes);
  };
  for (const t of g.tensors) {
    const m = /^blk\.(\d+)\.(\w+)\.weight$/.exec(t.name);
    if (m && PROJ[m[2]]) {
      const s = src.get(`model.layers.${m[1]}.${PROJ[m[2]]}.weight`)!;
      const want = referenceTernary(decodeValues(s.bytes, s.dtype as Dt), s.dtype as Dt);
      const [cols, rows] = t.ne;
      const d = data(t.name);
      const ref = REF[t.type];
      const got = ref ? ref.unpack(d, rows, cols) : Int8Array.from(decodeValues(d.subarray(0, rows * cols * 2), 'F16'), (v) => Math.sign(v));
      const bad = got.findIndex((v, i) => v !== want.q[i]);
      assert.is(bad, -1, `${t.name}: value ${bad}`);
      if (t.type === 'I2_S') {
        const tail = d.subarray((rows * cols) / 4);
        assert.is(new DataView(tail.buffer, tail.byteOffset).getFloat32(0, true), Math.fround(want.scale), `${t.name} scale`);
        assert.ok(tail.subarray(4).every((b) => b === 0), `${t.name} tail zero`);
      } else if (t.type === 'F16') {
        const values = decodeValues(d, 'F16');
        assert.ok(values.every((v, i) => v === want.q[i] * toF16(want.scale)), `${t.name}: values are the ternary times the scale in f16`);
      } else {
        const [at, blockBytes] = D_AT[t.type];
        for (let b = 0; b < d.length / blockBytes; b++) {
          assert.is(d[b * blockBytes + at] | (d[b * blockBytes + at + 1] << 8), f16Bits(want.scale), `${t.name} block ${b} d`);
        }
      }
      continue;
    }
    const source =
      t.name === 'token_embd.weight' ? 'model.embed_tokens.weight'
      : t.name === 'output_norm.weight' ? 'model.norm.weight'
      : `model.layers.${m![1]}.${{ attn_norm: 'input_layernorm', ffn_norm: 'post_attention_layernorm', attn_sub_norm: 'self_attn.attn_sub_norm', ffn_sub_norm: 'mlp.ffn_sub_norm' }[m![2]]}.weight`;
    const s = src.get(source) ?? src.get(source.replace('self_attn.attn_sub_norm', 'self_attn.inner_attn_ln').replace('mlp.ffn_sub_norm', 'mlp.ffn_layernorm'))!;
    assert.ok(s, `source of ${t.name}`);
    const want = decodeValues(s.bytes, s.dtype as Dt);
    const got = decodeValues(data(t.name), t.type as Dt);
    const expected = t.type === 'F16' ? want.map(toF16) : want.map(Math.fround);
    assert.is(got.findIndex((v, i) => v !== expected[i]), -1, `${t.name} values`);
  }
}

const write = suite('GGUF output');

write('2B-4T style (relu2) -> auto: bitnet-b1.58 + I2_S, every tensor as the reference says, read by @huggingface/gguf', async () => {
  const input = synth({ layout: 'master', seed: 2 });
  const { file } = await run(input);
  assert.match(file, /-i2_s\.gguf$/);
  const { metadata, tensorInfos } = await hfGguf(file, { allowLocalFile: true });
  assert.is(metadata['general.architecture'], 'bitnet-b1.58');
  assert.is(metadata['bitnet-b1.58.block_count' as keyof typeof metadata], 2);
  assert.is(metadata['bitnet-b1.58.rope.freq_base' as keyof typeof metadata], 500000);
  assert.is(metadata['general.file_type' as keyof typeof metadata], 40);
  assert.is(metadata['tokenizer.ggml.model' as keyof typeof metadata], 'gpt2');
  assert.is((metadata['tokenizer.ggml.tokens' as keyof typeof metadata] as unknown as string[]).length, 512);
  const ours = parseGguf(new Uint8Array(readFileSync(file)), file);
  assert.equal(
    tensorInfos.map((t) => [t.name, t.shape.map(Number), Number(t.dtype), Number(t.offset)]),
    ours.tensors.map((t) => [t.name, t.ne, GGML_TYPES[t.type].id, t.offset - ours.dataStart]),
  );
  assert.is(ours.tensors.length, 2 + 2 * 11);
  checkTensors(file, input);
});

for (const type of ['tq2_0', 'tq1_0', 'q2_0', 'f16'] as const) {
  write(`1bitLLM style (SiLU, F32 latent) -> bitnet + ${type}`, async () => {
    const input = synth({ layout: '1bitllm', seed: 3 });
    const { file } = await run(input, type === 'q2_0' ? {} : { ggufType: type });
    const g = parseGguf(new Uint8Array(readFileSync(file)), file);
    assert.is((g.kvs.get('general.architecture')!.value as string), 'bitnet');
    assert.is(g.kvs.get('tokenizer.ggml.model')!.value, 'llama');
    const types = g.kvs.get('tokenizer.ggml.token_type')!.value as number[];
    assert.is(types.filter((t) => t === 6).length, 256, 'the 256 byte tokens');
    assert.is((g.kvs.get('tokenizer.ggml.scores')!.value as number[]).length, 512);
    checkTensors(file, input);
  });
}

write('Llama-layout packed (HF1BitLLM style: divide scale, no sub-norms, untied) -> auto: arch llama + Q2_0, q/k rows permuted, d = 1/weight_scale, output.weight F16', async () => {
  const input = synth({ layout: 'llama-packed', seed: 12 });
  const { file } = await run(input);
  assert.match(file, /-q2_0\.gguf$/);
  const bytes = new Uint8Array(readFileSync(file));
  const g = parseGguf(bytes, file);
  const num = (k: string) => g.kvs.get(k)!.value as number;
  assert.is(g.kvs.get('general.architecture')!.value, 'llama');
  assert.is(num('general.file_type'), 41);
  assert.is(num('llama.attention.head_count'), SHAPE.num_attention_heads);
  assert.is(num('llama.attention.head_count_kv'), SHAPE.num_key_value_heads);
  assert.is(num('llama.rope.freq_base'), 500000);
  assert.is(num('llama.rope.dimension_count'), SHAPE.hidden_size / SHAPE.num_attention_heads);
  assert.not.ok(g.kvs.has('llama.attention.key_length'), 'head_dim is hidden / heads');
  const src = readCheckpointTensors(input);
  const data = (name: string) => {
    const t = g.tensors.find((x) => x.name === name)!;
    return { t, d: bytes.subarray(t.offset, t.offset + t.bytes) };
  };
  const headDim = SHAPE.hidden_size / SHAPE.num_attention_heads;
  for (let b = 0; b < SHAPE.num_hidden_layers; b++) {
    for (const [name, proj] of Object.entries(PROJ)) {
      const { t, d } = data(`blk.${b}.${name}.weight`);
      assert.is(t.type, 'Q2_0');
      const [cols, rows] = t.ne;
      const s = src.get(`model.layers.${b}.${proj}.weight`)!;
      const want = decodeHfU8(s.bytes, rows, cols);
      const got = q2_0.unpack(d, rows, cols);
      // row t of attn_q / attn_k holds Hugging Face row (h, l, i) at (h, i, l): llama.cpp's permute
      const sourceRow = (r: number) => {
        if (name !== 'attn_q' && name !== 'attn_k') return r;
        const h = Math.floor(r / headDim);
        const k = r % headDim;
        return h * headDim + (k % 2) * (headDim / 2) + Math.floor(k / 2);
      };
      for (let r = 0; r < rows; r++) {
        const from = sourceRow(r);
        for (let c = 0; c < cols; c++) if (got[r * cols + c] !== want[from * cols + c]) assert.unreachable(`blk.${b}.${name}: [${r}, ${c}] is ${got[r * cols + c]}, source row ${from} has ${want[from * cols + c]}`);
      }
      const scale = decodeValues(src.get(`model.layers.${b}.${proj}.weight_scale`)!.bytes, 'BF16')[0];
      for (let k = 0; k < d.length; k += 18) assert.is(d[k] | (d[k + 1] << 8), f16Bits(1 / scale), `blk.${b}.${name} d = 1/weight_scale`);
    }
    assert.not.ok(g.tensors.some((t) => t.name.startsWith(`blk.${b}.`) && t.name.includes('sub_norm')));
  }
  const head = data('output.weight');
  assert.is(head.t.type, 'F16');
  const lm = src.get('lm_head.weight')!;
  const expected = decodeValues(lm.bytes, lm.dtype as Dt).map(toF16);
  const gotHead = decodeValues(head.d, 'F16');
  assert.is(gotHead.findIndex((v, i) => v !== expected[i]), -1, 'output.weight is lm_head.weight in F16');
});

write('--gguf-embd-type q8_0: token_embd and the untied head as Q8_0 blocks of the source (the literal reference), read back by both readers, inspect and verify --against; the manifest records it', async () => {
  const input = synth({ layout: 'llama-packed', seed: 13 });
  const { dir, file } = await run(input, { ggufEmbdType: 'q8_0' });
  const bytes = new Uint8Array(readFileSync(file));
  const g = parseGguf(bytes, file);
  const src = readCheckpointTensors(input);
  for (const [name, source] of [['token_embd.weight', 'model.embed_tokens.weight'], ['output.weight', 'lm_head.weight']]) {
    const t = g.tensors.find((x) => x.name === name)!;
    assert.is(t.type, 'Q8_0', name);
    assert.equal(t.ne, [SHAPE.hidden_size, SHAPE.vocab_size]);
    assert.is(t.bytes, (SHAPE.hidden_size / 32) * 34 * SHAPE.vocab_size);
    const values = decodeValues(src.get(source)!.bytes, 'BF16');
    const got = bytes.subarray(t.offset, t.offset + t.bytes);
    for (let b = 0; b < values.length / 32; b++) {
      const want = q8_0BlockRef(values.slice(32 * b, 32 * b + 32));
      if (want.some((x, i) => x !== got[34 * b + i])) assert.unreachable(`${name}: block ${b} differs from the reference`);
    }
  }
  // the rest is as with F16 embeddings: the projections byte for byte
  const f16 = await run(input);
  const h = parseGguf(new Uint8Array(readFileSync(f16.file)), f16.file);
  const other = readFileSync(f16.file);
  for (const t of g.tensors.filter((x) => x.name.startsWith('blk.'))) {
    const u = h.tensors.find((x) => x.name === t.name)!;
    assert.ok(Buffer.from(bytes.subarray(t.offset, t.offset + t.bytes)).equals(other.subarray(u.offset, u.offset + u.bytes)), t.name);
  }
  const { tensorInfos } = await hfGguf(file, { allowLocalFile: true });
  assert.is(Number(tensorInfos.find((t) => t.name === 'token_embd.weight')!.dtype), 8);
  const read = ggufFormat.read(outputFolder(dir));
  const embd = read.find((t) => t.name === 'token_embd.weight')!;
  assert.equal([embd.dtype, embd.shape, embd.role, embd.ternary], ['Q8_0', [SHAPE.hidden_size, SHAPE.vocab_size], 'token_embd', undefined]);
  assert.ok(read.find((t) => t.name === 'blk.0.attn_q.weight')!.ternary, 'the projections still decode as ternary');
  const seen = await inspect(dir);
  assert.is(seen.tensors.find((t) => t.name === 'token_embd.weight')!.dtype, 'Q8_0');
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  assert.is(manifest.options.gguf_embd_type, 'q8_0');
  assert.is(JSON.parse(readFileSync(join(f16.dir, 'manifest.json'), 'utf8')).options.gguf_embd_type, 'f16');
  const v = await verify(dir, input);
  assert.ok(v.ok, v.problems.join('; '));
});

/** A copy of a checkpoint's config.json with keys replaced. */
function withConfig(input: string, keys: Record<string, unknown>): string {
  const path = join(input, 'config.json');
  writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), ...keys }));
  return input;
}

/** Llama 3.1's rope_scaling keys, with a context small enough that head_dim 64 at rope_theta 500000 falls in all three bands. */
const LLAMA3_SCALING = { rope_type: 'llama3', factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192 };

write('rope_scaling llama3 (Llama 3.1/3.2) -> arch llama: rope_freqs.weight F32 [head_dim/2], each value the f32 of transformers\' inv_freq over its scaled one; verify passes', async () => {
  for (const [theta, scaling] of [
    [500000, LLAMA3_SCALING],
    [100, { type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 }],
  ] as const) {
    const input = withConfig(synth({ layout: 'llama-packed', seed: 15 }), { rope_theta: theta, rope_scaling: scaling });
    const { dir, file } = await run(input);
    const bytes = new Uint8Array(readFileSync(file));
    const g = parseGguf(bytes, file);
    const t = g.tensors.find((x) => x.name === 'rope_freqs.weight');
    assert.ok(t, 'rope_freqs.weight written');
    const D = SHAPE.hidden_size / SHAPE.num_attention_heads;
    assert.equal([t!.type, t!.ne], ['F32', [D / 2]]);
    const got = Array.from({ length: D / 2 }, (_, i) => new DataView(bytes.buffer, t!.offset + 4 * i, 4).getFloat32(0, true));
    // the divisor llama.cpp applies to pair i's frequency: transformers' plain inv_freq over its llama3 one
    const scaled = scaledInvFreq(scaling, theta, D)!;
    const want = Array.from(scaled, (f, i) => Math.fround(Math.pow(theta, (-2 * i) / D) / f));
    assert.equal(got, want);
    assert.ok(want.includes(1) && want.includes(scaling.factor) && want.some((x) => x > 1 && x < scaling.factor), `all three bands present: ${want}`);
    assert.not.ok([...g.kvs.keys()].some((k) => k.includes('rope.scaling')), 'llama3 is the tensor alone (no rope.scaling keys)');
    assert.is(g.kvs.get('llama.rope.freq_base')!.value, Math.fround(theta));
    const v = await verify(dir, input);
    assert.ok(v.ok, v.problems.join('; '));
  }
});

write('rope_scaling linear -> llama.rope.scaling.type "linear" + llama.rope.scaling.factor, no rope_freqs; transformers 5 rope_parameters read as rope_scaling', async () => {
  const input = withConfig(synth({ layout: 'llama-packed', seed: 16 }), { rope_scaling: { type: 'linear', factor: 4.0 } });
  const g = parseGguf(new Uint8Array(readFileSync((await run(input)).file)), 'linear');
  assert.is(g.kvs.get('llama.rope.scaling.type')!.value, 'linear');
  assert.is(g.kvs.get('llama.rope.scaling.factor')!.value, 4);
  assert.not.ok(g.tensors.some((t) => t.name === 'rope_freqs.weight'));
  // transformers 5: rope_theta and the scaling inside rope_parameters, no top-level rope_theta
  const v5 = synth({ layout: 'llama-packed', seed: 16 });
  const cfg = JSON.parse(readFileSync(join(v5, 'config.json'), 'utf8'));
  delete cfg.rope_theta;
  delete cfg.rope_scaling;
  writeFileSync(join(v5, 'config.json'), JSON.stringify({ ...cfg, rope_parameters: { rope_type: 'linear', factor: 2.0, rope_theta: 250000 } }));
  const h = parseGguf(new Uint8Array(readFileSync((await run(v5)).file)), 'v5');
  assert.equal([h.kvs.get('llama.rope.scaling.factor')!.value, h.kvs.get('llama.rope.freq_base')!.value], [2, 250000]);
});

write('packed input (2B-4T packed) gives the same GGUF as its master would through hf-packed', async () => {
  const master = synth({ layout: 'master', seed: 4 });
  const packedDir = fresh('packed');
  await convert({ inputDir: master, outputDir: packedDir, format: 'hf-packed', threads: 0, timestamp: 1 });
  const a = await run(master);
  const b = await run(packedDir);
  // the general.name differs (the folder name); compare tensor data
  const ga = parseGguf(new Uint8Array(readFileSync(a.file)), a.file);
  const gb = parseGguf(new Uint8Array(readFileSync(b.file)), b.file);
  const bytesA = readFileSync(a.file);
  const bytesB = readFileSync(b.file);
  ga.tensors.forEach((t, i) => {
    const u = gb.tensors[i];
    assert.ok(bytesA.subarray(t.offset, t.offset + t.bytes).equals(bytesB.subarray(u.offset, u.offset + u.bytes)), t.name);
  });
});

write('the same bytes with 0 or 2 threads, any chunk size', async () => {
  const input = synth({ layout: 'master', seed: 5 });
  const a = await run(input, { threads: 0 });
  const b = await run(input, { threads: 2, chunkBytes: 300, holdBytes: 0 });
  assert.ok(readFileSync(a.file).equals(readFileSync(b.file)));
});

write('our head layout round-trips through our reader and the independent one', async () => {
  const kvs = [kv.str('general.architecture', 'bitnet'), kv.u32('bitnet.block_count', 1), kv.f32('x.f', 0.5), kv.strings('s', ['a', 'é', '']), kv.i32s('i', [-1, 2])];
  const layout = layoutGguf(kvs, [{ name: 't', ne: [256, 2], type: 'TQ2_0' }, { name: 'u', ne: [3], type: 'F32' }]);
  assert.is(layout.offsets[0] % 32, 0);
  assert.is(layout.offsets[1], layout.offsets[0] + 160); // 2 x 66 bytes padded to 32
  const file = new Uint8Array(layout.fileBytes);
  file.set(layout.head);
  const g = parseGguf(file, 'mem');
  assert.equal([...g.kvs.keys()], ['general.architecture', 'bitnet.block_count', 'x.f', 's', 'i']);
  assert.equal(g.kvs.get('s')!.value, ['a', 'é', '']);
  assert.equal(g.tensors.map((t) => [t.name, t.ne, t.type, t.offset]), [['t', [256, 2], 'TQ2_0', layout.offsets[0]], ['u', [3], 'F32', layout.offsets[1]]]);
});

write('the real Llama 3 vocabulary (128256 tokens, 280,147 merges; synth --preset 2b-4t) as GGUF KVs, read back by @huggingface/gguf', async () => {
  const files = tokenizerFiles('hf-bitnet', 128256);
  const input = { readSide: (name: string) => (files.has(name) ? new TextEncoder().encode(files.get(name) as string) : undefined) };
  const config = parseModelConfig(JSON.parse(LAYOUT_SPECS['hf-bitnet'].config(PRESETS['2b-4t'], 'BF16', false)), 'config.json');
  const kvs = ggufVocab(input, config);
  const layout = layoutGguf([kv.str('general.architecture', 'bitnet-b1.58'), ...kvs], []);
  const path = join(tmp, 'vocab.gguf');
  writeFileSync(path, layout.head);
  const { metadata } = await hfGguf(path, { allowLocalFile: true });
  const m = metadata as unknown as Record<string, unknown>;
  assert.is((m['tokenizer.ggml.tokens'] as string[]).length, 128256);
  assert.is((m['tokenizer.ggml.merges'] as string[]).length, 280147);
  assert.is((m['tokenizer.ggml.tokens'] as string[])[128000], '<|begin_of_text|>');
  assert.is(m['tokenizer.ggml.bos_token_id'], 128000);
  assert.is(m['tokenizer.ggml.eos_token_id'], 128001);
  assert.is((m['tokenizer.ggml.token_type'] as number[])[128000], 3, 'special tokens are control tokens');
  assert.is(m['tokenizer.ggml.pre'], 'llama-bpe');
  assert.type(m['tokenizer.chat_template'], 'string');
});


write("a head's arrays kept as the file encodes them (arrays: 'raw') are written back byte for byte, every item type", () => {
  const file = {
    kv: [
      ['general.architecture', 'string', 'llama'],
      ['general.alignment', 'u32', 32],
      ['tokenizer.ggml.tokens', 'string[]', ['<s>', 'é', '日本', '🙂', '', 'Ġthe']],
      ['tokenizer.ggml.scores', 'f32[]', [0, -1.5, 3.25, -1e30, 0.1, 7]],
      ['tokenizer.ggml.token_type', 'i32[]', [3, 1, 1, 6, 1, -2]],
      ['some.u8s', 'u8[]', [0, 255, 7]],
      ['some.u64s', 'u64[]', [0n, 2n ** 63n, 5n]],
      ['some.bools', 'bool[]', [true, false]],
      ['some.empty', 'string[]', []],
    ],
    tensors: [{ name: 'token_embd.weight', ne: [4, 6], type: 'F32', data: new Float32Array(24).fill(0.5) }],
  } as const satisfies LiteralGguf;
  const bytes = encodeGguf(file);
  const parsed = parseGguf(bytes, 'x.gguf', bytes.length, { arrays: 'raw' });
  const tokens = parsed.kvs.get('tokenizer.ggml.tokens')!;
  assert.ok(tokens.type === 9 && tokens.value.length === 0 && tokens.raw?.count === 6, 'kept encoded, not decoded');
  const layout = layoutGguf([...parsed.kvs].map(([key, v]) => ({ key, v })), parsed.tensors);
  assert.equal(Array.from(layout.head), Array.from(bytes.subarray(0, parsed.dataStart)));
});

write.run();

const refuse = suite('GGUF refusals');

async function refused(input: string, extra: Partial<ConvertOptions>, cls: typeof UnsupportedError | typeof InvalidConfigError, ...patterns: RegExp[]) {
  const out = fresh('refused');
  try {
    await convert({ inputDir: input, outputDir: out, format: 'gguf', threads: 0, ...extra });
    assert.unreachable('should refuse');
  } catch (e) {
    assert.instance(e, cls);
    assert.not.match((e as Error).message, /\n/);
    for (const p of patterns) assert.match((e as Error).message, p);
  }
  assert.not.ok(existsSync(out), 'nothing written');
}

refuse('a relu2 model into arch bitnet (llama.cpp computes SiLU), saying what to use', async () =>
  refused(synth({ layout: 'master', seed: 6 }), { ggufArch: 'bitnet' }, UnsupportedError, /computes silu/, /relu2/, /--gguf-arch bitnet-b1\.58/));

refuse('a SiLU model into arch bitnet-b1.58 (bitnet.cpp computes relu2)', async () =>
  refused(synth({ layout: '1bitllm', seed: 7 }), { ggufArch: 'bitnet-b1.58' }, UnsupportedError, /computes relu2/, /--gguf-arch bitnet\b/));

refuse('I2_S for arch bitnet, Q2_0 and TQ1_0 for bitnet-b1.58', async () => {
  await refused(synth({ layout: '1bitllm', seed: 8 }), { ggufType: 'i2_s' }, UnsupportedError, /i2_s/, /bitnet-b1\.58/);
  await refused(synth({ layout: 'master', seed: 8 }), { ggufType: 'q2_0' }, UnsupportedError, /q2_0/, /llama\.cpp/);
  await refused(synth({ layout: 'master', seed: 8 }), { ggufType: 'tq1_0' }, UnsupportedError, /tq1_0/, /llama\.cpp/);
});

refuse('rows a type cannot hold, naming the tensor', async () =>
  refused(synth({ layout: 'master', seed: 9, shape: undefined, preset: 'tiny' }), {}, UnsupportedError, /blk\.0\.attn_q\.weight/, /multiple of 128/, /rows of 64/));

refuse('an untied head, a model without sub-norms, a folder without a tokenizer', async () => {
  await refused(synth({ layout: 'master', seed: 10, untied: true }), {}, UnsupportedError, /tied head/);
  await refused(synth({ layout: 'llama-packed', seed: 10 }), { ggufArch: 'bitnet' }, UnsupportedError, /sub_norm/, /--gguf-arch llama/);
  await refused(synth({ layout: '1bitllm', seed: 10 }), { ggufArch: 'llama' }, UnsupportedError, /without sub-norms/, /--gguf-arch bitnet\b/);
  const bare = synth({ layout: 'master', seed: 10 });
  for (const f of readdirSync(bare)) if (f.startsWith('tokenizer')) rmSync(join(bare, f));
  await refused(bare, {}, InvalidConfigError, /tokenizer/);
});

refuse('rope_scaling the engine does not compute (yarn, dynamic; llama3 outside arch llama) or without its values, naming config.json, the type and what is supported', async () => {
  for (const type of ['yarn', 'dynamic', 'longrope']) {
    await refused(withConfig(synth({ layout: 'llama-packed', seed: 11 }), { rope_scaling: { rope_type: type, factor: 4, original_max_position_embeddings: 64 } }), {}, UnsupportedError, /^config\.json: /, new RegExp(`"${type}"`), /llama3 or linear/);
  }
  await refused(withConfig(synth({ layout: '1bitllm', seed: 11 }), { rope_scaling: LLAMA3_SCALING }), {}, UnsupportedError, /^config\.json: /, /"llama3"/, /--gguf-arch bitnet: linear/);
  const { original_max_position_embeddings: _, ...partial } = LLAMA3_SCALING;
  await refused(withConfig(synth({ layout: 'llama-packed', seed: 11 }), { rope_scaling: partial }), {}, InvalidConfigError, /^config\.json: /, /rope_scaling\.original_max_position_embeddings/);
});

refuse('arch llama: rows Q2_0 cannot hold (naming the types that can), a scale fp16 cannot hold', async () => {
  // hidden 72: no GGUF ternary type holds rows of 72 values but f16
  await refused(synth({ layout: 'llama-packed', seed: 11, shape: undefined, preset: 'odd' }), {}, UnsupportedError, /blk\.0\.attn_q\.weight/, /multiple of 64/, /--gguf-type f16/);
  // a weight_scale of 1e-6 divides: the multiplying scale 1e6 is past fp16's largest value
  const huge = synth({ layout: 'llama-packed', seed: 11 });
  const st = join(huge, readdirSync(huge).find((f) => f.endsWith('.safetensors'))!);
  const buf = new Uint8Array(readFileSync(st));
  const n = Number(new DataView(buf.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + n)));
  const at = 8 + n + header['model.layers.0.self_attn.v_proj.weight_scale'].data_offsets[0];
  new DataView(buf.buffer).setUint16(at, 0x3586, true); // bf16 1e-6
  writeFileSync(st, buf);
  await refused(huge, {}, UnsupportedError, /blk\.0\.attn_v\.weight/, /fp16/);
});

refuse('--gguf-embd-type q8_0 with rows of 72 values (not whole blocks of 32), naming token_embd and the type that holds them', async () =>
  refused(synth({ layout: 'llama-packed', seed: 14, shape: undefined, preset: 'odd' }), { ggufType: 'f16', ggufEmbdType: 'q8_0' }, UnsupportedError, /token_embd\.weight/, /multiple of 32/, /rows of 72/, /--gguf-embd-type f16/));

refuse.after(() => rmSync(tmp, { recursive: true, force: true }));
refuse.run();

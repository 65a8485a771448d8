// A .gguf as the input (docs/gguf.md 10), two things beyond test/gguf-input.test.ts: Q8_0 embeddings and
// heads, and Llama 3's rope_freqs.weight.
// A .gguf whose token_embd (and arch llama's untied output) is Q8_0:
// The blocks are decoded independently (test/reference/gguf-source-ref.ts: d * q value by value) and every
// output is checked against the expected-output builders of formats-ref.ts fed with those F32 values:
// exact where the output holds F32 (hf-packed, ms-gpu, bitnet-rs), copied block for block into a GGUF
// with Q8_0 embeddings (the same file), refused where the output's F16/BF16 would round a value, and with
// --allow-lossy rounded once (to nearest even, by the reference) and listed in manifest.json.
// rope_freqs.weight: config.json's rope_scaling rebuilt from it, giving the same divisors by transformers'
// formula (test/reference/forward-ref.ts), so GGUF -> GGUF is the same file; divisors no llama3
// parameters give, or the tensor outside arch llama, refused naming it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gguf as hfGguf } from '@huggingface/gguf';
import { convert, type ConvertOptions } from '../build/js/run/convert.js';
import { verify } from '../build/js/run/verify.js';
import { generateCheckpoint } from '../build/js/synth/generate.js';
import { UnsupportedError } from '../build/js/errors.js';
import { layoutGguf, parseGguf } from '../build/js/formats/gguf.js';
import { scaledInvFreq } from './reference/forward-ref.js';
import { checkGguf, expectedGguf, type GgufTernaryType } from './reference/formats-ref.js';
import { checkFromGgufSource, ggufAsHfPacked, type GgufAsHf } from './reference/gguf-source-ref.js';
import { BASE, ggufFile, ggufTestFolders, SHAPE } from './helpers/gguf-input.js';
import { conversionFails } from './helpers/common.js';

const { root, fresh, run } = ggufTestFolders('bitnet-gguf-q8-');

async function check(format: string, out: string, src: GgufAsHf, embd: 'f16' | 'q8_0' = 'f16'): Promise<string[]> {
  const other = checkFromGgufSource(format, out, src);
  if (other) return other;
  const file = ggufFile(out);
  const { metadata, tensorInfos, tensorDataOffset } = await hfGguf(file, { allowLocalFile: true });
  const arch = String((metadata as unknown as Record<string, unknown>)['general.architecture']);
  const type = ({ 36: 'i2_s', 35: 'tq2_0', 34: 'tq1_0', 42: 'q2_0', 1: 'f16' } as Record<number, GgufTernaryType>)[Number(tensorInfos.find((t) => t.name === 'blk.0.attn_q.weight')!.dtype)];
  const infos = tensorInfos.map((t) => ({ name: t.name, ne: t.shape.map(Number), type: Number(t.dtype), offset: Number(t.offset) }));
  return checkGguf(expectedGguf(src.tensors, src.config, { arch, embd }), type, new Uint8Array(readFileSync(file)), infos, Number(tensorDataOffset));
}

/** HF F16 -> GGUF with Q8_0 embeddings: 1bitLLM (arch bitnet, TQ2_0, tied) and a Llama layout (arch llama, Q2_0, untied: output.weight Q8_0 too). */
const SOURCES = [
  { layout: '1bitllm', type: 'tq2_0', formats: ['hf-packed', 'ms-gpu', 'bitnet-rs'] },
  { layout: 'llama-latent', type: 'q2_0', formats: ['bitnet-rs'] },
] as const;

for (const s of SOURCES) {
  test(`${s.layout} -> gguf ${s.type} with Q8_0 embeddings -> every format: F32 exactly, Q8_0 copied, F16/BF16 refused or rounded with --allow-lossy`, async () => {
    const hf = fresh();
    generateCheckpoint({ outDir: hf, layout: s.layout, shape: SHAPE, dtype: 'F16', seed: 31, untied: s.layout === 'llama-latent' });
    const g = await run(hf, 'gguf', { ggufType: s.type, ggufEmbdType: 'q8_0', ...(s.layout === 'llama-latent' && { layout: 'llama-latent' }) });
    const src = await ggufAsHfPacked(ggufFile(g));
    const embed = src.tensors.get('model.embed_tokens.weight')!;
    assert.is(embed.dtype, 'F32');
    assert.is(src.tensors.has('lm_head.weight'), s.layout === 'llama-latent');

    // outputs that hold F32: every value exactly
    for (const format of s.formats) {
      const out = await run(g, format);
      assert.equal(await check(format, out, src), [], `${format}`);
      assert.ok((await verify(out, g, { threads: 0 })).ok, `${format} verifies against the GGUF`);
    }
    if (s.formats.includes('hf-packed')) {
      const out = await run(g, 'hf-packed');
      const { readSafetensors } = await import('./helpers/read-safetensors.js');
      const t = readSafetensors(join(out, 'model.safetensors')).get('model.embed_tokens.weight')!;
      assert.is(t.dtype, 'F32');
      assert.ok(Buffer.from(t.bytes).equals(Buffer.from(embed.bytes)), 'the decoded values, bit for bit');
    }

    // GGUF with Q8_0 embeddings: the blocks copied, the same file
    const same = await run(g, 'gguf', { ggufType: s.type, ggufEmbdType: 'q8_0' });
    assert.ok(readFileSync(ggufFile(same)).equals(readFileSync(ggufFile(g))), 'gguf -> gguf with Q8_0 embeddings: the same file');

    // F16 (the GGUF's default embedding type) and BF16 (bitnet-rs-safetensors) round these values: refused, nothing written
    const targets: [string, Partial<ConvertOptions>, RegExp[]][] = [
      ['gguf', { ggufType: s.type }, [/tensor token_embd\.weight/, /F16 holds exactly/, /--allow-lossy/, /--gguf-embd-type q8_0/]],
      ['bitnet-rs-safetensors', {}, [/tensor token_embd\.weight/, /BF16 holds exactly/, /--allow-lossy/]],
    ];
    for (const [format, extra, patterns] of targets) {
      const out = fresh();
      await conversionFails(() => convert({ inputDir: g, outputDir: out, format, ...BASE, ...extra } as ConvertOptions), out, join(out, '..'), UnsupportedError, patterns);
      const written = await run(g, format, { ...extra, allowLossy: true });
      assert.equal(await check(format, written, src), [], `${format} --allow-lossy: rounded once, as the reference rounds the decoded values`);
      const manifest = JSON.parse(readFileSync(join(written, 'manifest.json'), 'utf8'));
      assert.is(manifest.options.allow_lossy, true);
      assert.match(manifest.rounded['token_embd.weight'], /Q8_0 values rounded to B?F16/);
      if (format === 'gguf' && s.layout === 'llama-latent') assert.match(manifest.rounded['output.weight'], /Q8_0 values rounded to F16/);
      assert.ok((await verify(written, g, { threads: 0 })).ok, `${format} --allow-lossy verifies against the GGUF`);
    }
  });
}

/** The divisor of each rotary pair a config's llama3 rope_scaling gives: transformers' plain inv_freq over its scaled one, as f32. */
function divisors(scaling: Record<string, unknown>, theta: number, headDim: number): number[] {
  const scaled = scaledInvFreq(scaling, theta, headDim)!;
  return Array.from(scaled, (f, i) => Math.fround(Math.pow(theta, (-2 * i) / headDim) / f));
}

const SCALINGS: [number, Record<string, unknown>][] = [
  [500000, { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 }], // Llama 3.1
  [500000, { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 }], // Llama 3.2
  [10000, { rope_type: 'llama3', factor: 16, low_freq_factor: 1, high_freq_factor: 2.5, original_max_position_embeddings: 4096 }],
  // low_freq_factor 2: the divisors fix only ratios, so it comes back as 1 with the others scaled to match
  [10000, { rope_type: 'llama3', factor: 8, low_freq_factor: 2, high_freq_factor: 6, original_max_position_embeddings: 8192 }],
];

test('rope_freqs.weight (Llama 3 RoPE scaling) in a GGUF: config.json rope_scaling rebuilt, the same divisors by transformers\' formula; GGUF -> GGUF the same file', async () => {
  const D = SHAPE.hidden_size / SHAPE.num_attention_heads;
  for (const [theta, scaling] of SCALINGS) {
    const hf = fresh();
    generateCheckpoint({ outDir: hf, layout: 'llama-latent', shape: SHAPE, dtype: 'F16', seed: 33, untied: true });
    const cfg = JSON.parse(readFileSync(join(hf, 'config.json'), 'utf8'));
    writeFileSync(join(hf, 'config.json'), JSON.stringify({ ...cfg, rope_theta: theta, rope_scaling: scaling }));
    const g = await run(hf, 'gguf', { ggufType: 'q2_0', layout: 'llama-latent' });
    const want = divisors(scaling, theta, D);
    assert.ok(want.includes(1) && want.includes(scaling.factor as number) && want.some((x) => x > 1 && x < (scaling.factor as number)), `all three bands: ${want}`);
    const out = await run(g, 'bitnet-rs');
    const back = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).rope_scaling;
    assert.is(back.rope_type, 'llama3');
    if (scaling.low_freq_factor === 1) assert.equal(back, scaling, 'the source parameters');
    assert.equal(divisors(back, theta, D), want, `${JSON.stringify(back)}: the same divisors`);
    assert.ok((await verify(out, g, { threads: 0 })).ok);
    const same = await run(g, 'gguf', { ggufType: 'q2_0' });
    assert.ok(readFileSync(ggufFile(same)).equals(readFileSync(ggufFile(g))), `${JSON.stringify(scaling)}: gguf -> gguf the same file`);
  }
});

test('rope_freqs.weight no llama3 parameters give, of another shape, or in arch bitnet: refused naming the tensor, nothing written', async () => {
  const hf = fresh();
  generateCheckpoint({ outDir: hf, layout: 'llama-latent', shape: SHAPE, dtype: 'F16', seed: 34, untied: true });
  const cfg = JSON.parse(readFileSync(join(hf, 'config.json'), 'utf8'));
  writeFileSync(join(hf, 'config.json'), JSON.stringify({ ...cfg, rope_theta: SCALINGS[0]![0], rope_scaling: SCALINGS[0]![1] }));
  const g = ggufFile(await run(hf, 'gguf', { ggufType: 'q2_0', layout: 'llama-latent' }));
  const whole = new Uint8Array(readFileSync(g));
  const parsed = parseGguf(whole, g, whole.length, { arrays: 'keep' });
  /** The file again with the KVs and tensors edited (data copied from the original, or given). */
  const rewrite = (edit: (kvs: { key: string; v: unknown }[], tensors: { name: string; ne: number[]; type: string; data: Uint8Array }[]) => void): string => {
    const kvs = [...parsed.kvs].map(([key, v]) => ({ key, v }));
    const tensors = parsed.tensors.map((t) => ({ name: t.name, ne: t.ne, type: t.type as string, data: whole.slice(t.offset, t.offset + t.bytes) }));
    edit(kvs, tensors);
    const layout = layoutGguf(kvs as never, tensors as never);
    const file = new Uint8Array(layout.fileBytes);
    file.set(layout.head);
    tensors.forEach((t, i) => file.set(t.data, layout.offsets[i]));
    const dir = fresh();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'x.gguf'), file);
    return dir;
  };
  const freqs = (ts: { name: string; data: Uint8Array }[]) => ts.find((t) => t.name === 'rope_freqs.weight')!;
  const cases: [string, string, RegExp[]][] = [
    ['one divisor changed', rewrite((_k, ts) => {
      const t = freqs(ts);
      const v = new DataView(t.data.buffer);
      v.setFloat32(4 * 12, v.getFloat32(4 * 12, true) * 1.01, true);
    }), [/the divisors a rope_scaling of type llama3 gives/]],
    ['slowest divisor 1', rewrite((_k, ts) => new DataView(freqs(ts).data.buffer).setFloat32(freqs(ts).data.length - 4, 1, true)), [/not a factor above 1/]],
    ['F16', rewrite((_k, ts) => Object.assign(freqs(ts), { type: 'F16', data: new Uint8Array(freqs(ts).data.length / 2) })), [/expected F32 ne \[32\]/]],
    ['in arch bitnet', rewrite((kvs) => {
      for (const kv of kvs) kv.key = kv.key.replace(/^llama\./, 'bitnet.');
      (kvs.find((kv) => kv.key === 'general.architecture')!.v as { value: string }).value = 'bitnet';
    }), [/only arch llama reads it/]],
  ];
  for (const [what, dir, patterns] of cases) {
    const out = fresh();
    await conversionFails(() => convert({ inputDir: dir, outputDir: out, format: 'bitnet-rs', ...BASE } as ConvertOptions), out, join(out, '..'), UnsupportedError, [/x\.gguf: tensor rope_freqs\.weight: /, ...patterns]);
    assert.ok(true, what);
  }
});

test.after(() => rmSync(root, { recursive: true, force: true }));
test.run();

// A .gguf as the input (docs/gguf.md 10). For every ternary GGUF type T and every output format X:
// HF -> GGUF(T) -> X holds exactly what GGUF(T) holds (decoded by test/reference/gguf-source-ref.ts,
// independent of src/, then checked with the expected-output builders of formats-ref.ts), and, the
// sources being F16 (every GGUF type holds their scales and embeddings exactly), its weight files are
// byte-identical to HF -> X where X does not keep the source's float dtypes (the GGUF's norms are F32); HF -> GGUF(T) -> GGUF(T) is the same file. Then the lossy steps
// (refused, or written with --allow-lossy and listed), group scales and bad codes (refused, naming the
// tensor and the block), and how --input-dir finds the file.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gguf as hfGguf } from '@huggingface/gguf';
import { convert, type ConvertOptions } from '../build/js/run/convert.js';
import { inspect } from '../build/js/run/inspect.js';
import { verify } from '../build/js/run/verify.js';
import { generateCheckpoint } from '../build/js/synth/generate.js';
import { ConversionError, CorruptFileError, InvalidTernaryWeightError, UnsupportedError } from '../build/js/errors.js';
import { FORMAT_IDS } from '../build/js/outputs/index.js';
import { parseGguf } from '../build/js/formats/gguf.js';
import { checkBitnetRsBins, checkGguf, expectedGguf, type GgufTernaryType } from './reference/formats-ref.js';
import { checkFromGgufSource, ggufAsHfPacked, type GgufAsHf } from './reference/gguf-source-ref.js';
import { BASE, ggufFile, ggufTestFolders, SHAPE, writeSplitGguf } from './helpers/gguf-input.js';
import { conversionFails, mulberry32 } from './helpers/common.js';

const { root, fresh, run } = ggufTestFolders('bitnet-gguf-input-');

/** The three source families, F16: relu2 with sub-norms, SiLU with sub-norms, SiLU Llama (no sub-norms, untied head). */
const SOURCES = {
  'hf-bitnet': { types: ['i2_s', 'tq2_0'], named: {} },
  '1bitllm': { types: ['tq2_0', 'tq1_0', 'q2_0'], named: {} },
  'llama-latent': { types: ['i2_s', 'tq2_0', 'tq1_0', 'q2_0'], named: { layout: 'llama-latent' } },
} as const;
type Source = keyof typeof SOURCES;

const hfDirs = new Map<Source, string>();
function hfOf(s: Source): string {
  if (!hfDirs.has(s)) {
    const dir = fresh();
    generateCheckpoint({ outDir: dir, layout: s, shape: SHAPE, dtype: 'F16', seed: 11, untied: s === 'llama-latent' });
    hfDirs.set(s, dir);
  }
  return hfDirs.get(s)!;
}


/** What a format must hold, from the decoded GGUF (the reference), or its mismatches. */
async function check(format: string, out: string, src: GgufAsHf): Promise<string[]> {
  const other = checkFromGgufSource(format, out, src);
  if (other) return other;
  switch (format) {
    case 'gguf': {
      const file = ggufFile(out);
      const { metadata, tensorInfos, tensorDataOffset } = await hfGguf(file, { allowLocalFile: true });
      const m = metadata as unknown as Record<string, unknown>;
      const arch = String(m['general.architecture']);
      const type = ({ 36: 'i2_s', 35: 'tq2_0', 34: 'tq1_0', 42: 'q2_0', 1: 'f16' } as Record<number, GgufTernaryType>)[Number(tensorInfos.find((t) => t.name === 'blk.0.attn_q.weight')!.dtype)];
      const infos = tensorInfos.map((t) => ({ name: t.name, ne: t.shape.map(Number), type: Number(t.dtype), offset: Number(t.offset) }));
      return checkGguf(expectedGguf(src.tensors, src.config, { arch }), type, new Uint8Array(readFileSync(file)), infos, Number(tensorDataOffset));
    }
  }
  throw new Error(`no check for ${format}`);
}

const roundTrips = suite('HF -> GGUF(T) -> every format');

for (const [source, { types, named }] of Object.entries(SOURCES) as [Source, (typeof SOURCES)[Source]][]) {
  for (const type of types) {
    roundTrips(`${source} F16 -> gguf ${type} -> every format: what the GGUF holds, byte-identical to ${source} -> the format; -> gguf ${type} is the same file`, async () => {
      const hf = hfOf(source);
      const g = await run(hf, 'gguf', { ggufType: type, ...named });
      const decoded = await ggufAsHfPacked(ggufFile(g));
      const same = await run(g, 'gguf', { ggufType: type });
      assert.ok(readFileSync(ggufFile(same)).equals(readFileSync(ggufFile(g))), `gguf ${type} -> gguf ${type}: the same file`);
      for (const format of FORMAT_IDS) {
        let direct: string | undefined;
        let refusal: unknown;
        try {
          direct = await run(hf, format, named);
        } catch (e) {
          refusal = e;
        }
        if (refusal) {
          // the engine rules hold from a GGUF too: the same refusal
          assert.instance(refusal, ConversionError);
          const out = fresh();
          await conversionFails(() => convert({ inputDir: g, outputDir: out, format, ...BASE } as ConvertOptions), out, join(out, '..'), (refusal as ConversionError).constructor as typeof UnsupportedError, []);
          continue;
        }
        const out = await run(g, format);
        const problems = await check(format, out, decoded);
        assert.equal(problems, [], `${source} -> gguf ${type} -> ${format}`);
        // hf-packed and ms-gpu copy floats in their stored dtype (F16 norms from HF, F32 from the GGUF): held to the reference above
        if (format === 'hf-packed' || format === 'ms-gpu') continue;
        for (const f of readdirSync(direct!)) {
          // the weight files: config.json is rebuilt from the KVs (checked below), the manifest names another source, and no tokenizer files come from a GGUF yet
          if (!/\.(bin|safetensors|gguf)$/.test(f)) continue;
          assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(direct!, f))), `${source} -> gguf ${type} -> ${format}: ${f} byte-identical to ${source} -> ${format}`);
        }
      }
    });
  }
}

roundTrips('config.json from a GGUF: the dimensions, eps, rope base, act and head as the source config.json has them', async () => {
  const hf = hfOf('llama-latent');
  const g = await run(hf, 'gguf', { ggufType: 'q2_0', layout: 'llama-latent' });
  const out = await run(g, 'bitnet-rs-safetensors');
  const a = JSON.parse(readFileSync(join(hf, 'config.json'), 'utf8'));
  const b = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  for (const k of ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'vocab_size', 'rms_norm_eps', 'rope_theta', 'tie_word_embeddings', 'max_position_embeddings']) {
    assert.equal(b[k], a[k] ?? (k === 'num_key_value_heads' ? a.num_attention_heads : undefined), k);
  }
  assert.is(b.hidden_act, 'silu');
});

const lossy = suite('lossy steps, group scales, bad codes');

lossy('an f32 I2_S scale that fp16 cannot hold: refused for Q2_0 naming the tensor; --allow-lossy writes it and lists every rounded scale', async () => {
  const hf = fresh();
  generateCheckpoint({ outDir: hf, layout: 'llama-latent', shape: SHAPE, dtype: 'F32', seed: 12 });
  const g = await run(hf, 'gguf', { ggufType: 'i2_s', layout: 'llama-latent' });
  const out = fresh();
  await conversionFails(() => convert({ inputDir: g, outputDir: out, format: 'gguf', ggufType: 'q2_0', ...BASE } as ConvertOptions), out, join(out, '..'), UnsupportedError, [/tensor blk\.\d+\.\w+\.weight/, /F16/, /--allow-lossy/]);
  const written = await run(g, 'gguf', { ggufType: 'q2_0', allowLossy: true });
  assert.equal(await check('gguf', written, await ggufAsHfPacked(ggufFile(g))), []);
  const manifest = JSON.parse(readFileSync(join(written, 'manifest.json'), 'utf8'));
  assert.is(manifest.options.allow_lossy, true);
  assert.is(Object.keys(manifest.rounded).length, 14, 'every projection of 2 layers rounded');
  assert.match(manifest.rounded['blk.0.attn_q.weight'], /rounded to F16/);
  // formats that keep the scale's dtype hold it exactly without the flag
  assert.equal(await check('bitnet-rs', await run(g, 'bitnet-rs'), await ggufAsHfPacked(ggufFile(g))), []);
});

/** A copy of a GGUF with `edit` applied to its bytes (given the tensor's data offset). */
async function edited(g: string, tensor: string, edit: (file: Uint8Array, at: number) => void): Promise<string> {
  const src = ggufFile(g);
  const { tensorInfos, tensorDataOffset } = await hfGguf(src, { allowLocalFile: true });
  const file = new Uint8Array(readFileSync(src));
  edit(file, Number(tensorDataOffset) + Number(tensorInfos.find((t) => t.name === tensor)!.offset));
  const dir = fresh();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'x.gguf'), file);
  return dir;
}

lossy('blocks with different d (group scales) are refused naming the tensor and both groups; a code 3 in Q2_0 names its block', async () => {
  const g = await run(hfOf('1bitllm'), 'gguf', { ggufType: 'q2_0' });
  // block 5 of blk.1.ffn_up: d doubled (fp16 exponent + 1)
  const groups = await edited(g, 'blk.1.ffn_up.weight', (f, at) => {
    f[at + 5 * 18 + 1] += 4;
  });
  for (const format of ['bitnet-rs', 'hf-packed', 'gguf']) {
    const out = fresh();
    await conversionFails(() => convert({ inputDir: groups, outputDir: out, format, ...BASE } as ConvertOptions), out, join(out, '..'), UnsupportedError, [/tensor blk\.1\.ffn_up\.weight/, /group scales/, /block 0 of row 0/, /block 1 of row 1/]);
  }
  // code 3 in the 3rd block of row 2 of blk.0.attn_v (rows of 256 values: 4 blocks of 64)
  const bad = await edited(g, 'blk.0.attn_v.weight', (f, at) => {
    f[at + (2 * 4 + 2) * 18 + 2 + 7] |= 0xc0;
  });
  const out = fresh();
  await conversionFails(() => convert({ inputDir: bad, outputDir: out, format: 'hf-packed', ...BASE } as ConvertOptions), out, join(out, '..'), InvalidTernaryWeightError, [/tensor blk\.0\.attn_v\.weight/, /block 2 of row 2/]);
  // I2_S into hf-packed (transcoded with no i8 between): a code 3 in block 1 of row 0 is named all the same
  const i2s = await edited(await run(hfOf('hf-bitnet'), 'gguf', { ggufType: 'i2_s' }), 'blk.0.ffn_down.weight', (f, at) => {
    f[at + 32 + 7] |= 0x30;
  });
  const out2 = fresh();
  await conversionFails(() => convert({ inputDir: i2s, outputDir: out2, format: 'hf-packed', ...BASE } as ConvertOptions), out2, join(out2, '..'), InvalidTernaryWeightError, [/tensor blk\.0\.ffn_down\.weight/, /block 1 of row 0/]);
});

lossy('a block whose d is 0 holds zeros whatever its codes (llama.cpp writes such blocks for all-zero runs)', async () => {
  const g = await run(hfOf('1bitllm'), 'gguf', { ggufType: 'tq2_0' });
  const zeroed = await edited(g, 'blk.0.ffn_gate.weight', (f, at) => {
    f[at + 64] = 0;
    f[at + 65] = 0; // block 0's d (after qs[64])
  });
  const out = await run(zeroed, 'bitnet-rs');
  const ref = await ggufAsHfPacked(ggufFile(g));
  // the reference: the same tensors with block 0 of the gate (row 0, values 0..255) zero
  const t = ref.tensors.get('model.layers.0.mlp.gate_proj.weight')!;
  const R = t.shape[0];
  for (let c = 0; c < 256; c++) t.bytes[c] = (t.bytes[c] & ~3) | 1; // band 0 (row 0) of bytes [0, c]: code 1 = 0
  assert.ok(R > 0);
  assert.equal(checkBitnetRsBins((f) => new Uint8Array(readFileSync(join(out, f))), 'standard', ref.tensors, ref.config), []);
});

const input = suite('--input-dir: a .gguf, or the folder of one');

input('names the file itself or its folder; two .gguf in a folder are refused in one line, nothing written', async () => {
  const g = await run(hfOf('hf-bitnet'), 'gguf', { ggufType: 'i2_s' });
  const byFile = await run(ggufFile(g), 'hf-packed');
  const byFolder = await run(g, 'hf-packed');
  assert.ok(readFileSync(join(byFile, 'model.safetensors')).equals(readFileSync(join(byFolder, 'model.safetensors'))));
  const two = fresh();
  mkdirSync(two, { recursive: true });
  copyFileSync(ggufFile(g), join(two, 'a.gguf'));
  copyFileSync(ggufFile(g), join(two, 'b.gguf'));
  const out = fresh();
  await conversionFails(() => convert({ inputDir: two, outputDir: out, format: 'hf-packed', ...BASE } as ConvertOptions), out, join(out, '..'), CorruptFileError, [/one \.gguf/, /a\.gguf, b\.gguf/]);
});

input('a split set (llama.cpp gguf-split: the KVs in part 1, the tensors over both parts) converts as the whole file; another part named, or a part missing, is refused', async () => {
  const g = await run(hfOf('hf-bitnet'), 'gguf', { ggufType: 'i2_s' });
  const dir = fresh();
  mkdirSync(dir, { recursive: true });
  writeSplitGguf(new Uint8Array(readFileSync(ggufFile(g))), dir, 'm');
  const viaSplit = await run(dir, 'hf-packed');
  assert.ok(readFileSync(join(viaSplit, 'model.safetensors')).equals(readFileSync(join(await run(g, 'hf-packed'), 'model.safetensors'))), 'the same weights');
  const manifest = JSON.parse(readFileSync(join(viaSplit, 'manifest.json'), 'utf8'));
  assert.equal(manifest.source.files.map((f: { name: string }) => f.name), ['m-00001-of-00002.gguf', 'm-00002-of-00002.gguf']);
  let out = fresh();
  await conversionFails(() => convert({ inputDir: join(dir, 'm-00002-of-00002.gguf'), outputDir: out, format: 'hf-packed', ...BASE } as ConvertOptions), out, join(out, '..'), UnsupportedError, [/part 2 of 2/, /m-00001-of-00002\.gguf/]);
  rmSync(join(dir, 'm-00002-of-00002.gguf'));
  out = fresh();
  await conversionFails(() => convert({ inputDir: dir, outputDir: out, format: 'hf-packed', ...BASE } as ConvertOptions), out, join(out, '..'), CorruptFileError, [/m-00002-of-00002\.gguf/, /part 2 of the 2-part split set/, /no such file/]);
});

const tools = suite('inspect and verify --against a GGUF source');

tools('inspect of a .gguf beside no manifest.json: layout gguf, the rebuilt config, ggml types and the stored scales; verify --against it re-derives the output', async () => {
  const g = await run(hfOf('llama-latent'), 'gguf', { ggufType: 'i2_s', layout: 'llama-latent' });
  const solo = fresh();
  mkdirSync(solo, { recursive: true });
  copyFileSync(ggufFile(g), join(solo, 'm.gguf'));
  const ref = await ggufAsHfPacked(join(solo, 'm.gguf'));
  for (const path of [join(solo, 'm.gguf'), solo]) {
    const r = await inspect(path, { threads: 0 });
    assert.is(r.kind, 'input');
    assert.is(r.layout, 'gguf');
    assert.is(r.packed, true);
    assert.is(r.config!.hidden_act, 'silu');
    const q = r.tensors.find((t) => t.name === 'blk.1.attn_q.weight')!;
    assert.is(q.dtype, 'I2_S');
    const scale = new DataView(ref.tensors.get('model.layers.1.self_attn.q_proj.weight_scale')!.bytes.buffer).getFloat32(0, true);
    assert.equal(q.ternary!.scales, [scale]);
  }
  // the folder of our own output (manifest.json beside it) is still inspected as an output
  assert.is((await inspect(ggufFile(g), { threads: 0 })).kind, 'output');
  const out = await run(g, 'bitnet-rs');
  const ok = await verify(out, g, { threads: 0 });
  assert.ok(ok.ok, ok.problems.join('; '));
  const lossyOut = await run(g, 'gguf', { ggufType: 'q2_0', allowLossy: true });
  const ok2 = await verify(lossyOut, g, { threads: 0 });
  assert.ok(ok2.ok, ok2.problems.join('; '));
  // against the GGUF of another model: the files differ
  const otherHf = fresh();
  generateCheckpoint({ outDir: otherHf, layout: 'llama-latent', shape: SHAPE, dtype: 'F16', seed: 13, untied: true });
  const other = await run(otherHf, 'gguf', { ggufType: 'i2_s', layout: 'llama-latent' });
  const bad = await verify(out, other, { threads: 0 });
  assert.not.ok(bad.ok);
  assert.match(bad.problems.join('\n'), /block_0\.bin: expected sha256/);
});

const fuzz = suite('hostile .gguf inputs');

fuzz('truncated files, flipped head bytes, huge counts and lengths, offsets out of range, unknown types: one typed line each, nothing written', async () => {
  const g = await run(hfOf('1bitllm'), 'gguf', { ggufType: 'q2_0' });
  const good = new Uint8Array(readFileSync(ggufFile(g)));
  const { tensorDataOffset } = await hfGguf(ggufFile(g), { allowLocalFile: true });
  const head = Number(tensorDataOffset);
  const rnd = mulberry32(0x6761);
  const cases: [string, Uint8Array][] = [];
  for (let i = 0; i < 12; i++) cases.push([`truncated at ${i}`, good.slice(0, Math.floor(rnd() * good.length))]);
  for (let i = 0; i < 40; i++) {
    const b = good.slice();
    const at = Math.floor(rnd() * head);
    b[at] ^= 1 << Math.floor(rnd() * 8);
    cases.push([`head byte ${at} flipped`, b]);
  }
  const set64 = (b: Uint8Array, at: number, v: bigint) => new DataView(b.buffer).setBigUint64(at, v, true);
  const huge = good.slice();
  set64(huge, 8, 1n << 40n); // tensor count
  cases.push(['a huge tensor count', huge]);
  const kvs = good.slice();
  set64(kvs, 16, 1n << 40n);
  cases.push(['a huge KV count', kvs]);
  const keyLength = good.slice();
  set64(keyLength, 24, 1n << 50n); // the first key's length
  cases.push(['a huge string length', keyLength]);
  for (const [what, bytes] of cases) {
    const dir = fresh();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'x.gguf'), bytes);
    const out = fresh();
    try {
      await convert({ inputDir: dir, outputDir: out, format: 'bitnet-rs', ...BASE } as ConvertOptions);
      // a flip may leave a valid file (a value in a float, a vocabulary string): then it converts
    } catch (e) {
      assert.instance(e, ConversionError, `${what}: ${e}`);
      assert.not.match((e as Error).message, /\n/, what);
      assert.not.ok(readdirSync(join(out, '..')).some((f) => f !== 'model'), `${what}: nothing left beside`);
      assert.not.ok(readdirSync(join(out, '..')).includes('model'), `${what}: no output`);
    }
  }
});

/** Where each tensor info's fields sit in a GGUF head (found by the name's length-prefixed bytes after the KVs). */
function tensorInfoFields(bytes: Uint8Array, names: string[]): { name: string; nDims: number; dims: number; type: number; offset: number }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const enc = new TextEncoder();
  let from = 24;
  return names.map((name) => {
    const want = enc.encode(name);
    for (let at = from; at + 8 + want.length < bytes.length; at++) {
      if (view.getBigUint64(at, true) !== BigInt(want.length) || !want.every((b, k) => bytes[at + 8 + k] === b)) continue;
      const nDims = at + 8 + want.length;
      const n = view.getUint32(nDims, true);
      const type = nDims + 4 + 8 * n;
      from = type + 12;
      return { name, nDims, dims: nDims + 4, type, offset: type + 4 };
    }
    throw new Error(`tensor info of ${name} not found`);
  });
}

fuzz('a seeded run of 300 tensor-info mutations (offsets out of range or misaligned, unknown or other types, zero, huge or missing dimensions) and mixed damage: one typed line each, nothing written, memory bounded', async () => {
  const g = await run(hfOf('1bitllm'), 'gguf', { ggufType: 'q2_0' });
  const good = new Uint8Array(readFileSync(ggufFile(g)));
  const names = parseGguf(good, 'x.gguf').tensors.map((t) => t.name);
  const fields = tensorInfoFields(good, names);
  const rnd = mulberry32(0x7475);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const baseline = process.memoryUsage().rss;
  let refused = 0;
  for (let i = 0; i < 300; i++) {
    const b = good.slice();
    const v = new DataView(b.buffer);
    const f = pick(fields);
    const notes: string[] = [];
    const steps = 1 + Math.floor(rnd() * 2);
    for (let k = 0; k < steps; k++) {
      const kind = Math.floor(rnd() * 8);
      if (kind === 0) v.setBigUint64(f.offset, pick([1n << 50n, BigInt(good.length), 0xffffffffffffffffn]), true), notes.push('offset out of range');
      else if (kind === 1) v.setBigUint64(f.offset, v.getBigUint64(f.offset, true) + BigInt(1 + Math.floor(rnd() * 31)), true), notes.push('offset misaligned');
      else if (kind === 2) v.setUint32(f.type, pick([31, 99, 1000, 0xffffffff]), true), notes.push('unknown type');
      else if (kind === 3) v.setUint32(f.type, pick([0, 1, 8, 34, 35, 36, 42]), true), notes.push('another type');
      else if (kind === 4) v.setBigUint64(f.dims, pick([0n, 1n << 40n, 3n]), true), notes.push('dimension changed');
      else if (kind === 5) v.setUint32(f.nDims, pick([0, 5, 1 << 20]), true), notes.push('dimension count changed');
      else if (kind === 6) v.setBigUint64(f.offset, v.getBigUint64(fields[(fields.indexOf(f) + 1) % fields.length]!.offset, true), true), notes.push("another tensor's offset");
      else b[Math.floor(rnd() * b.length)] ^= 1 << Math.floor(rnd() * 8), notes.push('a byte flipped');
    }
    const what = `case ${i} (${f.name}: ${notes.join(', ')})`;
    const dir = fresh();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'x.gguf'), b);
    const out = fresh();
    try {
      await convert({ inputDir: dir, outputDir: out, format: pick(['bitnet-rs', 'hf-packed', 'gguf']), ...BASE } as ConvertOptions);
    } catch (e) {
      refused++;
      assert.instance(e, ConversionError, `${what}: ${e}`);
      assert.not.match((e as Error).message, /\n/, what);
      assert.not.ok(readdirSync(join(out, '..')).length > 0, `${what}: nothing written`);
    }
    rmSync(dir, { recursive: true, force: true });
    rmSync(join(out, '..'), { recursive: true, force: true });
    assert.ok(process.memoryUsage().rss - baseline < 256 * 2 ** 20, `${what}: memory grew by ${Math.round((process.memoryUsage().rss - baseline) / 2 ** 20)} MiB`);
  }
  assert.ok(refused > 200, `not vacuous: ${refused} of 300 refused`);
});

roundTrips.run();
lossy.run();
fuzz.run();
input.run();
tools.after(() => rmSync(root, { recursive: true, force: true }));
tools.run();

// Seeded, bounded fuzzing of the GGUF reader as an input (docs/gguf.md 10), as test/fuzz.test.ts fuzzes
// the safetensors reader. Valid synthetic GGUFs of every input type (I2_S, TQ1_0, TQ2_0, Q2_0, F16
// master weights) and arch (bitnet-b1.58, bitnet, llama) are mutated by test/helpers/gguf-fuzz.ts
// (truncation at every region, flipped head bytes, huge counts and lengths, offsets out of range or
// misaligned, unknown and other types, dimensions, duplicate names, alignment, KV value types) and each
// converted in this process: it ends in one ConversionError line naming the file (and the tensor or key
// the mutation touched, where the case knows it) with nothing written and an existing output intact, or
// in an output that verifies against the mutated input. A sample runs the CLI in a child process: exit
// code 1 and one error line, or 0, and its peak memory under the 256 MiB bound.
// GGUF_FUZZ_SEED and GGUF_FUZZ_CASES override the defaults for longer local runs.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConversionError } from '../build/js/errors.js';
import { convert } from '../build/js/run/convert.js';
import { verify } from '../build/js/run/verify.js';
import { verifyManifest } from '../build/js/io/converted.js';
import { generateCheckpoint } from '../build/js/synth/generate.js';
import { FORMAT_IDS } from '../build/js/outputs/index.js';
import { makeTmpDir, removeTmpDir } from './helpers/safetensors-file.js';
import { GGUF_FUZZ_FAMILIES, ggufCase, readRawGguf, writeRawGguf, layoutOf, type GgufCase, type Layout, type RawGguf } from './helpers/gguf-fuzz.js';

const SEED = Number(process.env['GGUF_FUZZ_SEED'] ?? 0x67677566);
const COUNT = Number(process.env['GGUF_FUZZ_CASES'] ?? 2000);
const SLOW_CASE_MS = 3000;
const BOUND_MIB = 256;
const CLI = new URL('../build/js/cli/main.js', import.meta.url).pathname;
// VmHWM: the child's own peak (as test/hostile.test.ts measures it)
const PEAK_HOOK = `data:text/javascript,import{readFileSync}from'node:fs';process.on('exit',()=>{let k;try{k=/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status','utf8'))[1]}catch{k=process.resourceUsage().maxRSS}process.stderr.write('peak-rss-kib '+k+'\\n')})`;

const root = makeTmpDir('bitnet-gguf-fuzz-');
const SHAPE = { hidden_size: 256, intermediate_size: 256, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 512 };
/** The bases: every input type and arch (the arch follows from the source's activation and --gguf-arch). */
const BASE_SPECS = [
  { layout: 'hf-bitnet', type: 'i2_s' }, // bitnet-b1.58, relu2
  { layout: 'hf-bitnet', type: 'f16' }, // bitnet-b1.58, F16 master weights
  { layout: '1bitllm', type: 'tq2_0' }, // bitnet
  { layout: '1bitllm', type: 'tq1_0' }, // bitnet
  { layout: 'llama-latent', type: 'q2_0' }, // llama, untied head
  { layout: 'llama-latent', type: 'i2_s' }, // llama
  { layout: 'llama-latent', type: 'tq2_0', embd: 'q8_0' }, // llama, Q8_0 token_embd and output
  { layout: 'llama-latent', type: 'q2_0', llama3: true }, // llama, Llama 3 RoPE scaling: rope_freqs.weight
] as const;

/** Every format with its defaults, and the options that take a Q8_0 embedding as it is or rounded. */
interface Target {
  format: string;
  extra?: { ggufEmbdType?: 'q8_0'; allowLossy?: boolean };
}
const TARGETS: Target[] = [...FORMAT_IDS.map((format) => ({ format })), { format: 'gguf', extra: { ggufEmbdType: 'q8_0' } }, { format: 'bitnet-rs-safetensors', extra: { allowLossy: true } }];
const show = (t: Target) => `${t.format}${t.extra ? ` ${JSON.stringify(t.extra)}` : ''}`;

interface Base {
  raw: RawGguf;
  what: string;
  /** The formats (with options) its unmutated file converts to (the engine rules refuse the others). */
  formats: Target[];
}

async function makeBases(): Promise<Base[]> {
  const bases: Base[] = [];
  for (const [i, s] of BASE_SPECS.entries()) {
    const hf = join(root, `hf-${i}`);
    generateCheckpoint({ outDir: hf, layout: s.layout, shape: SHAPE, dtype: 'F16', seed: 20 + i, untied: s.layout === 'llama-latent' });
    if ('llama3' in s) {
      const c = JSON.parse(readFileSync(join(hf, 'config.json'), 'utf8'));
      writeFileSync(join(hf, 'config.json'), JSON.stringify({ ...c, rope_theta: 500000, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } }));
    }
    const out = join(root, `base-${i}`);
    await convert({ inputDir: hf, outputDir: out, format: 'gguf', ggufType: s.type, ...('embd' in s && { ggufEmbdType: s.embd }), threads: 0, timestamp: 0, durable: false, ...(s.layout === 'llama-latent' && { layout: 'llama-latent' }) });
    const file = join(out, readdirSync(out).find((f) => f.endsWith('.gguf'))!);
    const formats: Target[] = [];
    for (const [k, target] of TARGETS.entries()) {
      const o = join(root, `probe-${i}-${k}`);
      try {
        await convert({ inputDir: file, outputDir: o, format: target.format, ...target.extra, threads: 0, timestamp: 0, durable: false });
        formats.push(target);
      } catch (e) {
        if (!(e instanceof ConversionError)) throw e;
      }
      rmSync(o, { recursive: true, force: true });
    }
    bases.push({ raw: readRawGguf(new Uint8Array(readFileSync(file))), what: `${s.layout} -> ${s.type}`, formats });
  }
  return bases;
}

const bases = await makeBases();
const raws = bases.map((b) => b.raw);
const label = (c: GgufCase) => `seed=${c.seed} index=${c.index} base=${c.base} (${bases[c.base]!.what}) family=${c.family}: ${c.description}`;

test('gguf fuzz: the helper reads each base and writes it back byte for byte; every base converts to some formats', () => {
  for (const b of bases) {
    assert.ok(writeRawGguf(layoutOf(b.raw)).every((x, i) => x === b.raw.bytes[i]) && writeRawGguf(layoutOf(b.raw)).length === b.raw.bytes.length, b.what);
    assert.ok(b.formats.length >= 3, `${b.what}: ${b.formats.map(show)}`);
  }
  const a = ggufCase(SEED, 77, raws);
  const c = ggufCase(SEED, 77, raws);
  assert.is(a.description, c.description);
  assert.ok(a.bytes.every((x, i) => x === c.bytes[i]));
});

test(`gguf fuzz: ${COUNT} mutated .gguf inputs (seed ${SEED}) convert and verify, or are refused in one line naming the file, nothing written`, async () => {
  const failures: string[] = [];
  const families = new Map<string, { ok: number; err: number; ms: number }>();
  const baseline = process.memoryUsage().rss;
  let peakGrowth = 0;
  let slowest = 0;
  let verified = 0;
  const started = performance.now();
  for (let i = 0; i < COUNT && failures.length < 20; i++) {
    const c = ggufCase(SEED, i, raws);
    const dir = join(root, `case-${i}`);
    mkdirSync(dir);
    const input = join(dir, 'model.gguf');
    writeFileSync(input, c.bytes);
    const out = join(dir, 'out');
    // every 4th: an output already there, replaced only by a complete conversion
    const existing = i % 4 === 0;
    if (existing) {
      mkdirSync(out);
      writeFileSync(join(out, 'keep'), 'previous');
    }
    const target = bases[c.base]!.formats[i % bases[c.base]!.formats.length]!;
    const format = show(target);
    const stats = families.get(c.family) ?? { ok: 0, err: 0, ms: 0 };
    families.set(c.family, stats);
    const t0 = performance.now();
    try {
      await convert({ inputDir: input, outputDir: out, format: target.format, ...target.extra, force: existing, threads: 0, timestamp: 0, durable: false });
      stats.ok++;
      if (c.mustRefuse) failures.push(`ACCEPTED (-> ${format}) ${label(c)}`);
      verifyManifest(out);
      // an accepted mutation must give the output its input derives (every 4th: verify re-derives it)
      if (i % 4 === 1) {
        const v = await verify(out, input, { threads: 0 });
        verified++;
        if (!v.ok) failures.push(`DOES NOT VERIFY (-> ${format}: ${v.problems.slice(0, 3).join('; ')}) ${label(c)}`);
      }
    } catch (e) {
      stats.err++;
      if (!(e instanceof ConversionError)) {
        failures.push(`CRASH (-> ${format}) ${label(c)}\n    ${e instanceof Error ? e.stack : String(e)}`);
      } else {
        const msg = e.message;
        if (msg.includes('\n')) failures.push(`MESSAGE has a newline ${label(c)}`);
        if (!msg.includes(input)) failures.push(`MESSAGE does not name the file: ${msg} ${label(c)}`);
        if (c.names && !c.names.some((n) => msg.includes(n))) failures.push(`MESSAGE names none of ${c.names.join(', ')}: ${msg} ${label(c)}`);
        if (!/expected /.test(msg)) failures.push(`MESSAGE does not say what was expected: ${msg} ${label(c)}`);
      }
      const left = readdirSync(dir).filter((f) => f !== 'model.gguf' && !(existing && f === 'out'));
      if (left.length) failures.push(`WRITTEN after a refusal: ${left.join(', ')} ${label(c)}`);
      if (existing && (readdirSync(out).join() !== 'keep' || readFileSync(join(out, 'keep'), 'utf8') !== 'previous')) failures.push(`EXISTING OUTPUT changed ${label(c)}`);
    }
    const ms = performance.now() - t0;
    slowest = Math.max(slowest, ms);
    stats.ms += ms;
    if (ms > SLOW_CASE_MS) failures.push(`SLOW (${ms.toFixed(0)} ms) ${label(c)}`);
    rmSync(dir, { recursive: true, force: true });
    const growth = process.memoryUsage().rss - baseline;
    peakGrowth = Math.max(peakGrowth, growth);
    if (growth > BOUND_MIB * 2 ** 20) failures.push(`MEMORY grew by ${(growth / 2 ** 20).toFixed(0)} MiB ${label(c)}`);
  }
  const ok = [...families.values()].reduce((a, s) => a + s.ok, 0);
  const err = [...families.values()].reduce((a, s) => a + s.err, 0);
  if (process.env['FUZZ_VERBOSE']) {
    console.log(`  ${COUNT} cases in ${((performance.now() - started) / 1000).toFixed(1)} s: ${ok} converted (${verified} verified against the input), ${err} refused; slowest ${slowest.toFixed(0)} ms; rss +${(peakGrowth / 2 ** 20).toFixed(0)} MiB`);
    for (const [f, s] of families) console.log(`    ${f}: ${s.ok} converted, ${s.err} refused, ${(s.ms / 1000).toFixed(1)} s`);
  }
  if (failures.length > 0) assert.unreachable(`${failures.length} fuzz failure(s); replay one with ggufCase(seed, index, bases):\n  ${failures.join('\n  ')}`);
  if (COUNT >= 1000) {
    for (const f of GGUF_FUZZ_FAMILIES) assert.ok(families.has(f.name), `family ${f.name} never ran`);
    assert.ok(ok >= COUNT * 0.05, `only ${ok} cases converted`);
    assert.ok(err >= COUNT * 0.5, `only ${err} cases refused`);
  }
});

test('gguf fuzz: a sample through the CLI in a child process: exit 1 with one error line naming the file, or 0; peak memory under the bound', () => {
  const count = Math.max(6, Math.floor(COUNT / 100));
  const failures: string[] = [];
  let peak = 0;
  for (let k = 0; k < count; k++) {
    const c = ggufCase(SEED ^ 0x5ca1e, k, raws);
    const dir = join(root, `cli-${k}`);
    mkdirSync(dir);
    const input = join(dir, 'model.gguf');
    writeFileSync(input, c.bytes);
    const out = join(dir, 'out');
    const target = bases[c.base]!.formats[k % bases[c.base]!.formats.length]!;
    const flags = [...(target.extra?.ggufEmbdType ? ['--gguf-embd-type', target.extra.ggufEmbdType] : []), ...(target.extra?.allowLossy ? ['--allow-lossy'] : [])];
    const r = spawnSync(process.execPath, ['--import', PEAK_HOOK, CLI, '--input-dir', input, '--output-dir', out, '--format', target.format, ...flags], { encoding: 'utf8', maxBuffer: 1 << 24 });
    const peaks = [...r.stderr.matchAll(/peak-rss-kib (\d+)/g)].map((m) => Number(m[1]) / 1024);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
    const mib = Math.max(...peaks);
    peak = Math.max(peak, mib);
    if (!(mib < BOUND_MIB)) failures.push(`PEAK ${mib.toFixed(0)} MiB ${label(c)}`);
    if (r.status === 0) {
      if (c.mustRefuse) failures.push(`ACCEPTED ${label(c)}`);
      if (errors.length) failures.push(`exit 0 with errors ${errors.join(' | ')} ${label(c)}`);
    } else {
      if (r.status !== 1) failures.push(`EXIT ${r.status} ${label(c)}: ${r.stderr.slice(0, 400)}`);
      if (errors.length !== 1 || !errors[0]!.includes(input)) failures.push(`ERROR LINES ${JSON.stringify(errors)} ${label(c)}`);
      if (existsSync(out) || readdirSync(dir).length !== 1) failures.push(`WRITTEN ${readdirSync(dir).join(', ')} ${label(c)}`);
    }
    rmSync(dir, { recursive: true, force: true });
  }
  if (process.env['FUZZ_VERBOSE']) console.log(`  ${count} CLI cases, peak ${peak.toFixed(0)} MiB`);
  if (failures.length) assert.unreachable(failures.join('\n  '));
});

/** A base (by index) edited through its parts: refused in one line matching every pattern, nothing written. */
async function refusedEdit(base: number, what: string, edit: (l: Layout) => void, patterns: RegExp[], target = bases[base]!.formats[0]!): Promise<void> {
  const l = layoutOf(raws[base]!);
  edit(l);
  const dir = join(root, `regression-${what.replace(/\W+/g, '-')}`);
  mkdirSync(dir);
  const input = join(dir, 'model.gguf');
  writeFileSync(input, writeRawGguf(l));
  const out = join(dir, 'out');
  try {
    await convert({ inputDir: input, outputDir: out, format: target.format, ...target.extra, threads: 0, timestamp: 0, durable: false });
    assert.unreachable(`${what}: converted`);
  } catch (e) {
    assert.instance(e, ConversionError, `${what}: ${e}`);
    const msg = (e as Error).message;
    assert.ok(msg.startsWith(`${input}: `) && !msg.includes('\n'), `${what}: ${msg}`);
    for (const p of patterns) assert.match(msg, p, `${what}: ${msg}`);
    assert.equal(readdirSync(dir), ['model.gguf'], `${what}: nothing written`);
  }
  rmSync(dir, { recursive: true, force: true });
}

const kvAt = (l: Layout, key: string) => l.kvs.findIndex((k) => k.key === key);
const u32Value = (x: number) => new Uint8Array(new Uint32Array([x]).buffer);
const u16Value = (x: number) => new Uint8Array(new Uint16Array([x]).buffer);

test('gguf fuzz regressions: each defect the fuzzer found, refused in one line naming the file and the key or tensor', async () => {
  // a key twice was read as its last value (ggml refuses it)
  await refusedEdit(5, 'key twice', (l) => l.kvs.push({ key: 'llama.vocab_size', type: 4, value: u32Value(7) }), [/each key once \(key llama\.vocab_size\)/]);
  // a tensor's offset at another tensor's data was read as that data
  await refusedEdit(3, 'offset of another tensor', (l) => {
    l.keepOffsets = true;
    const up = l.infos.find((t) => t.name === 'blk.0.ffn_up.weight')!;
    let rel = 0n;
    for (const t of l.infos) {
      t.offset = rel;
      rel += BigInt(Math.ceil(t.data.length / 32) * 32);
    }
    up.offset = l.infos.find((t) => t.name === 'blk.0.attn_output.weight')!.offset;
  }, [/tensor blk\.0\.ffn_up\.weight/, /its data at offset \d+ \(after blk\.0\.\w+\.weight, \d+ bytes/]);
  // general.alignment of a type ggml does not read (a u16) was ignored and the data read at 32
  await refusedEdit(0, 'alignment u16', (l) => {
    l.kvs.push({ key: 'general.alignment', type: 2, value: u16Value(64) });
    if (kvAt(l, 'general.alignment') !== l.kvs.length - 1) l.kvs.splice(kvAt(l, 'general.alignment'), 1);
    l.alignment = 64;
  }, [/a u32 \(value type 4\) \(key general\.alignment\), found value type 2/]);
  await refusedEdit(4, 'alignment not a power of 2', (l) => {
    l.kvs[kvAt(l, 'general.alignment')] = { key: 'general.alignment', type: 4, value: u32Value(0xffffffff) };
  }, [/expected a power of 2 \(key general\.alignment\), found 4294967295/]);
  // a key of another type was read as absent (an array head_count_kv became the head count)
  await refusedEdit(4, 'head_count_kv an array', (l) => {
    const value = new Uint8Array(12 + 4);
    new DataView(value.buffer).setUint32(0, 4, true);
    new DataView(value.buffer).setBigUint64(4, 1n, true);
    l.kvs[kvAt(l, 'llama.attention.head_count_kv')] = { key: 'llama.attention.head_count_kv', type: 9, value };
  }, [/llama\.attention\.head_count_kv, a number, found an array/]);
  await refusedEdit(2, 'bos id a string', (l) => {
    const value = new Uint8Array(9);
    value[0] = 1;
    value[8] = 0x31;
    l.kvs[kvAt(l, 'tokenizer.ggml.bos_token_id')] = { key: 'tokenizer.ggml.bos_token_id', type: 8, value };
  }, [/tokenizer\.ggml\.bos_token_id, a number, found "1"/]);
  // head errors named neither the key nor the tensor they were in
  await refusedEdit(1, 'unknown value type', (l) => (l.kvs[kvAt(l, 'tokenizer.ggml.eos_token_id')]!.type = 100), [/value type 0\.\.12 \(key tokenizer\.ggml\.eos_token_id\), found 100/]);
  await refusedEdit(1, 'huge string length', (l) => {
    const kv = l.kvs[kvAt(l, 'tokenizer.ggml.pre')]!;
    kv.value = kv.value.slice();
    new DataView(kv.value.buffer).setBigUint64(0, 1n << 52n, true);
  }, [/a string that fits the file \(\d+ bytes left\) \(key tokenizer\.ggml\.pre\), found a length of 4503599627370496 bytes/]);
  await refusedEdit(2, 'huge dimension', (l) => (l.infos.find((t) => t.name === 'blk.0.attn_v.weight')!.ne[0] = 0xffffffffffffffffn), [/tensor blk\.0\.attn_v\.weight: corrupt file: expected a count or offset below 2\^53/]);
  await refusedEdit(2, 'values past 2^53', (l) => (l.infos.find((t) => t.name === 'blk.0.attn_v.weight')!.ne = [1n << 30n, 1n << 30n]), [/tensor blk\.0\.attn_v\.weight: corrupt file: expected at most 2\^53 values/]);
  // a row length no block divides: ggmlTensorBytes' refusal named no file
  await refusedEdit(2, 'row length', (l) => {
    l.keepOffsets = true;
    l.infos.find((t) => t.name === 'blk.0.attn_v.weight')!.ne = [128n, 256n];
  }, [/tensor blk\.0\.attn_v\.weight: corrupt file: expected a row length that is a multiple of 256 for TQ2_0/]);
  await refusedEdit(3, 'another architecture', (l) => {
    const value = new Uint8Array(10);
    value[0] = 2;
    value.set([0x34, 0x32], 8);
    l.kvs[kvAt(l, 'general.architecture')] = { key: 'general.architecture', type: 8, value };
  }, [/expected general\.architecture bitnet-b1\.58, bitnet-25, bitnet, llama, found "42"/]);
  // BF16 master weights whose scale fp16 cannot hold, into a GGUF's blocks: the refusal named no file
  await refusedEdit(4, 'scale past fp16', (l) => {
    const q = l.infos.find((t) => t.name === 'blk.0.attn_q.weight')!;
    q.type = 30;
    q.data = new Uint8Array(Number(q.ne[0] * q.ne[1]) * 2).map((_, i) => (i % 2 ? 0x49 : 0x74)); // about 1e6 each
  }, [/tensor blk\.0\.attn_q\.weight: unsupported: expected a scale fp16 holds/], { format: 'gguf' });
});

test.after(() => removeTmpDir(root));
test.run();

// Seeded, bounded fuzzing of the safetensors reader and of the tokenizer files (tokenizer.json,
// tokenizer.model) read for GGUF vocabularies. Every mutated file must end in a typed error (a
// ConversionError naming the file) or a correct result; never another exception.
// FUZZ_SEED and FUZZ_CASES override the defaults for longer local runs.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConversionError } from '../build/js/errors.js';
import { DTYPE_SIZE, parseHeader, readHeaderLength, type SafetensorsHeader } from '../build/js/formats/safetensors.js';
import { openCheckpoint, readSafetensorsHeader } from '../build/js/io/checkpoint.js';
import { convert } from '../build/js/run/convert.js';
import { verifyManifest } from '../build/js/io/converted.js';
import { generateCheckpoint } from '../build/js/synth/generate.js';
import { FORMAT_IDS } from '../build/js/outputs/index.js';
import type { DType } from '../build/js/formats/safetensors.js';
import { readSafetensors, type RawTensor } from './helpers/read-safetensors.js';
import { writeSafetensors } from './helpers/safetensors-file.js';
import { mulberry32, readConvertedModel } from './helpers/common.js';
import { FUZZ_FAMILIES, fuzzCase, fuzzCases, referenceVerdict, syntheticBases, type FuzzCase } from './helpers/safetensors-fuzz.js';
import { makeTmpDir, removeTmpDir, TINY_CONFIG, writeConfig } from './helpers/safetensors-file.js';
import { ggufVocab, MAX_MERGES } from '../build/js/outputs/gguf/vocab.js';
import { parseModelConfig } from '../build/js/model/config.js';
import { tokenizerFiles } from '../build/js/synth/tokenizer.js';
import type { GgufKv } from '../build/js/formats/gguf.js';
import { bpeCase, spmCase, spmReference, type TokenizerCase } from './helpers/tokenizer-fuzz.js';
import { kvValue } from './helpers/gguf-literal.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 0x5afe7e45);
const COUNT = Number(process.env['FUZZ_CASES'] ?? 2000);
const SLOW_CASE_MS = 2000;

const golden = new Uint8Array(fs.readFileSync(fileURLToPath(new URL('./fixtures/golden-tiny/model.safetensors', import.meta.url))));
const BASES = [...syntheticBases(), golden];

type Outcome = { ok: true; header: SafetensorsHeader } | { ok: false; error: ConversionError };

function parseInMemory(bytes: Uint8Array, file: string): SafetensorsHeader {
  const n = readHeaderLength(bytes.subarray(0, 8), bytes.length, file);
  return parseHeader(bytes.subarray(8, 8 + n), n, bytes.length, file);
}

/** Runs fn; a ConversionError is an outcome, anything else is a crash (rethrown). */
function outcome(fn: () => SafetensorsHeader): Outcome {
  try {
    return { ok: true, header: fn() };
  } catch (e) {
    if (e instanceof ConversionError) return { ok: false, error: e };
    throw e;
  }
}

/** Internal consistency of a parse result against the bytes it came from. Returns a problem or ''. */
function checkConsistent(h: SafetensorsHeader, bytes: Uint8Array, file: string): string {
  if (h.file !== file) return `file ${h.file}`;
  if (h.fileSize !== bytes.length) return `fileSize ${h.fileSize} != ${bytes.length}`;
  if (h.dataStart !== 8 + h.headerLength) return 'dataStart';
  if (Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true)) !== h.headerLength) return 'headerLength';
  let prevEnd = h.dataStart;
  let prevOffset = -1;
  let covered = 0;
  for (const t of h.tensors) {
    if (t.file !== file) return `${t.name}: file`;
    if (!(t.dtype in DTYPE_SIZE)) return `${t.name}: dtype`;
    if (t.storedShape.length > 2) return `${t.name}: rank ${t.storedShape.length} not skipped`;
    const elements = t.storedShape.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(elements) || elements !== t.elements) return `${t.name}: elements`;
    if (t.byteLength !== t.elements * DTYPE_SIZE[t.dtype]) return `${t.name}: byteLength`;
    const promoted = t.storedShape.length === 2 ? t.storedShape : t.storedShape.length === 1 ? [1, t.storedShape[0]] : [1, 1];
    if (t.shape.length !== 2 || t.shape[0] !== promoted[0] || t.shape[1] !== promoted[1]) return `${t.name}: shape ${t.shape}`;
    if (t.offset < h.dataStart || t.offset + t.byteLength > bytes.length) return `${t.name}: out of range`;
    if (t.offset < prevOffset) return `${t.name}: not in file order`;
    if (t.byteLength > 0 && t.offset < prevEnd) return `${t.name}: overlaps`;
    if (t.byteLength > 0) prevEnd = t.offset + t.byteLength;
    prevOffset = t.offset;
    covered += t.byteLength;
  }
  if (covered > bytes.length - h.dataStart) return 'tensors hold more bytes than the data section';
  for (const s of h.skipped) if (s.shape.length < 3) return `${s.name}: skipped with rank ${s.shape.length}`;
  for (const v of Object.values(h.metadata)) if (typeof v !== 'string') return 'metadata value';
  return '';
}

function label(c: FuzzCase): string {
  return `seed=${c.seed} index=${c.index} base=${c.base} family=${c.family}: ${c.description}`;
}

test(`fuzz: ${COUNT} mutated safetensors files (seed ${SEED})`, () => {
  const failures: string[] = [];
  const families = new Map<string, { ok: number; err: number }>();
  const dir = makeTmpDir('bitnet-fuzz-');
  let slowest = 0;
  try {
    writeConfig(dir, TINY_CONFIG);
    for (const c of fuzzCases({ seed: SEED, count: COUNT, bases: BASES })) {
      const file = `fuzz-${c.index}.safetensors`;
      const start = performance.now();
      let result: Outcome;
      try {
        result = outcome(() => parseInMemory(c.bytes, file));
      } catch (e) {
        failures.push(`CRASH ${label(c)}\n    ${e instanceof Error ? e.stack : String(e)}`);
        continue;
      }
      const ms = performance.now() - start;
      slowest = Math.max(slowest, ms);
      if (ms > SLOW_CASE_MS) failures.push(`SLOW (${ms.toFixed(0)} ms) ${label(c)}`);

      const stats = families.get(c.family) ?? { ok: 0, err: 0 };
      families.set(c.family, stats);
      const oracle = referenceVerdict(c.bytes);
      if (result.ok) {
        stats.ok++;
        const problem = checkConsistent(result.header, c.bytes, file);
        if (problem) failures.push(`INCONSISTENT (${problem}) ${label(c)}`);
        if (!oracle.ok) failures.push(`ACCEPTED an invalid file (oracle: ${oracle.reason}) ${label(c)}`);
        else if (oracle.tensors !== result.header.tensors.length + result.header.skipped.length) {
          failures.push(`TENSOR COUNT ${result.header.tensors.length}+${result.header.skipped.length} != ${oracle.tensors} ${label(c)}`);
        }
      } else {
        stats.err++;
        if (!result.error.message.includes(file)) failures.push(`MESSAGE does not name the file: ${result.error.message} ${label(c)}`);
        if (result.error.message.includes('\n')) failures.push(`MESSAGE has a newline ${label(c)}`);
        if (oracle.ok) failures.push(`REJECTED a valid file (${result.error.message}) ${label(c)}`);
      }

      // Some cases also go through the file readers, which must agree with the in-memory parse.
      if (c.index % 10 === 0) {
        const onDisk = path.join(dir, 'model.safetensors');
        fs.writeFileSync(onDisk, c.bytes);
        for (const [how, run] of [
          ['readSafetensorsHeader', () => readSafetensorsHeader(onDisk)],
          ['openCheckpoint', () => openCheckpoint(dir).files[0]!],
        ] as const) {
          let disk: Outcome;
          try {
            disk = outcome(run);
          } catch (e) {
            failures.push(`CRASH in ${how} ${label(c)}\n    ${e instanceof Error ? e.stack : String(e)}`);
            continue;
          }
          if (disk.ok !== result.ok) {
            failures.push(`${how} disagrees (${disk.ok ? 'accepted' : disk.error.message}) ${label(c)}`);
          } else if (!disk.ok && !result.ok) {
            if (disk.error.constructor !== result.error.constructor) failures.push(`${how}: ${disk.error.name} vs ${result.error.name} ${label(c)}`);
            if (!disk.error.message.includes(onDisk)) failures.push(`${how}: message does not name ${onDisk}: ${disk.error.message}`);
          }
        }
      }
      if (failures.length >= 20) break;
    }
  } finally {
    removeTmpDir(dir);
  }
  if (failures.length > 0) {
    assert.unreachable(`${failures.length} fuzz failure(s); replay one with fuzzCase(seed, index, bases):\n  ${failures.join('\n  ')}`);
  }
  // The fuzzing is not vacuous: every family ran, and both outcomes are common.
  if (COUNT >= 1000) {
    for (const f of FUZZ_FAMILIES) assert.ok(families.has(f.name), `family ${f.name} never ran`);
    const ok = [...families.values()].reduce((a, s) => a + s.ok, 0);
    const err = [...families.values()].reduce((a, s) => a + s.err, 0);
    assert.ok(ok >= COUNT * 0.05, `only ${ok} cases parsed`);
    assert.ok(err >= COUNT * 0.5, `only ${err} cases were rejected`);
  }
  assert.ok(slowest < SLOW_CASE_MS);
});

test('fuzz: cases are reproducible from (seed, index)', () => {
  const a = fuzzCase(SEED, 123, BASES);
  const b = fuzzCase(SEED, 123, BASES);
  assert.is(a.description, b.description);
  assert.equal([...a.bytes], [...b.bytes]);
  const list = [...fuzzCases({ seed: SEED, count: 3, bases: BASES })];
  assert.is(list[2]!.description, fuzzCase(SEED, 2, BASES).description);
});

test('fuzz: the oracle accepts every base file and the parser agrees', () => {
  BASES.forEach((b, i) => {
    const v = referenceVerdict(b);
    assert.ok(v.ok, `base ${i}`);
    const h = parseInMemory(b, `base-${i}`);
    assert.is(checkConsistent(h, b, `base-${i}`), '');
  });
});

test('fuzz: mutated golden models convert completely or fail cleanly, never half-written', async () => {
  const count = Math.max(20, Math.floor(COUNT / 10));
  const dir = makeTmpDir('bitnet-fuzz-convert-');
  const failures: string[] = [];
  let converted = 0;
  let refused = 0;
  try {
    fs.copyFileSync(fileURLToPath(new URL('./fixtures/golden-tiny/config.json', import.meta.url)), path.join(dir, 'config.json'));
    for (const c of fuzzCases({ seed: SEED ^ 0x9e3779b9, count, bases: [golden] })) {
      fs.writeFileSync(path.join(dir, 'model.safetensors'), c.bytes);
      const out = path.join(dir, `out-${c.index}`);
      try {
        await convert({ inputDir: dir, outputDir: out, threads: 0, timestamp: 0 });
        readConvertedModel(out); // a conversion that succeeds must decode completely
        converted++;
      } catch (e) {
        if (!(e instanceof ConversionError)) failures.push(`CRASH ${label(c)}\n    ${e instanceof Error ? e.stack : String(e)}`);
        else if (e.message.includes('\n')) failures.push(`MESSAGE has a newline ${label(c)}`);
        if (fs.existsSync(out)) failures.push(`PARTIAL OUTPUT after ${String(e)} ${label(c)}`);
        refused++;
      }
      const leftovers = fs.readdirSync(dir).filter((f) => f.includes('.partial-') || f.endsWith('.lock'));
      if (leftovers.length) failures.push(`LEFTOVERS ${leftovers.join(', ')} ${label(c)}`);
      if (failures.length >= 10) break;
    }
  } finally {
    removeTmpDir(dir);
  }
  if (failures.length > 0) assert.unreachable(`${failures.length} failure(s):\n  ${failures.join('\n  ')}`);
  assert.ok(converted > 0 && refused > 0, `not vacuous: ${converted} converted, ${refused} refused`);
});

/** One seeded mutation of a packed checkpoint: its tensors, its config, or its container bytes. */
type PackedMutation = (t: Map<string, RawTensor>, config: Record<string, unknown>, rnd: () => number) => string;

const pick = <T>(xs: readonly T[], rnd: () => number): T => xs[Math.floor(rnd() * xs.length)]!;

const PACKED_MUTATIONS: Record<string, PackedMutation> = {
  'flip bits of packed codes'(t, _c, rnd) {
    const name = pick([...t.keys()].filter((n) => t.get(n)!.dtype === 'U8'), rnd);
    const b = t.get(name)!.bytes;
    for (let k = 0; k < 1 + Math.floor(rnd() * 4); k++) b[Math.floor(rnd() * b.length)] ^= 1 << Math.floor(rnd() * 8);
    return name;
  },
  'random scale bits'(t, _c, rnd) {
    const name = pick([...t.keys()].filter((n) => n.endsWith('_scale')), rnd);
    t.get(name)!.bytes.set([Math.floor(rnd() * 256), Math.floor(rnd() * 256)]);
    return name;
  },
  'scale of another dtype or shape'(t, _c, rnd) {
    const name = pick([...t.keys()].filter((n) => n.endsWith('_scale')), rnd);
    const dtype = pick(['BF16', 'F16', 'F32', 'U8', 'I32'] as const, rnd);
    const shape = pick([[1], [], [2], [1, 1], [4]], rnd);
    const size = { BF16: 2, F16: 2, F32: 4, U8: 1, I32: 4 }[dtype] * shape.reduce((a, b) => a * b, 1);
    const bytes = new Uint8Array(size);
    if (dtype === 'F32' && size >= 4) new DataView(bytes.buffer).setFloat32(0, 0.02, true);
    if ((dtype === 'BF16' || dtype === 'F16') && size >= 2) bytes.set(dtype === 'BF16' ? [0xa4, 0x3c] : [0x1e, 0x25]);
    t.set(name, { dtype, shape, bytes });
    return `${name} as ${dtype} [${shape}]`;
  },
  'a tensor missing'(t, _c, rnd) {
    const name = pick([...t.keys()], rnd);
    t.delete(name);
    return name;
  },
  'packed tensor reshaped'(t, _c, rnd) {
    const name = pick([...t.keys()].filter((n) => t.get(n)!.dtype === 'U8'), rnd);
    const x = t.get(name)!;
    t.set(name, { ...x, shape: [x.shape[1]!, x.shape[0]!] });
    return name;
  },
  'quantization_config changed'(_t, c, rnd) {
    const q = pick([undefined, 'bitnet', { quant_method: 'gptq' }, { quant_method: 'bitnet', quantization_mode: 'online' }, { quant_method: 'bitnet', linear_class: 'x' }, { quant_method: 'bitnet', linear_class: 'bitlinear' }, { quant_method: 'bitnet' }], rnd);
    c.quantization_config = q;
    return JSON.stringify(q) ?? 'removed';
  },
};

test('fuzz: mutated packed checkpoints convert to every format completely or fail cleanly', async () => {
  const dir = makeTmpDir('bitnet-fuzz-packed-');
  const base = path.join(dir, 'base');
  generateCheckpoint({ outDir: base, layout: 'packed', preset: 'tiny', seed: 9 });
  const baseTensors = readSafetensors(path.join(base, 'model.safetensors'));
  const baseConfig = JSON.parse(fs.readFileSync(path.join(base, 'config.json'), 'utf8')) as Record<string, unknown>;
  const rnd = mulberry32(SEED ^ 0x51ed);
  const count = Math.max(24, Math.floor(COUNT / 16));
  const failures: string[] = [];
  const seen = new Map<string, { converted: number; refused: number }>();
  try {
    for (let i = 0; i < count && failures.length < 10; i++) {
      const kind = pick(Object.keys(PACKED_MUTATIONS), rnd);
      const tensors = new Map([...baseTensors].map(([k, v]) => [k, { ...v, bytes: v.bytes.slice() }]));
      const config = structuredClone(baseConfig);
      const what = PACKED_MUTATIONS[kind]!(tensors, config, rnd);
      const input = path.join(dir, `in-${i}`);
      fs.mkdirSync(input);
      writeSafetensors(path.join(input, 'model.safetensors'), [...tensors].map(([name, t]) => ({ name, dtype: t.dtype as DType, shape: t.shape, data: t.bytes })));
      fs.writeFileSync(path.join(input, 'config.json'), JSON.stringify(config));
      const format = pick(FORMAT_IDS, rnd);
      const out = path.join(dir, `out-${i}`);
      const label = `#${i} ${kind}: ${what} -> ${format}`;
      const stats = seen.get(kind) ?? { converted: 0, refused: 0 };
      seen.set(kind, stats);
      try {
        await convert({ inputDir: input, outputDir: out, format, threads: 0, timestamp: 0 });
        verifyManifest(out);
        if (format === 'bitnet-rs') readConvertedModel(out);
        stats.converted++;
      } catch (e) {
        if (!(e instanceof ConversionError)) failures.push(`CRASH ${label}\n    ${e instanceof Error ? e.stack : String(e)}`);
        else if (e.message.includes('\n')) failures.push(`MESSAGE has a newline ${label}`);
        if (fs.existsSync(out)) failures.push(`PARTIAL OUTPUT after ${String(e)} ${label}`);
        stats.refused++;
      }
      const leftovers = fs.readdirSync(dir).filter((f) => f.includes('.partial-') || f.endsWith('.lock'));
      if (leftovers.length) failures.push(`LEFTOVERS ${leftovers.join(', ')} ${label}`);
      fs.rmSync(input, { recursive: true, force: true });
      fs.rmSync(out, { recursive: true, force: true });
    }
  } finally {
    removeTmpDir(dir);
  }
  if (failures.length > 0) assert.unreachable(`${failures.length} failure(s):\n  ${failures.join('\n  ')}`);
  const refused = [...seen.values()].reduce((a, s) => a + s.refused, 0);
  const converted = [...seen.values()].reduce((a, s) => a + s.converted, 0);
  assert.ok(refused > 0 && converted > 0, `not vacuous: ${converted} converted, ${refused} refused`);
});

// ---- tokenizer files

const TOKENIZER_VOCAB = 512;
const SPM_VOCAB = 1024;

/** Runs the GGUF vocabulary over one tokenizer file; a ConversionError is an outcome, anything else a crash (rethrown). */
function vocabOutcome(name: string, bytes: Uint8Array, vocab: number): { ok: true; kvs: Map<string, GgufKv['v']['value']> } | { ok: false; error: ConversionError } {
  const input = { readSide: (n: string) => (n === name ? bytes : undefined) };
  const config = parseModelConfig({ hidden_size: 64, intermediate_size: 160, num_hidden_layers: 1, num_attention_heads: 4, vocab_size: vocab }, 'config.json');
  try {
    return { ok: true, kvs: new Map(ggufVocab(input, config).map((k) => [k.key, kvValue(k.v) as GgufKv['v']['value']])) };
  } catch (e) {
    if (e instanceof ConversionError) return { ok: false, error: e };
    throw e;
  }
}

/**
 * The cases of one tokenizer file: each ends in a typed one-line error naming the file or a vocabulary
 * matching the reference reading, and agrees with the reference verdict; every 40th is also converted
 * to a GGUF (complete, or refused with nothing written).
 */
async function fuzzTokenizer(name: string, vocab: number, layout: 'master' | '1bitllm', cases: Iterable<TokenizerCase>, consistent: (c: TokenizerCase, kvs: Map<string, unknown>) => string) {
  const failures: string[] = [];
  const families = new Map<string, { ok: number; err: number }>();
  const dir = makeTmpDir('bitnet-fuzz-tok-');
  const model = path.join(dir, 'model');
  generateCheckpoint({ outDir: model, layout, shape: { hidden_size: 64, intermediate_size: 160, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: vocab } });
  for (const f of ['tokenizer.json', 'tokenizer.model', 'added_tokens.json']) fs.rmSync(path.join(model, f), { force: true });
  let slowest = 0;
  let converted = 0;
  let count = 0;
  const started = performance.now();
  try {
    for (const c of cases) {
      count++;
      const label = `seed=${SEED} index=${c.index} family=${c.family}: ${c.description}`;
      const t0 = performance.now();
      let result: ReturnType<typeof vocabOutcome>;
      try {
        result = vocabOutcome(name, c.bytes, vocab);
      } catch (e) {
        failures.push(`CRASH ${label}\n    ${e instanceof Error ? e.stack : String(e)}`);
        continue;
      }
      const ms = performance.now() - t0;
      slowest = Math.max(slowest, ms);
      if (ms > SLOW_CASE_MS) failures.push(`SLOW (${ms.toFixed(0)} ms) ${label}`);
      const stats = families.get(c.family) ?? { ok: 0, err: 0 };
      families.set(c.family, stats);
      if (result.ok) {
        stats.ok++;
        if (!c.verdict.ok) failures.push(`ACCEPTED an invalid file (reference: ${c.verdict.reason}) ${label}`);
        else {
          const problem = consistent(c, result.kvs);
          if (problem) failures.push(`INCONSISTENT (${problem}) ${label}`);
        }
      } else {
        stats.err++;
        const msg = result.error.message;
        if (!msg.startsWith(`${name}: `) && !msg.startsWith('config.json: ')) failures.push(`MESSAGE does not start with the file: ${msg} ${label}`);
        if (msg.includes('\n')) failures.push(`MESSAGE has a newline ${label}`);
        if (c.verdict.ok && !c.hidden?.test(msg)) failures.push(`REJECTED a valid file (${msg}) ${label}`);
      }
      if (c.index % 40 === 0) {
        fs.writeFileSync(path.join(model, name), c.bytes);
        const out = path.join(dir, `out-${c.index}`);
        try {
          await convert({ inputDir: model, outputDir: out, format: 'gguf', ggufType: 'f16', threads: 0, timestamp: 0 });
          if (!result.ok) failures.push(`CONVERTED what the vocabulary refused ${label}`);
          if (!fs.readdirSync(out).some((f) => f.endsWith('.gguf'))) failures.push(`NO GGUF written ${label}`);
          converted++;
        } catch (e) {
          if (!(e instanceof ConversionError)) failures.push(`CRASH in convert ${label}\n    ${e instanceof Error ? e.stack : String(e)}`);
          else if (result.ok) failures.push(`REFUSED in convert (${e.message}) what the vocabulary accepted ${label}`);
          if (fs.existsSync(out)) failures.push(`PARTIAL OUTPUT after ${String(e)} ${label}`);
        }
        fs.rmSync(out, { recursive: true, force: true });
        const leftovers = fs.readdirSync(dir).filter((f) => f.includes('.partial-') || f.endsWith('.lock'));
        if (leftovers.length) failures.push(`LEFTOVERS ${leftovers.join(', ')} ${label}`);
      }
      if (failures.length >= 20) break;
    }
  } finally {
    removeTmpDir(dir);
  }
  if (failures.length > 0) assert.unreachable(`${failures.length} fuzz failure(s); replay one by its index:\n  ${failures.join('\n  ')}`);
  const ok = [...families.values()].reduce((a, s) => a + s.ok, 0);
  const err = [...families.values()].reduce((a, s) => a + s.err, 0);
  if (process.env['FUZZ_VERBOSE']) console.log(`  ${name}: ${count} cases in ${((performance.now() - started) / 1000).toFixed(1)} s (${ok} accepted, ${err} refused, ${converted} converted; slowest ${slowest.toFixed(0)} ms)`);
  if (count >= 1000) {
    assert.ok(ok >= count * 0.05, `only ${ok} cases accepted`);
    assert.ok(err >= count * 0.3, `only ${err} cases refused`);
    assert.ok(converted > 0, 'some conversions succeed');
  }
}

test(`fuzz: ${COUNT} mutated tokenizer.json files (seed ${SEED})`, async () => {
  const text = JSON.stringify(JSON.parse(tokenizerFiles('hf-bitnet', TOKENIZER_VOCAB).get('tokenizer.json') as string)) ;
  const t = JSON.parse(text) as { model: Record<string, unknown> & { merges: string[] } };
  const pairs = JSON.stringify({ ...t, model: { ...t.model, merges: t.model.merges.map((m) => m.split(' ')) } });
  // merges before the vocabulary and no continuing_subword_prefix: checked after the walk
  const { vocab: v, merges: m, continuing_subword_prefix: _p, ...rest } = t.model;
  const reordered = JSON.stringify({ ...t, model: { ...rest, merges: m, vocab: v } });
  const bases = [text, pairs, reordered];
  const maxMerges = Math.min(MAX_MERGES, 4 * TOKENIZER_VOCAB);
  function* cases() {
    for (let i = 0; i < COUNT; i++) yield bpeCase(SEED, i, bases, TOKENIZER_VOCAB, maxMerges);
  }
  await fuzzTokenizer('tokenizer.json', TOKENIZER_VOCAB, 'master', cases(), (c, kvs) => {
    const j = JSON.parse(new TextDecoder().decode(c.bytes)) as { model: { vocab: Record<string, number>; merges?: (string | string[])[] } };
    const tokens = kvs.get('tokenizer.ggml.tokens') as string[];
    const merges = kvs.get('tokenizer.ggml.merges') as string[];
    if (tokens.length !== TOKENIZER_VOCAB) return `${tokens.length} tokens`;
    for (const [text, id] of Object.entries(j.model.vocab)) if (tokens[id] !== text) return `token ${id}`;
    const want = (j.model.merges ?? []).map((x) => (Array.isArray(x) ? x.join(' ') : x));
    if (merges.length !== want.length || merges.some((x, i) => x !== want[i])) return 'merges';
    return '';
  });
});

test(`fuzz: ${COUNT} mutated tokenizer.model files (seed ${SEED})`, async () => {
  function* cases() {
    for (let i = 0; i < COUNT; i++) yield spmCase(SEED, i, 600, SPM_VOCAB);
  }
  await fuzzTokenizer('tokenizer.model', SPM_VOCAB, '1bitllm', cases(), (c, kvs) => {
    const ref = spmReference(c.bytes, SPM_VOCAB);
    if (!ref.ok) return 'reference refused';
    const tokens = kvs.get('tokenizer.ggml.tokens') as string[];
    const scores = kvs.get('tokenizer.ggml.scores') as number[];
    const types = kvs.get('tokenizer.ggml.token_type') as number[];
    if (tokens.length !== SPM_VOCAB || scores.length !== SPM_VOCAB || types.length !== SPM_VOCAB) return 'lengths';
    for (const [i, p] of ref.pieces.entries()) {
      if (tokens[i] !== p.piece) return `piece ${i}`;
      if (!Object.is(scores[i], p.score)) return `score ${i}`;
      if (types[i] !== p.type) return `type ${i}`;
    }
    return '';
  });
});

test.run();

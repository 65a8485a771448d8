// Hostile inputs inside the documented limits (issue 17): each is refused with one line, or converts,
// with the CLI's peak memory under its 256 MiB bound. The CLI runs in a child process with an exit hook
// that prints the process's peak resident memory (worker threads included, as in scripts/bench.mjs).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_HEADER_BYTES, MAX_TENSORS } from '../build/js/formats/safetensors.js';
import { GgufHeadTruncated, layoutGguf, kv, MAX_GGUF_ARRAY_ITEMS, MAX_GGUF_HEAD_BYTES, MAX_GGUF_KVS, MAX_GGUF_TENSORS, parseGguf } from '../build/js/formats/gguf.js';
import { CorruptFileError, InvalidConfigError, UnsupportedError } from '../build/js/errors.js';
import { MAX_MERGES, MAX_SIDE_JSON_BYTES, MAX_TOKENIZER_JSON_BYTES, MAX_TOKENIZER_MODEL_BYTES, MAX_VOCAB, ggufVocab } from '../build/js/outputs/gguf/vocab.js';
import { parseModelConfig } from '../build/js/model/config.js';
import { tokenizerFiles } from '../build/js/synth/tokenizer.js';
import { spmBytes, spmPieces } from './helpers/tokenizer-fuzz.js';
import { MAX_CONFIG_BYTES, MAX_INDEX_BYTES } from '../build/js/model/checkpoint.js';
import { generateCheckpoint } from '../build/js/synth/generate.js';
import { makeTmpDir } from './helpers/safetensors-file.js';
import { throwsTyped } from './helpers/common.js';

const CLI = new URL('../build/js/cli/main.js', import.meta.url).pathname;
const BOUND_MIB = 256;
// VmHWM, the peak of this process's own memory: maxRSS would also count the test process's, which a
// child inherits through fork and exec on Linux
const PEAK_HOOK = `data:text/javascript,import{readFileSync}from'node:fs';process.on('exit',()=>{let k;try{k=/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status','utf8'))[1]}catch{k=process.resourceUsage().maxRSS}process.stderr.write('peak-rss-kib '+k+'\\n')})`;
const root = makeTmpDir('bitnet-hostile-');
const MASTER = join(root, 'tiny-master');
const SPM = join(root, 'tiny-1bitllm');
generateCheckpoint({ outDir: MASTER, preset: 'tiny' });
generateCheckpoint({ outDir: SPM, preset: 'tiny', layout: '1bitllm' });

/** Runs the CLI; its exit code, its error lines and its peak RSS in MiB (the largest any thread saw). */
function run(args: string[]): { code: number | null; errors: string[]; peakMiB: number } {
  const r = spawnSync(process.execPath, ['--import', PEAK_HOOK, CLI, ...args], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 });
  const peaks = [...r.stderr.matchAll(/peak-rss-kib (\d+)/g)].map((m) => Number(m[1]) / 1024);
  assert.ok(peaks.length > 0, `no peak reported: ${r.stderr.slice(0, 500)}`);
  const peakMiB = Math.max(...peaks);
  if (process.env['HOSTILE_PEAKS']) console.log(`  ${peakMiB.toFixed(0)} MiB: ${args.map((x) => x.replace(root, '')).join(' ')}`);
  return { code: r.status, errors: r.stderr.split('\n').filter((l) => l.startsWith('error:')), peakMiB };
}

/** A copy of a synthetic model to make hostile, under a fresh name. */
function copyOf(model: string, name: string): string {
  const dir = join(root, name);
  rmSync(dir, { recursive: true, force: true });
  cpSync(model, dir, { recursive: true });
  return dir;
}

function editConfig(dir: string, edit: (c: Record<string, unknown>) => void): void {
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  edit(c);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
}

/** A model.safetensors whose header is the given JSON text (padded to 8 bytes) and no data. */
function writeHeader(dir: string, json: string): number {
  const body = Buffer.from(json + ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(body.length));
  writeFileSync(join(dir, 'model.safetensors'), Buffer.concat([prefix, body]));
  return body.length;
}

/** `count` zero-length tensors named by `name(i)`: the smallest entries a header can list. */
function tinyTensors(count: number, name = (i: number) => `t${i}`, extra = ''): string {
  const parts: string[] = [];
  for (let i = 0; i < count; i++) parts.push(`${JSON.stringify(name(i))}:{"dtype":"U8","shape":[0],"data_offsets":[0,0]${extra}}`);
  return `{${parts.join(',')}}`;
}

/** Refused with one line matching every pattern, under the bound, by convert and by inspect. */
function refusedUnderBound(dir: string, patterns: RegExp[], label: string, extra: string[] = []): void {
  for (const args of [['--input-dir', dir, '--output-dir', join(root, 'out'), ...extra], ['inspect', dir]]) {
    const r = run(args);
    assert.is(r.code, 1, `${label}: ${args[0]} should fail`);
    assert.is(r.errors.length, 1, `${label}: one error line: ${r.errors.join(' | ')}`);
    for (const p of patterns) assert.match(r.errors[0]!, p);
    assert.ok(r.peakMiB < BOUND_MIB, `${label}: ${args[0]} peaked at ${r.peakMiB.toFixed(0)} MiB`);
  }
}

test('a 48.8 MB header of 700k tiny tensors (was ~960 MiB): refused by its length, under the bound', () => {
  const dir = copyOf(MASTER, 'header-700k');
  const n = writeHeader(dir, tinyTensors(700_000, (i) => `model.layers.${i}.mlp.up_proj.weight`));
  assert.ok(n > 48e6 && n < 100e6, `${n} bytes`);
  refusedUnderBound(dir, [/model\.safetensors: corrupt file: expected a header length of at most 16777216 bytes, found header length \d+/], '700k');
});

test('a 16 MiB header of tiny tensors: counted against the config before any is built', () => {
  const dir = copyOf(MASTER, 'header-16m');
  let count = 0;
  while (count * 60 < MAX_HEADER_BYTES - (1 << 20)) count += 10_000;
  writeHeader(dir, tinyTensors(count));
  // 2 layers name at most 64 x 3 tensors
  refusedUnderBound(dir, [/corrupt file: expected a header of at most 192 tensors \(64 per layer of config.json's num_hidden_layers 2, plus 64\), found \d{6} entries/], '16 MiB');
  // a config claiming a million layers does not lift the cap
  editConfig(dir, (c) => (c.num_hidden_layers = 1e6));
  refusedUnderBound(dir, [new RegExp(`expected a header of at most ${MAX_TENSORS} tensors`)], '16 MiB, 1e6 layers');
});

test('the largest headers inside the limits: long names, many values, one huge name', () => {
  const cases: [string, string][] = [
    // MAX_TENSORS entries with two-byte names filling 16 MiB
    ['long-names', tinyTensors(MAX_TENSORS - 1, (i) => 'Ġ'.repeat(Math.floor((MAX_HEADER_BYTES - MAX_TENSORS * 64) / MAX_TENSORS / 2)) + i)],
    // MAX_TENSORS entries each carrying an extra field of empty arrays, up to the values budget
    ['many-values', tinyTensors(MAX_TENSORS - 1, undefined, `,"x":[${'[],'.repeat(16)}[]]`)],
    // one tensor whose name is the whole header
    ['huge-name', tinyTensors(1, () => 'Ġ'.repeat((MAX_HEADER_BYTES - 100) / 2))],
  ];
  for (const [name, json] of cases) {
    const dir = copyOf(MASTER, `header-${name}`);
    editConfig(dir, (c) => (c.num_hidden_layers = 1e6));
    assert.ok(writeHeader(dir, json) <= MAX_HEADER_BYTES, name);
    refusedUnderBound(dir, [/missing: expected it in this file, found no such tensor|expected a header of at most \d+ JSON values/], name);
  }
});

test('a 16 MB config.json of 700k keys (was ~325 MiB): refused by its size; 1 MiB ones convert under the bound', () => {
  const dir = copyOf(MASTER, 'config-700k');
  editConfig(dir, (c) => {
    for (let i = 0; i < 700_000; i++) c[`key_${String(i).padStart(7, '0')}`] = i;
  });
  refusedUnderBound(dir, [/config\.json: invalid config: expected a config\.json of at most 1048576 bytes, found \d+ bytes/], 'config 700k');
  // the worst inside the limit: as many keys, or as many empty arrays, as 1 MiB holds
  const keys = copyOf(MASTER, 'config-1m-keys');
  editConfig(keys, (c) => {
    for (let i = 0; i < 60_000; i++) c[`k${i}`] = 0;
  });
  const arrays = copyOf(MASTER, 'config-1m-arrays');
  const text = readFileSync(join(arrays, 'config.json'), 'utf8').trimEnd();
  writeFileSync(join(arrays, 'config.json'), `${text.slice(0, -1)},"x":[${'[],'.repeat((MAX_CONFIG_BYTES - text.length) / 3 - 10)}[]]}`);
  for (const dir of [keys, arrays]) {
    assert.ok(readFileSync(join(dir, 'config.json')).length <= MAX_CONFIG_BYTES);
    for (const format of ['bitnet-rs', 'hf-packed']) {
      const r = run(['--input-dir', dir, '--output-dir', join(root, `out-${format}`), '--format', format, '--force']);
      assert.is(r.code, 0, r.errors.join(' | '));
      assert.ok(r.peakMiB < BOUND_MIB, `${dir} -> ${format}: ${r.peakMiB.toFixed(0)} MiB`);
    }
  }
});

test('an index.json above its limit, or listing more tensors than the config can name: one line', () => {
  const dir = join(root, 'sharded');
  generateCheckpoint({ outDir: dir, preset: 'tiny', shards: 2 });
  const indexFile = join(dir, 'model.safetensors.index.json');
  const index = JSON.parse(readFileSync(indexFile, 'utf8')) as { weight_map: Record<string, string> };
  const shard = Object.values(index.weight_map)[0]!;
  for (let i = 0; i < 500; i++) index.weight_map[`extra.${i}`] = shard;
  writeFileSync(indexFile, JSON.stringify(index));
  refusedUnderBound(dir, [/index\.json: corrupt file: expected a weight_map of at most 192 tensors \(64 per layer of config.json's num_hidden_layers 2, plus 64\), found \d+ entries/], 'index entries');
  for (let i = 0; JSON.stringify(index).length <= MAX_INDEX_BYTES; i++) index.weight_map[`more.${i}.${'x'.repeat(100)}`] = shard;
  writeFileSync(indexFile, JSON.stringify(index));
  refusedUnderBound(dir, [/index\.json: corrupt file: expected an index of at most 1048576 bytes, found \d+ bytes/], 'index size');
});

/** A GGUF head: magic, version 3, the counts, then `body` (KVs and tensor infos as the counts say). */
function ggufHead(tensors: number, kvs: number, body: Buffer): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0x46554747, 0);
  head.writeUInt32LE(3, 4);
  head.writeBigUInt64LE(BigInt(tensors), 8);
  head.writeBigUInt64LE(BigInt(kvs), 16);
  return Buffer.concat([head, body]);
}

/** A KV or tensor name: u64 length and the bytes. */
const ggufString = (s: string) => {
  const b = Buffer.alloc(8 + Buffer.byteLength(s));
  b.writeBigUInt64LE(BigInt(Buffer.byteLength(s)));
  b.write(s, 8);
  return b;
};

test('GGUF heads of 60 MiB (was 729 MiB for 3M KVs, 1.9 GiB for 1.5M tensors): counts refused before anything is built', () => {
  const MiB = 1 << 20;
  const kvCount = Math.floor((60 * MiB) / 20);
  const kvs = Buffer.alloc(kvCount * 20);
  for (let i = 0, p = 0; i < kvCount; i++, p += 20) {
    kvs.writeBigUInt64LE(7n, p);
    kvs.write(i.toString(36).padStart(7, 'k'), p + 8, 'latin1');
    kvs[p + 19] = 1; // type 0 (u8) and the value 1
  }
  const tensorCount = Math.floor((60 * MiB) / 40);
  const infos = Buffer.alloc(tensorCount * 40);
  for (let i = 0, p = 0; i < tensorCount; i++, p += 40) {
    infos.writeBigUInt64LE(4n, p);
    infos.write(i.toString(36).padStart(4, 't').slice(-4), p + 8, 'latin1');
    infos.writeUInt32LE(1, p + 12); // 1 dimension of 0, F32, offset 0
  }
  const strings = Buffer.concat([ggufString('a'), Buffer.from([9, 0, 0, 0, 8, 0, 0, 0]), Buffer.alloc(8), Buffer.alloc(60 * MiB)]);
  strings.writeBigUInt64LE(BigInt((60 * MiB) / 8), 9 + 8); // an array of 7.8M empty strings
  const cases: [string, Buffer, RegExp][] = [
    ['kvs', ggufHead(0, kvCount, kvs), new RegExp(`expected at most ${MAX_GGUF_KVS} KVs, found ${kvCount}`)],
    ['tensors', ggufHead(tensorCount, 0, infos), new RegExp(`expected at most ${MAX_GGUF_TENSORS} tensors, found ${tensorCount}`)],
    ['strings', ggufHead(0, 1, strings), new RegExp(`expected at most ${MAX_GGUF_ARRAY_ITEMS} array items in all`)],
  ];
  for (const [name, bytes, pattern] of cases) {
    const file = join(root, `${name}.gguf`);
    writeFileSync(file, bytes);
    const r = run(['inspect', file]);
    assert.is(r.code, 1, name);
    assert.is(r.errors.length, 1, r.errors.join(' | '));
    assert.match(r.errors[0]!, pattern);
    assert.ok(r.peakMiB < BOUND_MIB, `${name}: ${r.peakMiB.toFixed(0)} MiB`);
  }
  // a prefix ending inside the head asks for more; past 64 MiB the head is refused
  const big = ggufHead(0, 1, Buffer.concat([ggufString('s'), Buffer.from([8, 0, 0, 0]), ggufString('x'.repeat(MAX_GGUF_HEAD_BYTES))]));
  try {
    parseGguf(big.subarray(0, 1 << 20), 'big.gguf', big.length, { arrays: 'check' });
    assert.unreachable('a prefix is not a head');
  } catch (e) {
    assert.ok(e instanceof GgufHeadTruncated && e.needed > 1 << 20);
  }
  throwsTyped(() => parseGguf(big.subarray(0, MAX_GGUF_HEAD_BYTES), 'big.gguf', big.length, { arrays: 'check' }), CorruptFileError, ['big.gguf', `a head of at most ${MAX_GGUF_HEAD_BYTES} bytes`]);
  // and the writer never makes a head its reader would refuse
  throwsTyped(() => layoutGguf([kv.str('s', 'x'.repeat(MAX_GGUF_HEAD_BYTES))], []), UnsupportedError, [`a GGUF head of at most ${MAX_GGUF_HEAD_BYTES} bytes`]);
});

test('the GGUF head is allocated at its size: UTF-8 of every width, surrogates, lone surrogates', () => {
  const strings = ['a', 'é', 'Ġ', '€', '😀', '\ud800', 'x\udfff', ''];
  const layout = layoutGguf([kv.strings('s', strings), kv.str('t', '😀😀'), kv.f32s('f', [1, 2])], [{ name: 'w', ne: [4], type: 'F32' }]);
  assert.is(layout.head.buffer.byteLength, layout.head.length, 'no slack');
  const file = new Uint8Array(layout.fileBytes);
  file.set(layout.head);
  const g = parseGguf(file, 'mem');
  assert.equal(g.kvs.get('s')!.value, strings.map((x) => new TextDecoder().decode(new TextEncoder().encode(x))));
});

// ---- tokenizers

/** A model of vocab_size MAX_VOCAB as small as the layouts allow (its embedding is 16 MB). */
const BIG_VOCAB = { hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 1, num_key_value_heads: 1, vocab_size: MAX_VOCAB };

/** Converts to GGUF (F16: any row length) and returns the run. */
const toGguf = (dir: string) => run(['--input-dir', dir, '--output-dir', join(root, 'out-gguf'), '--format', 'gguf', '--gguf-type', 'f16', '--force']);

test('a 10 MB tokenizer.model of 5 million empty pieces (was ~580 MiB): counted against vocab_size first', () => {
  const dir = copyOf(SPM, 'spm-5m');
  rmSync(join(dir, 'tokenizer.json')); // else tokenizer.json (no byte fallback at this size) is used
  writeFileSync(join(dir, 'tokenizer.model'), Buffer.alloc(10_000_000).fill(Buffer.from([0x0a, 0x00])));
  const r = toGguf(dir);
  assert.is(r.code, 1);
  assert.equal(r.errors, ['error: tokenizer.model: corrupt file: expected at most vocab_size (256) pieces, found 5000000 pieces']);
  assert.ok(r.peakMiB < BOUND_MIB, `${r.peakMiB.toFixed(0)} MiB`);
});

test('a 24 MB tokenizer.json of 2 million merges (was ~400 MiB, and converted): refused by size; at 16 MiB, by count', () => {
  const dir = copyOf(MASTER, 'merges-2m');
  const tok = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as { model: { merges: string[] } };
  const valid = tok.model.merges[0]!.split(' ');
  const merges = (count: number) => `[${`${JSON.stringify(valid)},`.repeat(count - 1)}${JSON.stringify(valid)}]`;
  const text = (count: number) => JSON.stringify(tok).replace(/"merges":\[[^\]]*\]/, `"merges":${merges(count)}`);
  writeFileSync(join(dir, 'tokenizer.json'), text(2_000_000));
  let r = toGguf(dir);
  assert.is(r.code, 1);
  assert.match(r.errors[0]!, /^error: tokenizer\.json: invalid config: expected tokenizer\.json to be at most 16777216 bytes, found 2\d{7} bytes/);
  assert.ok(r.peakMiB < BOUND_MIB, `${r.peakMiB.toFixed(0)} MiB`);
  const fits = Math.floor((MAX_TOKENIZER_JSON_BYTES - 20_000) / (Buffer.byteLength(JSON.stringify(valid)) + 1));
  writeFileSync(join(dir, 'tokenizer.json'), text(fits));
  r = toGguf(dir);
  assert.equal(r.errors, ['error: tokenizer.json: invalid config: expected at most 1024 merges (4 per token of vocab_size 256), found merge 1024']);
  assert.ok(r.peakMiB < BOUND_MIB, `${r.peakMiB.toFixed(0)} MiB`);
});

test('the largest vocabularies inside the limits convert under the bound: BPE and SentencePiece', () => {
  const MiB = 1 << 20;
  // BPE: MAX_VOCAB tokens, MAX_MERGES merges listed before the vocabulary (checked at the end), a 4 MiB chat template
  const bpe = join(root, 'bpe-max');
  generateCheckpoint({ outDir: bpe, shape: BIG_VOCAB });
  const tok = JSON.parse(readFileSync(join(bpe, 'tokenizer.json'), 'utf8')) as Record<string, unknown> & { model: Record<string, unknown> };
  const text = (i: number) => (i === 0 ? 'a' : i === 1 ? 'b' : i === 2 ? 'ab' : `t${i.toString(36)}`);
  const vocab = Array.from({ length: MAX_VOCAB }, (_, i) => `${JSON.stringify(text(i))}:${i}`).join(',');
  const { vocab: _v, merges: _m, continuing_subword_prefix: _c, ...model } = tok.model;
  const body = JSON.stringify({ ...tok, added_tokens: [], model: { ...model, merges: '@M', vocab: '@V' } });
  writeFileSync(join(bpe, 'tokenizer.json'), body.replace('"@M"', `[${'"a b",'.repeat(MAX_MERGES - 1)}"a b"]`).replace('"@V"', `{${vocab}}`));
  const config = JSON.parse(readFileSync(join(bpe, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(bpe, 'tokenizer_config.json'), JSON.stringify({ ...config, chat_template: 'Ġ'.repeat((MAX_SIDE_JSON_BYTES - 80_000) / 2) }));
  // SentencePiece: a 15.5 MB tokenizer.model of long pieces, 250k added tokens (4 MB), a 16 MiB byte-fallback tokenizer.json to skip
  const spm = join(root, 'spm-max');
  generateCheckpoint({ outDir: spm, shape: BIG_VOCAB, layout: '1bitllm' });
  const added = 250_000;
  const pieces = spmPieces(MAX_VOCAB - added, (i) => 'Ġ'.repeat(Math.floor((15.5 * MiB) / (MAX_VOCAB - added) / 2) - 8) + i.toString(36));
  writeFileSync(join(spm, 'tokenizer.model'), spmBytes(pieces));
  const addedTokens = Object.fromEntries(Array.from({ length: added }, (_, i) => [`a${i}`, MAX_VOCAB - 1 - i]));
  writeFileSync(join(spm, 'added_tokens.json'), JSON.stringify(addedTokens));
  writeFileSync(join(spm, 'tokenizer.json'), `{"x":[${'[],'.repeat((MAX_TOKENIZER_JSON_BYTES - 200) / 3 - 1)}[]],"model":{"type":"BPE","byte_fallback":true,"vocab":{},"merges":[]}}`);
  for (const dir of [bpe, spm]) {
    for (const f of ['tokenizer.json', 'tokenizer.model', 'tokenizer_config.json', 'added_tokens.json']) {
      const size = (() => {
        try {
          return readFileSync(join(dir, f)).length;
        } catch {
          return 0;
        }
      })();
      assert.ok(size <= (f === 'tokenizer.json' ? MAX_TOKENIZER_JSON_BYTES : f === 'tokenizer.model' ? MAX_TOKENIZER_MODEL_BYTES : MAX_SIDE_JSON_BYTES), `${dir}/${f}: ${size} bytes`);
    }
    const r = toGguf(dir);
    assert.is(r.code, 0, r.errors.join(' | '));
    assert.ok(r.peakMiB < BOUND_MIB, `${dir}: ${r.peakMiB.toFixed(0)} MiB`);
  }
});

/** An in-memory model folder of the synthetic tokenizer files for `layout` at vocabulary `vocab`, some replaced. */
function vocabOf(layout: 'hf-bitnet' | '1bitllm', vocab: number, replace: Record<string, string | Uint8Array | undefined> = {}) {
  const files = new Map<string, string | Uint8Array | undefined>(tokenizerFiles(layout, vocab));
  for (const [k, v] of Object.entries(replace)) files.set(k, v);
  const input = { readSide: (name: string) => { const f = files.get(name); return f === undefined ? undefined : typeof f === 'string' ? new TextEncoder().encode(f) : f; } };
  const config = parseModelConfig({ hidden_size: 64, intermediate_size: 160, num_hidden_layers: 1, num_attention_heads: 4, vocab_size: vocab }, 'config.json');
  return () => ggufVocab(input, config);
}

test('tokenizer.json merges are ["a", "b"] pairs or "a b" strings of tokens of the vocabulary: anything else is one line naming the merge', () => {
  const base = JSON.parse(tokenizerFiles('hf-bitnet', 512).get('tokenizer.json') as string) as { model: { merges: string[]; vocab: Record<string, number> } };
  const withMerge = (m: unknown) => {
    const t = structuredClone(base);
    (t.model.merges as unknown[])[3] = m;
    return JSON.stringify(t);
  };
  vocabOf('hf-bitnet', 512)(); // the base is valid
  assert.ok(vocabOf('hf-bitnet', 512, { 'tokenizer.json': withMerge(base.model.merges[3]!.split(' ')) })().length > 0, 'a pair is valid');
  for (const [m, found] of [
    [{ a: 'b' }, 'an object'],
    [7, '7'],
    [null, 'null'],
    [true, 'true'],
    [['Ġ', 'Ġ', 'Ġ'], 'a list of more than 2 items'],
    [['Ġ'], '["Ġ"]'],
    [[], '[]'],
    [[1, 2], 'a list holding 1'],
    ['ĠĠ', '"ĠĠ"'],
    ['Ġ Ġ Ġ', '"Ġ Ġ Ġ"'],
  ] as const) {
    throwsTyped(vocabOf('hf-bitnet', 512, { 'tokenizer.json': withMerge(m) }), InvalidConfigError, ['tokenizer.json: invalid config: expected merges as ["a", "b"] pairs of strings or "a b" strings (one space)', `found merge 3: ${found}`]);
  }
  throwsTyped(vocabOf('hf-bitnet', 512, { 'tokenizer.json': withMerge('zz qq') }), InvalidConfigError, ['tokenizer.json', 'merge 3 "zz qq": "zz" is not in model.vocab']);
  throwsTyped(vocabOf('hf-bitnet', 512, { 'tokenizer.json': withMerge(['Ġ', 'zz']) }), InvalidConfigError, ['merge 3 "Ġ zz": "zz" is not in model.vocab']);
});

test('tokenizer.json ids: integers below vocab_size, each once; added tokens objects with their own ids; JSON errors at their byte', () => {
  const text = tokenizerFiles('hf-bitnet', 512).get('tokenizer.json') as string;
  const base = JSON.parse(text) as { added_tokens: { id: number; content: string }[]; model: { vocab: Record<string, number> } };
  const edit = (f: (t: typeof base) => void) => {
    const t = structuredClone(base);
    f(t);
    return { 'tokenizer.json': JSON.stringify(t) };
  };
  const [first, second] = Object.keys(base.model.vocab);
  throwsTyped(vocabOf('hf-bitnet', 512, edit((t) => (t.model.vocab[first!] = 512))), InvalidConfigError, ['tokenizer.json', 'to have an id below vocab_size (512)', 'found 512']);
  throwsTyped(vocabOf('hf-bitnet', 512, edit((t) => (t.model.vocab[first!] = 1.5))), InvalidConfigError, ['found 1.5']);
  throwsTyped(vocabOf('hf-bitnet', 512, edit((t) => (t.model.vocab[first!] = t.model.vocab[second!]!))), InvalidConfigError, ['expected each id once in model.vocab']);
  throwsTyped(vocabOf('hf-bitnet', 512, { 'tokenizer.json': text.replace(`"${second}":`, `"${first}":`) }), InvalidConfigError, ['expected each token text once in model.vocab', 'twice']);
  throwsTyped(vocabOf('hf-bitnet', 512, edit((t) => (t.added_tokens[0]!.id = base.model.vocab[first!]!))), InvalidConfigError, ['added_tokens entry 0', 'to have an id of its own']);
  throwsTyped(vocabOf('hf-bitnet', 512, edit((t) => ((t.added_tokens as unknown[])[1] = 'x'))), InvalidConfigError, ['expected added_tokens entries {"id": <id>, "content": <text>, ...}, found entry 1: "x"']);
  throwsTyped(vocabOf('hf-bitnet', 512, { 'tokenizer.json': text.slice(0, 5000) }), InvalidConfigError, ['tokenizer.json: invalid config: expected valid JSON', `the end of the file at byte ${Buffer.byteLength(text.slice(0, 5000))}`]);
  throwsTyped(vocabOf('hf-bitnet', 512, { 'tokenizer.json': `{"x":${'['.repeat(100_000)}` }), InvalidConfigError, ['nesting at most 256 deep']);
  throwsTyped(vocabOf('hf-bitnet', MAX_VOCAB + 1), InvalidConfigError, ['config.json', `a vocab_size of at most ${MAX_VOCAB}`, String(MAX_VOCAB + 1)]);
  const huge = { readSide: () => undefined, sideSize: (name: string) => (name === 'tokenizer.json' ? MAX_TOKENIZER_JSON_BYTES + 1 : undefined) };
  throwsTyped(() => ggufVocab(huge, parseModelConfig({ hidden_size: 64, intermediate_size: 160, num_hidden_layers: 1, num_attention_heads: 4, vocab_size: 512 }, 'config.json')), InvalidConfigError, ['tokenizer.json', `at most ${MAX_TOKENIZER_JSON_BYTES} bytes`, 'found 16777217 bytes']);
});

test('tokenizer.model pieces: types in the enum (99 and 2^40 refused), finite scores, non-empty and unique; added_tokens.json ids of their own', () => {
  const pieces = spmPieces(1000, (i) => `p${i}`);
  const spm = (edit: (p: typeof pieces) => void) => {
    const p = structuredClone(pieces);
    edit(p);
    return { 'tokenizer.model': spmBytes(p), 'tokenizer.json': undefined };
  };
  assert.ok(vocabOf('1bitllm', 1024, spm(() => {}))().length > 0);
  throwsTyped(vocabOf('1bitllm', 1024, spm((p) => (p[300]!.type = 99))), CorruptFileError, ['tokenizer.model: corrupt file: expected piece 300 "p300" to have a type 1-6', 'found type 99']);
  throwsTyped(vocabOf('1bitllm', 1024, spm((p) => (p[300]!.type = 2 ** 40))), CorruptFileError, ['piece 300', 'found type 1099511627776']);
  throwsTyped(vocabOf('1bitllm', 1024, spm((p) => (p[300]!.score = NaN))), CorruptFileError, ['piece 300 "p300" to have a finite score', 'found NaN']);
  throwsTyped(vocabOf('1bitllm', 1024, spm((p) => (p[300]!.score = -Infinity))), CorruptFileError, ['found -Infinity']);
  throwsTyped(vocabOf('1bitllm', 1024, spm((p) => (p[300]!.piece = ''))), CorruptFileError, ['piece 300 to be a non-empty string']);
  throwsTyped(vocabOf('1bitllm', 1024, spm((p) => (p[300]!.piece = 'p299'))), CorruptFileError, ['piece 300 "p299" to be unique', 'the same piece as 299']);
  throwsTyped(vocabOf('1bitllm', 512, spm(() => {})), CorruptFileError, ['expected at most vocab_size (512) pieces, found 1000 pieces']);
  throwsTyped(vocabOf('1bitllm', 1024, { ...spm(() => {}), 'added_tokens.json': '{"<pad>": 7}' }), InvalidConfigError, ['added_tokens.json', 'token "<pad>" to have an id of its own', 'found id 7, already "<0x04>"']);
  throwsTyped(vocabOf('1bitllm', 1024, { ...spm(() => {}), 'added_tokens.json': '{"<pad>": 1000, "</line>": 1000}' }), InvalidConfigError, ['found id 1000, already "<pad>"']);
  throwsTyped(vocabOf('1bitllm', 1024, { ...spm(() => {}), 'added_tokens.json': '{"<pad>": 1024}' }), InvalidConfigError, ['to have an id below vocab_size (1024)', 'found 1024']);
});

test.after(() => rmSync(root, { recursive: true, force: true }));

test.run();

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
import { CorruptFileError, UnsupportedError } from '../build/js/errors.js';
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

test.after(() => rmSync(root, { recursive: true, force: true }));

test.run();

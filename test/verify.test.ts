// verify: a correct output passes, with and without the source; each injected fault (a flipped code,
// a changed scale, a truncated file, a missing block, a manifest hash mismatch) fails and names the file,
// the tensor and the index where there is one.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { generateCheckpoint } from '../build/js/synth/generate.js';
import { convert } from '../build/js/run/convert.js';
import { verify } from '../build/js/run/verify.js';
import { parseHeader, readHeaderLength } from '../build/js/formats/safetensors.js';

const GOLDEN = new URL('./fixtures/golden-tiny/', import.meta.url).pathname;
const CLI = new URL('../build/js/cli/main.js', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'bitnet-verify-test-'));
let n = 0;

const made = new Map<string, string>();
async function output(format: string): Promise<string> {
  if (!made.has(format)) {
    const dir = join(tmp, `${format}-original`);
    await convert({ inputDir: GOLDEN, outputDir: dir, format, threads: 0, timestamp: 7 });
    made.set(format, dir);
  }
  const copy = join(tmp, `${format}-${n++}`);
  cpSync(made.get(format)!, copy, { recursive: true });
  return copy;
}

/** The byte range of a tensor in a safetensors file. */
function tensorRange(file: string, name: string): [number, number] {
  const bytes = new Uint8Array(readFileSync(file));
  const len = readHeaderLength(bytes.subarray(0, 8), bytes.length, file);
  const t = parseHeader(bytes.subarray(8, 8 + len), len, bytes.length, file).tensors.find((x) => x.name === name)!;
  return [t.offset, t.offset + t.byteLength];
}

function edit(file: string, at: number, fn: (b: number) => number): void {
  const bytes = readFileSync(file);
  bytes[at] = fn(bytes[at]);
  writeFileSync(file, bytes);
}

test('a correct output of every format passes, and against its source', async () => {
  for (const format of ['bitnet-rs', 'bitnet-rs-safetensors', 'hf-packed', 'ms-gpu']) {
    const dir = await output(format);
    const alone = await verify(dir);
    assert.equal(alone.problems, [], format);
    const v = await verify(dir, GOLDEN, { threads: 0 });
    assert.ok(v.ok, `${format}: ${v.problems.join('; ')}`);
    assert.ok(v.checked.ternaryValues > 0);
  }
});

test('a flipped code: named by tensor, index and values', async () => {
  const dir = await output('hf-packed');
  const file = join(dir, 'model.safetensors');
  const name = 'model.layers.1.mlp.down_proj.weight';
  const [begin] = tensorRange(file, name);
  edit(file, begin + 5, (b) => (b & ~3) | ((b & 3) === 0 ? 2 : 0)); // value [5, 5] of the first quarter: -1 <-> +1 or 0 -> -1
  const v = await verify(dir, GOLDEN, { threads: 0 });
  assert.not.ok(v.ok);
  assert.ok(v.problems.some((p) => p.startsWith('model.safetensors: expected sha256')), v.problems.join('\n'));
  assert.ok(v.problems.some((p) => p.startsWith(`model.safetensors: tensor ${name}: value 5 [0, 5]: expected`)), v.problems.join('\n'));
});

test('a changed scale: named by tensor and row', async () => {
  const dir = await output('bitnet-rs-safetensors');
  const file = join(dir, 'model.safetensors');
  const [begin] = tensorRange(file, 'layers.0.attention.wo.weight_scale');
  edit(file, begin + 2 * 3, (b) => b ^ 1); // the 4th row's bf16 scale, lowest bit
  const v = await verify(dir, GOLDEN, { threads: 0 });
  assert.ok(v.problems.some((p) => p.startsWith('model.safetensors: tensor layers.0.attention.wo.weight: scale of row 3: expected')), v.problems.join('\n'));
});

test('a bitnet-rs code 11 (no such ternary value): found by the streamed scan, named by file, tensor and index', async () => {
  const dir = await output('bitnet-rs');
  const file = join(dir, 'block_0.bin');
  const bytes = readFileSync(file);
  const first = bytes[0] < 251 ? 1 : bytes[0] === 0xfb ? 3 : 5; // past packed_weights' length (a varint)
  assert.is(bytes[first], 0xfc, 'the first word is a 5-byte varint');
  edit(file, first + 1, (b) => b | 3); // its lowest code: value 0 of row 0
  const v = await verify(dir);
  assert.ok(v.problems.some((p) => p.includes('block_0.bin:attention.wqkv') && p.includes('code 3 at value 0')), v.problems.join('\n'));
});

test('a truncated file, a missing block, a manifest hash mismatch', async () => {
  const truncated = await output('hf-packed');
  truncateSync(join(truncated, 'model.safetensors'), 5000);
  let v = await verify(truncated);
  assert.ok(v.problems.some((p) => /^model\.safetensors: expected \d+ bytes \(manifest\.json\), found 5000$/.test(p)), v.problems.join('\n'));
  assert.ok(v.problems.some((p) => p.includes('corrupt file')), 'the reader refuses it too');

  const missing = await output('bitnet-rs');
  rmSync(join(missing, 'block_1.bin'));
  v = await verify(missing);
  assert.ok(v.problems.some((p) => p.startsWith('block_1.bin: missing')), v.problems.join('\n'));

  const hash = await output('ms-gpu');
  const m = JSON.parse(readFileSync(join(hash, 'manifest.json'), 'utf8'));
  m.files[0].sha256 = '0'.repeat(64);
  writeFileSync(join(hash, 'manifest.json'), JSON.stringify(m));
  v = await verify(hash);
  assert.ok(v.problems.some((p) => p.startsWith(`${m.files[0].name}: expected sha256 ${'0'.repeat(64)} (manifest.json), found`)), v.problems.join('\n'));
});

test('the CLI: a verdict line, one line per problem, exit 0 only when everything holds', async () => {
  const good = spawnSync(process.execPath, [CLI, 'verify', await output('bitnet-rs'), '--against', GOLDEN], { encoding: 'utf8' });
  assert.is(good.status, 0, good.stdout + good.stderr);
  assert.match(good.stdout, /^verified: .*: 7 files, 19 tensors, \d+ ternary values, against /);
  const dir = await output('bitnet-rs');
  rmSync(join(dir, 'block_0.bin'));
  const bad = spawnSync(process.execPath, [CLI, 'verify', dir], { encoding: 'utf8' });
  assert.is(bad.status, 1);
  assert.match(bad.stdout, /^FAILED \(\d+ problems\): /);
  assert.match(bad.stdout, /\n  block_0\.bin: missing/);
});

/** Rewrites manifest.json through `fn` (the hashes left as they are unless `fn` changes them). */
function editManifest(dir: string, fn: (m: { files: { name: string; bytes: number; sha256: string }[] } & Record<string, unknown>) => void): void {
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  fn(m);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
}

/** The CLI on `args`, killed after 60 s: a hang fails the test instead of stalling the suite. */
function cliBounded(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.signal, null, `${args.join(' ')}: hung (killed after 60 s)`);
  return { code: r.status, out: r.stdout, err: r.stderr, errors: r.stderr.split('\n').filter((l) => l.startsWith('error:')) };
}

test('every problem line names the file first (the README says so)', async () => {
  const faults: [string, (dir: string) => void][] = [
    ['a flipped code', (dir) => edit(join(dir, 'model.safetensors'), tensorRange(join(dir, 'model.safetensors'), 'model.layers.0.self_attn.q_proj.weight')[0], (b) => b ^ 3)],
    ['a zero scale', (dir) => {
      const [begin, end] = tensorRange(join(dir, 'model.safetensors'), 'model.layers.0.mlp.up_proj.weight_scale');
      for (let i = begin; i < end; i++) edit(join(dir, 'model.safetensors'), i, () => 0);
    }],
    ['a truncated file', (dir) => truncateSync(join(dir, 'model.safetensors'), 5000)],
    ['a missing file', (dir) => rmSync(join(dir, 'config.json'))],
  ];
  for (const [what, fault] of faults) {
    const dir = await output('hf-packed');
    fault(dir);
    const v = await verify(dir, GOLDEN, { threads: 0 });
    assert.ok(v.problems.length > 0, what);
    for (const p of v.problems) assert.ok(/^(model\.safetensors|config\.json): /.test(p), `${what}: ${p}`);
    assert.ok(v.problems.some((p) => p.includes(': tensor model.layers.0.')) || what.includes('file'), `${what}: ${v.problems.join('\n')}`);
  }
});

test('a file the manifest does not list is a problem, with and without --against', async () => {
  for (const format of ['bitnet-rs', 'hf-packed']) {
    const dir = await output(format);
    writeFileSync(join(dir, 'extra.safetensors'), 'not ours');
    for (const against of [undefined, GOLDEN]) {
      const v = await verify(dir, against, { threads: 0 });
      assert.not.ok(v.ok, `${format} ${against ?? ''}`);
      assert.equal(v.problems, ['extra.safetensors: expected only the files manifest.json lists, found this one too']);
    }
  }
  const r = cliBounded(['verify', join(tmp, `hf-packed-${n - 1}`), '--against', GOLDEN]);
  assert.is(r.code, 1);
  assert.match(r.out, /^FAILED \(1 problems\): .*\n  extra\.safetensors: expected only the files manifest\.json lists, found this one too\n$/);
});

/** Updates manifest.json's size and sha256 of `file` to what it holds now (a fault the manifest agrees with). */
function rehash(dir: string, file: string): void {
  const bytes = readFileSync(join(dir, file));
  editManifest(dir, (m) => Object.assign(m.files.find((f) => f.name === file)!, { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }));
}

/** Swaps the two dimensions of a tensor in a safetensors header (same byte length), then rehashes. */
function transposeSafetensors(dir: string, file: string, tensor: string): number[] {
  const path = join(dir, file);
  const bytes = readFileSync(path);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  const shape = header[tensor].shape;
  header[tensor].shape = [shape[1], shape[0]];
  const text = Buffer.from(JSON.stringify(header).padEnd(n, ' '));
  assert.is(text.length, n);
  text.copy(bytes, 8);
  writeFileSync(path, bytes);
  rehash(dir, file);
  return shape;
}

/** Swaps ne[0] and ne[1] of a 2-D tensor in a GGUF head, then rehashes. */
function transposeGguf(dir: string, file: string, tensor: string): number[] {
  const path = join(dir, file);
  const bytes = readFileSync(path);
  const name = Buffer.from(tensor);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(name.length));
  const at = bytes.indexOf(Buffer.concat([len, name])) + 8 + name.length; // then n_dims (u32), ne[] (u64 each)
  assert.is(bytes.readUInt32LE(at), 2);
  const ne = [Number(bytes.readBigUInt64LE(at + 4)), Number(bytes.readBigUInt64LE(at + 12))];
  bytes.writeBigUInt64LE(BigInt(ne[1]), at + 4);
  bytes.writeBigUInt64LE(BigInt(ne[0]), at + 12);
  writeFileSync(path, bytes);
  rehash(dir, file);
  return ne;
}

test('a transposed tensor (header edited, manifest rehashed) is an invalid shape, named by file and tensor, in every format', async () => {
  const cases: [string, string, string][] = [
    ['hf-packed', 'model.safetensors', 'model.layers.0.self_attn.o_proj.weight'],
    ['hf-packed', 'model.safetensors', 'model.embed_tokens.weight'],
    ['ms-gpu', 'model_state_int2.safetensors', 'layers.0.attention.wo.weight'],
    ['ms-gpu', 'model_state_int2.safetensors', 'output.weight'],
    ['bitnet-rs-safetensors', 'model.safetensors', 'tok_embeddings.weight'],
  ];
  for (const [format, file, tensor] of cases) {
    const dir = await output(format);
    const [a, b] = transposeSafetensors(dir, file, tensor);
    assert.ok(a !== b, tensor);
    for (const against of [undefined, GOLDEN]) {
      const v = await verify(dir, against, { threads: 0 });
      assert.not.ok(v.ok, `${format} ${tensor}`);
      assert.ok(v.problems.includes(`${file}: tensor ${tensor}: invalid shape: expected [${a}, ${b}] from config.json, found [${b}, ${a}]`), v.problems.join('\n'));
    }
  }
  // GGUF: the dimensions come from the file's own KVs
  const model = join(tmp, 'synth-tiny');
  generateCheckpoint({ outDir: model, preset: 'tiny' });
  const dir = join(tmp, 'gguf');
  await convert({ inputDir: model, outputDir: dir, format: 'gguf', ggufType: 'f16', threads: 0, timestamp: 7 });
  assert.ok((await verify(dir)).ok);
  const file = 'synth-tiny-f16.gguf';
  const [ne0, ne1] = transposeGguf(dir, file, 'blk.0.ffn_down.weight');
  const v = await verify(dir);
  assert.equal(v.problems, [`${file}: tensor blk.0.ffn_down.weight: invalid shape: expected [${ne0}, ${ne1}] from ${file} (its bitnet-b1.58.* keys), found [${ne1}, ${ne0}]`]);
});

test('a config.json the tensors do not fit (rehashed): the shapes it changes are named, in every format', async () => {
  for (const format of ['bitnet-rs', 'bitnet-rs-safetensors', 'hf-packed', 'ms-gpu']) {
    const dir = await output(format);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, intermediate_size: 128 }));
    rehash(dir, 'config.json');
    const v = await verify(dir);
    assert.not.ok(v.ok, format);
    assert.ok(v.problems.some((p) => /^[\w.]+: tensor \S*(ffn|feed_forward|mlp)\S*: invalid shape: expected .* from config\.json, found /.test(p)), `${format}: ${v.problems.join('\n')}`);
  }
  // a layer the config has and the output lacks: each of its tensors named
  const dir = await output('bitnet-rs');
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, num_hidden_layers: 3 }));
  rehash(dir, 'config.json');
  const v = await verify(dir);
  assert.ok(v.problems.includes('block_2.bin: tensor block_2.bin:attention.wqkv: expected [128, 4] from config.json, found no such tensor'), v.problems.join('\n'));
});

test('a huge config.json is refused before it is read whole', async () => {
  const dir = await output('ms-gpu');
  writeFileSync(join(dir, 'config.json'), ' '.repeat(17 << 20));
  const v = await verify(dir);
  assert.ok(v.problems.includes('config.json: corrupt file: expected a JSON file of at most 16777216 bytes, found 17825792 bytes'), v.problems.join('\n'));
});

test('manifest names that leave the folder are refused in one line, with and without --against, and by inspect', async () => {
  for (const name of ['../../../dev/zero', '/dev/zero', '/etc/passwd', 'sub/../../../dev/zero', '..', '.', '', 'a\\b', 'nul\0']) {
    const dir = await output('hf-packed');
    editManifest(dir, (m) => m.files.push({ name, bytes: 1, sha256: '0'.repeat(64) }));
    for (const args of [['verify', dir], ['verify', dir, '--against', GOLDEN], ['inspect', dir]]) {
      const r = cliBounded(args);
      assert.is(r.code, 1, `${name}: ${args[0]}: ${r.out}${r.err}`);
      assert.equal(r.errors.length, 1, r.err);
      assert.ok(r.errors[0].startsWith(`error: ${join(dir, 'manifest.json')}: corrupt file: expected files[2].name to be a file name inside the output folder, found `), r.errors[0]);
    }
  }
});

test('a FIFO, a device or a symlink out of the folder in place of a listed file: one problem line, no hang', async () => {
  const cases: [string, (path: string) => void, RegExp][] = [
    ['a FIFO', (p) => spawnSync('mkfifo', [p]), /config\.json: corrupt file: expected a regular file, found a FIFO/],
    ['a symlink to /dev/zero', (p) => symlinkSync('/dev/zero', p), /config\.json: corrupt file: expected a regular file, found a symbolic link/],
    ['a symlink to a file outside', (p) => symlinkSync(join(GOLDEN, 'config.json'), p), /config\.json: corrupt file: expected a regular file, found a symbolic link/],
  ];
  // a device node (/dev/zero's numbers) needs root to make: as CI runs the tests
  if (spawnSync('mknod', [join(tmp, 'probe'), 'c', '1', '5']).status === 0) {
    cases.push(['a character device', (p) => spawnSync('mknod', [p, 'c', '1', '5']), /config\.json: corrupt file: expected a regular file, found a character device/]);
  }
  for (const [what, make, line] of cases) {
    for (const format of ['hf-packed', 'ms-gpu']) {
      const dir = await output(format);
      rmSync(join(dir, 'config.json'));
      make(join(dir, 'config.json'));
      for (const against of [undefined, GOLDEN]) {
        const v = await verify(dir, against, { threads: 0 });
        assert.not.ok(v.ok, what);
        assert.ok(v.problems.some((p) => line.test(p)), `${what}, ${format}: ${v.problems.join('\n')}`);
      }
      const r = cliBounded(['verify', dir, '--against', GOLDEN]);
      assert.is(r.code, 1, r.err);
      assert.match(r.out, line);
      const i = cliBounded(['inspect', dir]);
      assert.is(i.code, 1, i.err);
      assert.equal(i.errors.length, 1, i.err);
      assert.match(i.errors[0], `${join(dir, 'config.json')}: corrupt file: expected a regular file`);
    }
  }
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();

// The opener's port over files read asynchronously (src/model/read-ahead.ts: a browser's Files) and the
// page's choice of the model among picked files (src/web/input.ts), for a .gguf input: its head is read
// ahead (more than the first 8 MiB only when the head goes on), nothing of its tensor data, and the
// checkpoint opened through it is the one the CLI opens from disk.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { convert } from '../build/js/run/convert.js';
import { generateCheckpoint } from '../build/js/synth/generate.js';
import { openCheckpoint } from '../build/js/io/checkpoint.js';
import { openCheckpointFolder } from '../build/js/model/checkpoint.js';
import { readAheadFolder, type AsyncFile } from '../build/js/model/read-ahead.js';
import { layoutGguf, parseGguf, parseGgufPrefix } from '../build/js/formats/gguf.js';
import { ggufModelName } from '../build/js/model/gguf-checkpoint.js';
import { configModelName, fileSet } from '../build/js/web/input.js';
import { UsageError } from '../build/js/errors.js';
import { encodeGguf } from './helpers/gguf-literal.js';

const ahead = suite('read ahead: a .gguf');
const tmp = mkdtempSync(join(tmpdir(), 'bitnet-read-ahead-'));

/** A File as a picked folder (a path with folders) or a file chosen alone gives it. */
const file = (path: string, size = 1) => Object.defineProperty(new File([new Uint8Array(size)], path.split('/').pop()!), 'webkitRelativePath', { value: path.includes('/') ? path : '' });

/** Files over bytes in memory, counting what is read. */
function asyncFiles(files: Record<string, Uint8Array>): { files: Map<string, AsyncFile>; read: () => number } {
  let read = 0;
  const map = new Map<string, AsyncFile>();
  for (const [name, bytes] of Object.entries(files)) {
    map.set(name, {
      size: bytes.length,
      read: async (at, length) => {
        read += length;
        return bytes.slice(at, at + length);
      },
      text: async () => {
        read += bytes.length;
        return new TextDecoder().decode(bytes);
      },
    });
  }
  return { files: map, read: () => read };
}

ahead('the checkpoint opened through the read-ahead is the one opened from disk; the vocabulary there for the side files', async () => {
  const model = join(tmp, 'model');
  generateCheckpoint({ outDir: model, layout: 'hf-bitnet', dtype: 'F16', seed: 3, shape: { hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 300 } });
  const out = join(tmp, 'gguf');
  await convert({ inputDir: model, outputDir: out, format: 'gguf', ggufType: 'i2_s', threads: 0, timestamp: 0 } as Parameters<typeof convert>[0]);
  const name = readdirSync(out).find((f) => f.endsWith('.gguf'))!;
  const bytes = new Uint8Array(readFileSync(join(out, name)));
  const { files, read } = asyncFiles({ [name]: bytes, 'README.md': new TextEncoder().encode('# a model card') });
  const { folder, side } = await readAheadFolder('picked', files, (n) => `picked/${n}`);
  const web = openCheckpointFolder(folder);
  const disk = openCheckpoint(join(out, name));
  assert.ok(web.gguf && disk.gguf);
  assert.equal(web.config, disk.config, 'the config rebuilt from the KVs');
  assert.equal([...web.tensors.keys()], [...disk.tensors.keys()]);
  for (const [k, t] of web.tensors) {
    const d = disk.tensors.get(k)!;
    assert.equal({ ...t, file: basename(t.file) }, { ...d, file: basename(d.file) }, k);
  }
  const head = parseGgufPrefix((n) => side.readSideAt!(name, 0, n), name, bytes.length, { arrays: 'keep' });
  assert.ok(head.kvs.has('tokenizer.ggml.tokens'), 'the vocabulary can be read from the head again');
  assert.is(read(), bytes.length + 14, 'a .gguf under 8 MiB: read whole, once (and the model card, a small side file)');
});

ahead('a head longer than the first 8 MiB is read whole (and no more than it asks), then opened as from disk', async () => {
  // a vocabulary of 100k tokens of ~100 bytes: a 10 MB head, then 16 MiB of tensor data
  const tokens = Array.from({ length: 100_000 }, (_, i) => `tok${i}`.padEnd(100, 'x'));
  const file = encodeGguf({ kv: [['general.architecture', 'string', 'llama'], ['tokenizer.ggml.tokens', 'string[]', tokens]], tensors: [{ name: 'token_embd.weight', ne: [1024, 4096], type: 'F32', data: new Float32Array(1024 * 4096) }] });
  const { files, read } = asyncFiles({ 'big.gguf': file });
  const dataStart = parseGgufPrefix((n) => file.subarray(0, n), 'big.gguf', file.length).dataStart;
  const { folder } = await readAheadFolder('picked', files, (n) => `picked/${n}`);
  const head = parseGgufPrefix((n) => folder.read('big.gguf', 0, n), 'picked/big.gguf', file.length, { arrays: 'keep' });
  assert.is((head.kvs.get('tokenizer.ggml.tokens')!.value as string[]).length, 100_000);
  assert.ok(read() > 1 << 23, 'more than the first 8 MiB');
  // 8 MiB, then the head's length as the reader asks for it (2x or what it needs): never its data
  assert.ok(read() <= (1 << 23) + Math.max(dataStart, 1 << 24), `read ${read()} bytes; the head ends at ${dataStart}, the file at ${file.length}`);
});

ahead('a split set (the KVs in part 1, the tensors over both parts): both heads read ahead, the checkpoint the one opened from disk', async () => {
  const out = join(tmp, 'gguf');
  const whole = new Uint8Array(readFileSync(join(out, readdirSync(out).find((f) => f.endsWith('.gguf'))!)));
  const parsed = parseGguf(whole, 'x.gguf', whole.length, { arrays: 'keep' });
  const n = parsed.tensors.length;
  const half = Math.floor(n / 2);
  const splitKvs = (no: number) => [
    { key: 'split.no', v: { type: 2, value: no } }, { key: 'split.count', v: { type: 2, value: 2 } }, { key: 'split.tensors.count', v: { type: 5, value: n } },
  ];
  const part = (kvs: unknown[], tensors: typeof parsed.tensors) => {
    const layout = layoutGguf(kvs as never, tensors.map((t) => ({ name: t.name, ne: t.ne, type: t.type })));
    const file = new Uint8Array(layout.fileBytes);
    file.set(layout.head);
    tensors.forEach((t, i) => file.set(whole.subarray(t.offset, t.offset + t.bytes), layout.offsets[i]));
    return file;
  };
  const parts = {
    'm-00001-of-00002.gguf': part([...[...parsed.kvs].map(([key, v]) => ({ key, v })), ...splitKvs(0)], parsed.tensors.slice(0, half)),
    'm-00002-of-00002.gguf': part(splitKvs(1), parsed.tensors.slice(half)),
  };
  const dir = join(tmp, 'split');
  mkdirSync(dir);
  for (const [name, bytes] of Object.entries(parts)) writeFileSync(join(dir, name), bytes);
  const { folder } = await readAheadFolder('split', asyncFiles(parts).files, (name) => `split/${name}`);
  const web = openCheckpointFolder(folder);
  const disk = openCheckpoint(dir);
  assert.equal([...web.tensors.keys()], [...disk.tensors.keys()]);
  for (const [k, t] of web.tensors) {
    const d = disk.tensors.get(k)!;
    assert.equal({ ...t, file: basename(t.file) }, { ...d, file: basename(d.file) }, k);
  }
  assert.equal(new Set([...web.tensors.values()].map((t) => basename(t.file))), new Set(Object.keys(parts)), 'tensors in both parts');
  // named after the set, by the CLI (the first part named) and by the page (the parts chosen as files)
  assert.is(ggufModelName('m-00001-of-00002.gguf'), 'm');
  assert.is(fileSet(Object.keys(parts).map((name) => file(name))).dir, 'm');
  const named = join(tmp, 'split-named');
  await convert({ inputDir: join(dir, 'm-00001-of-00002.gguf'), outputDir: named, format: 'hf-packed', threads: 0, timestamp: 0 } as Parameters<typeof convert>[0]);
  assert.is(JSON.parse(readFileSync(join(named, 'manifest.json'), 'utf8')).source.folder, 'm');
});

ahead('with config.json beside it, a .gguf is not the model: nothing of it is read', async () => {
  const { files, read } = asyncFiles({ 'config.json': new TextEncoder().encode('{}'), 'other.gguf': new Uint8Array(1 << 20) });
  await readAheadFolder('picked', files, (n) => `picked/${n}`, () => false);
  assert.is(read(), 2);
});

ahead.after(() => rmSync(tmp, { recursive: true, force: true }));
ahead.run();

const picked = suite('the page: a .gguf among the picked files');


picked('one .gguf chosen as a file: the model, named after it without the extension (as the CLI names a .gguf)', () => {
  const s = fileSet([file('ggml-model-i2_s.gguf')]);
  assert.is(s.dir, 'ggml-model-i2_s');
  assert.equal([...s.files.keys()], ['ggml-model-i2_s.gguf']);
});

picked('files without their folder: marked unnamed (the page asks); config.json\'s Hub id names them, a local path or a bare name does not', () => {
  const loose = fileSet([file('config.json'), file('model.safetensors')]);
  assert.is(loose.unnamed, true);
  assert.is(loose.dir, 'model');
  assert.is(fileSet([file('config.json'), file('model.safetensors')], 'typed').unnamed, undefined);
  assert.is(fileSet([file('m/config.json'), file('m/model.safetensors')]).unnamed, undefined);
  assert.is(fileSet([file('ggml-model-i2_s.gguf')]).unnamed, undefined);
  const name = (v: unknown) => configModelName(JSON.stringify({ hidden_size: 8, _name_or_path: v }));
  assert.is(name('microsoft/bitnet-b1.58-2B-4T'), 'bitnet-b1.58-2B-4T');
  assert.is(name('tiiuae/Falcon3-1B-Instruct-1.58bit'), 'Falcon3-1B-Instruct-1.58bit');
  for (const v of ['/home/me/ckpt/checkpoint-500', 'checkpoint-500', './out', 'a/b/c', 'org/..', '', 7, null]) assert.is(name(v), undefined, JSON.stringify(v));
  assert.is(configModelName('{"hidden_size": 8}'), undefined);
  assert.is(configModelName('not json'), undefined);
});

picked('a folder holding a .gguf: named after the folder; a parent folder: the one subfolder that holds one', () => {
  assert.is(fileSet([file('bitnet-2b/ggml-model-i2_s.gguf'), file('bitnet-2b/README.md')]).dir, 'bitnet-2b');
  const s = fileSet([file('downloads/notes.txt'), file('downloads/bitnet-2b/ggml-model-i2_s.gguf')]);
  assert.is(s.dir, 'bitnet-2b');
  assert.is(s.inside, 'downloads/bitnet-2b');
});

picked('a folder with config.json: its safetensors are the model, a .gguf elsewhere does not count', () => {
  const s = fileSet([file('downloads/notes.gguf'), file('downloads/m/config.json'), file('downloads/m/model.safetensors')]);
  assert.is(s.dir, 'm');
});

picked('several subfolders with a .gguf: refused, naming them', () => {
  try {
    fileSet([file('d/a/x.gguf'), file('d/b/y.gguf')]);
    assert.unreachable('refused');
  } catch (e) {
    assert.instance(e, UsageError);
    assert.match((e as Error).message, /d: no \.gguf here, and several subfolders hold a model \(d\/a, d\/b\); pick one of them/);
  }
});

picked('a folder with nothing a model is made of: refused at the pick, in words', () => {
  try {
    fileSet([file('nomodel/readme.txt'), file('nomodel/foo.json')]);
    assert.unreachable('refused');
  } catch (e) {
    assert.instance(e, UsageError);
    assert.is((e as Error).message, 'nomodel: no model here: expected config.json with .safetensors files, or a .gguf, in the picked folder or a folder inside it');
  }
  // safetensors without config.json is still taken: opening it names the missing config.json
  assert.is(fileSet([file('m/model.safetensors')]).dir, 'm');
});

picked.run();

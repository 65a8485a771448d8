import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CorruptFileError, InvalidConfigError } from '../build/js/errors.js';
import { INDEX_FILE, openCheckpoint, readSafetensorsHeader } from '../build/js/io/checkpoint.js';
import { PositionedReader } from '../build/js/io/read.js';
import { buildSafetensors, rawSafetensors, TINY_CONFIG, withTmpDir, writeConfig, writeSafetensors, type TensorSpec } from './helpers/safetensors-file.js';
import { throwsTyped } from './helpers/common.js';

const GOLDEN = fileURLToPath(new URL('./fixtures/golden-tiny/', import.meta.url));


function openFds(): number {
  try {
    return fs.readdirSync('/proc/self/fd').length;
  } catch {
    return -1; // not Linux: skip the leak check
  }
}

const SHARD1: TensorSpec[] = [
  { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [8, 16] },
  { name: 'model.layers.0.input_layernorm.weight', dtype: 'BF16', shape: [16] },
];
const SHARD2: TensorSpec[] = [
  { name: 'model.layers.0.self_attn.q_proj.weight', dtype: 'BF16', shape: [16, 16] },
  { name: 'model.norm.weight', dtype: 'BF16', shape: [16] },
  { name: 'model.rotary.cache', dtype: 'F32', shape: [2, 2, 2] },
];
const S1 = 'model-00001-of-00002.safetensors';
const S2 = 'model-00002-of-00002.safetensors';

function writeSharded(dir: string, weightMap?: Record<string, unknown>): void {
  writeConfig(dir, TINY_CONFIG);
  writeSafetensors(path.join(dir, S1), SHARD1, { format: 'pt' });
  writeSafetensors(path.join(dir, S2), SHARD2, { format: 'pt' });
  const map: Record<string, unknown> = weightMap ?? {
    ...Object.fromEntries(SHARD2.map((t) => [t.name, S2])),
    ...Object.fromEntries(SHARD1.map((t) => [t.name, S1])),
  };
  fs.writeFileSync(path.join(dir, INDEX_FILE), JSON.stringify({ metadata: { total_size: 1234 }, weight_map: map }, null, 2));
}

// ---------------------------------------------------------------- the golden fixture

test('golden-tiny: 24 BF16 tensors with the shapes its config.json implies', () => {
  const ck = openCheckpoint(GOLDEN);
  const cfg = ck.config as Record<string, number>;
  const h = cfg['hidden_size']!;
  const inter = cfg['intermediate_size']!;
  const kv = (h / cfg['num_attention_heads']!) * cfg['num_key_value_heads']!;
  assert.is(ck.configPath, path.join(GOLDEN, 'config.json'));
  assert.is(ck.indexPath, undefined);
  assert.is(ck.files.length, 1);
  assert.is(ck.tensors.size, 24);
  assert.equal(ck.skipped, []);
  const expected = new Map<string, number[]>([
    ['model.embed_tokens.weight', [cfg['vocab_size']!, h]],
    ['model.norm.weight', [1, h]],
  ]);
  for (let l = 0; l < cfg['num_hidden_layers']!; l++) {
    const p = `model.layers.${l}.`;
    expected.set(`${p}input_layernorm.weight`, [1, h]);
    expected.set(`${p}post_attention_layernorm.weight`, [1, h]);
    expected.set(`${p}self_attn.q_proj.weight`, [h, h]);
    expected.set(`${p}self_attn.k_proj.weight`, [kv, h]);
    expected.set(`${p}self_attn.v_proj.weight`, [kv, h]);
    expected.set(`${p}self_attn.o_proj.weight`, [h, h]);
    expected.set(`${p}self_attn.attn_sub_norm.weight`, [1, h]);
    expected.set(`${p}mlp.gate_proj.weight`, [inter, h]);
    expected.set(`${p}mlp.up_proj.weight`, [inter, h]);
    expected.set(`${p}mlp.down_proj.weight`, [h, inter]);
    expected.set(`${p}mlp.ffn_sub_norm.weight`, [1, inter]);
  }
  assert.is(expected.size, 24);
  for (const [name, shape] of expected) {
    const t = ck.tensors.get(name);
    assert.ok(t, `missing ${name}`);
    assert.equal(t!.shape, shape, name);
    assert.is(t!.dtype, 'BF16');
    assert.is(t!.byteLength, shape[0]! * shape[1]! * 2);
    assert.is(t!.file, path.join(GOLDEN, 'model.safetensors'));
  }
  // The last tensor ends at the end of the file; reading it with a PositionedReader works.
  const norm = ck.tensors.get('model.norm.weight')!;
  assert.is(norm.offset + norm.byteLength, fs.statSync(norm.file).size);
  const reader = new PositionedReader();
  try {
    const buf = new Uint8Array(norm.byteLength);
    reader.readExactly(norm.file, buf, norm.offset);
    const whole = fs.readFileSync(norm.file);
    assert.equal([...buf], [...whole.subarray(norm.offset, norm.offset + norm.byteLength)]);
  } finally {
    reader.close();
  }
});

test('readSafetensorsHeader reads the other fixtures and closes its descriptors', () => {
  const before = openFds();
  for (let i = 0; i < 20; i++) {
    for (const f of ['model.safetensors', 'reference-ternary.safetensors', 'ms-gpu-int2.safetensors']) {
      const h = readSafetensorsHeader(path.join(GOLDEN, f));
      assert.ok(h.tensors.length > 0);
    }
    try {
      readSafetensorsHeader(path.join(GOLDEN, 'config.json'));
    } catch (e) {
      assert.instance(e, CorruptFileError);
    }
  }
  if (before >= 0) assert.is(openFds(), before, 'no leaked file descriptors');
});

// ---------------------------------------------------------------- single files

test('single file with a 3-D tensor: skipped with its file; 1-D promoted', () => {
  withTmpDir((dir) => {
    writeConfig(dir, TINY_CONFIG);
    writeSafetensors(path.join(dir, 'model.safetensors'), [
      { name: 'a', dtype: 'F32', shape: [3] },
      { name: 'cube', dtype: 'BF16', shape: [2, 2, 2] },
      { name: 'b', dtype: 'U8', shape: [0, 4] },
    ]);
    const ck = openCheckpoint(dir);
    assert.equal([...ck.tensors.keys()], ['a', 'b']);
    assert.equal(ck.tensors.get('a')!.shape, [1, 3]);
    assert.equal(ck.skipped.length, 1);
    assert.is(ck.skipped[0]!.name, 'cube');
    assert.is(ck.skipped[0]!.file, path.join(dir, 'model.safetensors'));
    assert.match(ck.skipped[0]!.reason, /3-D/);
  });
});

test('corrupt and truncated files on disk', () => {
  withTmpDir((dir) => {
    writeConfig(dir, TINY_CONFIG);
    const file = path.join(dir, 'model.safetensors');
    const good = buildSafetensors([{ name: 'w', dtype: 'BF16', shape: [4, 4] }]);
    fs.writeFileSync(file, good.subarray(0, good.length - 1));
    throwsTyped(() => openCheckpoint(dir), CorruptFileError, [file, 'tensor w', 'truncated']);
    fs.writeFileSync(file, good.subarray(0, 20));
    throwsTyped(() => openCheckpoint(dir), CorruptFileError, [file, 'truncated']);
    fs.writeFileSync(file, good.subarray(0, 5));
    throwsTyped(() => openCheckpoint(dir), CorruptFileError, [file, '5 bytes']);
    fs.writeFileSync(file, new Uint8Array(0));
    throwsTyped(() => openCheckpoint(dir), CorruptFileError, [file, '0 bytes']);
    fs.writeFileSync(file, rawSafetensors({}, 0, { headerLength: 0 }));
    throwsTyped(() => openCheckpoint(dir), CorruptFileError, [file, 'header length 0']);
    fs.writeFileSync(file, rawSafetensors({}, 0, { headerLength: 2n ** 60n }));
    throwsTyped(() => openCheckpoint(dir), CorruptFileError, [file, String(2n ** 60n)]);
    fs.writeFileSync(file, rawSafetensors({}, 0, { headerLength: 64 }));
    throwsTyped(() => openCheckpoint(dir), CorruptFileError, [file, 'header of 64 bytes']);
    const trailing = new Uint8Array(good.length + 3);
    trailing.set(good);
    fs.writeFileSync(file, trailing);
    throwsTyped(() => openCheckpoint(dir), CorruptFileError, [file, '3 trailing bytes']);
    fs.writeFileSync(file, 'version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 5\n');
    throwsTyped(() => openCheckpoint(dir), CorruptFileError, [file, 'Git LFS']);
    fs.rmSync(file);
    fs.mkdirSync(file);
    throwsTyped(() => openCheckpoint(dir), CorruptFileError, [file]);
  });
});

// ---------------------------------------------------------------- config.json

test('config.json missing, invalid, not an object; folder missing or a file', () => {
  withTmpDir((dir) => {
    const cfg = path.join(dir, 'config.json');
    writeSafetensors(path.join(dir, 'model.safetensors'), [{ name: 'w', dtype: 'U8', shape: [1] }]);
    throwsTyped(() => openCheckpoint(dir), InvalidConfigError, [cfg, 'no such file', 'download config.json']);
    fs.writeFileSync(cfg, '{"hidden_size": 64,');
    throwsTyped(() => openCheckpoint(dir), InvalidConfigError, [cfg, 'invalid JSON', 're-download']);
    fs.writeFileSync(cfg, '[1, 2]');
    throwsTyped(() => openCheckpoint(dir), InvalidConfigError, [cfg, 'JSON object', 'a list']);
    fs.writeFileSync(cfg, '');
    throwsTyped(() => openCheckpoint(dir), InvalidConfigError, [cfg, 'invalid JSON']);
    const nowhere = path.join(dir, 'nope');
    throwsTyped(() => openCheckpoint(nowhere), InvalidConfigError, [path.join(nowhere, 'config.json'), 'does not exist']);
    const asFile = path.join(dir, 'model.safetensors');
    throwsTyped(() => openCheckpoint(asFile), InvalidConfigError, ['is a file, not a folder']);
  });
});

test('no weights: says what was looked for, and mentions shards without an index', () => {
  withTmpDir((dir) => {
    writeConfig(dir, TINY_CONFIG);
    throwsTyped(() => openCheckpoint(dir), CorruptFileError, [dir, 'model.safetensors or model.safetensors.index.json', 'no .safetensors files']);
    writeSafetensors(path.join(dir, S1), SHARD1);
    writeSafetensors(path.join(dir, S2), SHARD2);
    throwsTyped(() => openCheckpoint(dir), CorruptFileError, [dir, S1, S2, 'without an index', INDEX_FILE]);
  });
});

// ---------------------------------------------------------------- sharded checkpoints

test('sharded: index + 2 shards, tensors split across them', () => {
  withTmpDir((dir) => {
    writeSharded(dir);
    const ck = openCheckpoint(dir);
    assert.is(ck.indexPath, path.join(dir, INDEX_FILE));
    assert.equal(
      ck.files.map((f) => f.file),
      [path.join(dir, S1), path.join(dir, S2)],
    );
    assert.equal([...ck.tensors.keys()], [...SHARD1.map((t) => t.name), 'model.layers.0.self_attn.q_proj.weight', 'model.norm.weight']);
    assert.is(ck.tensors.get('model.embed_tokens.weight')!.file, path.join(dir, S1));
    assert.is(ck.tensors.get('model.norm.weight')!.file, path.join(dir, S2));
    assert.equal(ck.tensors.get('model.norm.weight')!.shape, [1, 16]);
    assert.equal(
      ck.skipped.map((s) => [s.name, s.file]),
      [['model.rotary.cache', path.join(dir, S2)]],
    );
    // The data of a tensor in the second shard is where the header says.
    const q = ck.tensors.get('model.layers.0.self_attn.q_proj.weight')!;
    const reader = new PositionedReader();
    try {
      const buf = new Uint8Array(q.byteLength);
      reader.readExactly(q.file, buf, q.offset);
      const expected = buildSafetensors(SHARD2, { format: 'pt' });
      assert.equal([...buf], [...expected.subarray(q.offset, q.offset + q.byteLength)]);
    } finally {
      reader.close();
    }
  });
});

test('sharded: a model.safetensors next to an index wins (as in transformers)', () => {
  withTmpDir((dir) => {
    writeSharded(dir);
    writeSafetensors(path.join(dir, 'model.safetensors'), [{ name: 'only', dtype: 'U8', shape: [1] }]);
    const ck = openCheckpoint(dir);
    assert.is(ck.indexPath, undefined);
    assert.equal([...ck.tensors.keys()], ['only']);
  });
});

test('sharded: a shard named in the index but missing on disk', () => {
  withTmpDir((dir) => {
    writeSharded(dir);
    fs.rmSync(path.join(dir, S2));
    throwsTyped(() => openCheckpoint(dir), CorruptFileError, [path.join(dir, INDEX_FILE), S2, 'missing']);
    fs.rmSync(path.join(dir, S1));
    throwsTyped(() => openCheckpoint(dir), CorruptFileError, [path.join(dir, INDEX_FILE), S1, S2, 'shards']);
  });
});

test('sharded: the index names a tensor absent from its shard', () => {
  withTmpDir((dir) => {
    writeSharded(dir, {
      'model.embed_tokens.weight': S1,
      'model.layers.0.input_layernorm.weight': S2, // it is in S1
      'model.norm.weight': S2,
    });
    throwsTyped(() => openCheckpoint(dir), CorruptFileError, [
      path.join(dir, S2),
      'tensor model.layers.0.input_layernorm.weight',
      path.join(dir, INDEX_FILE),
    ]);
  });
  withTmpDir((dir) => {
    writeSharded(dir, { 'model.not_there.weight': S1 });
    throwsTyped(() => openCheckpoint(dir), CorruptFileError, [path.join(dir, S1), 'tensor model.not_there.weight']);
  });
});

test('sharded: the same tensor in two shards', () => {
  withTmpDir((dir) => {
    writeConfig(dir, TINY_CONFIG);
    writeSafetensors(path.join(dir, S1), SHARD1);
    writeSafetensors(path.join(dir, S2), [...SHARD2, { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [8, 16] }]);
    fs.writeFileSync(
      path.join(dir, INDEX_FILE),
      JSON.stringify({ weight_map: { 'model.embed_tokens.weight': S1, 'model.norm.weight': S2 } }),
    );
    throwsTyped(() => openCheckpoint(dir), CorruptFileError, [path.join(dir, S2), 'tensor model.embed_tokens.weight', `also in ${path.join(dir, S1)}`]);
  });
});

test('sharded: a malformed index', () => {
  withTmpDir((dir) => {
    writeSharded(dir);
    const index = path.join(dir, INDEX_FILE);
    const cases: [string, string[]][] = [
      ['{"weight_map": ', ['invalid JSON']],
      ['[]', ['weight_map']],
      ['{"metadata": {}}', ['"weight_map"', 'found nothing']],
      ['{"weight_map": []}', ['"weight_map"', 'a list']],
      ['{"weight_map": {"a": 1}}', ['tensor a', 'shard file name']],
      ['{"weight_map": {"a": null}}', ['tensor a']],
      ['{"weight_map": {"a": "../model.safetensors"}}', ['tensor a', 'same folder']],
      ['{"weight_map": {"a": "/etc/passwd"}}', ['tensor a', 'same folder']],
      ['{"weight_map": {"a": ""}}', ['tensor a']],
    ];
    for (const [text, parts] of cases) {
      fs.writeFileSync(index, text);
      throwsTyped(() => openCheckpoint(dir), CorruptFileError, [index, ...parts]);
    }
    // An empty weight_map is a valid (if useless) index: no tensors.
    fs.writeFileSync(index, '{"weight_map": {}}');
    assert.is(openCheckpoint(dir).tensors.size, 0);
  });
});

test('sharded: a corrupt shard is named', () => {
  withTmpDir((dir) => {
    writeSharded(dir);
    const shard = path.join(dir, S2);
    const bytes = fs.readFileSync(shard);
    fs.writeFileSync(shard, bytes.subarray(0, bytes.length - 2));
    throwsTyped(() => openCheckpoint(dir), CorruptFileError, [shard]);
  });
});

// ---------------------------------------------------------------- PositionedReader

test('PositionedReader: exact reads at positions, truncation, missing files, close', () => {
  withTmpDir((dir) => {
    const file = path.join(dir, 'data.bin');
    const bytes = new Uint8Array(1000).map((_, i) => (i * 7) & 255);
    fs.writeFileSync(file, bytes);
    const before = openFds();
    const r = new PositionedReader();
    const buf = new Uint8Array(10);
    r.readExactly(file, buf, 500);
    assert.equal([...buf], [...bytes.subarray(500, 510)]);
    r.readExactly(file, buf, 990);
    assert.equal([...buf], [...bytes.subarray(990, 1000)]);
    r.readExactly(file, new Uint8Array(0), 1000);
    if (before >= 0) assert.is(openFds(), before + 1, 'one cached descriptor per path');
    r.readExactly(file, buf, 0);
    if (before >= 0) assert.is(openFds(), before + 1, 'still one descriptor');
    throwsTyped(() => r.readExactly(file, buf, 995), CorruptFileError, [file, 'truncated', 'after 5']);
    throwsTyped(() => r.readExactly(file, buf, 5000), CorruptFileError, [file, 'truncated']);
    throwsTyped(() => r.readExactly(file, buf, -1), CorruptFileError, [file]);
    throwsTyped(() => r.readExactly(path.join(dir, 'nope.bin'), buf, 0), CorruptFileError, ['nope.bin', 'no such file']);
    r.close();
    if (before >= 0) assert.is(openFds(), before, 'close releases the descriptor');
    r.readExactly(file, buf, 1);
    assert.equal([...buf], [...bytes.subarray(1, 11)]);
    r.close();
    r.close();
  });
});

test.run();

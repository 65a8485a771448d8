// inspect: an input checkpoint's ternary statistics follow the reference rule; an output's, decoded by
// its format's reader, agree with the input's; the CLI prints text or one JSON document.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { inspect } from '../build/js/run/inspect.js';
import { convert } from '../build/js/run/convert.js';
import { readSafetensors } from './helpers/read-safetensors.js';
import { decodeValues, referenceTernary } from './reference/ternary-ref.js';

const GOLDEN = new URL('./fixtures/golden-tiny/', import.meta.url).pathname;
const CLI = new URL('../build/js/cli/main.js', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'bitnet-inspect-'));

test('an input checkpoint: every projection\'s -1/0/+1 shares and scale are the reference rule\'s', async () => {
  const r = await inspect(GOLDEN);
  assert.is(r.kind, 'input');
  assert.is(r.layout, 'hf-bitnet');
  assert.is(r.tensors.length, 24 + 1, 'every tensor, and the tied head');
  const source = readSafetensors(join(GOLDEN, 'model.safetensors'));
  let checked = 0;
  for (const t of r.tensors.filter((x) => x.ternary && x.role !== 'output')) {
    const s = source.get(t.name)!;
    const want = referenceTernary(decodeValues(s.bytes, 'BF16'), 'BF16');
    const count = (v: number) => want.q.filter((x) => x === v).length / want.q.length;
    assert.equal(t.ternary!.fractions, { minus: count(-1), zero: count(0), plus: count(1) }, t.name);
    assert.equal(t.ternary!.scales, [Math.fround(want.scale)], t.name);
    checked++;
  }
  assert.is(checked, 14);
});

test('an output of every format: the reader\'s statistics agree with the input\'s', async () => {
  const input = await inspect(GOLDEN);
  const q = input.tensors.find((t) => t.name === 'model.layers.1.self_attn.q_proj.weight')!.ternary!;
  const head = input.tensors.find((t) => t.role === 'output')!.ternary!;
  for (const [format, name] of [['hf-packed', 'model.layers.1.self_attn.q_proj.weight'], ['bitnet-rs', 'lm_head.bin:weight'], ['bitnet-rs-safetensors', 'output.weight']] as const) {
    const dir = join(tmp, format);
    await convert({ inputDir: GOLDEN, outputDir: dir, format, threads: 0, timestamp: 1 });
    const r = await inspect(dir);
    assert.is(r.format, format);
    const t = r.tensors.find((x) => x.name === name)!;
    assert.equal(t.ternary!.fractions, name.includes('q_proj') ? q.fractions : head.fractions, `${format} ${name}`);
    assert.equal(t.ternary!.scales, name.includes('q_proj') ? q.scales : head.scales, `${format} ${name} scale`);
  }
});

test('the CLI: text with one line per tensor, or --json', () => {
  const text = spawnSync(process.execPath, [CLI, 'inspect', GOLDEN], { encoding: 'utf8' });
  assert.is(text.status, 0, text.stderr);
  assert.match(text.stdout, /input checkpoint, layout hf-bitnet/);
  assert.match(text.stdout, /model\.layers\.0\.mlp\.down_proj\.weight \(blk\.0\.ffn_down\)\s+BF16 \[64, 160\]/);
  assert.match(text.stdout, /ternary \[64, 160\]: -1 [\d.]+%, 0 [\d.]+%, \+1 [\d.]+%; scale/);
  const json = spawnSync(process.execPath, [CLI, 'inspect', GOLDEN, '--json'], { encoding: 'utf8' });
  const doc = JSON.parse(json.stdout);
  assert.is(doc.tensors.length, 25);
  const bad = spawnSync(process.execPath, [CLI, 'inspect', join(tmp, 'nothing-here')], { encoding: 'utf8' });
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /^error: .*config\.json/);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();

// Every format's own reader (OutputFormat.read, used by inspect and verify) against the independent
// test-side decoders and expectations: each ternary tensor it decodes must hold the values and scales
// the reference says; and mutated outputs end in a typed error or a result, never a crash.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert } from '../build/js/run/convert.js';
import { outputFolder, readOutput } from '../build/js/io/converted.js';
import { FORMATS } from '../build/js/outputs/index.js';
import { generateCheckpoint } from '../build/js/synth/generate.js';
import { ConversionError } from '../build/js/errors.js';
import { readCheckpointTensors } from './helpers/read-safetensors.js';
import { mulberry32 } from './helpers/common.js';
import { expectedBitnetRsSafetensors, expectedHfPacked, expectedMsGpu, roundToDtype, type ExpectedFile } from './reference/formats-ref.js';
import { decodeValues, referenceTernary, type Dt } from './reference/ternary-ref.js';

const tmp = mkdtempSync(join(tmpdir(), 'bitnet-readers-'));
let n = 0;
const fresh = (name: string) => join(tmp, `${name}-${n++}`);

/** Shapes every format can hold (GGUF needs rows of 256; ms-gpu whole 16x32 tiles). */
const SHAPE = { hidden_size: 256, intermediate_size: 512, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 320 };
const input = fresh('in');
generateCheckpoint({ outDir: input, layout: 'packed', shape: SHAPE, seed: 31 });
const config = JSON.parse(readFileSync(join(input, 'config.json'), 'utf8'));
const tensors = readCheckpointTensors(input);

async function out(format: string): Promise<string> {
  const dir = fresh(format);
  await convert({ inputDir: input, outputDir: dir, format, threads: 2, timestamp: 1 });
  return dir;
}

/** Compares a reader's ternary tensors with an expectation's, by name. */
function sameAsExpected(dir: string, expected: ExpectedFile, rename = (name: string) => name) {
  const read = readOutput(dir).tensors.filter((t) => t.ternary);
  assert.ok(read.length > 0, 'ternary tensors read');
  for (const t of read) {
    const e = expected.tensors.get(rename(t.name));
    assert.ok(e, `expected ${rename(t.name)}`);
    const c = e!.content;
    assert.ok('ternary' in c, `${t.name} is ternary in the expectation`);
    if (!('ternary' in c)) continue;
    assert.is(t.ternary!.q.findIndex((v, i) => v !== c.ternary[i]), -1, `${t.name} values`);
    const s = expected.tensors.get(rename(t.name) + '_scale')?.content;
    if (s && s.kind === 'scales') {
      const dt = expected.tensors.get(rename(t.name) + '_scale')!.dtype as Dt;
      assert.is(t.ternary!.rowScales[0], roundToDtype(s.values[0], dt), `${t.name} scale`);
    }
  }
}

const readers = suite('each format reads its own output back');

readers('bitnet-rs-safetensors, hf-packed, ms-gpu: the reader decodes what the independent expectation says', async () => {
  sameAsExpected(await out('bitnet-rs-safetensors'), expectedBitnetRsSafetensors(tensors, config));
  sameAsExpected(await out('hf-packed'), expectedHfPacked(tensors, config));
  sameAsExpected(await out('ms-gpu'), expectedMsGpu(tensors, config));
});

readers('bitnet-rs: block records decode to the stacked projections', async () => {
  const expected = expectedBitnetRsSafetensors(tensors, config);
  const names: Record<string, string> = { 'attention.wqkv': 'attention.wqkv.weight', 'attention.o_proj': 'attention.wo.weight', 'feed_forward.w13': 'feed_forward.w13.weight', 'feed_forward.w2': 'feed_forward.w2.weight' };
  sameAsExpected(await out('bitnet-rs'), expected, (name) => {
    if (name === 'lm_head.bin:weight') return 'output.weight';
    const m = /^block_(\d+)\.bin:(.+)$/.exec(name)!;
    return `layers.${m[1]}.${names[m[2]]}`;
  });
});

readers('gguf: every projection decodes to the packed source\'s codes and scale', async () => {
  for (const dir of [await out('gguf')]) {
    const read = readOutput(dir).tensors.filter((t) => t.ternary);
    assert.is(read.length, 7);
    const proj: Record<string, string> = { attn_q: 'self_attn.q_proj', attn_k: 'self_attn.k_proj', attn_v: 'self_attn.v_proj', attn_output: 'self_attn.o_proj', ffn_gate: 'mlp.gate_proj', ffn_up: 'mlp.up_proj', ffn_down: 'mlp.down_proj' };
    const want = expectedHfPacked(tensors, config); // the packed source's own codes and scales, as hf-packed keeps them
    for (const t of read) {
      const m = /^blk\.(\d+)\.(\w+)\.weight$/.exec(t.name)!;
      const name = `model.layers.${m[1]}.${proj[m[2]]}.weight`;
      const c = want.tensors.get(name)!.content;
      assert.ok('ternary' in c && t.ternary!.q.every((v, i) => v === c.ternary[i]), `${t.name} values`);
      const s = want.tensors.get(name + '_scale')!.content;
      assert.ok(s.kind === 'scales' && t.ternary!.rowScales[0] === Math.fround(s.values[0]), `${t.name} scale`);
    }
  }
});

readers('a master checkpoint: the gguf reader gives the reference rule\'s values', async () => {
  const master = fresh('master');
  generateCheckpoint({ outDir: master, layout: 'master', shape: SHAPE, seed: 32 });
  const dir = fresh('gguf-master');
  await convert({ inputDir: master, outputDir: dir, format: 'gguf', threads: 0, timestamp: 1 });
  const src = readCheckpointTensors(master);
  const q = readOutput(dir).tensors.find((t) => t.name === 'blk.0.attn_q.weight')!;
  const s = src.get('model.layers.0.self_attn.q_proj.weight')!;
  const want = referenceTernary(decodeValues(s.bytes, s.dtype as Dt), s.dtype as Dt);
  assert.equal(Array.from(q.ternary!.q), Array.from(want.q));
  assert.is(q.ternary!.rowScales[0], Math.fround(want.scale));
});

/** The rows each role holds in SHAPE, spelled out here (not from the plan). */
function roleRows(role: string): number {
  const kv = (SHAPE.num_key_value_heads * SHAPE.hidden_size) / SHAPE.num_attention_heads;
  const rows: Record<string, number> = {
    attn_q: SHAPE.hidden_size, attn_k: kv, attn_v: kv, attn_o: SHAPE.hidden_size,
    ffn_gate: SHAPE.intermediate_size, ffn_up: SHAPE.intermediate_size, ffn_down: SHAPE.hidden_size, output: SHAPE.vocab_size,
  };
  return rows[role];
}
const BLOCK = ['attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_o', 'attn_sub_norm', 'ffn_norm', 'ffn_gate', 'ffn_up', 'ffn_down', 'ffn_sub_norm'];
const PROJECTIONS = ['attn_q', 'attn_k', 'attn_v', 'attn_o', 'ffn_gate', 'ffn_up', 'ffn_down'];

readers('every format\'s reader reports the role each tensor holds: every role of the model once, stacks in order with their rows', async () => {
  for (const format of Object.keys(FORMATS)) {
    const seen: string[] = [];
    for (const t of readOutput(await out(format)).tensors) {
      const role = t.role;
      assert.ok(role !== undefined, `${format} ${t.name}: a role`);
      if (typeof role === 'string') {
        seen.push(role);
        assert.ok(['token_embd', 'output_norm', 'output'].includes(role), `${format} ${t.name}: ${role}`);
        assert.is(t.ternary !== undefined, role === 'output' && t.dtype !== 'F16' && t.dtype !== 'BF16' && t.dtype !== 'F32', `${format} ${t.name}: ternary or not`);
        if (t.ternary) assert.is(t.ternary.rows, roleRows(role), `${format} ${t.name} rows`);
        continue;
      }
      for (const r of role!.roles) seen.push(`blk.${role!.block}.${r}`);
      const projections = role!.roles.filter((r) => PROJECTIONS.includes(r));
      assert.ok(projections.length === 0 || projections.length === role!.roles.length, `${format} ${t.name}: projections or a norm`);
      assert.is(t.ternary !== undefined, projections.length > 0, `${format} ${t.name}: ternary when it holds projections`);
      if (t.ternary) assert.is(t.ternary.rows, role!.roles.reduce((n, r) => n + roleRows(r), 0), `${format} ${t.name} rows: its roles' stacked`);
      assert.equal([...role!.roles], BLOCK.filter((r) => role!.roles.includes(r)), `${format} ${t.name}: stacked in block order`);
    }
    // the head may be token_embd itself (hf-packed and gguf of a tied model write no output tensor)
    const want = ['token_embd', 'output_norm', 'output', ...Array.from({ length: SHAPE.num_hidden_layers }, (_, i) => BLOCK.map((r) => `blk.${i}.${r}`)).flat()];
    assert.equal([...seen].sort(), want.filter((r) => r !== 'output' || seen.includes('output')).sort(), `${format}: every role once`);
  }
});

readers.run();

const fuzz = suite('readers on mutated outputs');

fuzz('flipped bytes or a truncated file end in a typed error or a result, never a crash', async () => {
  const rnd = mulberry32(0x2eade2);
  let typed = 0;
  let read = 0;
  for (const format of Object.keys(FORMATS)) {
    const dir = await out(format);
    const files = outputFolder(dir).list().filter((f) => f !== 'manifest.json');
    const original = new Map(files.map((f) => [f, readFileSync(join(dir, f))]));
    for (let i = 0; i < 12; i++) {
      const file = files[Math.floor(rnd() * files.length)];
      const bytes = new Uint8Array(original.get(file)!);
      const mutated = rnd() < 0.25 ? bytes.subarray(0, Math.floor(rnd() * bytes.length)) : bytes;
      if (mutated === bytes) for (let k = 0; k < 1 + Math.floor(rnd() * 8); k++) bytes[Math.floor(rnd() * bytes.length)] ^= 1 << Math.floor(rnd() * 8);
      writeFileSync(join(dir, file), mutated);
      try {
        FORMATS[format].read(outputFolder(dir)); // the reader alone: no manifest check in front of it
        read++;
      } catch (e) {
        if (!(e instanceof ConversionError)) {
          assert.unreachable(`${format}: ${file} mutated #${i}: ${e instanceof Error ? e.stack : e}`);
        }
        typed++;
      }
      writeFileSync(join(dir, file), original.get(file)!);
    }
  }
  assert.ok(typed > 0 && read > 0, `not vacuous: ${typed} refused, ${read} read`);
});

fuzz.after(() => rmSync(tmp, { recursive: true, force: true }));
fuzz.run();

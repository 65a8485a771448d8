// Every input layout x every output format on the tiny and odd synthetic models: each output is read
// back with the independent decoders of test/reference/ and compared with what the reference rule
// (or the packed source's own codes and scales) says it must hold; formats that cannot represent a
// model must refuse it with one line and write nothing. Then the round trips through hf-packed.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert, type ConvertOptions } from '../build/js/run/convert.js';
import { readConvertedModel } from './helpers/common.js';
import { generateCheckpoint, type SynthOptions } from '../build/js/synth/generate.js';
import { UnsupportedError } from '../build/js/errors.js';
import { readCheckpointTensors } from './helpers/read-safetensors.js';
import { decodeValues, type Dt } from './reference/ternary-ref.js';
import {
  checkAgainst, checkHfPackedConfig, decodeBitnetRsWords, expectedBitnetRsSafetensors, expectedHfPacked, expectedMsGpu, roundToDtype,
  type ExpectedFile,
} from './reference/formats-ref.js';

const tmp = mkdtempSync(join(tmpdir(), 'bitnet-conformance-'));
let n = 0;
const fresh = (name: string) => join(tmp, `${name}-${n++}`);

function synth(o: Partial<SynthOptions>): string {
  const outDir = fresh('in');
  generateCheckpoint({ outDir, ...o });
  return outDir;
}

async function run(inputDir: string, format: string, extra: Partial<ConvertOptions> = {}): Promise<string> {
  const outputDir = fresh(format);
  await convert({ inputDir, outputDir, format, threads: 2, timestamp: 1_700_000_000, chunkBytes: 1 << 12, ...extra });
  return outputDir;
}

const configOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;

/** The bitnet-rs .bin files hold what the bitnet-rs safetensors file holds, with f32 scales and f32 floats. */
function checkBitnetRsBins(out: string, input: string): string[] {
  const tensors = readCheckpointTensors(input);
  const want = expectedBitnetRsSafetensors(tensors, configOf(input));
  const model = readConvertedModel(out);
  const problems: string[] = [];
  const linear = (name: string, rec: { packedWeights: Uint32Array; weightScales: Float32Array; inFeatures: number; outFeatures: number }) => {
    const w = want.tensors.get(name)!.content;
    const s = want.tensors.get(name + '_scale')!.content;
    if (w.kind !== 'bitnet-rs-u32' || s.kind !== 'scales') throw new Error(`reference shape of ${name}`);
    if (rec.inFeatures !== w.cols || rec.outFeatures !== w.rows) problems.push(`${name}: [${rec.outFeatures}, ${rec.inFeatures}] instead of [${w.rows}, ${w.cols}]`);
    const q = decodeBitnetRsWords(rec.packedWeights, w.rows, w.cols);
    const bad = q.findIndex((v, i) => v !== w.ternary[i]);
    if (bad >= 0) problems.push(`${name}: value ${bad} is ${q[bad]}, expected ${w.ternary[bad]}`);
    rec.weightScales.forEach((v, i) => {
      const lo = roundToDtype(s.values[i] * (1 - s.relTol), 'F32');
      const hi = roundToDtype(s.values[i] * (1 + s.relTol), 'F32');
      if (!(v >= lo && v <= hi)) problems.push(`${name}: scale ${i} is ${v}, expected ${roundToDtype(s.values[i], 'F32')}`);
    });
  };
  const floats = (label: string, got: Float32Array, source: string) => {
    const t = tensors.get(source)!;
    const exp = decodeValues(t.bytes, t.dtype as Dt);
    const bad = exp.findIndex((v, i) => !Object.is(Math.fround(v), got[i]));
    if (bad >= 0 || exp.length !== got.length) problems.push(`${label}: element ${bad} differs`);
  };
  linear('output.weight', model.lmHead);
  floats('embedding', model.embedding.weight, 'model.embed_tokens.weight');
  floats('norm', model.norm.weight, 'model.norm.weight');
  model.blocks.forEach((b, i) => {
    const p = `layers.${i}.`;
    linear(p + 'attention.wqkv.weight', b.attention.wqkv);
    linear(p + 'attention.wo.weight', b.attention.oProj);
    linear(p + 'feed_forward.w13.weight', b.feedForward.w13);
    linear(p + 'feed_forward.w2.weight', b.feedForward.w2);
    floats(`block ${i} attention_norm`, b.attentionNorm.weight, `model.layers.${i}.input_layernorm.weight`);
    floats(`block ${i} ffn_norm`, b.ffnNorm.weight, `model.layers.${i}.post_attention_layernorm.weight`);
    const hasSub = want.tensors.has(p + 'attention.attn_sub_norm.weight');
    if (hasSub !== (b.attnSubNorm !== undefined)) problems.push(`block ${i}: sub-norms ${hasSub ? 'missing' : 'unexpected'}`);
  });
  return problems;
}

interface FormatCase {
  /** The one weights file, checked against an independent expectation (the .bin format is checked record by record). */
  check(out: string, input: string): string[];
  /** Why a model cannot be written, or undefined when it can. */
  refuses(layout: string, preset: string): RegExp | undefined;
}

const fileCheck = (file: string, expected: (input: string) => ExpectedFile, extra: (out: string, input: string) => string[] = () => []) =>
  (out: string, input: string) => [...checkAgainst(expected(input), readFileSync(join(out, file))), ...extra(out, input)];

const FORMAT_CASES: Record<string, FormatCase> = {
  'bitnet-rs': { check: checkBitnetRsBins, refuses: () => undefined },
  'bitnet-rs-safetensors': {
    check: fileCheck('model.safetensors', (input) => expectedBitnetRsSafetensors(readCheckpointTensors(input), configOf(input)), (out) =>
      ['num_key_value_heads', 'rms_norm_eps', 'max_position_embeddings'].filter((k) => configOf(out)[k] === undefined).map((k) => `config.json lacks ${k}`)),
    refuses: () => undefined,
  },
  'hf-packed': {
    check: fileCheck('model.safetensors', (input) => expectedHfPacked(readCheckpointTensors(input), configOf(input)), (out, input) => checkHfPackedConfig(configOf(input), configOf(out))),
    refuses: (layout) => (layout === 'llama-packed' ? /sub-norm/ : undefined),
  },
  'ms-gpu': {
    check: fileCheck('model_state_int2.safetensors', (input) => expectedMsGpu(readCheckpointTensors(input), configOf(input))),
    refuses: (layout, preset) => (layout === 'llama-packed' ? /sub_norm/ : preset === 'odd' ? /multiple of 16 rows and 32 columns/ : undefined),
  },
};

const INPUTS: { layout: SynthOptions['layout']; preset: string; dtype?: SynthOptions['dtype']; shards?: number }[] = [
  { layout: 'master', preset: 'tiny' },
  { layout: 'master', preset: 'odd', dtype: 'F16', shards: 2 },
  { layout: 'packed', preset: 'tiny' },
  { layout: 'packed', preset: 'odd', shards: 3 },
  { layout: '1bitllm', preset: 'tiny' },
  { layout: '1bitllm', preset: 'odd', dtype: 'F16' },
  { layout: 'llama-packed', preset: 'tiny' },
  { layout: 'llama-packed', preset: 'odd' },
];

const matrix = suite('every layout x every format');
INPUTS.forEach((c, i) => {
  let input = '';
  for (const [format, fc] of Object.entries(FORMAT_CASES)) {
    matrix(`${c.layout} ${c.preset}${c.dtype ? ' ' + c.dtype : ''}${c.shards ? ` in ${c.shards} shards` : ''} -> ${format}`, async () => {
      input ||= synth({ layout: c.layout, preset: c.preset, dtype: c.dtype, shards: c.shards, seed: 20 + i });
      const refusal = fc.refuses(c.layout!, c.preset);
      if (refusal) {
        const out = fresh('refused');
        try {
          await convert({ inputDir: input, outputDir: out, format, threads: 0 });
          assert.unreachable(`${format} should refuse ${c.layout} ${c.preset}`);
        } catch (e) {
          assert.instance(e, UnsupportedError);
          assert.match((e as Error).message, refusal);
          assert.not.match((e as Error).message, /\n/);
        }
        assert.not.ok(existsSync(out), 'nothing written');
        return;
      }
      const out = await run(input, format);
      assert.equal(fc.check(out, input), []);
    });
  }
});
matrix.run();

const trips = suite('round trips through hf-packed');

trips('master -> hf-packed -> every format gives the bytes of master -> that format', async () => {
  const master = synth({ layout: 'master', preset: 'tiny', seed: 40 });
  const packed = await run(master, 'hf-packed');
  for (const format of Object.keys(FORMAT_CASES)) {
    if (format === 'hf-packed') continue;
    const direct = await run(master, format);
    const via = await run(packed, format);
    for (const f of readdirSync(direct).filter((f) => f !== 'manifest.json' && f !== 'config.json')) {
      assert.ok(readFileSync(join(direct, f)).equals(readFileSync(join(via, f))), `${format}: ${f}`);
    }
  }
  // and hf-packed of the packed output is the same file again (lossless both ways)
  const again = await run(packed, 'hf-packed');
  assert.ok(readFileSync(join(again, 'model.safetensors')).equals(readFileSync(join(packed, 'model.safetensors'))));
});

for (const [dtype, rule] of [['F32', 'offline'], ['F16', 'offline'], ['BF16', 'online']] as const) {
  trips(`${dtype} master, --rule ${rule}: the packed scale is exact, so the round trip is lossless`, async () => {
    const master = synth({ layout: 'master', preset: 'tiny', dtype, seed: 41 });
    const packed = await run(master, 'hf-packed', { rule });
    const direct = await run(master, 'bitnet-rs', { rule });
    const via = await run(packed, 'bitnet-rs', { rule }); // the tied head is still master weights
    for (const f of readdirSync(direct).filter((f) => f.endsWith('.bin') && f !== 'metadata.bin')) {
      assert.ok(readFileSync(join(direct, f)).equals(readFileSync(join(via, f))), f);
    }
  });
}

const same = suite('deterministic whatever the threads, chunks and holding');

same('every format writes the same bytes with 0 or 2 threads, tiny chunks, and nothing held', async () => {
  for (const layout of ['master', 'packed'] as const) {
    const input = synth({ layout, preset: 'tiny', seed: 50 });
    for (const format of Object.keys(FORMAT_CASES)) {
      const a = await run(input, format, { threads: 0 });
      for (const other of [{ threads: 2, chunkBytes: 1 << 20 }, { threads: 1, holdBytes: 0, chunkBytes: 300 }]) {
        const b = await run(input, format, other);
        for (const f of readdirSync(a)) assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${layout} -> ${format}: ${f} ${JSON.stringify(other)}`);
      }
    }
  }
});

same.run();

trips.after(() => rmSync(tmp, { recursive: true, force: true }));
trips.run();

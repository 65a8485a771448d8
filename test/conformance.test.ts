// Every registered input layout x every registered output format x every value of each format option,
// on synthetic models of three shapes: tiny, odd (rows not a multiple of 16) and wide (rows of 256, which
// GGUF's types need). Each output is read back with the independent decoders of test/reference/ and
// compared with what the reference rule (or the packed source's own codes and scales) says it must hold;
// a combination a format refuses must be refused with one typed line and nothing written. The lists come
// from the registries (LAYOUTS, FORMATS, each format's options): a layout, format or option value without
// a case here fails the matrix's last test. Then the round trips through hf-packed, and the same bytes
// whatever the threads.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gguf as hfGguf } from '@huggingface/gguf';
import { convert, type ConvertOptions } from '../build/js/run/convert.js';
import { generateCheckpoint, type SynthOptions } from '../build/js/synth/generate.js';
import { PRESETS, type ModelShape } from '../build/js/synth/presets.js';
import { LAYOUTS } from '../build/js/layouts/index.js';
import { generateGgufCheckpoint } from '../build/js/run/synth-gguf.js';
import { ggufAsHfPacked } from './reference/gguf-source-ref.js';
import { FORMATS, FORMAT_IDS } from '../build/js/outputs/index.js';
import { UnsupportedError } from '../build/js/errors.js';
import { readCheckpointTensors, type RawTensor } from './helpers/read-safetensors.js';
import {
  checkAgainst, checkBitnetRsBins, checkGguf, checkHfPackedConfig, expectedBitnetRsSafetensors, expectedGguf, expectedHfPacked, expectedMsGpu, expectedMsGpuPrefill,
  GGUF_FILE_TYPE, type BincodeFlavor, type GgufExpectation, type GgufTernaryType,
} from './reference/formats-ref.js';

const tmp = mkdtempSync(join(tmpdir(), 'bitnet-conformance-'));
let n = 0;
const fresh = (name: string) => join(tmp, `${name}-${n++}`);

type Shape = ModelShape;

/** The shapes, and how each input varies besides (sharded, F16 sources). */
const SHAPES: Record<string, { shape: Shape; dtype?: SynthOptions['dtype']; shards?: number }> = {
  tiny: { shape: PRESETS.tiny },
  odd: { shape: PRESETS.odd, dtype: 'F16', shards: 3 },
  // rows of 256: every GGUF type fits (TQ needs multiples of 256, I2_S of 128)
  wide: { shape: { hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 512 }, shards: 2 },
};

/** A synthetic input, written on first use, with what the cases need to know of it. */
interface Input {
  layout: string;
  /** What convert() needs to read it: the layout's id when it is never detected (llama-latent), else nothing. */
  named: Partial<ConvertOptions>;
  shapeName: string;
  shape: Shape;
  dir: string;
  tensors: Map<string, RawTensor>;
  config: Record<string, unknown>;
  hasSubNorms: boolean;
  /** Whatever a format's check derives from the input once (expectations), by a key of its own. */
  memo: Map<string, unknown>;
}

const inputs = new Map<string, Input>();
async function inputOf(layout: string, shapeName: string, seed: number): Promise<Input> {
  const key = `${layout} ${shapeName}`;
  if (!inputs.has(key) && layout === 'gguf') {
    // a synthetic hf-bitnet checkpoint converted to a .gguf (I2_S where its rows fit, else F16 projections),
    // decoded by the independent reference into the Hugging Face packed checkpoint it holds; re-typing its
    // f32 I2_S scales to fp16 d is lossy, so the matrix writes with --allow-lossy (refused without: test/gguf-input.test.ts)
    const { shape, dtype } = SHAPES[shapeName];
    const dir = join(fresh('in'), 'model');
    await generateGgufCheckpoint({ outDir: dir, shape, dtype, seed });
    const { tensors, config } = await ggufAsHfPacked(join(dir, readdirSync(dir).find((f) => f.endsWith('.gguf'))!));
    const hasSubNorms = [...tensors.keys()].some((name) => /attn_sub_norm\.weight$/.test(name));
    inputs.set(key, { layout, named: { allowLossy: true }, shapeName, shape, dir, tensors, config, hasSubNorms, memo: new Map() });
  }
  if (!inputs.has(key)) {
    const { shape, dtype, shards } = SHAPES[shapeName];
    const dir = join(fresh('in'), 'model'); // one folder name: GGUF names its file and general.name after it
    generateCheckpoint({ outDir: dir, layout: layout as SynthOptions['layout'], shape, dtype, shards, seed });
    const tensors = readCheckpointTensors(dir);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const hasSubNorms = [...tensors.keys()].some((name) => /(attn_sub_norm|inner_attn_ln)\.weight$/.test(name));
    const named = LAYOUTS.find((l) => l.id === layout && 'named' in l && l.named) ? { layout } : {};
    inputs.set(key, { layout, named, shapeName, shape, dir, tensors, config, hasSubNorms, memo: new Map() });
  }
  return inputs.get(key)!;
}

function memo<T>(input: Input, key: string, make: () => T): T {
  if (!input.memo.has(key)) input.memo.set(key, make());
  return input.memo.get(key) as T;
}

type Options = Record<string, string>;

interface FormatCase {
  /** The option values this case can state the output of (compared with the format's schema). */
  values: Record<string, readonly string[]>;
  /** The pattern of the one-line error when the format must refuse the input with these options, else undefined. */
  refuses(input: Input, o: Options): RegExp | undefined;
  /** The mismatches between an output and the reference. */
  check(out: string, input: Input, o: Options): string[] | Promise<string[]>;
  /** Per independent option (metadata only): the input it is written from, and what each value must write. */
  independent?: Record<string, { layout: string; shape: string; check(out: string, value: string): Promise<string[]> }>;
}

/** The projections' [rows, cols] in a shape. */
function projections(s: Shape): [number, number][] {
  const kv = (s.num_key_value_heads * s.hidden_size) / s.num_attention_heads;
  const h = s.hidden_size;
  const f = s.intermediate_size;
  return [[h, h], [kv, h], [kv, h], [h, h], [f, h], [f, h], [h, f]];
}

const safetensorsCheck = (file: string, expected: (input: Input) => ReturnType<typeof expectedHfPacked>, extra: (out: string, input: Input) => string[] = () => []) =>
  (out: string, input: Input) => [...checkAgainst(expected(input), readFileSync(join(out, file))), ...extra(out, input)];

const configOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;

/**
 * docs/gguf.md 1 and 6: which architecture computes which FFN, with sub-norms or not, whether it reads an
 * untied head, and with which types (the first is --gguf-type auto's).
 */
const GGUF_ARCHS: Record<string, { act: string; subNorms: boolean; untied: boolean; types: GgufTernaryType[] }> = {
  bitnet: { act: 'silu', subNorms: true, untied: false, types: ['q2_0', 'tq2_0', 'tq1_0', 'f16'] },
  'bitnet-b1.58': { act: 'relu2', subNorms: true, untied: false, types: ['i2_s', 'tq2_0', 'f16'] },
  llama: { act: 'silu', subNorms: false, untied: true, types: ['q2_0', 'tq2_0', 'tq1_0', 'i2_s', 'f16'] },
};

/** The architecture and type a GGUF output must have, or why it must be refused (in the order the format checks). */
function ggufChoice(input: Input, o: Options): { arch: string; type: GgufTernaryType } | { refused: RegExp } {
  const act = String(input.config.hidden_act);
  const arch = o.ggufArch === 'auto' ? Object.keys(GGUF_ARCHS).find((a) => GGUF_ARCHS[a].act === act && GGUF_ARCHS[a].subNorms === input.hasSubNorms) : o.ggufArch;
  if (!arch) return { refused: /hidden_act/ };
  if (GGUF_ARCHS[arch].act !== act) return { refused: new RegExp(`computes ${GGUF_ARCHS[arch].act}`) };
  if (GGUF_ARCHS[arch].subNorms !== input.hasSubNorms) return { refused: input.hasSubNorms ? /without sub-norms/ : /sub_norm/ };
  const type = (o.ggufType === 'auto' ? GGUF_ARCHS[arch].types[0] : o.ggufType) as GgufTernaryType;
  if (!GGUF_ARCHS[arch].types.includes(type)) return { refused: new RegExp(`found ${type}\\b`) };
  if (input.config.tie_word_embeddings === false && !GGUF_ARCHS[arch].untied) return { refused: /tied head/ };
  // section 7: Q8_0 blocks of 32 along the embedding's rows
  if (o.ggufEmbdType === 'q8_0' && input.shape.hidden_size % 32 !== 0) return { refused: /^(?=.*token_embd\.weight)(?=.*multiple of 32)(?=.*--gguf-embd-type f16)/ };
  // docs/gguf.md 4 and 7: rows of a multiple of 256 values (TQ), 128 (I2_S) or 64 (Q2_0); the first projection refused is named
  const multiple = { tq2_0: 256, tq1_0: 256, i2_s: 128, q2_0: 64, f16: 1 }[type];
  const first = projections(input.shape).findIndex(([, cols]) => cols % multiple !== 0);
  if (first >= 0) {
    const name = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'][first];
    return { refused: new RegExp(`^(?=.*blk\\.0\\.${name}\\.weight)(?=.*multiple of ${multiple})`) };
  }
  // docs/gguf.md 8: synth's SentencePiece vocabulary has the 256 byte pieces llama.cpp needs only from 5 + 256 + 32 ids
  if (input.layout === '1bitllm' && input.shape.vocab_size < 5 + 256 + 32) return { refused: /^(?=.*tokenizer\.model)(?=.*256 byte pieces)/ };
  return { arch, type };
}

const FORMAT_CASES: Record<string, FormatCase> = {
  'bitnet-rs': {
    values: { bincode: ['standard', 'legacy'] },
    refuses: () => undefined,
    check: (out, input, o) => checkBitnetRsBins((f) => readFileSync(join(out, f)), o.bincode as BincodeFlavor, input.tensors, input.config),
  },
  'bitnet-rs-safetensors': {
    values: {},
    refuses: () => undefined,
    check: safetensorsCheck('model.safetensors', (i) => memo(i, 'bitnet-rs-safetensors', () => expectedBitnetRsSafetensors(i.tensors, i.config)), (out) =>
      ['num_key_value_heads', 'rms_norm_eps', 'max_position_embeddings'].filter((k) => configOf(out)[k] === undefined).map((k) => `config.json lacks ${k}`)),
  },
  'hf-packed': {
    values: {},
    refuses: (input) => (!input.hasSubNorms ? /sub-norm/ : undefined),
    check: safetensorsCheck('model.safetensors', (i) => expectedHfPacked(i.tensors, i.config), (out, input) => checkHfPackedConfig(input.config, configOf(out))),
  },
  'ms-gpu': {
    values: { msGpuPrefill: ['none', 'bf16'] },
    refuses: (input) =>
      !input.hasSubNorms ? /sub_norm/ : projections(input.shape).some(([r, c]) => r % 16 !== 0 || c % 32 !== 0) ? /multiple of 16 rows and 32 columns/ : undefined,
    check: (out, input, o) => [
      ...checkAgainst(expectedMsGpu(input.tensors, input.config), readFileSync(join(out, 'model_state_int2.safetensors'))),
      // the prefill file only when asked, then what Microsoft's quant_weight_fp16 gives
      ...(o.msGpuPrefill === 'bf16'
        ? checkAgainst(expectedMsGpuPrefill(input.tensors, input.config), readFileSync(join(out, 'model_state_fp16.safetensors')))
        : readdirSync(out).includes('model_state_fp16.safetensors') ? ['model_state_fp16.safetensors written with --ms-gpu-prefill none'] : []),
    ],
  },
  gguf: {
    independent: {
      // the synthetic Llama 3 vocabulary: auto recognizes its split as llama-bpe; any other name is written as given
      ggufPre: {
        layout: 'llama-packed',
        shape: 'wide',
        async check(out, v) {
          const file = join(out, readdirSync(out).find((f) => f.endsWith('.gguf'))!);
          const { metadata } = await hfGguf(file, { allowLocalFile: true });
          const pre = (metadata as unknown as Record<string, unknown>)['tokenizer.ggml.pre'];
          const want = v === 'auto' ? 'llama-bpe' : v;
          return pre === want ? [] : [`tokenizer.ggml.pre ${JSON.stringify(pre)}, expected ${want}`];
        },
      },
    },
    values: { ggufArch: ['auto', 'bitnet', 'bitnet-b1.58', 'llama'], ggufType: ['auto', 'i2_s', 'tq2_0', 'tq1_0', 'q2_0', 'f16'], ggufEmbdType: ['f16', 'q8_0'] },
    refuses: (input, o) => {
      const c = ggufChoice(input, o);
      return 'refused' in c ? c.refused : undefined;
    },
    async check(out, input, o) {
      const c = ggufChoice(input, o);
      if ('refused' in c) throw new Error('refused');
      const files = readdirSync(out).filter((f) => f.endsWith('.gguf'));
      if (files.length !== 1 || files[0] !== `model-${c.type}.gguf`) return [`expected one model-${c.type}.gguf, found ${files.join(', ')}`];
      const file = join(out, files[0]);
      const { metadata, tensorInfos, tensorDataOffset } = await hfGguf(file, { allowLocalFile: true });
      const m = metadata as unknown as Record<string, unknown>;
      const problems: string[] = [];
      const want: Record<string, unknown> = { 'general.architecture': c.arch, 'general.file_type': GGUF_FILE_TYPE[c.type], [`${c.arch}.block_count`]: input.shape.num_hidden_layers };
      for (const [k, v] of Object.entries(want)) if (m[k] !== v) problems.push(`${k}: ${JSON.stringify(m[k])}, expected ${JSON.stringify(v)}`);
      const infos = tensorInfos.map((t) => ({ name: t.name, ne: t.shape.map(Number), type: Number(t.dtype), offset: Number(t.offset) }));
      const embd = o.ggufEmbdType as 'f16' | 'q8_0';
      const expected = memo<GgufExpectation>(input, `gguf-${c.arch}-${embd}`, () => expectedGguf(input.tensors, input.config, { arch: c.arch, embd }));
      return [...problems, ...checkGguf(expected, c.type, new Uint8Array(readFileSync(file)), infos, Number(tensorDataOffset))];
    },
  },
};

/** Every combination of a format's option values (one empty combination for a format without options); independent options stay at their defaults (varied alone below). */
function optionCombinations(format: string): Options[] {
  let out: Options[] = [{}];
  for (const option of FORMATS[format as keyof typeof FORMATS].options) {
    if (!option.independent) out = out.flatMap((o) => option.values.map((v) => ({ ...o, [option.key]: v })));
  }
  return out;
}

async function run(inputDir: string, format: string, extra: Partial<ConvertOptions> = {}): Promise<string> {
  const outputDir = fresh(format);
  await convert({ inputDir, outputDir, format, threads: 0, timestamp: 1_700_000_000, chunkBytes: 1 << 14, ...extra });
  return outputDir;
}

/** What the matrix did, by `layout|format` and `layout|format|key=value`: written (and checked) or refused. */
const covered = new Map<string, Set<'written' | 'refused'>>();
const cover = (key: string, how: 'written' | 'refused') => covered.set(key, (covered.get(key) ?? new Set()).add(how));
const describe = (o: Options) => Object.entries(o).map(([k, v]) => `${k}=${v}`);

const matrix = suite('every layout x every format x every option value');
LAYOUTS.forEach((layout, li) => {
  Object.keys(SHAPES).forEach((shapeName, si) => {
    for (const format of FORMAT_IDS) {
      for (const options of optionCombinations(format)) {
        matrix(`${layout.id} ${shapeName} -> ${format}${describe(options).map((d) => ' ' + d).join('')}`, async () => {
          const fc = FORMAT_CASES[format];
          assert.ok(fc, `no case for the format ${format}`);
          for (const [k, v] of Object.entries(options)) assert.ok(fc.values[k]?.includes(v), `${format}: no case for ${k} ${v}`);
          const input = await inputOf(layout.id, shapeName, 20 + 3 * li + si);
          const refusal = fc.refuses(input, options);
          for (const key of [`${layout.id}|${format}`, ...describe(options).map((d) => `${layout.id}|${format}|${d}`)]) cover(key, refusal ? 'refused' : 'written');
          if (refusal) {
            const out = fresh('refused');
            try {
              await convert({ inputDir: input.dir, outputDir: out, format, threads: 0, ...input.named, ...options });
              assert.unreachable(`${format} should refuse ${layout.id} ${shapeName}`);
            } catch (e) {
              assert.instance(e, UnsupportedError);
              assert.match((e as Error).message, refusal);
              assert.not.match((e as Error).message, /\n/);
            }
            assert.not.ok(existsSync(out), 'nothing written');
            return;
          }
          const out = await run(input.dir, format, { ...input.named, ...options });
          assert.equal(await fc.check(out, input, options), []);
          rmSync(out, { recursive: true, force: true });
        });
      }
    }
  });
});

matrix('the matrix covers every registered layout, format and option value, each option value written at least once', () => {
  assert.equal(Object.keys(FORMAT_CASES).sort(), [...FORMAT_IDS].sort(), 'a case for every format, none for a format not registered');
  const missing: string[] = [];
  const unwritten: string[] = [];
  for (const format of FORMAT_IDS) {
    const values = FORMATS[format].options.filter((o) => !o.independent).flatMap((o) => o.values.map((v) => `${o.key}=${v}`));
    for (const layout of LAYOUTS) for (const key of [`${layout.id}|${format}`, ...values.map((v) => `${layout.id}|${format}|${v}`)]) if (!covered.has(key)) missing.push(key);
    for (const v of values) if (!LAYOUTS.some((l) => covered.get(`${l.id}|${format}|${v}`)?.has('written'))) unwritten.push(`${format} ${v}`);
    if (!LAYOUTS.some((l) => covered.get(`${l.id}|${format}`)?.has('written'))) unwritten.push(format);
  }
  assert.equal(missing, [], 'combinations with no case');
  assert.equal(unwritten, [], 'never written and checked');
});

matrix.after(() => {
  for (const input of inputs.values()) input.memo.clear();
});
matrix.run();

const alone = suite('every value of an independent option (metadata only), each varied alone');
for (const format of FORMAT_IDS) {
  for (const option of FORMATS[format].options.filter((o) => o.independent)) {
    alone(`${format} --${option.key}: a case, and each value written as stated`, async () => {
      const ic = FORMAT_CASES[format].independent?.[option.key];
      assert.ok(ic, `${format}: no case for the independent option ${option.key}`);
      const input = await inputOf(ic.layout, ic.shape, 90);
      for (const v of option.values) {
        const out = await run(input.dir, format, { ...input.named, [option.key]: v });
        assert.equal(await ic.check(out, v), [], `${option.key} ${v}`);
        rmSync(out, { recursive: true, force: true });
      }
    });
  }
}
alone.run();

const trips = suite('round trips through hf-packed');

trips('master -> hf-packed -> every format gives the bytes of master -> that format', async () => {
  const master = join(fresh('trip'), 'model');
  generateCheckpoint({ outDir: master, layout: 'hf-bitnet', shape: SHAPES.wide.shape, seed: 40 });
  const packed = join(fresh('trip'), 'model'); // the same folder name: GGUF records it
  await convert({ inputDir: master, outputDir: packed, format: 'hf-packed', threads: 0, timestamp: 1_700_000_000 });
  for (const format of FORMAT_IDS) {
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
    const master = fresh('in');
    generateCheckpoint({ outDir: master, layout: 'hf-bitnet', preset: 'tiny', dtype, seed: 41 });
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
  for (const layout of ['hf-bitnet', 'hf-bitnet-packed']) {
    const input = await inputOf(layout, 'tiny', 50);
    for (const format of FORMAT_IDS) {
      // the first option values the format writes this input with (GGUF: f16, the tiny rows fit no block type)
      const options = optionCombinations(format).find((o) => !FORMAT_CASES[format].refuses(input, o));
      assert.ok(options, `${format} writes ${layout} tiny with some options`);
      const a = await run(input.dir, format, { ...options, threads: 0 });
      for (const other of [{ threads: 2, chunkBytes: 1 << 20 }, { threads: 1, holdBytes: 0, chunkBytes: 300 }]) {
        const b = await run(input.dir, format, { ...options, ...other });
        for (const f of readdirSync(a)) assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${layout} -> ${format}: ${f} ${JSON.stringify(other)}`);
      }
    }
  }
});

same.run();

trips.after(() => rmSync(tmp, { recursive: true, force: true }));
trips.run();

// The vocabulary back from a .gguf source (docs/gguf.md 10): HF -> GGUF -> a format that carries tokenizer
// files (bitnet-rs-safetensors, hf-packed) gets tokenizer.json and tokenizer_config.json rebuilt from the
// GGUF's byte-level BPE vocabulary. An independent Hugging Face tokenizer implementation
// (@huggingface/tokenizers, test-only in test/tools) must tokenize a corpus with the rebuilt files exactly
// as with the source's own tokenizer.json and, where node-llama-cpp is installed, exactly as node-llama-cpp
// tokenizes the source GGUF; a SentencePiece vocabulary ("llama") comes back as the tokenizer.json
// transformers makes of such a model, its merges rebuilt from the scores.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert } from '../build/js/run/convert.js';
import { generateCheckpoint, type LayoutName } from '../build/js/synth/generate.js';
import { engineProblem, engineTestsEnabled, runTokenizer } from './helpers/engine.js';
import { CORPUS, hfIds, vocabShape } from './helpers/tokenizers.js';
import { JsonWriter } from '../build/js/formats/json-text.js';
import { kv, layoutGguf, parseGgufPrefix } from '../build/js/formats/gguf.js';
import { hfTokenizerFromGguf } from '../build/js/outputs/gguf/hf-tokenizer.js';

const back = suite('tokenizer files rebuilt from a GGUF vocabulary');
const engineEnabled = engineTestsEnabled();
if (!engineEnabled) console.log(`engine comparison skipped: ${engineProblem()}`);

const root = mkdtempSync(join(tmpdir(), 'bitnet-gguf-tokenizer-back-'));
const shape = vocabShape;

const ids = hfIds;

/** HF (the layout's vocabulary) -> GGUF F16 -> `format`: the three folders. */
async function chain(name: string, layout: LayoutName, vocab: number, format = 'bitnet-rs-safetensors', tokenizer?: 'llama2-json'): Promise<{ hf: string; gguf: string; out: string }> {
  const hf = join(root, name, 'model');
  generateCheckpoint({ outDir: hf, layout, shape: shape(vocab), tokenizer });
  const g = join(root, `${name}-gguf`, 'model');
  await convert({ inputDir: hf, outputDir: g, format: 'gguf', ggufType: 'f16', threads: 0, timestamp: 1 });
  const out = join(root, `${name}-${format}`, 'model');
  await convert({ inputDir: g, outputDir: out, format, threads: 0, timestamp: 1 });
  return { hf, gguf: join(g, readdirSync(g).find((f) => f.endsWith('.gguf'))!), out };
}

for (const [name, vocab] of [['llama3-real', 128256], ['llama3-small', 8192]] as const) {
  back(`${name} (byte-level BPE, pre llama-bpe): the rebuilt tokenizer.json tokenizes as the source's${engineEnabled ? ' and as node-llama-cpp tokenizes the GGUF' : ''}; tokenizer_config.json keeps BOS, EOS and the chat template`, async () => {
    const { hf, gguf, out } = await chain(name, 'llama-packed', vocab);
    const rebuilt = ids(out, CORPUS);
    assert.equal(rebuilt, ids(hf, CORPUS));
    // every token with its id (Llama 3's "toString", "constructor" and "valueOf" were once dropped as an object's keys)
    const vocabOf = (dir: string) => new Map(Object.entries(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')).model.vocab as Record<string, number>));
    const want = vocabOf(hf);
    const got = vocabOf(out);
    assert.is(got.size, want.size);
    for (const [t, id] of want) assert.is(got.get(t), id, JSON.stringify(t));
    if (engineEnabled) {
      const runs = await runTokenizer(gguf, CORPUS);
      CORPUS.forEach((text, i) => assert.equal(rebuilt[i], runs[i].special, `ids of ${JSON.stringify(text)}`));
    }
    const a = JSON.parse(readFileSync(join(hf, 'tokenizer_config.json'), 'utf8'));
    const b = JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8'));
    for (const k of ['bos_token', 'eos_token', 'chat_template']) assert.is(b[k], a[k], k);
  });
}

back('hf-packed from a GGUF carries the rebuilt files too', async () => {
  const { hf, out } = await chain('hf-bitnet', 'hf-bitnet', 8192, 'hf-packed');
  assert.equal(ids(out, CORPUS), ids(hf, CORPUS));
});

back(`a SentencePiece vocabulary ("llama": tokens, scores, types) comes back as BPE with byte fallback and complete merges: a Llama 2 style tokenizer.json's ids exactly${engineEnabled ? ', and node-llama-cpp on the GGUF' : ''}`, async () => {
  const { hf, gguf, out } = await chain('llama2-json', 'llama-packed', 8192, 'bitnet-rs-safetensors', 'llama2-json');
  const rebuilt = ids(out, CORPUS);
  assert.equal(rebuilt, ids(hf, CORPUS));
  if (engineEnabled) {
    const runs = await runTokenizer(gguf, CORPUS);
    CORPUS.forEach((text, i) => assert.equal(rebuilt[i], runs[i].special, `ids of ${JSON.stringify(text)}`));
  }
  const b = JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8'));
  assert.equal([b.bos_token, b.eos_token, b.unk_token, b.add_bos_token], ['<s>', '</s>', '<unk>', true]);
});

back(`a tokenizer.model's vocabulary comes back as llama.cpp tokenizes it${engineEnabled ? ' (node-llama-cpp on the GGUF: every id)' : ''}, the source's Metaspace step aside (docs/gguf.md 8)`, async () => {
  const { hf, gguf, out } = await chain('spm', '1bitllm', 8192);
  const rebuilt = ids(out, CORPUS);
  if (engineEnabled) {
    const runs = await runTokenizer(gguf, CORPUS);
    CORPUS.forEach((text, i) => assert.equal(rebuilt[i], runs[i].special, `ids of ${JSON.stringify(text)}`));
  }
  // where the source's Metaspace (prepend_scheme first) and llama.cpp agree: no leading whitespace, no special tokens
  const plain = CORPUS.filter((t) => !/^\s/.test(t) && !/<\|/.test(t));
  assert.equal(ids(out, plain), ids(hf, plain));
});

back('the piecewise JSON writer gives the bytes JSON.stringify gives (escapes, index keys, text past its 64k batches)', () => {
  const vocab = new Map<string, number>([['b', 1], ['10', 2], ['2', 3], ['constructor', 4], ['"q"', 5], ['01', 6], ['\u0000', 7]]);
  for (let i = 0; i < 30000; i++) vocab.set(`tok${i}é`, 100 + i); // about 400k characters: several batches
  const texts = ['x"y', 'a\\b', 'tab\t\u0001\u001f\u007f', '\ud83d\ude00', 'é ü', '\u2028', ''];
  const w = new JsonWriter().raw('{"vocab":').object(vocab).raw(',"texts":[');
  const enc = new TextEncoder();
  texts.forEach((t, i) => {
    const b = enc.encode(`<${t}>`);
    w.ascii(i ? ',' : '').utf8(b, 1, b.length - 1);
  });
  const expected = JSON.stringify({ vocab: Object.fromEntries(vocab), texts });
  assert.is(new TextDecoder().decode(w.ascii(']}').bytes()), expected);
});

back('a byte-level vocabulary rebuilt from its encoded items: the vocab and merges JSON.stringify gives (first id of a text, index keys first, merges split at every space)', () => {
  const tokens = ['a', 'b', 'ab', '10', '2', '01', 'constructor', '__proto__', '"q"', 'x\\y', '\u0000', 'Ġt', '\ud83d\ude00', 'a', '<s>', 'pad', '4294967294', '4294967295', ''];
  const types = tokens.map((t) => (t === '<s>' ? 3 : t === 'pad' ? 5 : 1));
  const merges = ['a b', 'Ġ t', 'nospace', 'a  b', ' a', '\ud83d\ude00 b', 'x\\y "q"'];
  const head = layoutGguf([kv.str('tokenizer.ggml.model', 'gpt2'), kv.str('tokenizer.ggml.pre', 'llama-bpe'), kv.strings('tokenizer.ggml.tokens', tokens), kv.i32s('tokenizer.ggml.token_type', types), kv.strings('tokenizer.ggml.merges', merges)], []).head;
  for (const arrays of ['raw', 'keep'] as const) {
    const r = hfTokenizerFromGguf(parseGgufPrefix((n) => head.subarray(0, n), 'v.gguf', head.length, { arrays }).kvs);
    assert.ok('files' in r);
    const text = new TextDecoder().decode(r.files.get('tokenizer.json'));
    const vocab = new Map<string, number>();
    tokens.forEach((t, id) => types[id] === 1 && !vocab.has(t) && vocab.set(t, id));
    const tail = `,"vocab":${JSON.stringify(Object.fromEntries(vocab))},"merges":${JSON.stringify(merges.map((m) => m.split(' ')))}}}\n`;
    assert.ok(text.endsWith(tail), arrays);
    assert.equal(JSON.parse(text).added_tokens.map((a: { content: string }) => a.content), ['<s>']);
  }
});

back.after(() => rmSync(root, { recursive: true, force: true }));
back.run();

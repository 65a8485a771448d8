// Vocabularies the engine tokenizes as transformers does: for each vocabulary family, node-llama-cpp
// loads only the vocabulary of our GGUF and tokenizes a corpus (several scripts, digits, whitespace
// runs, code, emoji, special-token text); the ids must equal those of an independent Hugging Face
// tokenizer implementation (@huggingface/tokenizers, pure JS, test-only in test/tools) run on the
// same tokenizer.json, and detokenizing must give the text back. Families:
//   - the real Llama 3 vocabulary (128256 tokens, 280,147 merges; byte-level BPE, pre llama-bpe);
//   - a made-up Llama 3 style vocabulary (8192 tokens);
//   - a Llama 2 style tokenizer.json alone (BPE with byte fallback, Prepend + Replace normalizer,
//     no tokenizer.model), written as "llama" with scores from the merge ranks;
//   - a SentencePiece tokenizer.model (1bitLLM), beside a tokenizer.json whose Metaspace pre-tokenizer
//     (prepend_scheme "first", transformers' non-legacy conversion) puts no space before text that
//     already starts with one or that follows a special token, where llama.cpp always puts one
//     (docs/gguf.md 8): there the engine must tokenize each text exactly as Hugging Face tokenizes
//     the text with that space written out.
// A negative control: the Llama 2 style vocabulary written the old way (gpt2 + llama-bpe) differs.
//
// Needs node-llama-cpp (test/engines) and @huggingface/tokenizers (test/tools), both installed by
// `npm test`. Skipped without the engine, except in CI.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert } from '../build/js/run/convert.js';
import { generateCheckpoint, type LayoutName } from '../build/js/synth/generate.js';
import { engineProblem, engineTestsEnabled, runTokenizer } from './helpers/engine.js';
import { CORPUS, hfIds, vocabShape } from './helpers/tokenizers.js';

const enabled = engineTestsEnabled();
const tokenizerSuite = suite('vocabularies: node-llama-cpp tokenizes our GGUF as Hugging Face tokenizers does');
const test = enabled ? tokenizerSuite : tokenizerSuite.skip;
if (!enabled) console.log(`engine tests skipped: ${engineProblem()}`);

const root = mkdtempSync(join(tmpdir(), 'bitnet-engine-tokenizer-'));
const shape = vocabShape;

/** A synthetic checkpoint with the vocabulary family, converted to GGUF (F16: the weights do not matter here). */
async function family(name: string, layout: LayoutName, vocab: number, tokenizer?: 'llama2-json'): Promise<{ dir: string; gguf: string }> {
  const dir = join(root, name);
  generateCheckpoint({ outDir: dir, layout, shape: shape(vocab), tokenizer });
  const out = join(root, `${name}-gguf`);
  await convert({ inputDir: dir, outputDir: out, format: 'gguf', ggufType: 'f16', threads: 0, timestamp: 1 });
  return { dir, gguf: join(out, readdirSync(out).find((f) => f.endsWith('.gguf'))!) };
}

const hasSpecialText = (t: string) => /<\/?s>|<\|/.test(t);

/** Every text's ids equal Hugging Face's (for `hfText(text)`), and plain texts detokenize back. */
async function assertParity(dir: string, gguf: string, hfText: (t: string) => string = (t) => t): Promise<void> {
  const runs = await runTokenizer(gguf, CORPUS);
  const expected = hfIds(dir, CORPUS.map(hfText));
  CORPUS.forEach((text, i) => {
    assert.equal(runs[i].special, expected[i], `ids of ${JSON.stringify(text)}`);
    if (!hasSpecialText(text)) assert.is(runs[i].detokenized, text, `round trip of ${JSON.stringify(text)}`);
  });
}

test('the real Llama 3 vocabulary (byte-level BPE, pre llama-bpe): every id identical, round trips exact', async () => {
  const { dir, gguf } = await family('llama3-real', 'llama-packed', 128256);
  await assertParity(dir, gguf);
});

test('a made-up Llama 3 style vocabulary (8192 tokens): identical', async () => {
  const { dir, gguf } = await family('llama3-small', 'llama-packed', 8192);
  await assertParity(dir, gguf);
});

test('a Llama 2 style tokenizer.json alone (byte fallback, no tokenizer.model) as "llama" with merge-rank scores: identical', async () => {
  const { dir, gguf } = await family('llama2-json', 'llama-packed', 8192, 'llama2-json');
  await assertParity(dir, gguf);
});

test('a SentencePiece tokenizer.model: identical to Hugging Face with the space llama.cpp puts before leading whitespace and after special tokens', async () => {
  const { dir, gguf } = await family('spm-model', '1bitllm', 8192);
  const special = /(<\/?s>)/g;
  await assertParity(dir, gguf, (t) => (/^\s/.test(t) ? ' ' : '') + t.replace(special, '$1 '));
});

test('negative control: the Llama 2 style vocabulary written as gpt2 + llama-bpe (what we wrote before) tokenizes differently', async () => {
  const dir = join(root, 'llama2-json-ctl');
  generateCheckpoint({ outDir: dir, layout: 'llama-packed', shape: shape(8192), tokenizer: 'llama2-json' });
  // the same vocabulary and merges without byte_fallback and the ▁ normalizer: the byte-level path, its pre named by --gguf-pre
  const path = join(dir, 'tokenizer.json');
  const original = readFileSync(path, 'utf8');
  const json = JSON.parse(original);
  json.model.byte_fallback = false;
  json.normalizer = null;
  writeFileSync(path, JSON.stringify(json));
  const out = join(root, 'llama2-json-ctl-gguf');
  await convert({ inputDir: dir, outputDir: out, format: 'gguf', ggufType: 'f16', ggufPre: 'llama-bpe', threads: 0, timestamp: 1 });
  writeFileSync(path, original);
  const runs = await runTokenizer(join(out, readdirSync(out).find((f) => f.endsWith('.gguf'))!), CORPUS);
  const expected = hfIds(dir, CORPUS);
  const same = CORPUS.filter((_, i) => JSON.stringify(runs[i].special) === JSON.stringify(expected[i])).length;
  assert.ok(same < CORPUS.length / 2, `${same} of ${CORPUS.length} texts tokenize the same`);
  assert.is.not(runs[0].detokenized, 'Hello world');
});

tokenizerSuite.run();

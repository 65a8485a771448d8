// GGUF vocabularies from tokenizer.json, checked against literal expectations (docs/gguf.md 8):
// - a SentencePiece-style tokenizer.json (byte fallback, no tokenizer.model) becomes "llama": scores
//   -(rank of the first merge that makes the token), byte tokens typed BYTE, add_space_prefix from the
//   normalizer or Metaspace step; refused when llama.cpp would tokenize it differently (a missing merge,
//   spaces not made "▁", byte tokens missing);
// - a byte-level BPE tokenizer.json gets the llama.cpp pre-tokenizer its split is, or is refused
//   naming what it found and --gguf-pre; --gguf-pre writes a name as given.
// What llama.cpp then does with these files is tested in test/engine-tokenizer.test.ts.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ggufVocab } from '../build/js/outputs/gguf/vocab.js';
import { parseModelConfig } from '../build/js/model/config.js';
import { InvalidConfigError, UnsupportedError } from '../build/js/errors.js';
import { kvValue } from './helpers/gguf-literal.js';

const S = '\u2581';
const BYTES = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);

/** A worked example: <unk> <s> </s>, the 256 byte tokens (ids 3..258), then ▁ a b ▁a ab ▁ab (259..264). */
function llama2Json(edit: (j: any) => void = () => {}): any {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  BYTES.forEach((t, i) => (vocab[t] = 3 + i));
  [S, 'a', 'b', `${S}a`, 'ab', `${S}ab`].forEach((t, i) => (vocab[t] = 259 + i));
  const j = {
    added_tokens: [
      { id: 0, content: '<unk>', special: true },
      { id: 1, content: '<s>', special: true },
      { id: 2, content: '</s>', special: true },
    ],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: S }, { type: 'Replace', pattern: { String: ' ' }, content: S }] },
    pre_tokenizer: null,
    model: { type: 'BPE', unk_token: '<unk>', byte_fallback: true, fuse_unk: true, vocab, merges: [`${S} a`, 'a b', `${S}a b`, `${S} ab`] },
  };
  edit(j);
  return j;
}

function kvsOf(json: unknown, vocabSize: number, pre?: string): Map<string, unknown> {
  const bytes = new TextEncoder().encode(JSON.stringify(json));
  const input = { readSide: (name: string) => (name === 'tokenizer.json' ? bytes : undefined) };
  const config = parseModelConfig({ hidden_size: 64, intermediate_size: 160, num_hidden_layers: 1, num_attention_heads: 4, vocab_size: vocabSize }, 'config.json');
  return new Map(ggufVocab(input, config, pre).map((k) => [k.key, kvValue(k.v)]));
}

function refusedWith(f: () => unknown, ...patterns: RegExp[]): void {
  try {
    f();
    assert.unreachable('should refuse');
  } catch (e) {
    assert.instance(e, UnsupportedError);
    assert.not.match((e as Error).message, /\n/);
    for (const p of patterns) assert.match((e as Error).message, p);
  }
}

const spm = suite('a SentencePiece-style tokenizer.json (byte fallback, no tokenizer.model) as GGUF "llama"');

spm('the worked example: tokens, merge-rank scores, BYTE / CONTROL / UNKNOWN types, add_space_prefix; no merges or pre', () => {
  const m = kvsOf(llama2Json(), 266);
  assert.is(m.get('tokenizer.ggml.model'), 'llama');
  assert.not.ok(m.has('tokenizer.ggml.merges'));
  assert.not.ok(m.has('tokenizer.ggml.pre'));
  const tokens = m.get('tokenizer.ggml.tokens') as string[];
  assert.equal(tokens.slice(0, 4), ['<unk>', '<s>', '</s>', '<0x00>']);
  assert.equal(tokens.slice(258), ['<0xFF>', S, 'a', 'b', `${S}a`, 'ab', `${S}ab`, '[PAD265]']);
  const scores = [...(m.get('tokenizer.ggml.scores') as Float32Array | number[])];
  // ▁a is made by merge 0, ab by merge 1, ▁ab first by merge 2 ("▁a b"; "▁ ab" is merge 3)
  assert.equal(scores.slice(259), [0, 0, 0, -1, -2, -3, 0]);
  assert.ok(scores.slice(0, 259).every((x) => x === 0));
  const types = [...(m.get('tokenizer.ggml.token_type') as Int32Array | number[])];
  assert.equal(types.slice(0, 4), [2, 3, 3, 6]);
  assert.ok(types.slice(3, 259).every((t) => t === 6), 'the 256 byte tokens are BYTE');
  assert.equal(types.slice(259), [1, 1, 1, 1, 1, 1, 5]);
  assert.is(m.get('tokenizer.ggml.add_space_prefix'), true);
  assert.is(m.get('tokenizer.ggml.unknown_token_id'), 0);
});

spm('a Metaspace pre-tokenizer: add_space_prefix unless its prepend_scheme is never', () => {
  const metaspace = (scheme: string) => (j: any) => {
    j.normalizer = null;
    j.pre_tokenizer = { type: 'Metaspace', replacement: S, prepend_scheme: scheme, split: false };
  };
  assert.is(kvsOf(llama2Json(metaspace('first')), 265).get('tokenizer.ggml.add_space_prefix'), true);
  assert.is(kvsOf(llama2Json(metaspace('always')), 265).get('tokenizer.ggml.add_space_prefix'), true);
  assert.is(kvsOf(llama2Json(metaspace('never')), 265).get('tokenizer.ggml.add_space_prefix'), false);
  // a Replace without Prepend: spaces become ▁, none is put first
  const replaceOnly = (j: any) => (j.normalizer = { type: 'Replace', pattern: { String: ' ' }, content: S });
  assert.is(kvsOf(llama2Json(replaceOnly), 265).get('tokenizer.ggml.add_space_prefix'), false);
});

spm('refused when llama.cpp would tokenize differently: a split with no merge, spaces kept, byte tokens missing', () => {
  refusedWith(() => kvsOf(llama2Json((j) => j.model.merges.pop()), 265), /tokenizer\.json/, new RegExp(`no merge "${S} ab" for token "${S}ab"`));
  refusedWith(() => kvsOf(llama2Json((j) => (j.normalizer = { type: 'Lowercase' })), 265), /tokenizer\.json/, /normalizer Lowercase/);
  refusedWith(() => kvsOf(llama2Json((j) => (j.normalizer = null)), 265), /spaces become/);
  refusedWith(
    () =>
      kvsOf(
        llama2Json((j) => {
          delete j.model.vocab['<0x41>'];
          j.model.vocab.x = 68;
        }),
        265,
      ),
    /256 byte tokens/,
    /255 byte tokens/,
  );
});

spm.run();

const pre = suite('byte-level BPE: the pre-tokenizer recognized from tokenizer.json, never assumed');

const LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const split = (regex: string) => ({ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false });
const byteLevel = (useRegex: boolean) => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex });

function byteLevelJson(preTokenizer: unknown, normalizer: unknown = null): any {
  return { added_tokens: [], normalizer, pre_tokenizer: preTokenizer, model: { type: 'BPE', byte_fallback: false, vocab: { a: 0, b: 1, ab: 2 }, merges: [['a', 'b']] } };
}
const preOf = (preTokenizer: unknown, normalizer: unknown = null, override?: string) => kvsOf(byteLevelJson(preTokenizer, normalizer), 3, override).get('tokenizer.ggml.pre');

pre('Llama 3 -> llama-bpe, Qwen2 (with or without NFC) -> qwen2, GPT-2 -> gpt-2, digits + GPT-2 -> smollm', () => {
  assert.is(preOf({ type: 'Sequence', pretokenizers: [split(LLAMA3), byteLevel(false)] }), 'llama-bpe');
  assert.is(preOf({ type: 'Sequence', pretokenizers: [split(QWEN2), byteLevel(false)] }), 'qwen2');
  assert.is(preOf({ type: 'Sequence', pretokenizers: [split(QWEN2), byteLevel(false)] }, { type: 'NFC' }), 'qwen2');
  assert.is(preOf(byteLevel(true)), 'gpt-2');
  assert.is(preOf({ type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel(true)] }), 'smollm');
  assert.is(kvsOf(byteLevelJson(byteLevel(true)), 3).get('tokenizer.ggml.model'), 'gpt2');
});

pre('an unknown split is refused, naming what it is and --gguf-pre; --gguf-pre writes the name given', () => {
  const falcon = { type: 'Sequence', pretokenizers: [{ type: 'Punctuation', behavior: 'Contiguous' }, byteLevel(true), { type: 'Digits', individual_digits: false }, split('[0-9][0-9][0-9]')] };
  refusedWith(() => preOf(falcon), /tokenizer\.json/, /--gguf-pre/, /punctuation Contiguous \| byte-level gpt2-split \| digits grouped \| split Isolated \/\[0-9\]\[0-9\]\[0-9\]\//);
  assert.is(preOf(falcon, null, 'falcon'), 'falcon');
  // Llama 3's split with a normalizer llama.cpp does not apply, and a ByteLevel that adds a prefix space
  refusedWith(() => preOf({ type: 'Sequence', pretokenizers: [split(LLAMA3), byteLevel(false)] }, { type: 'NFKC' }), /normalizer NFKC/);
  refusedWith(() => preOf({ ...byteLevel(true), add_prefix_space: true }), /prefix-space/);
  refusedWith(() => preOf(null), /no pre_tokenizer/);
});

pre.run();

const texts = suite('token texts held as UTF-8');

texts('escaped texts are their characters; a pair of surrogate escapes is one; an unpaired one is refused naming the file', () => {
  const json = (vocab: string, merges: string) =>
    `{"added_tokens": [], "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}, "model": {"type": "BPE", "vocab": {${vocab}}, "merges": [${merges}]}}`;
  const kvs = (text: string, vocabSize: number) => {
    const input = { readSide: (name: string) => (name === 'tokenizer.json' ? new TextEncoder().encode(text) : undefined) };
    const config = parseModelConfig({ hidden_size: 64, intermediate_size: 160, num_hidden_layers: 1, num_attention_heads: 4, vocab_size: vocabSize }, 'config.json');
    return new Map(ggufVocab(input, config).map((k) => [k.key, kvValue(k.v)]));
  };
  // "\u0120a" and "Ġa" are one text; the emoji written as two escapes and raw merge as one token
  const m = kvs(json('"\\u0120": 0, "a": 1, "\\u0120a": 2, "\\ud83d\\ude00": 3, "a\\ud83d\\ude00": 4', '"\\u0120 a", ["a", "\u{1f600}"]'), 6);
  assert.equal(m.get('tokenizer.ggml.tokens'), ['Ġ', 'a', 'Ġa', '\u{1f600}', 'a\u{1f600}', '[PAD5]']);
  assert.equal(m.get('tokenizer.ggml.merges'), ['Ġ a', 'a \u{1f600}']);
  for (const bad of ['"\\ud83d": 3', '"x\\ude00": 3']) {
    assert.throws(() => kvs(json(`"a": 0, ${bad}`, ''), 6), (e: Error) => e instanceof InvalidConfigError && /^tokenizer\.json: .*surrogate escapes come in pairs.*unpaired \\ud[8-f][0-9a-f]{2}/.test(e.message) && !e.message.includes('\n'));
  }
});

texts.run();

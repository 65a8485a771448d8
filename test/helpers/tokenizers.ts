// What the vocabulary tests share: an independent Hugging Face tokenizer implementation
// (@huggingface/tokenizers, pure JS, test-only in test/tools) run on a model folder's tokenizer files,
// and a corpus that exercises tokenizers (several scripts, digits, whitespace runs, code, emoji,
// special-token text).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TOOLS = fileURLToPath(new URL('../tools/package.json', import.meta.url));

type HfTokenizer = { encode(t: string, o: object): { ids: number[] } };

/** The ids Hugging Face's tokenizer gives each text (no special tokens added) with `dir`'s tokenizer.json and tokenizer_config.json. */
export function hfIds(dir: string, texts: readonly string[]): number[][] {
  const { Tokenizer } = createRequire(TOOLS)('@huggingface/tokenizers') as { Tokenizer: new (json: object, config: object) => HfTokenizer };
  const t = new Tokenizer(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')));
  return texts.map((text) => t.encode(text, { add_special_tokens: false }).ids);
}

export const CORPUS: readonly string[] = [
  'Hello world',
  // tokens that are also the names of Object.prototype's members
  'x.toString(); new constructor.valueOf(); hasOwnProperty __proto__ isPrototypeOf',
  'The quick brown fox jumps over the lazy dog.',
  "I'm sure they'll've DONE it; it's John's, isn't it?",
  '3.14159 + 1234567 = 42, 1,000,000 and 2024-12-04 at 23:59',
  'Grüße aus Köln, ça va? Ñandú, São Paulo, Øresund',
  'Привет, как дела? Всё хорошо.',
  '你好，世界！我想在apple工作1314151天',
  'こんにちは世界、カタカナとひらがな',
  'مرحبا بالعالم',
  'नमस्ते दुनिया',
  '안녕하세요 세계',
  'Emoji 😁🚀👍🏽 and ❤️ and 👨‍👩‍👧',
  'def f(x):\n    return x**2  # square\n\nprint(f(3))\n',
  'if (a && b) { c[i] = d->e; } // done',
  'tabs\there\t\tand\n\n\nnewlines  double  spaces',
  'trailing spaces   ',
  '  leading spaces',
  ' one leading space',
  '\nstarts with a newline',
  '',
  ' ',
  'a',
  'The <s> and </s> markers, <|begin_of_text|> and <|eot_id|>',
];

/** A model shape small enough that only the vocabulary matters. */
export const vocabShape = (vocab: number) => ({ hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: vocab });

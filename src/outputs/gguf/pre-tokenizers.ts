// llama.cpp's pre-tokenizers for byte-level BPE vocabularies (docs/gguf.md 8): `tokenizer.ggml.pre` names
// the regexes llama.cpp splits text with before its BPE merges. A tokenizer.json says how Hugging Face
// splits (its `pre_tokenizer` and `normalizer`); a name is written only when its steps are exactly ones
// llama.cpp computes the same way, never assumed: another split loads fine and tokenizes numbers,
// contractions and punctuation differently. An unknown one is refused; `--gguf-pre NAME` overrides.

import { isPlainObject } from '../../formats/json-text.js';

const LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** Qwen2's: Llama 3's with one digit at a time. */
const QWEN2_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const split = (regex: string) => `split Isolated /${regex}/`;
/** ByteLevel with use_regex: GPT-2's own split ('s|'t|.. ?\p{L}+| ?\p{N}+|..) before the byte mapping. */
const GPT2 = 'byte-level gpt2-split';
const BYTES = 'byte-level';

export interface PreTokenizer {
  /** The name llama.cpp reads in tokenizer.ggml.pre. */
  name: string;
  /** Whose tokenizers split this way (for messages and docs). */
  models: string;
  /** The Hugging Face steps, as `steps()` spells them. */
  steps: readonly string[];
  /** Normalizers llama.cpp's tokenizer agrees with for this name ('none': no normalizer). */
  normalizers: readonly string[];
}

/** One row per llama.cpp pre-tokenizer we recognize; `--gguf-pre` also takes the other names it knows (OTHER_PRE). */
export const PRE_TOKENIZERS: readonly PreTokenizer[] = [
  // llama.cpp gives falcon3, llama3 and dbrx the same regex as llama-bpe
  { name: 'llama-bpe', models: 'Llama 3, bitnet-b1.58-2B-4T, Falcon3', steps: [split(LLAMA3_SPLIT), BYTES], normalizers: ['none'] },
  // llama.cpp applies no NFC; Qwen2's tokenizer.json asks for it (text already in NFC tokenizes the same)
  { name: 'qwen2', models: 'Qwen2, Qwen2.5', steps: [split(QWEN2_SPLIT), BYTES], normalizers: ['none', 'NFC'] },
  { name: 'gpt-2', models: 'GPT-2', steps: [GPT2], normalizers: ['none'] },
  { name: 'smollm', models: 'SmolLM, StarCoder', steps: ['digits individual', GPT2], normalizers: ['none'] },
];

/** Other names the bundled llama.cpp reads, accepted only as an explicit --gguf-pre (their splits are not recognized). */
const OTHER_PRE = [
  'default', 'llama3', 'falcon3', 'dbrx', 'smaug-bpe', 'deepseek-llm', 'deepseek-coder', 'deepseek-v3', 'deepseek-r1-qwen', 'falcon', 'mpt', 'starcoder',
  'phi-2', 'refact', 'command-r', 'stablelm2', 'olmo', 'poro-chat', 'chatglm-bpe', 'viking', 'jais', 'tekken', 'codeshell', 'bloom', 'gpt3-finnish',
  'exaone', 'chameleon', 'minerva-7b', 'megrez', 'gpt-4o', 'superbpe', 'trillion', 'bailingmoe', 'pixtral',
] as const;

export const PRE_NAMES: readonly string[] = [...PRE_TOKENIZERS.map((p) => p.name), ...OTHER_PRE];

/** A Hugging Face pre_tokenizer as a list of steps (Sequence flattened), each a short canonical text. */
export function steps(pre: unknown): string[] {
  if (pre === null || pre === undefined) return [];
  if (!isPlainObject(pre)) return [`a ${typeof pre}`];
  const t = pre.type;
  if (t === 'Sequence' && Array.isArray(pre.pretokenizers)) return pre.pretokenizers.flatMap(steps);
  if (t === 'Split' && isPlainObject(pre.pattern)) {
    const p = pre.pattern;
    const pattern = typeof p.Regex === 'string' ? `/${p.Regex}/` : typeof p.String === 'string' ? JSON.stringify(p.String) : JSON.stringify(p);
    return [`split ${String(pre.behavior)}${pre.invert === true ? ' inverted' : ''} ${pattern}`];
  }
  if (t === 'ByteLevel') {
    // add_prefix_space would put a space before the first word; llama.cpp's byte-level BPE never does
    return [`byte-level${pre.use_regex === false ? '' : ' gpt2-split'}${pre.add_prefix_space === true ? ' prefix-space' : ''}`];
  }
  if (t === 'Digits') return [`digits ${pre.individual_digits === true ? 'individual' : 'grouped'}`];
  if (t === 'Punctuation') return [`punctuation ${String(pre.behavior ?? 'Isolated')}`];
  const { type: _type, ...rest } = pre;
  return [`${String(t)} ${JSON.stringify(rest)}`];
}

/** A normalizer as a short text ('none' for null). */
export function normalizerName(n: unknown): string {
  if (n === null || n === undefined) return 'none';
  if (isPlainObject(n) && typeof n.type === 'string') {
    if (n.type === 'Sequence' && Array.isArray(n.normalizers)) return n.normalizers.length === 0 ? 'none' : n.normalizers.map(normalizerName).join(' + ');
    const { type, ...rest } = n;
    return Object.keys(rest).length === 0 ? type : `${type} ${JSON.stringify(rest)}`;
  }
  return JSON.stringify(n);
}

/** The row whose steps and normalizer are the tokenizer's, if any. */
export function recognize(pre: unknown, normalizer: unknown): PreTokenizer | undefined {
  const s = steps(pre).join(' | ');
  const n = normalizerName(normalizer);
  return PRE_TOKENIZERS.find((p) => p.steps.join(' | ') === s && p.normalizers.includes(n));
}

// A GGUF vocabulary back as Hugging Face tokenizer files (docs/gguf.md 10), for outputs that carry
// tokenizer files when the source is a .gguf: byte-level BPE (`tokenizer.ggml.model` "gpt2") becomes a
// tokenizer.json BPE model with its merges, the pre-tokenizer its `pre` names (llama.cpp's regexes for
// llama-bpe / falcon3 and gpt-2), the ByteLevel decoder, and its control and user-defined tokens as added
// tokens; tokenizer_config.json gets the BOS and EOS tokens and the chat template. Other vocabularies
// (SentencePiece "llama", whose merges a GGUF does not store) and unknown `pre` names give none.
// Platform neutral.

import type { GgufValue } from './gguf.js';

/** llama.cpp's splitting regexes by `tokenizer.ggml.pre` (its llama-vocab.cpp), as the tokenizer.json Split pre-tokenizer spells them. */
const LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const PRE: Record<string, { split?: string; ignoreMerges: boolean }> = {
  'llama-bpe': { split: LLAMA3_SPLIT, ignoreMerges: true },
  falcon3: { split: LLAMA3_SPLIT, ignoreMerges: false },
  // GPT-2's own regex: the ByteLevel pre-tokenizer's built-in one
  'gpt-2': { ignoreMerges: false },
};

/** Token types (llama.cpp's llama_token_type): 3 control, 4 user-defined, 5 unused. */
const CONTROL = 3;
const USER_DEFINED = 4;
const UNUSED = 5;

const strings = (v: GgufValue | undefined): string[] | undefined => (v?.type === 9 && v.itemType === 8 ? (v.value as string[]) : undefined);
const numbers = (v: GgufValue | undefined): number[] | undefined => (v?.type === 9 && v.itemType !== 8 ? v.value.map(Number) : undefined);
const number = (v: GgufValue | undefined): number | undefined => (v && v.type !== 8 && v.type !== 9 ? Number(v.value) : undefined);

const json = (v: unknown): string => JSON.stringify(v, null, 2) + '\n';

/** tokenizer.json and tokenizer_config.json from a GGUF's KVs, or why there are none. */
export function hfTokenizerFromGguf(kvs: Map<string, GgufValue>): { files: Map<string, string> } | { none: string } {
  const model = kvs.get('tokenizer.ggml.model')?.value;
  const pre = String(kvs.get('tokenizer.ggml.pre')?.value ?? 'gpt-2');
  if (model !== 'gpt2') return { none: `tokenizer.ggml.model ${JSON.stringify(model)} (only gpt2, byte-level BPE, is rebuilt)` };
  const rules = PRE[pre];
  if (!rules) return { none: `tokenizer.ggml.pre ${JSON.stringify(pre)} (known: ${Object.keys(PRE).join(', ')})` };
  const tokens = strings(kvs.get('tokenizer.ggml.tokens'));
  const merges = strings(kvs.get('tokenizer.ggml.merges'));
  if (!tokens || !merges) return { none: 'tokenizer.ggml.tokens and tokenizer.ggml.merges as string arrays' };
  const types = numbers(kvs.get('tokenizer.ggml.token_type')) ?? [];
  const vocab: Record<string, number> = {};
  const added: { id: number; content: string; single_word: boolean; lstrip: boolean; rstrip: boolean; normalized: boolean; special: boolean }[] = [];
  tokens.forEach((t, id) => {
    const type = types[id] ?? 1;
    if (type === CONTROL || type === USER_DEFINED) added.push({ id, content: t, single_word: false, lstrip: false, rstrip: false, normalized: type === USER_DEFINED, special: type === CONTROL });
    else if (type !== UNUSED && !(t in vocab)) vocab[t] = id;
  });
  const bos = number(kvs.get('tokenizer.ggml.bos_token_id'));
  const eos = number(kvs.get('tokenizer.ggml.eos_token_id'));
  const addBos = kvs.get('tokenizer.ggml.add_bos_token')?.value;
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: rules.split === undefined };
  const bosName = bos !== undefined ? tokens[bos] : undefined;
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: rules.split === undefined ? byteLevel : { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: rules.split }, behavior: 'Isolated', invert: false }, byteLevel] },
    post_processor:
      addBos === true && bosName !== undefined
        ? {
            type: 'TemplateProcessing',
            single: [{ SpecialToken: { id: bosName, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
            pair: [{ SpecialToken: { id: bosName, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bosName, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
            special_tokens: { [bosName]: { id: bosName, ids: [bos!], tokens: [bosName] } },
          }
        : { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false,
      ignore_merges: rules.ignoreMerges, vocab, merges: merges.map((m) => m.split(' ')),
    },
  };
  const chat = kvs.get('tokenizer.chat_template')?.value;
  const config = {
    added_tokens_decoder: Object.fromEntries(added.map(({ id, ...t }) => [String(id), t])),
    ...(bosName !== undefined && { bos_token: bosName }),
    ...(eos !== undefined && tokens[eos] !== undefined && { eos_token: tokens[eos] }),
    ...(typeof chat === 'string' && { chat_template: chat }),
    clean_up_tokenization_spaces: true,
    model_input_names: ['input_ids', 'attention_mask'],
    tokenizer_class: 'PreTrainedTokenizerFast',
  };
  return { files: new Map([['tokenizer.json', json(tokenizer)], ['tokenizer_config.json', json(config)]]) };
}

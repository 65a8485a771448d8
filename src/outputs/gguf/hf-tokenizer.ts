// A GGUF vocabulary back as Hugging Face tokenizer files (docs/gguf.md 10), for outputs that carry
// tokenizer files when the source is a .gguf:
// - byte-level BPE (`tokenizer.ggml.model` "gpt2") becomes a tokenizer.json BPE model with its merges, the
//   pre-tokenizer its `pre` names (the rows of pre-tokenizers.ts, the table the writer recognizes them
//   by), the ByteLevel decoder;
// - SentencePiece ("llama": tokens, scores, types) becomes the tokenizer.json transformers converts such a
//   model to: BPE with byte fallback whose merges are every split of a token into two tokens, ranked by
//   the joined token's score (llama.cpp joins the adjacent pair whose join scores highest), spaces made
//   "\u2581" by a Prepend + Replace normalizer (Prepend only with add_space_prefix, as llama.cpp puts it);
// both with their control and user-defined tokens as added tokens; tokenizer_config.json gets the BOS and
// EOS tokens and the chat template. Other `pre` names give none.

import type { GgufValue } from '../../formats/gguf.js';
import { PRE_TOKENIZERS, recognize } from './pre-tokenizers.js';
import { sentencePieceMerges } from '../../formats/sentencepiece.js';
import { JsonWriter } from '../../formats/json-text.js';

/** llama.cpp's other names for the llama-bpe regex (its llama-vocab.cpp), which it also reads with ignore_merges. */
const LLAMA3_ALIASES = ['llama3', 'falcon3', 'dbrx'];

/** A step of PRE_TOKENIZERS as tokenizer.json spells it (the inverse of pre-tokenizers.ts steps()). */
function stepJson(step: string): unknown {
  const split = /^split Isolated \/(.*)\/$/s.exec(step);
  if (split) return { type: 'Split', pattern: { Regex: split[1] }, behavior: 'Isolated', invert: false };
  if (step === 'byte-level' || step === 'byte-level gpt2-split') return { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: step !== 'byte-level' };
  if (step === 'digits individual') return { type: 'Digits', individual_digits: true };
  return undefined;
}

/** The pre_tokenizer of a `tokenizer.ggml.pre` name we recognize, checked to be recognized back as that name; and whether llama.cpp ignores merges for it. */
function preTokenizer(pre: string): { json: unknown; ignoreMerges: boolean } | undefined {
  const name = LLAMA3_ALIASES.includes(pre) ? 'llama-bpe' : pre;
  const row = PRE_TOKENIZERS.find((p) => p.name === name);
  if (!row) return undefined;
  const steps = row.steps.map(stepJson);
  if (steps.some((s) => s === undefined)) return undefined;
  const json = steps.length === 1 ? steps[0] : { type: 'Sequence', pretokenizers: steps };
  return recognize(json, null) === row ? { json, ignoreMerges: name === 'llama-bpe' } : undefined;
}

/** Token types (llama.cpp's llama_token_type): 3 control, 4 user-defined, 5 unused. */
const CONTROL = 3;
const USER_DEFINED = 4;
const UNUSED = 5;

const strings = (v: GgufValue | undefined): string[] | undefined => (v?.type === 9 && v.itemType === 8 ? (v.value as string[]) : undefined);
const numbers = (v: GgufValue | undefined): number[] | undefined => (v?.type === 9 && v.itemType !== 8 ? v.value.map(Number) : undefined);
const number = (v: GgufValue | undefined): number | undefined => (v && v.type !== 8 && v.type !== 9 ? Number(v.value) : undefined);

const json = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v, null, 2) + '\n');

/**
 * tokenizer.json on one line (indenting 280k merge pairs would hold about 4 times the text), the bytes
 * JSON.stringify gives, but with the model's vocab and merges (its last two members) written piece by
 * piece: as objects and one string they took about 60 MiB for a 128k vocabulary, on a thread that runs
 * beside the conversion's workers (run/plan-worker.ts).
 */
function tokenizerBytes<T>(tokenizer: { model: object }, vocab: ReadonlyMap<string, number>, merges: Iterable<T>, merge: (w: JsonWriter, m: T) => void): Uint8Array {
  const head = JSON.stringify(tokenizer); // ends with the model's last member, then "}}"
  return new JsonWriter()
    .raw(head.slice(0, -2))
    .raw(',"vocab":')
    .object(vocab)
    .raw(',"merges":')
    .array(merges, merge)
    .raw('}}\n')
    .bytes();
}

/** tokenizer.json and tokenizer_config.json from a GGUF's KVs, or why there are none. */
export function hfTokenizerFromGguf(kvs: Map<string, GgufValue>): { files: Map<string, Uint8Array> } | { none: string } {
  const model = kvs.get('tokenizer.ggml.model')?.value;
  const pre = String(kvs.get('tokenizer.ggml.pre')?.value ?? 'gpt-2');
  if (model === 'llama') return sentencePieceFromGguf(kvs);
  if (model !== 'gpt2') return { none: `tokenizer.ggml.model ${JSON.stringify(model)} (gpt2 and llama are rebuilt)` };
  const rules = preTokenizer(pre);
  if (!rules) return { none: `tokenizer.ggml.pre ${JSON.stringify(pre)} (rebuilt: ${[...PRE_TOKENIZERS.map((p) => p.name), ...LLAMA3_ALIASES].join(', ')})` };
  const tokens = strings(kvs.get('tokenizer.ggml.tokens'));
  const merges = strings(kvs.get('tokenizer.ggml.merges'));
  if (!tokens || !merges) return { none: 'tokenizer.ggml.tokens and tokenizer.ggml.merges as string arrays' };
  const types = numbers(kvs.get('tokenizer.ggml.token_type')) ?? [];
  // a Map: as an object's keys, tokens such as "constructor" or "__proto__" were taken for ones already there
  const vocab = new Map<string, number>();
  const added: { id: number; content: string; single_word: boolean; lstrip: boolean; rstrip: boolean; normalized: boolean; special: boolean }[] = [];
  tokens.forEach((t, id) => {
    const type = types[id] ?? 1;
    if (type === CONTROL || type === USER_DEFINED) added.push({ id, content: t, single_word: false, lstrip: false, rstrip: false, normalized: type === USER_DEFINED, special: type === CONTROL });
    else if (type !== UNUSED && !vocab.has(t)) vocab.set(t, id);
  });
  const bos = number(kvs.get('tokenizer.ggml.bos_token_id'));
  const eos = number(kvs.get('tokenizer.ggml.eos_token_id'));
  const addBos = kvs.get('tokenizer.ggml.add_bos_token')?.value;
  const bosName = bos !== undefined ? tokens[bos] : undefined;
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: rules.json,
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
      ignore_merges: rules.ignoreMerges,
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
  // a GGUF's merge "a b" is the pair ["a", "b"]
  return { files: new Map([['tokenizer.json', tokenizerBytes(tokenizer, vocab, merges, (w, m) => w.pair(m))], ['tokenizer_config.json', json(config)]]) };
}

/** Token types (llama.cpp's llama_token_type) of a SentencePiece vocabulary: 2 unknown, 6 byte. */
const UNKNOWN = 2;

/**
 * A SentencePiece vocabulary as transformers' converter writes it (legacy form): every token in
 * model.vocab; merges: for each token, highest score first, its splits into two tokens (ordered by the
 * parts' ids); byte fallback; control and user-defined tokens also as added tokens.
 */
function sentencePieceFromGguf(kvs: Map<string, GgufValue>): { files: Map<string, Uint8Array> } | { none: string } {
  const tokens = strings(kvs.get('tokenizer.ggml.tokens'));
  const scores = numbers(kvs.get('tokenizer.ggml.scores'));
  if (!tokens || !scores || scores.length !== tokens.length) return { none: 'tokenizer.ggml.tokens and tokenizer.ggml.scores of one length' };
  const types = numbers(kvs.get('tokenizer.ggml.token_type')) ?? [];
  const vocab = new Map<string, number>();
  const added: { id: number; content: string; single_word: boolean; lstrip: boolean; rstrip: boolean; normalized: boolean; special: boolean }[] = [];
  tokens.forEach((t, id) => {
    const type = types[id] ?? 1;
    if (type === UNUSED || vocab.has(t)) return;
    vocab.set(t, id);
    if (type === CONTROL || type === USER_DEFINED || type === UNKNOWN) added.push({ id, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: type !== USER_DEFINED });
  });
  const merges = sentencePieceMerges(vocab, (id) => scores[id]!);
  const prefix = kvs.get('tokenizer.ggml.add_space_prefix')?.value !== false; // llama.cpp's default for "llama"
  const unk = number(kvs.get('tokenizer.ggml.unknown_token_id'));
  const bos = number(kvs.get('tokenizer.ggml.bos_token_id'));
  const eos = number(kvs.get('tokenizer.ggml.eos_token_id'));
  const bosName = bos !== undefined ? tokens[bos] : undefined;
  const addBos = kvs.get('tokenizer.ggml.add_bos_token')?.value !== false && bosName !== undefined; // llama.cpp adds bos for "llama" unless told not to
  const S = '\u2581';
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'Sequence', normalizers: [...(prefix ? [{ type: 'Prepend', prepend: S }] : []), { type: 'Replace', pattern: { String: ' ' }, content: S }] },
    pre_tokenizer: null,
    post_processor: addBos
      ? {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: bosName, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [{ SpecialToken: { id: bosName, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bosName, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
          special_tokens: { [bosName!]: { id: bosName, ids: [bos!], tokens: [bosName] } },
        }
      : null,
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: S }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        ...(prefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
      ],
    },
    model: {
      type: 'BPE', dropout: null, unk_token: unk !== undefined ? tokens[unk] ?? null : null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: true, byte_fallback: true, ignore_merges: false,
    },
  };
  const chat = kvs.get('tokenizer.chat_template')?.value;
  const config = {
    add_bos_token: addBos,
    add_eos_token: kvs.get('tokenizer.ggml.add_eos_token')?.value === true,
    added_tokens_decoder: Object.fromEntries(added.map(({ id, ...t }) => [String(id), t])),
    ...(bosName !== undefined && { bos_token: bosName }),
    ...(eos !== undefined && tokens[eos] !== undefined && { eos_token: tokens[eos] }),
    ...(unk !== undefined && tokens[unk] !== undefined && { unk_token: tokens[unk] }),
    ...(typeof chat === 'string' && { chat_template: chat }),
    clean_up_tokenization_spaces: false,
    legacy: true,
    tokenizer_class: 'LlamaTokenizerFast',
  };
  return { files: new Map([['tokenizer.json', tokenizerBytes(tokenizer, vocab, merges, (w, pair) => w.value(pair))], ['tokenizer_config.json', json(config)]]) };
}

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

import { numberItems, stringItems, type GgufValue } from '../../formats/gguf.js';
import type { ByteStrings, Span } from '../../formats/byte-strings.js';
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

const number = (v: GgufValue | undefined): number | undefined => (v && v.type !== 8 && v.type !== 9 ? Number(v.value) : undefined);

const json = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v, null, 2) + '\n');

/**
 * tokenizer.json on one line (indenting 280k merge pairs would hold about 4 times the text), the bytes
 * JSON.stringify gives, but with the model's vocab and merges (its last two members) written piece by
 * piece: as objects and one string they took about 60 MiB for a 128k vocabulary, on a thread that runs
 * beside the conversion's workers (run/plan-worker.ts).
 */
function tokenizerBytes(tokenizer: { model: object }, vocab: ReadonlyMap<string, number>, merges: Iterable<unknown>): Uint8Array {
  const head = JSON.stringify(tokenizer); // ends with the model's last member, then "}}"
  return new JsonWriter()
    .raw(head.slice(0, -2))
    .raw(',"vocab":')
    .object(vocab)
    .raw(',"merges":')
    .array(merges, (w, m) => w.value(m))
    .raw('}}\n')
    .bytes();
}

/** JSON.stringify puts the keys of an object that are array indices ("0" .. "4294967294", no leading zero) first, ascending. */
function indexKey(s: ByteStrings, i: number, at: Span): number | undefined {
  s.part(i, 0, s.length(i), at);
  const n = at.to - at.from;
  if (n < 1 || n > 10 || (n > 1 && at.bytes[at.from] === 0x30)) return undefined;
  let v = 0;
  for (let k = at.from; k < at.to; k++) {
    const d = at.bytes[k]! - 0x30;
    if (d < 0 || d > 9) return undefined;
    v = v * 10 + d;
  }
  return v < 2 ** 32 - 1 ? v : undefined;
}

/**
 * tokenizer.json as tokenizerBytes writes it, its vocab and merges written from the GGUF's UTF-8 items
 * (no JS string per token or merge: a browser's planning worker holds 128k tokens and 280k merges as
 * strings at a cost of ~50 MiB that the page kept after the worker ended; docs/performance.md).
 */
function tokenizerBytesUtf8(tokenizer: { model: object }, tokens: ByteStrings, vocab: readonly number[], merges: ByteStrings): Uint8Array {
  const head = JSON.stringify(tokenizer); // ends with the model's last member, then "}}"
  // its size bound: the head's UTF-8, each text escaped (6 bytes a byte at most) and its punctuation and id
  let texts = 0;
  for (const id of vocab) texts += tokens.length(id);
  for (let i = 0; i < merges.count; i++) texts += merges.length(i);
  const w = new JsonWriter(3 * head.length + 6 * texts + 16 * (vocab.length + 2 * merges.count) + 64).raw(head.slice(0, -2)).raw(',"vocab":');
  const at: Span = { bytes: new Uint8Array(0), from: 0, to: 0 };
  const indices: [number, number][] = [];
  const rest: number[] = [];
  for (const id of vocab) {
    const k = indexKey(tokens, id, at);
    if (k !== undefined) indices.push([k, id]);
    else rest.push(id);
  }
  indices.sort((a, b) => a[0] - b[0]);
  let sep = '{';
  const member = (id: number) => {
    tokens.part(id, 0, tokens.length(id), at);
    w.ascii(sep).utf8(at.bytes, at.from, at.to).ascii(`:${id}`);
    sep = ',';
  };
  for (const [, id] of indices) member(id);
  for (const id of rest) member(id);
  w.ascii(sep === '{' ? '{}' : '}').ascii(',"merges":');
  // a GGUF's merge "a b" is the pair ["a", "b"] (JSON.stringify(merge.split(" ")), whatever its spaces)
  sep = '[';
  for (let i = 0; i < merges.count; i++) {
    merges.part(i, 0, merges.length(i), at);
    w.ascii(sep);
    let from = at.from;
    let open = '[';
    for (let k = at.from; k <= at.to; k++) {
      if (k < at.to && at.bytes[k] !== 0x20) continue;
      w.ascii(open).utf8(at.bytes, from, k);
      open = ',';
      from = k + 1;
    }
    w.ascii(']');
    sep = ',';
  }
  return w.ascii(sep === '[' ? '[]' : ']').ascii('}}\n').bytes();
}

/** tokenizer.json and tokenizer_config.json from a GGUF's KVs (arrays decoded, or kept encoded: `arrays: 'raw'`), or why there are none. */
export function hfTokenizerFromGguf(kvs: Map<string, GgufValue>): { files: Map<string, Uint8Array> } | { none: string } {
  const model = kvs.get('tokenizer.ggml.model')?.value;
  const pre = String(kvs.get('tokenizer.ggml.pre')?.value ?? 'gpt-2');
  if (model === 'llama') return sentencePieceFromGguf(kvs);
  if (model !== 'gpt2') return { none: `tokenizer.ggml.model ${JSON.stringify(model)} (gpt2 and llama are rebuilt)` };
  const rules = preTokenizer(pre);
  if (!rules) return { none: `tokenizer.ggml.pre ${JSON.stringify(pre)} (rebuilt: ${[...PRE_TOKENIZERS.map((p) => p.name), ...LLAMA3_ALIASES].join(', ')})` };
  const tokens = stringItems(kvs.get('tokenizer.ggml.tokens'), true);
  const merges = stringItems(kvs.get('tokenizer.ggml.merges'));
  if (!tokens || !merges) return { none: 'tokenizer.ggml.tokens and tokenizer.ggml.merges as string arrays' };
  const types = numberItems(kvs.get('tokenizer.ggml.token_type')) ?? [];
  const text = (id: number | undefined) => (id !== undefined && Number.isInteger(id) && id >= 0 && id < tokens.count ? tokens.text(id) : undefined);
  // the vocab's ids, each text's first (found again by its bytes: no Map of 128k strings, and no
  // object, whose keys "constructor" or "__proto__" would be taken for ones already there)
  const vocab: number[] = [];
  const added: { id: number; content: string; single_word: boolean; lstrip: boolean; rstrip: boolean; normalized: boolean; special: boolean }[] = [];
  for (let id = 0; id < tokens.count; id++) {
    const type = types[id] ?? 1;
    if (type === CONTROL || type === USER_DEFINED) added.push({ id, content: tokens.text(id), single_word: false, lstrip: false, rstrip: false, normalized: type === USER_DEFINED, special: type === CONTROL });
    else if (type !== UNUSED && tokens.index(id) === id) vocab.push(id);
  }
  const bos = number(kvs.get('tokenizer.ggml.bos_token_id'));
  const eos = number(kvs.get('tokenizer.ggml.eos_token_id'));
  const addBos = kvs.get('tokenizer.ggml.add_bos_token')?.value;
  const bosName = text(bos);
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
    ...(text(eos) !== undefined && { eos_token: text(eos) }),
    ...(typeof chat === 'string' && { chat_template: chat }),
    clean_up_tokenization_spaces: true,
    model_input_names: ['input_ids', 'attention_mask'],
    tokenizer_class: 'PreTrainedTokenizerFast',
  };
  return { files: new Map([['tokenizer.json', tokenizerBytesUtf8(tokenizer, tokens, vocab, merges)], ['tokenizer_config.json', json(config)]]) };
}

/** Token types (llama.cpp's llama_token_type) of a SentencePiece vocabulary: 2 unknown, 6 byte. */
const UNKNOWN = 2;

/**
 * A SentencePiece vocabulary as transformers' converter writes it (legacy form): every token in
 * model.vocab; merges: for each token, highest score first, its splits into two tokens (ordered by the
 * parts' ids); byte fallback; control and user-defined tokens also as added tokens.
 */
function sentencePieceFromGguf(kvs: Map<string, GgufValue>): { files: Map<string, Uint8Array> } | { none: string } {
  // as strings: a SentencePiece vocabulary is small (Llama 2: 32k pieces)
  const items = stringItems(kvs.get('tokenizer.ggml.tokens'));
  const tokens = items && Array.from({ length: items.count }, (_, i) => items.text(i));
  const scores = numberItems(kvs.get('tokenizer.ggml.scores'));
  if (!tokens || !scores || scores.length !== tokens.length) return { none: 'tokenizer.ggml.tokens and tokenizer.ggml.scores of one length' };
  const types = numberItems(kvs.get('tokenizer.ggml.token_type')) ?? [];
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
  return { files: new Map([['tokenizer.json', tokenizerBytes(tokenizer, vocab, merges)], ['tokenizer_config.json', json(config)]]) };
}

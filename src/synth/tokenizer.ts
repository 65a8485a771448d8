// Tokenizer files for synthetic checkpoints, consistent with config.json (vocab_size, bos, eos):
//   - Llama 3 style (hf-bitnet, hf-bitnet-packed, llama-packed): a byte-level BPE tokenizer.json with the
//     Llama 3 pre-tokenizer and special tokens, tokenizer_config.json with a chat template;
//   - SentencePiece style (1bitllm, as 1bitLLM ships it): tokenizer.model (a SentencePiece BPE
//     model with byte fallback), the tokenizer.json converted from it, tokenizer_config.json,
//     special_tokens_map.json and added_tokens.json (<pad> and </line> after the model's pieces);
// and generation_config.json. Every id from 0 to vocab_size - 1 is used exactly once.
//
// The vocabularies are made up, deterministically: byte tokens (all 256 when there is room, else
// the most common ones: space, letters, digits, punctuation, newline, tab), then merges of the
// most common characters, breadth first ("ab", "ac", .., "abc", ..), until the vocabulary is full.

import type { Layout } from './layouts.js';
import { sentencePieceMerges } from '../formats/sentencepiece.js';
import { createRequire } from 'node:module';
import { LLAMA3, llama3SpecialBase, llama3SpecialCount, masterSpecialBase, spmSpecialIds } from './layouts.js';

export type TokenizerFiles = Map<string, string | Uint8Array>;

/** The vocabulary styles synth writes: the layout's own, or a Llama 2 style tokenizer.json alone (no tokenizer.model). */
export const TOKENIZER_STYLES = ['layout', 'llama2-json'] as const;
export type TokenizerStyle = (typeof TOKENIZER_STYLES)[number];

export function tokenizerFiles(layout: Layout, vocab: number, style: TokenizerStyle = 'layout'): TokenizerFiles {
  if (style === 'llama2-json') return llama2JsonFiles(vocab);
  switch (layout) {
    case 'hf-bitnet': // its config.json says bos 0, eos 1 (below the real vocabulary size)
      return llama3Files(vocab, masterSpecialBase(vocab), LLAMA3.end, 'role', {});
    case 'hf-bitnet-packed':
      return llama3Files(vocab, llama3SpecialBase(vocab), LLAMA3.end, 'role', {});
    case 'llama-packed':
    case 'llama-latent':
      return llama3Files(vocab, llama3SpecialBase(vocab), LLAMA3.eot, 'header', { transformers_version: '4.44.0.dev0' });
    case '1bitllm':
      return spmFiles(vocab);
  }
}

const json = (v: unknown): string => JSON.stringify(v, null, 2) + '\n';

/** Byte values in the order a small vocabulary takes them. */
function bytePriority(): number[] {
  const order = [0x20];
  const range = (from: number, to: number) => {
    for (let b = from; b <= to; b++) order.push(b);
  };
  range(0x61, 0x7a);
  range(0x41, 0x5a);
  range(0x30, 0x39);
  range(0x21, 0x2f);
  range(0x3a, 0x40);
  range(0x5b, 0x60);
  range(0x7b, 0x7e);
  order.push(0x0a, 0x09);
  const taken = new Set(order);
  for (let b = 0; b < 256; b++) if (!taken.has(b)) order.push(b);
  return order;
}

/** How many of the regular tokens are byte tokens: all 256 when the merges still get 32 ids, else 3 in 4. */
function byteCount(regular: number): number {
  return regular >= 256 + 32 ? 256 : Math.ceil((regular * 3) / 4);
}

/** `count` merges of the characters `chars`, breadth first, skipping tokens already in `taken`. */
function merges(chars: string[], count: number, taken: Set<string>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const queue = [...chars];
  for (let i = 0; out.length < count && i < queue.length; i++) {
    for (const c of chars) {
      if (out.length === count) break;
      const token = queue[i] + c;
      if (taken.has(token)) continue;
      taken.add(token);
      queue.push(token);
      out.push([queue[i], c]);
    }
  }
  return out;
}

function addedToken(id: number, content: string) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

function addedTokensDecoder(ids: Array<[number, string]>) {
  return Object.fromEntries(ids.map(([id, content]) => [String(id), { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true }]));
}

function bpeModel(vocab: Map<string, number>, merged: Array<[string, string]>, spm: boolean, byteFallback = false) {
  return {
    type: 'BPE',
    dropout: null,
    unk_token: spm ? '<unk>' : null,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: spm,
    byte_fallback: byteFallback,
    ignore_merges: !spm,
    vocab: Object.fromEntries(vocab),
    merges: merged.map(([a, b]) => `${a} ${b}`),
  };
}

/** A tokenizer.json (Hugging Face tokenizers format) with the given special tokens and parts. */
function tokenizerJson(specials: Array<[number, string]>, parts: { pre_tokenizer: unknown; post_processor: unknown; decoder: unknown; model: unknown }) {
  return { version: '1.0', truncation: null, padding: null, added_tokens: specials.map(([id, t]) => addedToken(id, t)), normalizer: null as unknown, ...parts };
}

function bosTemplate(bos: string, id: number) {
  return {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { [bos]: { id: bos, ids: [id], tokens: [bos] } },
  };
}

// ---- Llama 3 style ----

/** The name of the Llama 3 special token at `offset` in its block (reserved ones numbered as Llama 3 does). */
export function llama3SpecialName(offset: number): string {
  const named: Record<number, string> = {
    [LLAMA3.begin]: '<|begin_of_text|>',
    [LLAMA3.end]: '<|end_of_text|>',
    [LLAMA3.startHeader]: '<|start_header_id|>',
    [LLAMA3.endHeader]: '<|end_header_id|>',
    [LLAMA3.eot]: '<|eot_id|>',
  };
  return named[offset] ?? `<|reserved_special_token_${offset < 6 ? offset - 2 : offset === 8 ? 4 : offset - 5}|>`;
}

/** GPT-2's byte-level alphabet: printable bytes stand for themselves, the others for U+0100 + n in byte order. */
function byteLevelChars(): string[] {
  const chars: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars.push(String.fromCharCode(printable ? b : 256 + n++));
  }
  return chars;
}

/** Llama 3's pre-tokenizer split (contractions, letters, 1-3 digits, punctuation, newlines, spaces). */
const LLAMA3_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** Chat templates: "role" is 2B-4T's "User: ..<|eot_id|>Assistant: ", "header" Llama 3 Instruct's header blocks. */
const CHAT_TEMPLATES = {
  role:
    "{{ bos_token }}{% for message in messages %}{{ message['role'] | capitalize + ': ' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}" +
    "{% if add_generation_prompt %}{{ 'Assistant: ' }}{% endif %}",
  header:
    "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
};

export interface Llama3Vocabulary {
  /** Token text by id. */
  tokens: string[];
  /** The special tokens' ids: [specialBase, specialBase + count). */
  specialBase: number;
  specialCount: number;
  merges: Array<[string, string]>;
}

/**
 * The real Llama 3 vocabulary (128256 tokens, 280,147 merges) from the npm package llama3-tokenizer-js
 * (a development dependency, loaded only for the real vocabulary size), or undefined when it is not
 * installed; then a made-up vocabulary of the same size is written.
 */
function realLlama3(): Llama3Vocabulary | undefined {
  let t: { vocabById: string[]; merges: Map<string, number> } | undefined;
  try {
    const mod = createRequire(import.meta.url)('llama3-tokenizer-js/bundle/commonjs-llama3-tokenizer-with-baked-data.cjs');
    t = mod.llama3Tokenizer ?? mod.default;
  } catch {
    return undefined;
  }
  if (!t?.vocabById || !t.merges) return undefined;
  const merges = [...t.merges.entries()].sort((a, b) => a[1] - b[1]).map(([m]) => m.split(' ') as [string, string]);
  return { tokens: t.vocabById.slice(), specialBase: 128000, specialCount: 256, merges };
}

export function llama3Vocabulary(vocab: number, specialBase: number): Llama3Vocabulary {
  if (vocab === 128256 && specialBase === 128000) {
    const real = realLlama3();
    if (real) return real;
  }
  const specialCount = llama3SpecialCount(vocab);
  const regular = vocab - specialCount;
  const chars = byteLevelChars();
  const bytes = bytePriority()
    .slice(0, byteCount(regular))
    .map((b) => chars[b]);
  const specials = Array.from({ length: specialCount }, (_, i) => llama3SpecialName(i));
  const merged = merges(bytes.slice(0, 64), regular - bytes.length, new Set([...bytes, ...specials]));
  const regularTokens = [...bytes, ...merged.map(([a, b]) => a + b)];
  const tokens: string[] = [];
  for (let id = 0, r = 0; id < vocab; id++) {
    tokens.push(id >= specialBase && id < specialBase + specialCount ? specials[id - specialBase] : regularTokens[r++]);
  }
  return { tokens, specialBase, specialCount, merges: merged };
}

function llama3Files(vocab: number, specialBase: number, eosOffset: number, template: keyof typeof CHAT_TEMPLATES, generation: Record<string, unknown>): TokenizerFiles {
  const v = llama3Vocabulary(vocab, specialBase);
  const isSpecial = (id: number) => id >= v.specialBase && id < v.specialBase + v.specialCount;
  const specials: Array<[number, string]> = [];
  const regular = new Map<string, number>();
  v.tokens.forEach((t, id) => (isSpecial(id) ? specials.push([id, t]) : regular.set(t, id)));
  const bos = specialBase + LLAMA3.begin;
  const eos = specialBase + eosOffset;
  const tokenizer = tokenizerJson(specials, {
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: LLAMA3_SPLIT }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'Sequence',
      processors: [{ type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true }, bosTemplate(v.tokens[bos], bos)],
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: bpeModel(regular, v.merges, false),
  });
  const config = {
    added_tokens_decoder: addedTokensDecoder(specials),
    bos_token: v.tokens[bos],
    chat_template: CHAT_TEMPLATES[template],
    clean_up_tokenization_spaces: true,
    eos_token: v.tokens[eos],
    model_input_names: ['input_ids', 'attention_mask'],
    tokenizer_class: 'PreTrainedTokenizerFast',
  };
  return new Map<string, string | Uint8Array>([
    ['tokenizer.json', json(tokenizer)],
    ['tokenizer_config.json', json(config)],
    ['generation_config.json', json({ _from_model_config: true, bos_token_id: bos, eos_token_id: eos, ...generation })],
  ]);
}

// ---- SentencePiece style (1bitLLM) ----

/** The decoder of a SentencePiece model's tokenizer.json: "▁" back to spaces, byte tokens to bytes, the first space dropped. */
const SPM_DECODER = {
  type: 'Sequence',
  decoders: [
    { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' },
    { type: 'ByteFallback' },
    { type: 'Fuse' },
    { type: 'Strip', content: ' ', start: 1, stop: 0 },
  ],
};

/** SentencePiece piece types. */
export const PIECE = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;

export interface SpmVocabulary {
  /** The model's pieces by id (vocab_size - 2 of them: <pad> and </line> are added tokens). */
  pieces: Array<{ piece: string; score: number; type: number }>;
  merges: Array<[string, string]>;
  added: Array<[number, string]>;
  byteFallback: boolean;
}

/** The characters of SentencePiece pieces, most common first: the space marker, letters, digits, punctuation. */
function spmChars(): string[] {
  return bytePriority()
    .slice(0, 95)
    .map((b) => (b === 0x20 ? '\u2581' : String.fromCharCode(b)));
}

export function spmVocabulary(vocab: number): SpmVocabulary {
  const ids = spmSpecialIds(vocab);
  const regular = vocab - 5;
  // SentencePiece's byte fallback needs all 256 byte pieces: a vocabulary without room for them
  // has none (and no byte fallback), unknown characters become <unk>
  const bytes = byteCount(regular) < 256 ? [] : Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  const other = regular - bytes.length;
  const chars = spmChars().slice(0, Math.min(95, Math.ceil(other / 2)));
  const merged = merges(chars, other - chars.length, new Set(['<unk>', '<s>', '</s>', '<pad>', '</line>', ...bytes, ...chars]));
  // as in Llama's model: merged pieces first (their score ranks the merges), single characters last
  const normal = [...merged.map(([a, b]) => a + b), ...chars];
  const pieces = [
    { piece: '<unk>', score: 0, type: PIECE.unknown },
    { piece: '<s>', score: 0, type: PIECE.control },
    { piece: '</s>', score: 0, type: PIECE.control },
    ...bytes.map((piece) => ({ piece, score: 0, type: PIECE.byte })),
    ...normal.map((piece, i) => ({ piece, score: -i, type: PIECE.normal })),
  ];
  return { pieces, merges: sentencePieceMerges(new Map(pieces.map((p, id) => [p.piece, id])), (id) => pieces[id].score), added: [[ids.pad, '<pad>'], [ids.line, '</line>']], byteFallback: bytes.length > 0 };
}


function spmFiles(vocab: number): TokenizerFiles {
  const v = spmVocabulary(vocab);
  const ids = spmSpecialIds(vocab);
  const specials: Array<[number, string]> = [[ids.unk, '<unk>'], [ids.bos, '<s>'], [ids.eos, '</s>'], ...v.added];
  const tokenizer = tokenizerJson(specials, {
    pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: false },
    post_processor: bosTemplate('<s>', ids.bos),
    decoder: SPM_DECODER,
    model: bpeModel(new Map(v.pieces.map((p, id) => [p.piece, id])), v.merges, true, v.byteFallback),
  });
  const special = (content: string) => ({ content, lstrip: false, normalized: false, rstrip: false, single_word: false });
  // 1bitLLM/bitnet_b1_58-large tokenizer_config.json (its tokenization_bitnet.py is not written)
  const config = {
    add_bos_token: true,
    add_eos_token: false,
    add_prefix_space: true,
    added_tokens_decoder: addedTokensDecoder(specials),
    additional_special_tokens: ['</line>'],
    bos_token: '<s>',
    clean_up_tokenization_spaces: false,
    eos_token: '</s>',
    legacy: false,
    pad_token: '<pad>',
    sp_model_kwargs: {},
    tokenizer_class: 'BitnetTokenizer',
    unk_token: '<unk>',
    use_default_system_prompt: false,
  };
  return new Map<string, string | Uint8Array>([
    ['tokenizer.model', sentencePieceModel(v, vocab - 2)],
    ['tokenizer.json', json(tokenizer)],
    ['tokenizer_config.json', json(config)],
    ['special_tokens_map.json', json({ additional_special_tokens: ['</line>'], bos_token: special('<s>'), eos_token: special('</s>'), pad_token: special('<pad>'), unk_token: special('<unk>') })],
    ['added_tokens.json', json(Object.fromEntries(v.added.map(([id, t]) => [t, id]).reverse()))],
    // as 1bitLLM's generation_config.json has it (bos 0 and pad 1, unlike its config.json)
    ['generation_config.json', json({ _from_model_config: true, bos_token_id: 0, eos_token_id: 2, pad_token_id: 1, transformers_version: '4.39.0' })],
  ]);
}

/**
 * A Llama 2 style vocabulary given only as tokenizer.json (as many Llama-family repos ship it): the same
 * SentencePiece-style BPE (byte fallback, <0xNN> byte tokens), spaces made "\u2581" by a Prepend +
 * Replace normalizer (transformers' legacy conversion), no tokenizer.model; <s> and </s> its bos and eos.
 */
function llama2JsonFiles(vocab: number): TokenizerFiles {
  const v = spmVocabulary(vocab);
  const ids = spmSpecialIds(vocab);
  const specials: Array<[number, string]> = [[ids.unk, '<unk>'], [ids.bos, '<s>'], [ids.eos, '</s>'], ...v.added];
  const tokenizer = tokenizerJson(specials, {
    pre_tokenizer: null,
    post_processor: bosTemplate('<s>', ids.bos),
    decoder: SPM_DECODER,
    model: bpeModel(new Map(v.pieces.map((p, id) => [p.piece, id])), v.merges, true, v.byteFallback),
  });
  tokenizer.normalizer = {
    type: 'Sequence',
    normalizers: [
      { type: 'Prepend', prepend: '\u2581' },
      { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' },
    ],
  };
  const config = {
    add_bos_token: true,
    add_eos_token: false,
    added_tokens_decoder: addedTokensDecoder(specials),
    bos_token: '<s>',
    clean_up_tokenization_spaces: false,
    eos_token: '</s>',
    legacy: true,
    pad_token: '<pad>',
    tokenizer_class: 'LlamaTokenizer',
    unk_token: '<unk>',
  };
  return new Map<string, string | Uint8Array>([
    ['tokenizer.json', json(tokenizer)],
    ['tokenizer_config.json', json(config)],
    ['generation_config.json', json({ _from_model_config: true, bos_token_id: ids.bos, eos_token_id: ids.eos })],
  ]);
}

/**
 * A SentencePiece ModelProto (sentencepiece_model.proto): pieces (1) {piece 1, score 2, type 3},
 * trainer_spec (2) {model_type 3 = BPE, vocab_size 4, byte_fallback 35, unk/bos/eos_id 40-42},
 * normalizer_spec (3) {name 1 "identity", add_dummy_prefix 3, remove_extra_whitespaces 4, escape_whitespaces 5}.
 */
function sentencePieceModel(v: SpmVocabulary, size: number): Uint8Array {
  const out: number[] = [];
  for (const p of v.pieces) {
    const m: number[] = [];
    bytesField(m, 1, new TextEncoder().encode(p.piece));
    floatField(m, 2, p.score);
    varintField(m, 3, p.type);
    bytesField(out, 1, m);
  }
  const trainer: number[] = [];
  varintField(trainer, 3, 2);
  varintField(trainer, 4, size);
  varintField(trainer, 35, v.byteFallback ? 1 : 0);
  varintField(trainer, 40, 0);
  varintField(trainer, 41, 1);
  varintField(trainer, 42, 2);
  bytesField(out, 2, trainer);
  const normalizer: number[] = [];
  bytesField(normalizer, 1, new TextEncoder().encode('identity'));
  varintField(normalizer, 3, 1);
  varintField(normalizer, 4, 0);
  varintField(normalizer, 5, 1);
  bytesField(out, 3, normalizer);
  return Uint8Array.from(out);
}

function varint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

function varintField(out: number[], field: number, v: number): void {
  varint(out, field * 8);
  varint(out, v);
}

function bytesField(out: number[], field: number, data: ArrayLike<number>): void {
  varint(out, field * 8 + 2);
  varint(out, data.length);
  for (let i = 0; i < data.length; i++) out.push(data[i]);
}

function floatField(out: number[], field: number, v: number): void {
  varint(out, field * 8 + 5);
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setFloat32(0, v, true);
  out.push(...bytes);
}

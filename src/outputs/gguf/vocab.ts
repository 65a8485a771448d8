// The model folder's tokenizer as GGUF vocabulary KVs (docs/gguf.md sections 2 and 8), written so that
// llama.cpp tokenizes text as the Hugging Face tokenizer does:
// - a byte-level BPE tokenizer.json (Llama 3, 2B-4T, Falcon3): tokenizer.ggml.model "gpt2", pre the
//   llama.cpp pre-tokenizer its split is (pre-tokenizers.ts), tokens (vocab_size of them: ids the
//   tokenizer lacks become "[PAD<id>]", type unused), token_type (1 normal, 3 control for special added
//   tokens, 4 user-defined for other added tokens), merges;
// - a SentencePiece tokenizer.model (Llama 2 style, 1bitLLM): "llama", tokens, scores, token_type (the
//   piece types), added_tokens.json appended; llama.cpp needs all 256 byte pieces <0x00>..<0xFF>;
// - a tokenizer.json with byte fallback and no tokenizer.model (a SentencePiece model converted): "llama"
//   with scores from the merge ranks, byte tokens typed BYTE, add_space_prefix from its normalizer.
// All: bos/eos (and unk/pad when known) ids, add_bos_token, and the chat template.

import { InvalidConfigError, UnsupportedError } from '../../errors.js';
import { encodedStrings, kv, type GgufKv } from '../../formats/gguf.js';
import { ByteStrings, type Span } from '../../formats/byte-strings.js';
import { JsonReader } from '../../formats/json-reader.js';
import { clip, describe, isPlainObject } from '../../formats/json-text.js';
import { parseSentencePieceModel, PieceType, twoTokenSplits } from '../../formats/sentencepiece.js';
import { normalizerName, PRE_TOKENIZERS, recognize, steps } from './pre-tokenizers.js';
import type { ModelConfig } from '../../model/config.js';
import type { InputFolder } from '../types.js';

// Limits: the whole vocabulary is held while the GGUF head is written (on the plan thread), so each
// input is bounded to what keeps the worst file inside them under the 256 MiB bound
// (test/hostile.test.ts). Real vocabularies are far below: Llama 3's tokenizer.json is 9 MB with
// 128,256 tokens and 280,147 merges; Llama 2's tokenizer.model 0.5 MB; Gemma's 256k tokens the largest.

/** vocab_size: twice the largest real vocabulary (Gemma's 256k). */
export const MAX_VOCAB = 1 << 19;
/** tokenizer.json (read with a pull reader: only the vocabulary and merges are built). */
export const MAX_TOKENIZER_JSON_BYTES = 16 << 20;
/** tokenizer.model. */
export const MAX_TOKENIZER_MODEL_BYTES = 16 << 20;
/** tokenizer_config.json and added_tokens.json (Gemma 3's tokenizer_config.json, the largest known, is 1.2 MB). */
export const MAX_SIDE_JSON_BYTES = 4 << 20;
/** normalizer, pre_tokenizer and post_processor each (Llama 3's are under 2 KiB). */
const MAX_STEP_JSON_BYTES = 1 << 20;
/** Merges: Llama 3 has 2.2 per token (several merge paths to one token); 4 per token of vocab_size, at most 2^19. */
const MERGES_PER_TOKEN = 4;
export const MAX_MERGES = 1 << 19;

const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

/** A side file's bytes, refused above `max` bytes (before reading where the folder tells the size). */
function side(input: InputFolder, name: string, max: number): Uint8Array | undefined {
  const tooLarge = (size: number) => new InvalidConfigError({ file: name }, `${name} to be at most ${max} bytes`, `${size} bytes (is it the right file?)`);
  const size = input.sideSize?.(name);
  if (size !== undefined && size > max) throw tooLarge(size);
  const bytes = input.readSide(name);
  if (bytes && bytes.length > max) throw tooLarge(bytes.length);
  return bytes;
}

function jsonReader(bytes: Uint8Array, file: string): JsonReader {
  return new JsonReader(bytes, (expected, found) => {
    throw new InvalidConfigError({ file }, expected, found);
  });
}

/** Walks a side JSON file's top-level object (false when there is no such file); `member` reads or skips each key's value. */
function sideObject(input: InputFolder, name: string, member: (r: JsonReader, key: string) => void): boolean {
  const bytes = side(input, name, MAX_SIDE_JSON_BYTES);
  if (!bytes) return false;
  const r = jsonReader(bytes, name);
  if (r.peek() !== 'object') throw new InvalidConfigError({ file: name }, 'a JSON object', r.peek() === 'array' ? 'a list' : describe(r.value()));
  r.object((key) => member(r, key));
  r.end();
  return true;
}

/** What the GGUF takes from tokenizer_config.json (its added_tokens_decoder, up to a whole vocabulary, is skipped). */
const TOKENIZER_CONFIG_KEYS = new Set(['bos_token', 'eos_token', 'pad_token', 'add_bos_token', 'add_eos_token', 'chat_template']);

function tokenizerConfig(input: InputFolder): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  const found = sideObject(input, 'tokenizer_config.json', (r, key) => {
    if (TOKENIZER_CONFIG_KEYS.has(key)) out[key] = r.value();
    else r.skip();
  });
  return found ? out : undefined;
}

/** A token id from config.json (a number, or the first of a list) or, failing that, tokenizer_config's token text. */
function specialId(config: ModelConfig, key: 'bos' | 'eos' | 'pad', tokConfig: Record<string, unknown> | undefined, idOf: IdOf): number | undefined {
  const v = config.raw[`${key}_token_id`];
  if (typeof v === 'number') return v;
  if (Array.isArray(v) && typeof v[0] === 'number') return v[0];
  const t = tokConfig?.[`${key}_token`];
  const text = typeof t === 'string' ? t : isPlainObject(t) && typeof t.content === 'string' ? t.content : undefined;
  return text === undefined ? undefined : idOf(text);
}

function chatTemplate(tokConfig: Record<string, unknown> | undefined): string | undefined {
  const t = tokConfig?.chat_template;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const d = t.find((x) => isPlainObject(x) && x.name === 'default');
    if (isPlainObject(d) && typeof d.template === 'string') return d.template;
  }
  return undefined;
}

/** The vocabulary KVs; `pre` is tokenizer.ggml.pre for a byte-level BPE tokenizer.json ('auto': recognized from its pre_tokenizer). */
export function ggufVocab(input: InputFolder, config: ModelConfig, pre = 'auto'): GgufKv[] {
  if (config.vocabSize > MAX_VOCAB) {
    throw new InvalidConfigError({ file: 'config.json' }, `a vocab_size of at most ${MAX_VOCAB} for a GGUF vocabulary (held in memory while the head is written)`, String(config.vocabSize));
  }
  const tokConfig = tokenizerConfig(input);
  // each file's bytes are read where they are parsed, and dropped after (not held through the other's parse)
  const spm = () => side(input, 'tokenizer.model', MAX_TOKENIZER_MODEL_BYTES);
  const tokJson = () => side(input, 'tokenizer.json', MAX_TOKENIZER_JSON_BYTES);
  const has = (name: string) => (input.sideSize ? input.sideSize(name) : input.readSide(name)?.length) !== undefined;
  const hasJson = has('tokenizer.json');
  let vocab: Vocab;
  if (has('tokenizer.model') && (!hasJson || sentencePieceStyle(tokJson()!))) vocab = spmVocab(spm, input, config);
  else if (hasJson) vocab = bpeVocab(tokJson, config, pre);
  else {
    throw new InvalidConfigError(
      { file: 'tokenizer.json' },
      'a tokenizer in the model folder (tokenizer.json, or tokenizer.model) for the GGUF vocabulary (engines refuse a GGUF without one)',
      'neither',
    );
  }
  const out = [...vocab.kvs];
  const ids: Partial<Record<'bos' | 'eos' | 'pad', number>> = {};
  for (const key of ['bos', 'eos', 'pad'] as const) {
    const id = specialId(config, key, tokConfig, vocab.byText);
    if (id !== undefined && id >= 0 && id < config.vocabSize) out.push(kv.u32(`tokenizer.ggml.${key === 'pad' ? 'padding' : key}_token_id`, (ids[key] = id)));
  }
  // tokenizer_config says whether bos/eos are added; else a tokenizer.json's post-processor does (its template)
  const added = vocab.addedByTemplate?.(ids.bos === undefined ? undefined : vocab.text(ids.bos), ids.eos === undefined ? undefined : vocab.text(ids.eos));
  for (const key of ['bos', 'eos'] as const) {
    const stated = tokConfig?.[`add_${key}_token`];
    const add = typeof stated === 'boolean' ? stated : added?.[key];
    if (add !== undefined) out.push(kv.bool(`tokenizer.ggml.add_${key}_token`, add));
  }
  const template = chatTemplate(tokConfig);
  if (template !== undefined) out.push(kv.str('tokenizer.chat_template', template));
  return out;
}

const TOKENIZER_JSON = 'tokenizer.json';

/**
 * Whether a tokenizer.json is a SentencePiece model converted (convertedSentencePiece), whose
 * tokenizer.model then says more (real scores); only the model's byte_fallback and the normalizer and
 * pre_tokenizer are read, the rest skipped with its syntax checked.
 */
function sentencePieceStyle(bytes: Uint8Array): boolean {
  const r = jsonReader(bytes, TOKENIZER_JSON);
  const j: SpmSignals = { byteFallback: false, normalizer: null, preTokenizer: null };
  r.object((key) => {
    if (key === 'model' && r.peek() === 'object') {
      r.object((k) => {
        if (k === 'byte_fallback' && r.peek() === 'literal') j.byteFallback = r.value() === true;
        else r.skip();
      });
    } else if ((key === 'normalizer' || key === 'pre_tokenizer') && r.peek() === 'object') {
      const v = r.value(MAX_STEP_JSON_BYTES);
      if (key === 'normalizer') j.normalizer = v;
      else j.preTokenizer = v;
    } else r.skip();
  });
  r.end();
  return convertedSentencePiece(j);
}

/** Fills ids up to vocab_size: ids the tokenizer lacks become "[PAD<id>]" (unused), as llama.cpp's converter does. */
function padded(tokens: (string | undefined)[], types: number[], vocabSize: number, file: string): void {
  if (tokens.length > vocabSize) {
    throw new InvalidConfigError({ file }, `at most vocab_size (${vocabSize}) tokens`, `${tokens.length}`);
  }
  for (let i = 0; i < vocabSize; i++) {
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = TOKEN_TYPE.unused;
    }
  }
}

type IdOf = (text: string) => number | undefined;

/** Token text -> id, for tokenizer_config's special tokens given as text (a few look-ups: no index built). */
function textToId(tokens: readonly (string | undefined)[]): IdOf {
  return (text) => {
    const i = tokens.indexOf(text);
    return i < 0 ? undefined : i;
  };
}

/** What a BPE tokenizer.json holds for a GGUF vocabulary (read by readBpeJson), its texts as UTF-8 bytes. */
interface BpeJson {
  /** The token texts: model.vocab's (findable by their bytes), the added tokens' and the pads' (not). */
  strings: ByteStrings;
  /** Each id's model.vocab entry in `strings` (-1: none). */
  vocabOf: Int32Array;
  /** Each id's token in `strings`, added tokens over model.vocab's (-1: none, until padded). */
  tokenOf: Int32Array;
  types: number[];
  /** Merges as GGUF writes them ("a b"), and where each splits (in bytes: a token of a pair may hold a space). */
  merges: ByteStrings;
  splits: number[];
  byteFallback: boolean;
  unkToken: string | undefined;
  normalizer: unknown;
  preTokenizer: unknown;
  postProcessor: unknown;
}

/**
 * A BPE tokenizer.json read with the pull reader: model.vocab, model.merges and added_tokens are built,
 * the normalizer and pre_tokenizer kept, everything else skipped. Checked as strictly as weights (as
 * Hugging Face tokenizers loads it): token ids integers below vocab_size, each id and each text once;
 * added tokens objects with an id and a content, an id of the vocabulary only for the same text; merges
 * ["a", "b"] pairs or "a b" strings (one space) whose parts and join are tokens of model.vocab, at most
 * 4 per token of vocab_size. Token and merge texts are held and compared as UTF-8 (ByteStrings): one
 * with an unpaired surrogate escape is refused.
 */
function readBpeJson(bytes: () => Uint8Array | undefined, config: ModelConfig): BpeJson {
  const file = TOKENIZER_JSON;
  const fail: (expected: string, found: string) => never = (expected, found) => {
    throw new InvalidConfigError({ file }, expected, found);
  };
  const V = config.vocabSize;
  const maxMerges = Math.min(MAX_MERGES, MERGES_PER_TOKEN * V);
  const json = bytes()!;
  // bounds: decoded texts are no longer than the file's; the pads' texts ("[PAD<id>]") besides
  const strings = new ByteStrings(json.length + 12 * V, 2 * V, V);
  const vocabOf = new Int32Array(V).fill(-1);
  const types: number[] = new Array<number>(V).fill(0);
  const merges = new ByteStrings(json.length, maxMerges);
  const splits: number[] = [];
  const added: { id: number; content: string; special: boolean; entry: number }[] = [];
  const quoted = (s: ByteStrings, i: number) => clip(JSON.stringify(s.text(i)), 60);
  let type: unknown;
  let prefixUnits = 0;
  let hasModel = false;
  let hasVocab = false;
  let byteFallback = false;
  let unkToken: string | undefined;
  let normalizer: unknown = null;
  let preTokenizer: unknown = null;
  let postProcessor: unknown = null;
  const once = new Set<string>();
  const first = (key: string) => {
    if (once.has(key)) fail(`each of "model", "added_tokens", "vocab", "merges", "continuing_subword_prefix" once`, `${key} twice`);
    once.add(key);
  };
  const badMerge: (i: number, found: string) => never = (i, found) => fail('merges as ["a", "b"] pairs of strings or "a b" strings (one space)', `merge ${i}: ${found}`);
  const readMerge = (i: number) => {
    if (i >= maxMerges) fail(`at most ${maxMerges} merges (${maxMerges < MAX_MERGES ? `${MERGES_PER_TOKEN} per token of vocab_size ${V}` : 'the most a GGUF vocabulary may hold'})`, `merge ${i}`);
    const kind = r.peek();
    if (kind === 'string') {
      const s = r.stringSpan();
      const m = merges.add(s.bytes, s.from, s.to);
      const b = merges.bytesOf(m);
      const k = b.indexOf(SPACE_BYTE);
      if (k < 0 || b.indexOf(SPACE_BYTE, k + 1) >= 0) badMerge(i, quoted(merges, m));
      addMerge(k);
    } else if (kind === 'array') {
      // the first item goes into the merges at once: the reader's span is reused by the next string
      let split = 0;
      r.array((j) => {
        if (j >= 2) badMerge(i, 'a list of more than 2 items');
        if (r.peek() !== 'string') badMerge(i, `a list holding ${r.peek() === 'object' ? 'an object' : describe(r.value())}`);
        const s = r.stringSpan();
        if (j === 0) {
          merges.add(s.bytes, s.from, s.to);
          split = s.to - s.from;
        } else merges.extendLast(SPACE_BYTE, s.bytes, s.from, s.to);
      });
      if (merges.count === i) badMerge(i, '[]');
      if (merges.length(i) === split) badMerge(i, describe([merges.text(i)]));
      addMerge(split);
    } else {
      badMerge(i, kind === 'object' ? 'an object' : describe(r.value()));
    }
  };
  const a: Span = { bytes: new Uint8Array(0), from: 0, to: 0 };
  const b: Span = { bytes: new Uint8Array(0), from: 0, to: 0 };
  const checkMerge = (i: number) => {
    merges.part(i, 0, splits[i]!, a);
    merges.part(i, splits[i]! + 1, merges.length(i), b);
    let missing: string | undefined;
    if (strings.find(a.bytes, a.from, a.to) < 0) missing = decoded(a);
    else if (strings.find(b.bytes, b.from, b.to) < 0) missing = decoded(b);
    else {
      // Hugging Face drops the continuing-subword prefix's length from b
      const from = b.from;
      if (!cut(b, prefixUnits) || strings.findJoined(a, b) < 0) {
        b.from = from;
        missing = decoded(a) + decoded(b).slice(prefixUnits);
      }
    }
    if (missing !== undefined) {
      fail('merges of tokens of model.vocab (both parts and their join)', `merge ${i} ${quoted(merges, i)}: ${clip(JSON.stringify(missing), 60)} is not in model.vocab`);
    }
  };
  let checked = 0;
  const addMerge = (split: number) => {
    splits.push(split);
    // checked as they are read once model.vocab is known, else at the end
    if (hasVocab && once.has('continuing_subword_prefix')) for (; checked < merges.count; checked++) checkMerge(checked);
  };
  const r = jsonReader(json, TOKENIZER_JSON);
  r.object((key) => {
    if (key === 'added_tokens') {
      first(key);
      if (r.peek() !== 'array') return r.skip();
      r.array((i) => {
        const a = r.peek() === 'object' ? r.value() : undefined;
        if (!isPlainObject(a) || typeof a.content !== 'string' || typeof a.id !== 'number') {
          fail('added_tokens entries {"id": <id>, "content": <text>, ...}', `entry ${i}: ${a === undefined ? describe(r.value()) : describe(a)}`);
        }
        if (i >= V) fail(`at most vocab_size (${V}) added tokens`, `entry ${i}`);
        added.push({ id: a.id, content: a.content, special: a.special === true, entry: i });
      });
    } else if (key === 'normalizer' || key === 'pre_tokenizer' || key === 'post_processor') {
      // small objects (a few regexes, a template); compared, not run, and bounded so that a hostile one costs little
      if (r.peek() === 'array') return r.skip();
      const v = r.value(MAX_STEP_JSON_BYTES);
      if (key === 'normalizer') normalizer = v;
      else if (key === 'pre_tokenizer') preTokenizer = v;
      else postProcessor = v;
    } else if (key === 'model') {
      first(key);
      if (r.peek() !== 'object') return r.skip();
      hasModel = true;
      r.object((k) => {
        if (k === 'type') type = r.value();
        else if (k === 'byte_fallback') byteFallback = r.value() === true;
        else if (k === 'unk_token') {
          const v = r.value();
          if (typeof v === 'string') unkToken = v;
        } else if (k === 'continuing_subword_prefix') {
          first(k);
          const v = r.value();
          if (typeof v === 'string') prefixUnits = v.length;
        } else if (k === 'vocab') {
          first(k);
          if ((type !== undefined && type !== 'BPE') || r.peek() !== 'object') return r.skip();
          hasVocab = true;
          r.objectSpans((text) => {
            const e = strings.add(text.bytes, text.from, text.to); // before the id is read: the span is the reader's
            const id = r.peek() === 'number' ? r.number() : r.value();
            if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= V) {
              fail(`token ${quoted(strings, e)} to have an id below vocab_size (${V})`, describe(id));
            }
            if (strings.index(e) !== e) fail('each token text once in model.vocab', `${quoted(strings, e)} twice`);
            if (vocabOf[id]! >= 0) fail(`each id once in model.vocab`, `id ${id} for ${quoted(strings, vocabOf[id]!)} and ${quoted(strings, e)}`);
            vocabOf[id] = e;
            types[id] = TOKEN_TYPE.normal;
          });
        } else if (k === 'merges') {
          first(k);
          if (r.peek() !== 'array') fail('"merges" to be a list', r.peek() === 'object' ? 'an object' : describe(r.value()));
          r.array(readMerge);
        } else r.skip();
      });
    } else r.skip();
  });
  r.end();
  if (type !== 'BPE' || !hasVocab) {
    throw new UnsupportedError({ file }, 'a BPE model (byte-level, as Llama 3, or with byte fallback, as Llama 2) or a SentencePiece tokenizer.model', hasModel ? String(type) : 'no model');
  }
  const tokenOf = vocabOf.slice();
  const addedIds = new Set<number>();
  for (const t of added) {
    if (!Number.isInteger(t.id) || t.id < 0 || t.id >= V) {
      fail(`token ${clip(JSON.stringify(t.content), 60)} to have an id below vocab_size (${V})`, `${t.id} (added_tokens entry ${t.entry})`);
    }
    const e = strings.addText(t.content);
    if (addedIds.has(t.id) || (tokenOf[t.id]! >= 0 && !strings.same(tokenOf[t.id]!, e))) {
      fail(`added_tokens entry ${t.entry} (${clip(JSON.stringify(t.content), 60)}) to have an id of its own`, `id ${t.id}, already ${quoted(strings, tokenOf[t.id]!)}`);
    }
    addedIds.add(t.id);
    tokenOf[t.id] = e;
    types[t.id] = t.special ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined;
  }
  for (; checked < merges.count; checked++) checkMerge(checked);
  return { strings, vocabOf, tokenOf, types, merges, splits, byteFallback, unkToken, normalizer, preTokenizer, postProcessor };
}

const SPACE_BYTE = 0x20;
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
const decoded = (s: Span) => utf8.decode(s.bytes.subarray(s.from, s.to));

/**
 * Moves s.from past `units` UTF-16 units of its UTF-8 (as String.slice would cut the text); false where
 * the cut falls inside a character of 4 bytes (its string would start with a lone surrogate, no token's).
 */
function cut(s: Span, units: number): boolean {
  let u = 0;
  let p = s.from;
  while (u < units && p < s.to) {
    const c = s.bytes[p]!;
    const n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    u += n === 4 ? 2 : 1;
    p += n;
  }
  s.from = p;
  return u <= units;
}

/** The GGUF tokens of a tokenizer.json, ids it lacks padded (as padded() does), and how special tokens are found by their text. */
function bpeTokens(j: BpeJson): { tokens: GgufKv; text: (id: number) => string; byText: IdOf } {
  const { strings, tokenOf, types } = j;
  for (let i = 0; i < tokenOf.length; i++) {
    if (tokenOf[i]! < 0) {
      tokenOf[i] = strings.addText(`[PAD${i}]`);
      types[i] = TOKEN_TYPE.unused;
    }
  }
  const encoder = new TextEncoder();
  return {
    tokens: kv.encodedStrings('tokenizer.ggml.tokens', encodedStrings(strings, tokenOf)),
    text: (id) => strings.text(tokenOf[id]!),
    byText: (text) => {
      const t = encoder.encode(text);
      const i = tokenOf.findIndex((e) => strings.equals(e, t, 0, t.length));
      return i < 0 ? undefined : i;
    },
  };
}

/** Byte-level BPE (Llama 3, 2B-4T, Falcon3): "gpt2" with its merges and the pre-tokenizer llama.cpp must split with. */
function bpeVocab(bytes: () => Uint8Array | undefined, config: ModelConfig, pre: string): Vocab {
  const j = readBpeJson(bytes, config);
  if (convertedSentencePiece(j)) return spmJsonVocab(j, config);
  const name = pre === 'auto' ? detectedPre(j) : pre;
  const { tokens, text, byText } = bpeTokens(j);
  return {
    kvs: [
      kv.str('tokenizer.ggml.model', 'gpt2'),
      kv.str('tokenizer.ggml.pre', name),
      tokens,
      kv.i32s('tokenizer.ggml.token_type', j.types),
      kv.encodedStrings('tokenizer.ggml.merges', encodedStrings(j.merges)),
    ],
    text,
    byText,
    addedByTemplate: templateAdds(j.postProcessor),
  };
}
function detectedPre(j: BpeJson): string {
  const known = recognize(j.preTokenizer, j.normalizer);
  if (known) return known.name;
  const found = steps(j.preTokenizer);
  const norm = normalizerName(j.normalizer);
  throw new UnsupportedError(
    { file: TOKENIZER_JSON },
    `a pre-tokenizer llama.cpp splits with as Hugging Face does (${PRE_TOKENIZERS.map((p) => `${p.name}: ${p.models}`).join('; ')}); --gguf-pre NAME writes another name llama.cpp knows`,
    clip(`${found.length ? found.join(' | ') : 'no pre_tokenizer'}${norm === 'none' ? '' : `, normalizer ${norm}`}`, 200),
  );
}

/** What says whether a tokenizer.json is a SentencePiece model converted. */
type SpmSignals = Pick<BpeJson, 'byteFallback' | 'normalizer' | 'preTokenizer'>;

/** A SentencePiece model converted: spaces made "▁", or byte fallback without a byte-level step (where it never applies). */
function convertedSentencePiece(j: SpmSignals): boolean {
  return spaceHandling(j) !== undefined || (j.byteFallback && !steps(j.preTokenizer).some((s) => s.startsWith('byte-level')));
}

/** Whether spaces become "▁" and one is put before the text, from a SentencePiece-style tokenizer.json (legacy Prepend + Replace normalizer, or a Metaspace pre-tokenizer). */
function spaceHandling(j: SpmSignals): { addSpacePrefix: boolean } | undefined {
  const n = j.normalizer;
  const parts = isPlainObject(n) && n.type === 'Sequence' && Array.isArray(n.normalizers) ? n.normalizers : n === null || n === undefined ? [] : [n];
  const replaces = parts.some((p) => isPlainObject(p) && p.type === 'Replace' && isPlainObject(p.pattern) && p.pattern.String === ' ' && p.content === SPACE);
  const prepends = parts.some((p) => isPlainObject(p) && p.type === 'Prepend' && p.prepend === SPACE);
  const others = parts.filter((p) => !(isPlainObject(p) && (p.type === 'Replace' || p.type === 'Prepend')));
  const pre = j.preTokenizer;
  if (others.length > 0) return undefined;
  if (pre === null || pre === undefined) return replaces ? { addSpacePrefix: prepends } : undefined;
  if (isPlainObject(pre) && pre.type === 'Metaspace' && pre.replacement === SPACE && parts.length === 0) {
    const scheme = pre.prepend_scheme ?? (pre.add_prefix_space === false ? 'never' : 'always');
    return { addSpacePrefix: scheme !== 'never' };
  }
  return undefined;
}

const SPACE = '\u2581';

/**
 * A SentencePiece model given as tokenizer.json (BPE with byte fallback, Llama 2 style): "llama", whose
 * tokenizer merges the adjacent pair whose join has the highest score. Scores of -(rank of the first
 * merge making the token) make it pick the merge Hugging Face picks, provided every split of a token into
 * two tokens is a merge (as a tokenizer.json converted from a SentencePiece model has them); a file where
 * one is missing would tokenize differently in llama.cpp, and is refused.
 */
function spmJsonVocab(j: BpeJson, config: ModelConfig): Vocab {
  const file = TOKENIZER_JSON;
  const V = config.vocabSize;
  const space = spaceHandling(j);
  if (!space) {
    throw new UnsupportedError(
      { file },
      'a SentencePiece-style tokenizer.json whose spaces become "\u2581" (a Prepend + Replace normalizer, or a Metaspace pre-tokenizer), as llama.cpp\'s "llama" tokenizer does',
      clip(`normalizer ${normalizerName(j.normalizer)}, pre_tokenizer ${steps(j.preTokenizer).join(' | ') || 'none'}`, 200),
    );
  }
  // as strings: a SentencePiece vocabulary is small (Llama 2: 32k tokens, 61k merges)
  const vocab = new Map<string, number>();
  const idOf = new Int32Array(j.strings.count).fill(-1);
  j.vocabOf.forEach((e, id) => e >= 0 && (idOf[e] = id));
  idOf.forEach((id, e) => id >= 0 && vocab.set(j.strings.text(e), id)); // in the file's order
  const merges = Array.from({ length: j.merges.count }, (_, i) => j.merges.text(i));
  const mergeSet = new Set(merges);
  for (const [t, id] of vocab) {
    if (j.types[id] !== TOKEN_TYPE.normal || BYTE_PIECE.test(t)) continue;
    for (const [a, b] of twoTokenSplits(t, (x) => vocab.has(x))) {
      if (!mergeSet.has(`${a} ${b}`)) {
        throw new UnsupportedError(
          { file },
          'merges as a SentencePiece model gives them (every split of a token into two tokens), which llama.cpp\'s "llama" tokenizer assumes',
          `no merge ${clip(JSON.stringify(`${a} ${b}`), 60)} for token ${clip(JSON.stringify(t), 60)}`,
        );
      }
    }
  }
  const scores = new Array<number>(V).fill(0);
  const scored = new Set<string>();
  const part = { bytes: new Uint8Array(0), from: 0, to: 0 };
  merges.forEach((m, i) => {
    const joined = decoded(j.merges.part(i, 0, j.splits[i]!, part)) + decoded(j.merges.part(i, j.splits[i]! + 1, j.merges.length(i), part));
    if (scored.has(joined)) return;
    scored.add(joined);
    scores[vocab.get(joined)!] = -(i + 1);
  });
  let bytePieces = 0;
  for (const [t, id] of vocab) {
    if (BYTE_PIECE.test(t) && j.types[id] === TOKEN_TYPE.normal) {
      j.types[id] = TOKEN_TYPE.byte;
      bytePieces++;
    }
  }
  if (bytePieces < 256) {
    throw new UnsupportedError({ file }, 'a byte-fallback vocabulary with the 256 byte tokens <0x00>..<0xFF> (llama.cpp cannot load one without them)', `${bytePieces} byte tokens`);
  }
  const unk = j.unkToken === undefined ? undefined : vocab.get(j.unkToken);
  if (unk !== undefined) j.types[unk] = TOKEN_TYPE.unknown;
  const { tokens, text, byText } = bpeTokens(j);
  return {
    kvs: [
      kv.str('tokenizer.ggml.model', 'llama'),
      tokens,
      kv.f32s('tokenizer.ggml.scores', scores),
      kv.i32s('tokenizer.ggml.token_type', j.types),
      kv.bool('tokenizer.ggml.add_space_prefix', space.addSpacePrefix),
      ...(unk !== undefined ? [kv.u32('tokenizer.ggml.unknown_token_id', unk)] : []),
    ],
    text,
    byText,
    addedByTemplate: templateAdds(j.postProcessor),
  };
}

/** SentencePiece's byte pieces. */
const BYTE_PIECE = /^<0x[0-9A-F]{2}>$/;

interface Vocab {
  kvs: GgufKv[];
  /** A token's text by its id (every id below vocab_size has one). */
  text: (id: number) => string;
  byText: IdOf;
  /** From a tokenizer.json: whether its post-processor puts the bos (eos) token first (last), given their texts. */
  addedByTemplate?: (bos: string | undefined, eos: string | undefined) => { bos: boolean; eos: boolean };
}

/**
 * What a tokenizer.json's post_processor adds around a text (a TemplateProcessing, alone or in a
 * Sequence): bos when its single template starts with the bos token, eos when it ends with the eos
 * token; none without a post-processor (Hugging Face then adds nothing, where llama.cpp's llama-bpe
 * would add bos).
 */
function templateAdds(post: unknown): Vocab['addedByTemplate'] {
  const processors = isPlainObject(post) && Array.isArray(post.processors) ? post.processors : [post];
  const template = processors.find((p) => isPlainObject(p) && p.type === 'TemplateProcessing');
  const single = isPlainObject(template) && Array.isArray(template.single) ? template.single : [];
  const special = (item: unknown) => (isPlainObject(item) && isPlainObject(item.SpecialToken) && typeof item.SpecialToken.id === 'string' ? item.SpecialToken.id : undefined);
  const first = single.length > 1 ? special(single[0]) : undefined;
  const last = single.length > 1 ? special(single[single.length - 1]) : undefined;
  return (bos, eos) => ({ bos: first !== undefined && first === bos, eos: last !== undefined && last === eos });
}

function spmVocab(model: () => Uint8Array | undefined, input: InputFolder, config: ModelConfig): Vocab {
  const file = 'tokenizer.model';
  const V = config.vocabSize;
  const { pieces, scores, types } = parseSentencePieceModel(model()!, file, V);
  const tokens: (string | undefined)[] = pieces;
  const count = pieces.length;
  const byText = textToId(tokens);
  const bytePieces = types.filter((t) => t === PieceType.BYTE).length;
  if (bytePieces < 256) {
    throw new UnsupportedError(
      { file },
      'a SentencePiece vocabulary with the 256 byte pieces <0x00>..<0xFF> (llama.cpp cannot load one without them)',
      `${bytePieces} byte pieces`,
    );
  }
  // a slot for every id now: ids past the pieces filled in any order keep the arrays dense (not dictionaries)
  for (let i = count; i < V; i++) {
    tokens.push(undefined);
    scores.push(-1000);
    types.push(TOKEN_TYPE.unused);
  }
  const addedTexts = new Set<string>();
  sideObject(input, 'added_tokens.json', (r, text) => {
    if (addedTexts.has(text)) throw new InvalidConfigError({ file: 'added_tokens.json' }, 'each token once', `${clip(JSON.stringify(text), 60)} twice`);
    addedTexts.add(text);
    const id = r.peek() === 'number' ? r.number() : r.value();
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= V) {
      throw new InvalidConfigError({ file: 'added_tokens.json' }, `token ${clip(JSON.stringify(text), 60)} to have an id below vocab_size (${V})`, describe(id));
    }
    if (id < count ? tokens[id] !== text : tokens[id] !== undefined) {
      throw new InvalidConfigError({ file: 'added_tokens.json' }, `token ${clip(JSON.stringify(text), 60)} to have an id of its own`, `id ${id}, already ${clip(JSON.stringify(tokens[id]), 60)}`);
    }
    tokens[id] = text;
    scores[id] = 0;
    types[id] = TOKEN_TYPE.userDefined;
  });
  padded(tokens, types, V, file);
  const unk = types.indexOf(PieceType.UNKNOWN);
  return {
    kvs: [
      kv.str('tokenizer.ggml.model', 'llama'),
      kv.strings('tokenizer.ggml.tokens', tokens as string[]),
      kv.f32s('tokenizer.ggml.scores', scores),
      kv.i32s('tokenizer.ggml.token_type', types),
      ...(unk >= 0 ? [kv.u32('tokenizer.ggml.unknown_token_id', unk)] : []),
    ],
    text: (id) => tokens[id]!,
    byText,
  };
}

// The model folder's tokenizer as GGUF vocabulary KVs (docs/gguf.md section 2), as llama.cpp's converter
// writes them:
// - a byte-level BPE tokenizer.json (Llama 3, 2B-4T): tokenizer.ggml.model "gpt2", pre "llama-bpe",
//   tokens (vocab_size of them: ids the tokenizer lacks become "[PAD<id>]", type unused), token_type
//   (1 normal, 3 control for special added tokens, 4 user-defined for other added tokens), merges;
// - a SentencePiece tokenizer.model (Llama 2 style, 1bitLLM): "llama", tokens, scores, token_type (the
//   piece types), added_tokens.json appended; llama.cpp needs all 256 byte pieces <0x00>..<0xFF>.
// Both: bos/eos (and unk/pad when known) ids, add_bos_token, and the chat template.

import { InvalidConfigError, UnsupportedError } from '../../errors.js';
import { kv, type GgufKv } from '../../formats/gguf.js';
import { isPlainObject } from '../../formats/json-text.js';
import { parseSentencePieceModel, PieceType } from '../../formats/sentencepiece.js';
import type { ModelConfig } from '../../model/config.js';
import type { InputFolder } from '../types.js';

const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;
const utf8 = new TextDecoder();

function json(input: InputFolder, name: string): Record<string, unknown> | undefined {
  const bytes = input.readSide(name);
  if (!bytes) return undefined;
  try {
    const v = JSON.parse(utf8.decode(bytes));
    if (isPlainObject(v)) return v;
  } catch {
    // reported below
  }
  throw new InvalidConfigError({ file: name }, 'a JSON object', 'unreadable JSON');
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

export function ggufVocab(input: InputFolder, config: ModelConfig): GgufKv[] {
  const tokConfig = json(input, 'tokenizer_config.json');
  const spm = input.readSide('tokenizer.model');
  const tokJson = json(input, 'tokenizer.json');
  const byteFallback = isPlainObject(tokJson?.model) && tokJson.model.byte_fallback === true;
  let kvs: GgufKv[];
  let byText: IdOf;
  if (spm && (!tokJson || byteFallback)) ({ kvs, byText } = spmVocab(spm, input, config));
  else if (tokJson) ({ kvs, byText } = bpeVocab(tokJson, config));
  else {
    throw new InvalidConfigError(
      { file: 'tokenizer.json' },
      'a tokenizer in the model folder (tokenizer.json, or tokenizer.model) for the GGUF vocabulary (engines refuse a GGUF without one)',
      'neither',
    );
  }
  const out = [...kvs];
  for (const key of ['bos', 'eos', 'pad'] as const) {
    const id = specialId(config, key, tokConfig, byText);
    if (id !== undefined && id >= 0 && id < config.vocabSize) out.push(kv.u32(`tokenizer.ggml.${key === 'pad' ? 'padding' : key}_token_id`, id));
  }
  if (typeof tokConfig?.add_bos_token === 'boolean') out.push(kv.bool('tokenizer.ggml.add_bos_token', tokConfig.add_bos_token));
  if (typeof tokConfig?.add_eos_token === 'boolean') out.push(kv.bool('tokenizer.ggml.add_eos_token', tokConfig.add_eos_token));
  const template = chatTemplate(tokConfig);
  if (template !== undefined) out.push(kv.str('tokenizer.chat_template', template));
  return out;
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

function bpeVocab(tok: Record<string, unknown>, config: ModelConfig): { kvs: GgufKv[]; byText: IdOf } {
  const model = tok.model;
  if (!isPlainObject(model) || model.type !== 'BPE' || !isPlainObject(model.vocab)) {
    throw new UnsupportedError({ file: 'tokenizer.json' }, 'a BPE model (byte-level, as Llama 3) or a SentencePiece tokenizer.model', isPlainObject(model) ? String(model.type) : 'no model');
  }
  const tokens: (string | undefined)[] = new Array(config.vocabSize);
  const types: number[] = new Array(config.vocabSize);
  const put = (text: string, id: unknown, type: number) => {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= config.vocabSize) {
      throw new InvalidConfigError({ file: 'tokenizer.json' }, `token ${JSON.stringify(text)} to have an id below vocab_size (${config.vocabSize})`, String(id));
    }
    tokens[id] = text;
    types[id] = type;
  };
  const vocab = model.vocab;
  for (const text in vocab) put(text, vocab[text], TOKEN_TYPE.normal);
  for (const a of Array.isArray(tok.added_tokens) ? tok.added_tokens : []) {
    if (isPlainObject(a) && typeof a.content === 'string') put(a.content, a.id, a.special === true ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined);
  }
  padded(tokens, types, config.vocabSize, 'tokenizer.json');
  const raw = Array.isArray(model.merges) ? model.merges : [];
  const merges = raw.every((m) => typeof m === 'string') ? (raw as string[]) : raw.map((m) => (Array.isArray(m) ? m.join(' ') : String(m)));
  const byText = textToId(tokens);
  return {
    kvs: [
      kv.str('tokenizer.ggml.model', 'gpt2'),
      kv.str('tokenizer.ggml.pre', 'llama-bpe'),
      kv.strings('tokenizer.ggml.tokens', tokens as string[]),
      kv.i32s('tokenizer.ggml.token_type', types),
      kv.strings('tokenizer.ggml.merges', merges),
    ],
    byText,
  };
}

function spmVocab(model: Uint8Array, input: InputFolder, config: ModelConfig): { kvs: GgufKv[]; byText: IdOf } {
  const pieces = parseSentencePieceModel(model, 'tokenizer.model');
  const tokens: (string | undefined)[] = pieces.map((p) => p.piece);
  const scores = pieces.map((p) => p.score);
  const types = pieces.map((p) => p.type);
  const byText = textToId(tokens);
  const bytePieces = pieces.filter((p) => p.type === PieceType.BYTE).length;
  if (bytePieces < 256) {
    throw new UnsupportedError(
      { file: 'tokenizer.model' },
      'a SentencePiece vocabulary with the 256 byte pieces <0x00>..<0xFF> (llama.cpp cannot load one without them)',
      `${bytePieces} byte pieces`,
    );
  }
  const added = json(input, 'added_tokens.json') ?? {};
  for (const [text, id] of Object.entries(added)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= config.vocabSize) {
      throw new InvalidConfigError({ file: 'added_tokens.json' }, `token ${JSON.stringify(text)} to have an id below vocab_size (${config.vocabSize})`, String(id));
    }
    tokens[id] = text;
    scores[id] = 0;
    types[id] = TOKEN_TYPE.userDefined;
  }
  padded(tokens, types, config.vocabSize, 'tokenizer.model');
  for (let i = 0; i < config.vocabSize; i++) scores[i] ??= -1000;
  const unk = pieces.findIndex((p) => p.type === PieceType.UNKNOWN);
  return {
    kvs: [
      kv.str('tokenizer.ggml.model', 'llama'),
      kv.strings('tokenizer.ggml.tokens', tokens as string[]),
      kv.f32s('tokenizer.ggml.scores', scores),
      kv.i32s('tokenizer.ggml.token_type', types),
      ...(unk >= 0 ? [kv.u32('tokenizer.ggml.unknown_token_id', unk)] : []),
    ],
    byText,
  };
}

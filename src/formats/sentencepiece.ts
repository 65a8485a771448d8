// The pieces of a SentencePiece model file (tokenizer.model: a protobuf ModelProto). Only what a
// vocabulary needs: field 1 `pieces` (repeated SentencePiece { 1: piece string, 2: score float,
// 3: type enum }); every other field is skipped by its wire type. No Node imports.

import { CorruptFileError } from '../errors.js';
import { clip } from './json-text.js';

/** SentencePiece piece types (sentencepiece_model.proto); GGUF's token_type uses the same numbers. */
export const PieceType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** The pieces by id, as columns (a 256k vocabulary as objects would cost three times as much). */
export interface Pieces {
  pieces: string[];
  scores: number[];
  types: number[];
}

const PIECE_TYPES = new Set<number>(Object.values(PieceType));

/**
 * Reads the pieces, at most `maxPieces` of them (the config's vocab_size): counted in a first pass
 * over the message framing, before any piece is built. Each piece must be a non-empty UTF-8 string
 * (SentencePiece refuses empty and repeated pieces when it loads a model), its score finite, its type
 * one of PieceType.
 */
export function parseSentencePieceModel(bytes: Uint8Array, file: string, maxPieces: number): Pieces {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const fail = (at: number, what: string): never => {
    throw new CorruptFileError({ file }, 'a SentencePiece model (protobuf ModelProto)', `${what} at byte ${at}`);
  };
  const badPiece = (id: number, expected: string, found: string): never => {
    throw new CorruptFileError({ file }, `piece ${id} ${expected}`, found);
  };
  const varint = (p: { at: number }, end: number): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (p.at >= end) fail(p.at, 'a varint running past the end');
      const b = bytes[p.at++];
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
      if (mul > 2 ** 63) fail(p.at, 'a varint longer than 10 bytes');
    }
  };
  /** Calls onField(field, wireType, p) for each field of the message in [start, end); the callback must consume known fields. */
  const fields = (start: number, end: number, onField: (field: number, wire: number, p: { at: number }) => boolean) => {
    const p = { at: start };
    while (p.at < end) {
      const key = varint(p, end);
      const field = Math.floor(key / 8);
      const wire = key & 7;
      if (onField(field, wire, p)) continue;
      if (wire === 0) varint(p, end);
      else if (wire === 1) p.at += 8;
      else if (wire === 2) {
        const n = varint(p, end); // read before adding: `p.at += varint(...)` would add to the old position
        p.at += n;
      }
      else if (wire === 5) p.at += 4;
      else fail(p.at, `wire type ${wire}`);
      if (p.at > end) fail(p.at, 'a field running past the end');
    }
  };
  /** Each piece message's extent, in order, through `each`. */
  const pieceMessages = (each: (start: number, end: number) => void) =>
    fields(0, bytes.length, (field, wire, p) => {
      if (field !== 1 || wire !== 2) return false;
      const len = varint(p, bytes.length);
      const end = p.at + len;
      if (end > bytes.length) fail(p.at, 'a piece running past the end');
      each(p.at, end);
      p.at = end;
      return true;
    });
  let count = 0;
  pieceMessages(() => count++);
  if (count === 0) fail(0, 'no pieces');
  if (count > maxPieces) {
    throw new CorruptFileError({ file }, `at most vocab_size (${maxPieces}) pieces`, `${count} pieces`);
  }
  const out: Pieces = { pieces: [], scores: [], types: [] };
  const seen = new Set<string>();
  pieceMessages((start, end) => {
    const id = out.pieces.length;
    let piece = '';
    let score = 0;
    let type: number = PieceType.NORMAL;
    fields(start, end, (f, w, q) => {
      if (f === 1 && w === 2) {
        const n = varint(q, end);
        if (q.at + n > end) fail(q.at, 'a string running past its piece');
        try {
          piece = utf8.decode(bytes.subarray(q.at, q.at + n));
        } catch {
          fail(q.at, 'a piece that is not UTF-8');
        }
        q.at += n;
        return true;
      }
      if (f === 2 && w === 5) {
        if (q.at + 4 > end) fail(q.at, 'a score running past its piece');
        score = view.getFloat32(q.at, true);
        q.at += 4;
        return true;
      }
      if (f === 3 && w === 0) {
        type = varint(q, end);
        return true;
      }
      return false;
    });
    if (piece === '') badPiece(id, 'to be a non-empty string', 'an empty piece');
    const text = () => clip(JSON.stringify(piece), 60);
    if (!Number.isFinite(score)) badPiece(id, `${text()} to have a finite score`, String(score));
    if (!PIECE_TYPES.has(type)) badPiece(id, `${text()} to have a type 1-6 (normal, unknown, control, user-defined, unused, byte)`, `type ${type}`);
    if (seen.has(piece)) badPiece(id, `${text()} to be unique`, `the same piece as ${out.pieces.indexOf(piece)}`);
    seen.add(piece);
    out.pieces.push(piece);
    out.scores.push(score);
    out.types.push(type);
  });
  return out;
}

/** The ways `token` splits into two tokens `has` holds (never inside a UTF-16 surrogate pair). */
export function* twoTokenSplits(token: string, has: (t: string) => boolean): Generator<[string, string]> {
  for (let k = 1; k < token.length; k++) {
    const c = token.charCodeAt(k);
    if (c >= 0xdc00 && c <= 0xdfff) continue;
    const a = token.slice(0, k);
    const b = token.slice(k);
    if (has(a) && has(b)) yield [a, b];
  }
}

/**
 * A SentencePiece vocabulary's merges as its tokenizer.json has them (transformers' conversion): every
 * split of a token into two tokens, tokens by score (highest first, then id), a token's splits by the
 * ids of their parts. A SentencePiece BPE model (and llama.cpp's "llama" tokenizer) joins any adjacent
 * pair whose join is a token, so only such complete merges tokenize alike. `vocab`: token -> id.
 */
export function sentencePieceMerges(vocab: ReadonlyMap<string, number>, scoreOf: (id: number) => number): Array<[string, string]> {
  const has = (t: string) => vocab.has(t);
  const order = [...vocab].sort(([, a], [, b]) => scoreOf(b) - scoreOf(a) || a - b);
  const out: Array<[string, string]> = [];
  for (const [t] of order) {
    const local = [...twoTokenSplits(t, has)];
    local.sort((x, y) => vocab.get(x[0])! - vocab.get(y[0])! || vocab.get(x[1])! - vocab.get(y[1])!);
    out.push(...local);
  }
  return out;
}

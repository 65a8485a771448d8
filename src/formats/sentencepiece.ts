// The pieces of a SentencePiece model file (tokenizer.model: a protobuf ModelProto). Only what a
// vocabulary needs: field 1 `pieces` (repeated SentencePiece { 1: piece string, 2: score float,
// 3: type enum }); every other field is skipped by its wire type. No Node imports.

import { CorruptFileError } from '../errors.js';

/** SentencePiece piece types (sentencepiece_model.proto); GGUF's token_type uses the same numbers. */
export const PieceType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export interface Piece {
  piece: string;
  score: number;
  type: number;
}

export function parseSentencePieceModel(bytes: Uint8Array, file: string): Piece[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const fail = (at: number, what: string): never => {
    throw new CorruptFileError({ file }, 'a SentencePiece model (protobuf ModelProto)', `${what} at byte ${at}`);
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
  const pieces: Piece[] = [];
  fields(0, bytes.length, (field, wire, p) => {
    if (field !== 1 || wire !== 2) return false;
    const len = varint(p, bytes.length);
    const end = p.at + len;
    if (end > bytes.length) fail(p.at, 'a piece running past the end');
    const piece: Piece = { piece: '', score: 0, type: PieceType.NORMAL };
    fields(p.at, end, (f, w, q) => {
      if (f === 1 && w === 2) {
        const n = varint(q, end);
        if (q.at + n > end) fail(q.at, 'a string running past its piece');
        try {
          piece.piece = utf8.decode(bytes.subarray(q.at, q.at + n));
        } catch {
          fail(q.at, 'a piece that is not UTF-8');
        }
        q.at += n;
        return true;
      }
      if (f === 2 && w === 5) {
        if (q.at + 4 > end) fail(q.at, 'a score running past its piece');
        piece.score = view.getFloat32(q.at, true);
        q.at += 4;
        return true;
      }
      if (f === 3 && w === 0) {
        piece.type = varint(q, end);
        return true;
      }
      return false;
    });
    pieces.push(piece);
    p.at = end;
    return true;
  });
  if (pieces.length === 0) fail(0, 'no pieces');
  return pieces;
}

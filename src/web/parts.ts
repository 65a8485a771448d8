// Containers where a browser's synchronous handles are exclusive (Firefox, Safari: no 'readwrite-unsafe'):
// a job holding the container's handle for all its run would keep every other job of that container
// waiting, one worker converting at a time. There each job writes its regions back to back into a part
// file of its own, and the head goes into a file of its own (no byte counted twice against the storage
// quota); the hash follows the written prefix reading them in order, and the container is delivered as
// one File of the head and the parts' slices, never copied (docs/architecture.md, "Containers where
// handles are exclusive").

import { OutputError } from '../errors.js';
import type { Sha256 } from '../formats/sha256.js';
import { hashRange, storageError, type SyncHandle } from './opfs.js';

/** The folder of a run's part files (no output file's name starts so). */
const PARTS = '.parts';
export const partName = (job: number) => `${PARTS}/${job}`;
/** The file of a container's head (in the run's folder, no file has the container's name). */
export const headName = (container: string) => `${PARTS}/${container.replaceAll('/', '_')}.head`;

/** A container written in parts: its pieces, its size, the file of its head. */
export interface Parts {
  pieces: Piece[];
  size: number;
  head: string;
}

/** A region of a container and where it lies in its job's part file. */
export interface Piece {
  offset: number;
  bytes: number;
  part: string;
  at: number;
}

/** A job's regions laid end to end in its part file, in the job's order. */
export function layOut(regions: { offset: number; bytes: number }[], part: string): Piece[] {
  let at = 0;
  return regions.map((r) => {
    const p = { offset: r.offset, bytes: r.bytes, part, at };
    at += r.bytes;
    return p;
  });
}

/** The container's side of a part file: writes at container offsets land in the part, where its pieces lie. */
export class RegionHandle implements SyncHandle {
  constructor(
    private readonly part: SyncHandle,
    private readonly pieces: Piece[],
    private readonly file: string,
  ) {
    const last = pieces[pieces.length - 1];
    try {
      part.truncate(last ? last.at + last.bytes : 0); // the whole layout: a region's bytes a job leaves alone (padding) read as zeros
    } catch (e) {
      throw storageError(file, e);
    }
  }

  write(buffer: Uint8Array, options?: { at?: number }): number {
    let at = options?.at ?? 0;
    for (let done = 0; done < buffer.length; ) {
      const p = this.pieces.find((q) => at >= q.offset && at < q.offset + q.bytes);
      if (!p) throw new OutputError({ file: this.file }, `a write at offset ${at} outside the job's regions`);
      const n = Math.min(buffer.length - done, p.offset + p.bytes - at);
      let put = 0;
      while (put < n) {
        const k = this.part.write(buffer.subarray(done + put, done + n), { at: p.at + at - p.offset + put });
        if (k <= 0) return done + put;
        put += k;
      }
      done += n;
      at += n;
    }
    return buffer.length;
  }

  read(): number {
    throw new Error('a part file is not read through its regions');
  }

  truncate(): void {
    throw new Error('a container is sized when it is created');
  }

  getSize(): number {
    throw new Error("a container's size is not its part's");
  }

  flush(): void {
    this.part.flush();
  }

  close(): void {
    this.part.close();
  }
}

/** The pieces that cover some of [from, to), in the container's order. */
export function piecesIn(pieces: Piece[], from: number, to: number): Piece[] {
  return pieces.filter((p) => p.offset < to && p.offset + p.bytes > from).sort((a, b) => a.offset - b.offset);
}

/** A stretch of a container: a piece's bytes, the head's (below its end) or, neither, zeros (padding). */
type Segment = { from: number; to: number; piece?: Piece; zeros?: true };

/** [from, to) of a container in order, as the stretches it is made of. */
function* segments(pieces: Piece[], headBytes: number, from: number, to: number): Generator<Segment> {
  let at = from;
  function* gap(end: number): Generator<Segment> {
    if (at < Math.min(end, headBytes)) yield { from: at, to: Math.min(end, headBytes) };
    if (end > Math.max(at, headBytes)) yield { from: Math.max(at, headBytes), to: end, zeros: true };
    at = end;
  }
  for (const p of piecesIn(pieces, from, to)) {
    if (p.offset > at) yield* gap(p.offset);
    const end = Math.min(p.offset + p.bytes, to);
    yield { from: Math.max(at, p.offset), to: end, piece: p };
    at = end;
  }
  if (at < to) yield* gap(to);
}

/**
 * Hashes [from, to) of a container in order: the bytes of its pieces from their part files, the head from
 * its file, zeros between (padding). `buf`: the read buffer.
 */
export async function hashPieces(
  head: SyncHandle,
  file: string,
  pieces: Piece[],
  openPart: (name: string) => Promise<SyncHandle>,
  hash: Sha256,
  from: number,
  to: number,
  buf: Uint8Array,
): Promise<void> {
  const open = new Map<string, SyncHandle>(); // a part holds several pieces: opened once a task
  try {
    for (const s of segments(pieces, head.getSize(), from, to)) {
      if (s.zeros) {
        for (let at = s.from; at < s.to; at += buf.length) hash.update(buf.subarray(0, Math.min(buf.length, s.to - at)).fill(0));
      } else if (!s.piece) {
        hashRange(head, hash, s.from, s.to, buf, { what: 'the head', file });
      } else {
        let part = open.get(s.piece.part);
        if (!part) open.set(s.piece.part, (part = await openPart(s.piece.part)));
        hashRange(part, hash, s.from, s.to, buf, { shift: s.piece.at - s.piece.offset, what: `part ${s.piece.part}`, file });
      }
    }
  } finally {
    for (const part of open.values()) part.close();
  }
}

/**
 * The container `name` as one File: its pieces read from their part files, its head from its file, zeros
 * between (padding). Nothing is copied.
 */
export async function joined(name: string, parts: Parts, file: (name: string) => Promise<Blob>): Promise<File> {
  const head = await file(parts.head);
  const files = new Map<string, Blob>();
  const out: (Blob | Uint8Array<ArrayBuffer>)[] = [];
  for (const s of segments(parts.pieces, head.size, 0, parts.size)) {
    if (s.zeros) out.push(new Uint8Array(s.to - s.from));
    else if (!s.piece) out.push(head.slice(s.from, s.to));
    else {
      let f = files.get(s.piece.part);
      if (!f) files.set(s.piece.part, (f = await file(s.piece.part)));
      const shift = s.piece.at - s.piece.offset;
      out.push(f.slice(s.from + shift, s.to + shift));
    }
  }
  return new File(out, name.split('/').pop()!);
}

// Containers where a browser's synchronous handles are exclusive (Firefox, Safari: no 'readwrite-unsafe'):
// a job holding the container's handle for all its run would keep every other job of that container
// waiting, one worker converting at a time. There each job writes its regions back to back into a part
// file of its own, and the head goes into a file of its own (no byte counted twice against the storage
// quota); the hash follows the written prefix reading them in order, and the container is delivered as
// one File of the head and the parts' slices, never copied (docs/architecture.md, "Containers where
// handles are exclusive").

import { OutputError } from '../errors.js';
import type { Sha256 } from '../formats/sha256.js';
import { storageError, type SyncHandle } from './opfs.js';

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
  const hashRange = (h: SyncHandle, what: string, at: number, end: number, shift: number) => {
    while (at < end) {
      const n = h.read(buf.subarray(0, Math.min(buf.length, end - at)), { at: at + shift });
      if (n <= 0) throw new OutputError({ file }, `cannot read back ${what} at ${at + shift}`);
      hash.update(buf.subarray(0, n));
      at += n;
    }
  };
  const headBytes = head.getSize();
  const gap = (at: number, end: number) => {
    hashRange(head, 'the head', at, Math.min(end, headBytes), 0);
    for (at = Math.max(at, headBytes); at < end; ) {
      const n = Math.min(buf.length, end - at);
      hash.update(buf.subarray(0, n).fill(0));
      at += n;
    }
  };
  const open = new Map<string, SyncHandle>(); // a part holds several pieces: opened once a task
  try {
    let at = from;
    for (const p of piecesIn(pieces, from, to)) {
      if (p.offset > at) gap(at, p.offset);
      const end = Math.min(p.offset + p.bytes, to);
      let part = open.get(p.part);
      if (!part) open.set(p.part, (part = await openPart(p.part)));
      hashRange(part, `part ${p.part}`, Math.max(at, p.offset), end, p.at - p.offset);
      at = end;
    }
    if (at < to) gap(at, to);
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
  const segments: (Blob | Uint8Array<ArrayBuffer>)[] = [];
  const gap = (at: number, end: number) => {
    if (at < head.size) segments.push(head.slice(at, Math.min(end, head.size)));
    if (end > Math.max(at, head.size)) segments.push(new Uint8Array(end - Math.max(at, head.size)));
  };
  let at = 0;
  for (const p of piecesIn(parts.pieces, 0, Infinity)) {
    if (p.offset > at) gap(at, p.offset);
    let f = files.get(p.part);
    if (!f) files.set(p.part, (f = await file(p.part)));
    segments.push(f.slice(p.at, p.at + p.bytes));
    at = p.offset + p.bytes;
  }
  if (at < parts.size) gap(at, parts.size);
  return new File(segments, name.split('/').pop()!);
}

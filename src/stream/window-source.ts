// A TensorSource that reads a window at a time through a read function of the host's: a browser's
// File objects, or files on the Hugging Face Hub read over HTTP. The last window read serves the
// stream's next reads (they go forward through a tensor).

import { CorruptFileError, isConversionError } from '../errors.js';
import type { TensorSource } from './ports.js';

/**
 * Reads are this large at least, up to the end of the tensor being read: each read crosses to the
 * browser's blob store, and measured in Chromium 156 a read of 4 MiB costs about twice as much per byte
 * as one of 32 MiB.
 */
export const WINDOW_BYTES = 32 << 20;

/** What a window source needs to know of a file: its size. A browser's File is one. */
export interface SizedFile {
  size: number;
}

/**
 * Reads exactly `length` bytes of `file` at `at` (at most the window); `end` is where the tensor being
 * read ends (a source that streams may keep reading up to it). Throws an Error saying why not.
 */
export type WindowRead<F extends SizedFile> = (file: F, at: number, length: number, end: number) => Uint8Array;

export class WindowSource<F extends SizedFile> implements TensorSource {
  private window?: { file: string; at: number; bytes: Uint8Array };

  constructor(
    private readonly files: Map<string, F>,
    private readonly read: WindowRead<F>,
    private readonly windowBytes = WINDOW_BYTES,
    /** What a failed read probably means, for the message. */
    private readonly hint = 'was the file changed after it was picked?',
  ) {}

  readExactly(file: string, dst: Uint8Array, position: number, limit?: number): void {
    const blob = this.files.get(file);
    if (!blob) throw new CorruptFileError({ file }, 'a file of the model folder', 'no such file');
    const end = position + dst.length;
    if (end > blob.size) throw new CorruptFileError({ file }, `${dst.length} bytes at offset ${position}`, `truncated: the file ends at ${blob.size}`);
    for (let at = position; at < end; ) {
      const w = this.window;
      if (!(w && w.file === file && at >= w.at && at < w.at + w.bytes.length)) {
        const stop = Math.max(end, Math.min(limit ?? blob.size, blob.size));
        const length = Math.min(stop, at + this.windowBytes) - at;
        this.window = undefined; // a failed read leaves no stale window
        try {
          this.window = { file, at, bytes: this.read(blob, at, length, stop) };
        } catch (e) {
          if (isConversionError(e)) throw e; // already says where and why
          const why = e instanceof Error ? e.message : String(e);
          throw new CorruptFileError({ file }, `${length} readable bytes at offset ${at}`, `a read error (${why}; ${this.hint})`);
        }
        continue;
      }
      const n = Math.min(end, w.at + w.bytes.length) - at;
      dst.set(w.bytes.subarray(at - w.at, at - w.at + n), at - position);
      at += n;
    }
  }
}

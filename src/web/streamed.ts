// The write path for browsers whose workers have no synchronous OPFS handle (WebKitGTK: docs/architecture.md,
// "Where workers have no synchronous handle"): output files written through FileSystemWritableFileStream. The worker's side is a
// SyncHandle (opfs.ts), so the sinks and tasks are the same on both paths; its writes are posted to the main
// thread, which owns one writable stream per file for the whole run (a writable writes into a copy that
// replaces the file when it closes, so two on one container would lose each other's regions). The worker
// blocks (Atomics.wait) while more than IN_FLIGHT bytes are on their way: memory stays bounded, and the
// synchronous kernels and sinks need no change. Files are read back (hashing) from the closed file with
// FileReaderSync.

import { storageError, type SyncHandle } from './opfs.js';
import { fileReaderSync } from './input.js';

/** Bytes a worker may have posted and not yet written. */
export const IN_FLIGHT = 16 << 20;
/** The largest piece one message carries. */
const PIECE = 4 << 20;
/** Control block of one worker: [0] bytes in flight, [1] length of the error text that follows at byte 8. */
const ERROR_AT = 8;
const ERROR_BYTES = 1024;

export const controlBytes = () => ERROR_AT + ERROR_BYTES;

export type WriteCommand = { type: 'write'; file: string; at: number; bytes: Uint8Array } | { type: 'truncate'; file: string; size: number };

/** The worker's handle on one output file; `snapshot`: the file as last closed, for reading back. */
export class StreamedHandle implements SyncHandle {
  private readonly control: Int32Array;

  constructor(
    control: SharedArrayBuffer,
    private readonly file: string,
    private readonly post: (m: WriteCommand, transfer: Transferable[]) => void,
    private readonly snapshot?: Blob,
  ) {
    this.control = new Int32Array(control, 0, 2);
  }

  write(buffer: Uint8Array, options?: { at?: number }): number {
    const at = options?.at ?? 0;
    for (let i = 0; i < buffer.length; i += PIECE) {
      this.check();
      // a copy the message takes along, a whole ArrayBuffer: WebKitGTK 2.50 writes a view's whole buffer (docs/architecture.md)
      const bytes = buffer.slice(i, i + PIECE);
      Atomics.add(this.control, 0, bytes.length);
      this.post({ type: 'write', file: this.file, at: at + i, bytes }, [bytes.buffer]);
      this.wait(IN_FLIGHT);
    }
    return buffer.length;
  }

  truncate(size: number): void {
    this.check();
    this.post({ type: 'truncate', file: this.file, size }, []);
  }

  /** Waits until everything posted is written. */
  flush(): void {
    this.wait(0);
  }

  close(): void {
    this.flush();
  }

  getSize(): number {
    return this.snapshot?.size ?? 0;
  }

  read(buffer: Uint8Array, options?: { at?: number }): number {
    if (!this.snapshot) return 0;
    const at = options?.at ?? 0;
    const got = new Uint8Array(fileReaderSync().readAsArrayBuffer(this.snapshot.slice(at, at + buffer.length)));
    buffer.set(got);
    return got.length;
  }

  private wait(limit: number): void {
    for (;;) {
      this.check();
      const inFlight = Atomics.load(this.control, 0);
      if (inFlight <= limit) return;
      Atomics.wait(this.control, 0, inFlight);
    }
  }

  /** Throws the main thread's write failure in words (a QuotaExceededError as the quota). */
  private check(): void {
    const n = Atomics.load(this.control, 1);
    if (!n) return;
    const text = new TextDecoder().decode(new Uint8Array(this.control.buffer, ERROR_AT, n).slice());
    const [name, ...rest] = text.split('\n');
    throw storageError(this.file, Object.assign(new Error(rest.join('\n')), { name }));
  }
}

/** The main thread's side: one writable stream per file, opened on its first command and kept open until closeAll(). */
export class StreamWriter {
  private readonly open = new Map<string, Promise<FileSystemWritableFileStream>>();

  constructor(private readonly fileHandle: (name: string) => Promise<FileSystemFileHandle>) {}

  /** Applies a worker's command in the order it came (writes to one stream queue in order); `control` is that worker's. */
  apply(m: WriteCommand, control: SharedArrayBuffer): void {
    const ctl = new Int32Array(control, 0, 2);
    const n = m.type === 'write' ? m.bytes.length : 0;
    let writable = this.open.get(m.file);
    if (!writable) this.open.set(m.file, (writable = this.fileHandle(m.file).then((h) => h.createWritable())));
    writable
      .then((w) => (m.type === 'write' ? w.write({ type: 'write', position: m.at, data: m.bytes as Uint8Array<ArrayBuffer> }) : w.truncate(m.size)))
      .then(
        () => release(ctl, n),
        (e: unknown) => {
          if (!Atomics.load(ctl, 1)) {
            const text = new TextEncoder().encode(`${(e as Error)?.name ?? 'Error'}\n${e instanceof Error ? e.message : String(e)}`).subarray(0, ERROR_BYTES);
            new Uint8Array(control, ERROR_AT, ERROR_BYTES).set(text);
            Atomics.store(ctl, 1, text.length);
          }
          release(ctl, n);
        },
      );
  }

  /** Closes every stream (each replaces its file with what was written); the next command opens a new one. */
  async closeAll(): Promise<void> {
    const open = [...this.open.values()];
    this.open.clear();
    for (const w of open) await (await w).close();
  }

  /** Drops every stream and what it wrote (a failed or cancelled run). */
  async abortAll(): Promise<void> {
    const open = [...this.open.values()];
    this.open.clear();
    for (const w of open) await w.then((s) => s.abort()).catch(() => undefined);
  }
}

function release(ctl: Int32Array, n: number): void {
  Atomics.sub(ctl, 0, n);
  Atomics.notify(ctl, 0);
}

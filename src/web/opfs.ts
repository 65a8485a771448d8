// Output files in the origin private file system (OPFS), the browser's counterpart of the temporary
// output folder: workers write with synchronous access handles (straight from wasm memory, no copy of a
// whole file in memory), the main thread delivers the finished folder (left in OPFS, copied into a
// folder the user picked, or read into Blobs) and removes it on failure.

import { OutputError } from '../errors.js';
import { Sha256, type Sha256Rounds } from '../formats/sha256.js';
import { StagedSink } from '../stream/staged-sink.js';

/** The parts of FileSystemSyncAccessHandle used here (a worker-only API the DOM typings lack). */
export interface SyncHandle {
  write(buffer: Uint8Array, options?: { at?: number }): number;
  read(buffer: Uint8Array, options?: { at?: number }): number;
  truncate(size: number): void;
  getSize(): number;
  flush(): void;
  close(): void;
}

type SyncMode = 'readwrite' | 'readwrite-unsafe';
type SyncFileHandle = FileSystemFileHandle & { createSyncAccessHandle(o?: { mode?: SyncMode }): Promise<SyncHandle> };

/** Where outputs are written in OPFS: one folder per run, removed on failure or once delivered elsewhere. */
export const RUNS = 'bitnet-converter';

export async function stagingFolder(run: string, create = false): Promise<FileSystemDirectoryHandle> {
  const root = await navigator.storage.getDirectory();
  const runs = await root.getDirectoryHandle(RUNS, { create });
  return runs.getDirectoryHandle(run, { create });
}

/**
 * Removes a run's folder. `retry`: after workers were terminated, their sync handles close a moment
 * later and until then the folder cannot be removed (NoModificationAllowedError): retry for up to 5 s.
 */
export async function removeRun(run: string, retry = false): Promise<void> {
  const root = await navigator.storage.getDirectory();
  const runs = await root.getDirectoryHandle(RUNS, { create: true });
  for (let wait = 10; ; wait *= 2) {
    try {
      await runs.removeEntry(run, { recursive: true });
      return;
    } catch (e) {
      if ((e as Error).name === 'NotFoundError' || !retry || wait > 2560) return;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

interface LockManagerLike {
  request(name: string, callback: () => Promise<void>): Promise<void>;
  query(): Promise<{ held?: { name?: string }[] }>;
}
const locks = () => (globalThis.navigator as { locks?: LockManagerLike } | undefined)?.locks;
const lockName = (run: string) => `${RUNS}/${run}`;

/** Holds a Web Lock named after the run until the returned function is called (nothing where there are no Web Locks). */
export async function lockRun(run: string): Promise<() => void> {
  const manager = locks();
  if (!manager) return () => {};
  let release!: () => void;
  await new Promise<void>((acquired) => {
    void manager.request(lockName(run), () => {
      acquired();
      return new Promise<void>((r) => (release = r));
    });
  });
  return release;
}

/**
 * Deletes the run folders no conversion holds (in any tab of this origin): what a closed tab or a crash
 * left, and finished `opfs` outputs. Returns their names. Does nothing without Web Locks (it cannot
 * tell a running conversion from a leftover then).
 */
export async function removeLeftovers(): Promise<string[]> {
  const manager = locks();
  if (!manager) return [];
  const held = new Set(((await manager.query()).held ?? []).map((l) => l.name));
  const root = await navigator.storage.getDirectory();
  const runs = await root.getDirectoryHandle(RUNS, { create: true });
  const names: string[] = [];
  for await (const name of (runs as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(name);
  const removed = names.filter((n) => !held.has(lockName(n)));
  for (const name of removed) await runs.removeEntry(name, { recursive: true }).catch(() => undefined);
  return removed;
}

/** A file handle by a name that may hold folders ("a/b.bin"). */
export async function fileIn(dir: FileSystemDirectoryHandle, name: string, create: boolean): Promise<FileSystemFileHandle> {
  const parts = name.split('/');
  for (const p of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(p, { create });
  return dir.getFileHandle(parts[parts.length - 1]!, { create });
}

/** Whether this browser's sync handles know the `mode` option (Chromium: a `mode` property on the handle's prototype). */
export function sharedModeKnown(): boolean {
  const proto = (globalThis as { FileSystemSyncAccessHandle?: { prototype: object } }).FileSystemSyncAccessHandle?.prototype;
  return proto !== undefined && 'mode' in proto;
}

/**
 * Opens a synchronous handle. Regions of one container are written by several workers at once: that
 * needs the shared 'readwrite-unsafe' mode; a browser without it gets the exclusive mode, waiting for
 * the handle while another worker holds it (correct, only slower).
 */
export async function openSync(file: FileSystemFileHandle, shared: boolean): Promise<SyncHandle> {
  const h = file as SyncFileHandle;
  // Firefox 153 ignores the mode (an exclusive handle, so the next worker's open fails with
  // NoModificationAllowedError): there the mode is not a property of the handle, and the exclusive way below is taken
  if (shared && sharedModeKnown()) {
    try {
      return await h.createSyncAccessHandle({ mode: 'readwrite-unsafe' });
    } catch (e) {
      if ((e as Error).name !== 'TypeError' && (e as Error).name !== 'NotSupportedError') throw e;
    }
  }
  for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
    try {
      return await h.createSyncAccessHandle();
    } catch (e) {
      if ((e as Error).name !== 'NoModificationAllowedError') throw e;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/** A failed write or resize, in words: the usual cause is the storage quota of the page's origin. */
export function storageError(file: string, e: unknown): OutputError {
  if (e instanceof OutputError) return e; // said already
  const quota = (e as Error)?.name === 'QuotaExceededError';
  return new OutputError(
    { file },
    quota
      ? "cannot write: the browser's storage quota for this page is used up (the output is written to the page's private storage first; free disk space, or leave private browsing, whose quota is small)"
      : `cannot write: ${e instanceof Error ? e.message : String(e)}`,
  );
}

/** Runs a write or resize, turning the browser's exception into an OutputError naming the file. */
function guarded<T>(file: string, op: () => T): T {
  try {
    return op();
  } catch (e) {
    throw storageError(file, e);
  }
}

function writeAll(handle: SyncHandle, file: string, bytes: Uint8Array, at: number): void {
  let done = 0;
  while (done < bytes.length) {
    const n = guarded(file, () => handle.write(bytes.subarray(done), { at: at + done }));
    if (n <= 0) throw new OutputError({ file }, `cannot write: the browser wrote ${done} of ${bytes.length} bytes (is the storage quota used up?)`);
    done += n;
  }
}

/** Writes front to back from `at` through the stage (small writes are many), optionally hashing. */
export class HandleSink extends StagedSink {
  private readonly hash?: Sha256;

  constructor(
    private readonly handle: SyncHandle,
    private readonly file: string,
    private readonly at: number,
    hashed: boolean,
    rounds?: Sha256Rounds,
  ) {
    super();
    if (hashed) this.hash = new Sha256(rounds);
  }

  protected put(bytes: Uint8Array): void {
    this.hash?.update(bytes);
    writeAll(this.handle, this.file, bytes, this.at + this.written);
  }

  /** Flushes and returns the size and sha256 of what was written (for a hashed sink). */
  finish(): { bytes: number; sha256: string } {
    this.flush();
    return { bytes: this.written, sha256: this.hash?.hex() ?? '' };
  }
}

/** Writes a container's head and sets its final size. */
export function createContainer(handle: SyncHandle, file: string, head: Uint8Array, bytes: number, headOnly = false): void {
  guarded(file, () => handle.truncate(0));
  writeAll(handle, file, head, 0);
  guarded(file, () => handle.truncate(bytes)); // past the quota, this says so before any job runs
  if (headOnly) guarded(file, () => handle.truncate(head.length)); // the head of a container written in parts (parts.ts)
  guarded(file, () => handle.flush());
}

const HASH_CHUNK = 1 << 20;
/** The read buffer of hashFile (and of parts.ts's hashPieces), one per worker: a container is hashed by many tasks, each would leave one behind. */
let hashBuf: Uint8Array | undefined;
export const readBuffer = () => (hashBuf ??= new Uint8Array(HASH_CHUNK));

/**
 * Hashes a file read back in chunks: bytes [from, to) into `hash` (a container's prefix, while other
 * regions are still being written), or, without `to`, to its end, then the digest of the whole file.
 */
export function hashFile(handle: SyncHandle, hash: Sha256, from = 0, to?: number): { bytes: number; sha256: string } | undefined {
  const end = to ?? handle.getSize();
  hashRange(handle, hash, from, end, readBuffer());
  return to === undefined ? { bytes: end, sha256: hash.hex() } : undefined;
}

/**
 * Hashes bytes [from, to) of what `handle` holds, read through `buf` a chunk at a time; `shift`: where
 * `from` lies in the handle's file (a container's piece in its part file, parts.ts); `what` and `file`
 * name it in a failure.
 */
export function hashRange(handle: SyncHandle, hash: Sha256, from: number, to: number, buf: Uint8Array, o: { shift?: number; what?: string; file?: string } = {}): void {
  const shift = o.shift ?? 0;
  for (let at = from; at < to; ) {
    const n = handle.read(buf.subarray(0, Math.min(buf.length, to - at)), { at: at + shift });
    if (n <= 0) throw new OutputError(o.file ? { file: o.file } : {}, `cannot read back ${o.what ?? 'an output file'} at ${at + shift} of ${to + shift} bytes`);
    hash.update(buf.subarray(0, n));
    at += n;
  }
}

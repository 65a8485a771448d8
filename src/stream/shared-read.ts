// Synchronous reads for a converting worker, served by a reader thread through shared memory: the
// converting worker posts a request in a SharedArrayBuffer and waits (Atomics.wait); the reader thread,
// free to await, reads and copies into the shared window. The browser reads picked Files this way (a
// BYOB reader of Blob.stream() into one reused buffer; measured in Chromium 156 against FileReaderSync,
// whose every read is a new ArrayBuffer freed late: 376 vs 185 MiB/s, and a 4 GiB read peaking at 465
// vs 1538 MiB; needs a cross-origin-isolated page); the Hub input reads HTTP ranges this way, in the
// browser and on Node (a worker_threads reader, src/io/hub-reader.ts), since the workers' reads are
// synchronous and fetch is not.

import { reviveError, serializeError } from '../errors.js';
import { WINDOW_BYTES, WindowSource, type SizedFile } from './window-source.js';

// ctrl cells
const REQUEST = 0; // sequence number of the last request
const DONE = 1; // sequence number of the last answer
const FAILED = 2; // 1 when the last answer is an error (JSON of a serialized error in `error`)
const FILE = 3; // index of the file
const LENGTH = 4; // bytes asked (<= the window)
const OWNER = 5; // 0 while no reading thread has claimed the channel (claimChannel)
const STOP = 6; // 1: the reader stops serving (stopServing)

export interface Channel {
  ctrl: SharedArrayBuffer; // Int32Array cells above
  position: SharedArrayBuffer; // two Float64 (positions pass 2^31): where to read, where the tensor ends
  data: SharedArrayBuffer; // the window
  error: SharedArrayBuffer; // a UTF-8 message, zero-padded
}

export function sharedReadsAvailable(): boolean {
  return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';
}

/** Whether Blob streams give BYOB readers (fileReads reads picked Files into its one buffer with one; WebKitGTK 2.50 has none). */
export function byobReads(): boolean {
  try {
    new Blob([]).stream().getReader({ mode: 'byob' }).releaseLock();
    return true;
  } catch {
    return false;
  }
}

export function newChannel(windowBytes = WINDOW_BYTES): Channel {
  return {
    ctrl: new SharedArrayBuffer(32),
    position: new SharedArrayBuffer(16),
    data: new SharedArrayBuffer(windowBytes),
    error: new SharedArrayBuffer(2048),
  };
}

/** The converting worker's side: windows whose reads block until the reader answers. `files` in the order the reader knows them. */
export function sharedSource<F extends SizedFile>(channel: Channel, files: Map<string, F>, hint?: string): WindowSource<F> {
  const ctrl = new Int32Array(channel.ctrl);
  const position = new Float64Array(channel.position);
  const data = new Uint8Array(channel.data);
  const index = new Map([...files.values()].map((f, i) => [f, i]));
  let seq = 0;
  const read = (file: F, at: number, length: number, end: number): Uint8Array => {
    Atomics.store(ctrl, FILE, index.get(file)!);
    Atomics.store(ctrl, LENGTH, length);
    position[0] = at;
    position[1] = end;
    const mine = ++seq;
    Atomics.store(ctrl, REQUEST, mine);
    Atomics.notify(ctrl, REQUEST);
    while (Atomics.load(ctrl, DONE) !== mine) Atomics.wait(ctrl, DONE, mine - 1);
    if (Atomics.load(ctrl, FAILED)) {
      const bytes = new Uint8Array(channel.error);
      const nul = bytes.indexOf(0);
      const text = new TextDecoder().decode(bytes.slice(0, nul < 0 ? bytes.length : nul));
      let error: Error;
      try {
        error = reviveError(JSON.parse(text));
      } catch {
        error = new Error(text); // cut short
      }
      throw error;
    }
    return data.subarray(0, length); // valid until the next read, which replaces the window
  };
  return new WindowSource(files, read, data.length, hint);
}

/** Takes the channel for the calling thread if no other thread has: several threads may be handed the same channels. */
export function claimChannel(channel: Channel): boolean {
  return Atomics.compareExchange(new Int32Array(channel.ctrl), OWNER, 0, 1) === 0;
}

/** Ends serveReads on this channel (it returns once it wakes). */
export function stopServing(channel: Channel): void {
  const ctrl = new Int32Array(channel.ctrl);
  Atomics.store(ctrl, STOP, 1);
  Atomics.notify(ctrl, REQUEST);
}

/** Fills `into` (a view of the shared window) with the bytes of file `file` from `at`; the tensor being read ends at `end`. */
export type ServeRead = (file: number, at: number, end: number, into: Uint8Array) => Promise<void>;

/** The reader's side: answers requests with `read` until its thread is terminated or stopServing. */
export async function serveReads(channel: Channel, read: ServeRead): Promise<void> {
  const ctrl = new Int32Array(channel.ctrl);
  const position = new Float64Array(channel.position);
  const data = new Uint8Array(channel.data);
  for (let seen = 0; ; ) {
    const wait = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: unknown } }).waitAsync(ctrl, REQUEST, seen);
    if (wait.async) await wait.value;
    if (Atomics.load(ctrl, STOP)) return;
    if (Atomics.load(ctrl, REQUEST) === seen) continue; // woken without a request
    seen = Atomics.load(ctrl, REQUEST);
    const length = Atomics.load(ctrl, LENGTH);
    try {
      await read(Atomics.load(ctrl, FILE), position[0], position[1], data.subarray(0, length));
      Atomics.store(ctrl, FAILED, 0);
    } catch (e) {
      const err = new Uint8Array(channel.error);
      const s = serializeError(e);
      const msg = new TextEncoder().encode(JSON.stringify({ ...s, message: s.message.slice(0, 600), stack: undefined }));
      err.fill(0);
      err.set(msg.subarray(0, err.length - 1));
      Atomics.store(ctrl, FAILED, 1);
    }
    Atomics.store(ctrl, DONE, seen);
    Atomics.notify(ctrl, DONE);
  }
}

/** Reads of picked Files, with a BYOB reader of Blob.stream() into one reused buffer. */
export function fileReads(files: File[]): ServeRead {
  let buf = new ArrayBuffer(WINDOW_BYTES);
  return async (file, at, _end, into) => {
    const length = into.length;
    const reader = files[file].slice(at, at + length).stream().getReader({ mode: 'byob' });
    let got = 0;
    while (got < length) {
      const { done, value } = await reader.read(new Uint8Array(buf, got, Math.min(WINDOW_BYTES, length) - got));
      if (done || !value) break;
      buf = value.buffer as ArrayBuffer; // the read hands the same memory back in a new ArrayBuffer
      got += value.byteLength;
    }
    reader.releaseLock();
    if (got !== length) throw new Error(`${got} of ${length} bytes could be read`);
    into.set(new Uint8Array(buf, 0, length));
  };
}

// Synchronous reads for a converting worker, served by a reader thread through shared memory: the
// converting worker posts a request in a SharedArrayBuffer and waits (Atomics.wait); the reader thread,
// free to await, reads and copies into a shared window. The browser reads picked Files this way (a BYOB
// reader of Blob.stream() into one small reused buffer; FileReaderSync makes every read a new ArrayBuffer
// that the worker's GC frees late; needs a cross-origin-isolated page); the Hub input reads HTTP ranges
// this way, in the browser and on Node (src/io/hub-reader.ts), since the workers' reads are synchronous
// and fetch is not. A channel with two windows is double-buffered: while the converting worker works on
// one window, the reader fills the other with the rest of the tensor (docs/performance.md, "The page").
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
const SLOT = 7; // the window the answer is in

export interface Channel {
  ctrl: SharedArrayBuffer; // Int32Array cells above
  position: SharedArrayBuffer; // two Float64 (positions pass 2^31): where to read, where the tensor ends
  data: SharedArrayBuffer; // the windows, `window` bytes each
  window: number;
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

/** `windows`: 2 lets the reader read ahead into one window while the other is used. */
export function newChannel(windowBytes = WINDOW_BYTES, windows: 1 | 2 = 1): Channel {
  return {
    ctrl: new SharedArrayBuffer(32),
    position: new SharedArrayBuffer(16),
    data: new SharedArrayBuffer(windowBytes * windows),
    window: windowBytes,
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
    const at0 = Atomics.load(ctrl, SLOT) * channel.window;
    return data.subarray(at0, at0 + length); // valid until the next read
  };
  return new WindowSource(files, read, channel.window, hint);
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

/**
 * The reads being served, reachable from the module while they serve: nothing else on the serving
 * thread refers to a read in flight (the worker waiting for it is another thread), and a Blob stream
 * with a read pending is not kept alive by Chromium. A major GC collected the stream with every promise
 * waiting on it, and the conversion hung (docs/performance.md, "The page under 300 MiB").
 */
const SERVING = new Set<{ read: ServeRead }>();

/** The reader's side: answers requests with `read` until its thread is terminated or stopServing. */
export async function serveReads(channel: Channel, read: ServeRead): Promise<void> {
  const serving = { read }; // one entry a call, whatever reads the same function serves elsewhere
  SERVING.add(serving);
  try {
    await serve(channel, read);
  } finally {
    SERVING.delete(serving);
  }
}

async function serve(channel: Channel, read: ServeRead): Promise<void> {
  const ctrl = new Int32Array(channel.ctrl);
  const position = new Float64Array(channel.position);
  const data = new Uint8Array(channel.data);
  const windows = Math.floor(data.length / channel.window);
  const slot = (i: number, length: number) => data.subarray(i * channel.window, i * channel.window + length);
  /** The read ahead into the window not being used: what it holds once `done` settles. */
  let ahead: { file: number; at: number; end: number; length: number; slot: number; done: Promise<boolean> } | undefined;
  let last = 0; // the window of the last answer
  for (let seen = 0; ; ) {
    const wait = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: unknown } }).waitAsync(ctrl, REQUEST, seen);
    if (wait.async) await wait.value;
    if (Atomics.load(ctrl, STOP)) return;
    if (Atomics.load(ctrl, REQUEST) === seen) continue; // woken without a request
    seen = Atomics.load(ctrl, REQUEST);
    const file = Atomics.load(ctrl, FILE);
    const length = Atomics.load(ctrl, LENGTH);
    const at = position[0];
    const end = position[1];
    try {
      const hit = ahead && ahead.file === file && ahead.at === at && ahead.end === end && ahead.length >= length ? ahead : undefined;
      const ready = ahead ? await ahead.done : false; // a read ahead always ends before the next read starts (they share a stream)
      ahead = undefined;
      if (hit && ready) last = hit.slot;
      else await read(file, at, end, slot(last, length));
      Atomics.store(ctrl, SLOT, last);
      Atomics.store(ctrl, FAILED, 0);
      const next = at + length;
      if (windows > 1 && next < end) {
        const into = slot(1 - last, Math.min(channel.window, end - next));
        ahead = { file, at: next, end, length: into.length, slot: 1 - last, done: read(file, next, end, into).then(() => true, () => false) }; // a failure is met again by the read itself
      }
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

/** Bytes a BYOB read of a picked File asks for at a time (each then copied into the shared window). */
const BYOB_BYTES = 1 << 20;

/**
 * A BYOB reader's read(view, { min }): the read resolves once `min` bytes are in, not with each piece the
 * browser has at hand (a Blob stream's pieces were about 200 KiB in Chromium 156: 5 reads a MiB, each
 * leaving promises and stream objects for the page's GC; with `min`, one). A browser that does not know
 * the option ignores it, and the loop reads on.
 */
type MinRead = (view: Uint8Array<ArrayBuffer>, options: { min: number }) => Promise<ReadableStreamReadResult<Uint8Array<ArrayBuffer>>>;

/**
 * Every this many bytes read, the serving thread is nudged into a major GC: the streams' objects of each
 * read (promises, views, Blink's stream objects) outlive the young generation and pile up until one, as
 * the thread's own heap grows too slowly to call it (2B-4T: +20 MiB of the page's peak by the end).
 */
const GC_NUDGE_EVERY = 256 << 20;
/**
 * The nudge: an ArrayBuffer this large, allocated and dropped untouched. An engine counts it as memory
 * outside its heap and collects when that grows by tens of MiB (V8: 64 MiB); its pages are never written,
 * so never resident (docs/performance.md, "The page under 300 MiB").
 */
const GC_NUDGE_BYTES = 96 << 20;
let nudge: ArrayBuffer | undefined;

/**
 * Reads of picked Files with a BYOB reader of Blob.stream() into one small reused buffer. The stream of
 * a read runs on to the end of the tensor, so the next read, where this one stopped, continues it.
 */
export function fileReads(files: File[]): ServeRead {
  let buf = new ArrayBuffer(BYOB_BYTES);
  let sinceNudge = 0;
  let open: { file: number; pos: number; stop: number; reader: ReadableStreamBYOBReader } | undefined;
  let reading: typeof open; // the stream of the read in flight, reachable from here (SERVING)
  return async (file, at, end, into) => {
    const stop = Math.max(end, at + into.length);
    // the next tensor may start where the last one's stream ends: a stream goes on only within its tensor
    if (!open || open.file !== file || open.pos !== at || open.stop !== stop) {
      void open?.reader.cancel().catch(() => undefined);
      open = { file, pos: at, stop, reader: files[file].slice(at, stop).stream().getReader({ mode: 'byob' }) };
    }
    const o = (reading = open);
    open = undefined; // until this read ends whole
    let got = 0;
    try {
      while (got < into.length) {
        const n = Math.min(BYOB_BYTES, into.length - got);
        const { done, value } = await (o.reader.read as MinRead).call(o.reader, new Uint8Array(buf, 0, n), { min: n });
        if (done || !value) break;
        buf = value.buffer as ArrayBuffer; // the read hands the same memory back in a new ArrayBuffer
        into.set(value, got);
        got += value.byteLength;
      }
    } finally {
      reading = undefined;
    }
    if (got !== into.length) {
      void o.reader.cancel().catch(() => undefined);
      throw new Error(`${got} of ${into.length} bytes could be read`);
    }
    o.pos = at + got;
    open = o;
    if ((sinceNudge += got) >= GC_NUDGE_EVERY) {
      sinceNudge = 0;
      try {
        nudge = new ArrayBuffer(GC_NUDGE_BYTES);
      } catch {
        // no address space to spare (a 32-bit browser): no nudge, never a failed read
      }
      nudge = undefined;
    }
  };
}

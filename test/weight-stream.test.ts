// The weight stream's wasm buffers (src/stream/weights.ts, Workspace): a float tensor's chunk buffers and a
// held projection's buffers take turns in wasm memory, which grows to the larger of the two needs, not to
// their sum (the page's renderer holds one such memory per worker: docs/performance.md, "The page's
// memory"); a held weight reserves no input buffer. The bytes streamed are the same as from a fresh stream,
// whatever was streamed before.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileKernels, instantiateKernels, type Kernels } from '../build/js/kernels/index.js';
import { WeightStream, type StreamOptions } from '../build/js/stream/weights.js';
import type { FloatTensor } from '../build/js/model/plan.js';
import { mulberry32 as rng } from './helpers/common.js';

const ROWS = 512;
const COLS = 1024;
const BYTES = ROWS * COLS * 2; // BF16: 1 MiB a tensor
const OPTIONS: StreamOptions = { rule: 'offline', granularity: 'projection', chunkBytes: 64 << 10, holdBytes: 4 << 20 };
const PAGE = 65536;

/** Two BF16 tensors, one after the other in one file, of small finite values. */
const file = new Uint8Array(2 * BYTES);
{
  const r = rng(19);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  const view = new DataView(file.buffer);
  for (let i = 0; i < file.length / 2; i++) {
    f32[0] = (r() - 0.5) * 0.2;
    view.setUint16(2 * i, u32[0]! >>> 16, true);
  }
}
const tensor = (name: string, offset: number): FloatTensor => ({ name, file: 'm.safetensors', dtype: 'BF16', shape: [ROWS, COLS], storedShape: [ROWS, COLS], offset, byteLength: BYTES, elements: ROWS * COLS });
const EMBD = tensor('embd', 0);
const PROJ = tensor('proj', BYTES);

const kernels = async (): Promise<Kernels> => instantiateKernels((await compileKernels('auto')).module);
function stream(k: Kernels): WeightStream {
  const source = { readExactly: (_: string, dst: Uint8Array, at: number) => dst.set(file.subarray(at, at + dst.length)) };
  return new WeightStream({ kernels: k, source, options: OPTIONS, onBytesRead: () => {}, onTensorDone: () => {} });
}

/** The float tensor widened to F32, chunk by chunk (input and converted buffers). */
function widened(s: WeightStream): Uint8Array {
  const out: Uint8Array[] = [];
  s.floats(EMBD, 'F32', (bytes) => out.push(bytes.slice()));
  return Buffer.concat(out);
}

/** The projection's ternary values (held: it is under holdBytes), chunk by chunk. */
function ternary(s: WeightStream): Uint8Array {
  const t = s.ternary({ kind: 'master', tensor: PROJ });
  const out = new Uint8Array(ROWS * COLS);
  for (let r = 0; r < t.rows; r += t.rowsPerChunk) {
    const n = Math.min(t.rowsPerChunk, t.rows - r);
    t.i8(r, n, t.i8Buffer);
    out.set(s.kernels.u8(t.i8Buffer, n * COLS), r * COLS);
  }
  t.done();
  return out;
}

test('a float tensor and a held projection, in turns: memory holds the larger need, the bytes are a fresh stream\'s', async () => {
  const expected = { floats: widened(stream(await kernels())), ternary: ternary(stream(await kernels())) };
  assert.ok(expected.ternary.some((v) => v !== 0), 'the projection quantizes to some non-zero values');
  const k = await kernels();
  const s = stream(k);
  for (let i = 0; i < 2; i++) {
    assert.ok(Buffer.from(widened(s)).equals(expected.floats), `floats, turn ${i}`);
    assert.ok(Buffer.from(ternary(s)).equals(expected.ternary), `ternary, turn ${i}`);
  }
  // held copy + i8 chunk (64 rows here); the float path's input and converted chunks (64 KiB, 128 KiB),
  // and an input chunk for the held weight, are laid out in the same bytes, not beside them
  const held = BYTES + (OPTIONS.chunkBytes / (COLS * 2)) * COLS;
  const used = k.memory.buffer.byteLength - k.heapBase;
  assert.ok(used <= held + PAGE, `wasm memory ${used} bytes above the static data, at most ${held + PAGE} (one weight's buffers and a page)`);
});

test.run();

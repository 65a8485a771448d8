// The packing kernels, driven by the table src/kernels/packings.ts: both builds (SIMD and scalar)
// against the literal references in test/reference/packings-ref.ts on random ternaries of several
// shapes, cut into row chunks as a host would; round trips through the reference unpack; the
// worked examples of docs/gguf.md section 4 as literal bytes; and ms-int2 against the output of
// Microsoft's own scripts (test/fixtures/golden-tiny/ms-gpu-int2.safetensors).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import {
  PACKINGS,
  compileKernels,
  instantiateKernels,
  packedTensorBytes,
  type Kernels,
  type Packing,
  type PackingId,
} from '../build/js/kernels/index.js';
import { REF_PACKINGS, hfU8, i2sTail, msInt2, type Packed } from './reference/packings-ref.js';
import { readSafetensors, type RawTensor } from './helpers/read-safetensors.js';
import { BUILDS, scalar, simd } from './helpers/kernels.js';
import { mulberry32 as rng, type Rng } from './helpers/common.js';

const IDS = Object.keys(PACKINGS) as PackingId[];
const INVALID = [2, -2, 3, 127, -128, 64];
const D_ONE = 0x3c00; // fp16 1.0

// ---------------------------------------------------------------------------------------------
// helpers

const randInt = (r: Rng, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

function sameBytes(actual: Uint8Array, expected: Uint8Array, label: string): void {
  if (actual.length !== expected.length) assert.unreachable(`${label}: ${actual.length} bytes, expected ${expected.length}`);
  const i = actual.findIndex((b, j) => b !== expected[j]);
  if (i >= 0) assert.unreachable(`${label}: first difference at byte ${i}: got 0x${actual[i].toString(16)}, expected 0x${expected[i].toString(16)}`);
}

const asBytes = (v: Int8Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

/** rows x cols random ternaries, a fraction `invalidRate` of them replaced by non-ternary bytes. */
function randomTernary(r: Rng, rows: number, cols: number, invalidRate = 0): Int8Array {
  const w = new Int8Array(rows * cols);
  for (let i = 0; i < w.length; i++) w[i] = r() < invalidRate ? INVALID[randInt(r, 0, INVALID.length - 1)] : randInt(r, -1, 1);
  return w;
}

/** The same values with every non-ternary one replaced by 0 (what the packers write for them). */
const cleaned = (w: Int8Array) => w.map((v) => (v >= -1 && v <= 1 ? v : 0));

const GUARD = 64;
const CANARY = 0xa5;

/** Copies bytes into the kernel memory at the given misalignment; returns the pointer. */
function put(k: Kernels, bytes: Uint8Array, misalign: number): number {
  const ptr = k.alloc(bytes.length + misalign) + misalign;
  k.u8(ptr, bytes.length).set(bytes);
  return ptr;
}

/** An output area between canaries; `take` fails if anything outside it was written, then copies it out. */
function guarded(k: Kernels, bytes: number, misalign: number): { ptr: number; take(label: string): Uint8Array } {
  const base = k.alloc(GUARD + misalign + bytes + GUARD);
  k.u8(base, GUARD + misalign + bytes + GUARD).fill(CANARY);
  const ptr = base + GUARD + misalign;
  return {
    ptr,
    take(label) {
      for (const [where, area] of [['before', k.u8(base, GUARD + misalign)], ['after', k.u8(ptr + bytes, GUARD)]] as const) {
        if (area.some((b) => b !== CANARY)) assert.unreachable(`${label}: wrote ${where} its output area`);
      }
      return k.u8(ptr, bytes).slice();
    },
  };
}

/**
 * The kernel's input for the chunk of W rows r0..r0+n: those rows, or for 'quarter-bands' (hf-u8,
 * where n and r0 count W rows in all four bands) the packed rows r0/4.. of each quarter, one band after the other.
 */
function chunkInput(id: PackingId, w: Int8Array, rows: number, cols: number, r0: number, n: number): Uint8Array {
  const bytes = asBytes(w);
  if (PACKINGS[id].rowAccess === 'consecutive') return bytes.slice(r0 * cols, (r0 + n) * cols);
  const R = rows / 4;
  const band = (n / 4) * cols;
  const out = new Uint8Array(4 * band);
  for (let q = 0; q < 4; q++) out.set(bytes.subarray((q * R + r0 / 4) * cols, (q * R + r0 / 4) * cols + band), q * band);
  return out;
}

/** Calls the packing's kernel (the name from the table) on one chunk; returns the invalid count. */
/** The table's call of the packing's kernel (its `pack`), as every writer makes it. */
function callPack(k: Kernels, id: PackingId, src: number, n: number, cols: number, d: number, dst: number): number {
  return (PACKINGS[id] as Packing).pack(k.exports, src, n, cols, dst, d);
}

/** Packs W with the kernel in consecutive chunks of `chunks[i]` rows, as a host would. */
function kernelPack(k: Kernels, id: PackingId, w: Int8Array, rows: number, cols: number,
  { chunks = [rows], d = D_ONE, misalign = 0 }: { chunks?: number[]; d?: number; misalign?: number } = {}): Packed {
  const p = PACKINGS[id];
  const bytes = new Uint8Array(p.bytes(rows, cols));
  let bad = 0;
  let r0 = 0;
  for (const n of chunks) {
    k.reset();
    const src = put(k, chunkInput(id, w, rows, cols, r0, n), misalign);
    const dst = guarded(k, p.bytes(n, cols), misalign);
    bad += callPack(k, id, src, n, cols, d, dst.ptr);
    bytes.set(dst.take(`${id} chunk at row ${r0}`), p.bytes(r0, cols));
    r0 += n;
  }
  assert.is(r0, rows, 'chunks cover the rows');
  return { bytes, bad };
}

/** Row counts of chunks covering `rows`: each a multiple of `step`, sizes drawn at random. */
function randomChunks(r: Rng, rows: number, step: number): number[] {
  const chunks: number[] = [];
  for (let left = rows; left > 0;) {
    const n = step * randInt(r, 1, Math.max(1, Math.min(3, left / step)));
    chunks.push(Math.min(n, left));
    left -= chunks[chunks.length - 1];
  }
  return chunks;
}

/** Shapes for a packing: small multiples of its required row and column multiples, and one larger. */
function shapesOf(id: PackingId): Array<[number, number]> {
  const { rowMultiple: rm, colMultiple: cm } = PACKINGS[id];
  const cols = cm === 1 ? [1, 7, 15, 16, 17, 33, 100] : [cm, 2 * cm, 3 * cm, 5 * cm];
  const shapes: Array<[number, number]> = [];
  for (const rows of [rm, 2 * rm, 3 * rm]) for (const c of cols) shapes.push([rows, c]);
  shapes.push([4 * rm, 2560]);
  return shapes;
}

// ---------------------------------------------------------------------------------------------
// the table

test('table: one row per packing, each with a reference, a kernel in both builds and sizes that match', () => {
  assert.equal(IDS.slice().sort(), Object.keys(REF_PACKINGS).sort());
  for (const id of IDS) {
    const p = PACKINGS[id];
    for (const [name, k] of BUILDS) {
      for (const fn of [p.kernel, 'unpackKernel' in p ? p.unpackKernel : undefined, 'fused' in p ? p.fused : undefined, 'decodeKernel' in p ? p.decodeKernel : undefined]) {
        if (fn) assert.type((k.exports as unknown as Record<string, unknown>)[fn], 'function', `${name} ${id} ${fn}`);
      }
    }
    assert.ok(p.note.length > 0 && !p.note.includes('\n'), `${id}: a one-line note`);
    assert.ok(p.block.rows % p.rowMultiple === 0 || p.rowMultiple % p.block.rows === 0, `${id}: block rows`);
    for (const [rows, cols] of shapesOf(id)) {
      const ref = REF_PACKINGS[id].pack(new Int8Array(rows * cols), rows, cols);
      assert.is(p.bytes(rows, cols), ref.bytes.length, `${id} ${rows}x${cols}: bytes()`);
      assert.is(p.bytes(rows, cols), p.bytes(p.rowMultiple, cols) * (rows / p.rowMultiple), `${id}: bytes() is linear in rows`);
    }
  }
  assert.is(packedTensorBytes(PACKINGS.i2_s, 2, 256), 160, 'i2_s: the second example is 160 bytes with its tail');
  // the GGUF ids of ggml's type_traits / llama.cpp's llama_ftype, written here once more as literals
  assert.equal(
    IDS.flatMap((id) => { const g = (PACKINGS[id] as { ggml?: { name: string; id: number; fileType: number } }).ggml; return g ? [[id, g.name, g.id, g.fileType]] : []; }),
    [['tq2_0', 'TQ2_0', 35, 37], ['tq1_0', 'TQ1_0', 34, 36], ['i2_s', 'I2_S', 36, 40], ['q2_0', 'Q2_0', 42, 41]],
  );
  assert.is(packedTensorBytes(PACKINGS.tq2_0, 1, 256), 66);
  assert.is(packedTensorBytes(PACKINGS.tq1_0, 1, 256), 54);
});

// ---------------------------------------------------------------------------------------------
// every packing: kernels == reference, round trips

test("every packing: the table's TypeScript unpack inverts the reference pack, whole and in row chunks; a bad code is named by its index", () => {
  const r = rng(33);
  for (const id of IDS) {
    const p = PACKINGS[id];
    const place = (row0: number, tensorRows: number) => ({ file: 'f', tensor: 't', row0, tensorRows });
    for (const [rows, cols] of shapesOf(id)) {
      const w = randomTernary(r, rows, cols);
      const bytes = REF_PACKINGS[id].pack(w, rows, cols, D_ONE).bytes;
      assert.equal(p.unpack(bytes, rows, cols, place(0, rows)), w, `${id} ${rows}x${cols}: whole`);
      // a chunk of `step` rows (quarter-bands: byte rows, each holding 4 bands)
      const bands = p.rowAccess === 'quarter-bands';
      const unit = bands ? 1 : p.rowMultiple;
      const units = bands ? rows / 4 : rows;
      for (let u = unit; u < units; u += 2 * unit) {
        const n = Math.min(unit, units - u);
        const at = p.bytes(bands ? 4 * u : u, cols);
        const got = p.unpack(bytes.subarray(at, at + p.bytes(bands ? 4 * n : n, cols)), bands ? 4 * n : n, cols, place(u, rows));
        const want = bands
          ? Int8Array.from({ length: 4 * n * cols }, (_, i) => w[(Math.floor(i / (n * cols)) * (rows / 4) + u) * cols + (i % (n * cols))])
          : w.subarray(u * cols, (u + n) * cols);
        assert.equal(got, want, `${id} ${rows}x${cols}: rows from ${u}`);
      }
      if (p.badCode2 === undefined) continue; // tq1_0: every byte decodes to trits 0..2
      // one 2-bit field set to the code that is no value: the reference and the table name the same value
      const bad = bytes.slice();
      const byte = randInt(r, 0, p.bytes(rows, cols) - 1);
      const shift = 2 * randInt(r, 0, 3);
      bad[byte] = (bad[byte] & ~(3 << shift)) | (p.badCode2 << shift);
      const ref = REF_PACKINGS[id].unpack(bad, rows, cols);
      const index = ref.findIndex((v) => v < -1 || v > 1);
      if (index < 0) continue; // the field was row padding the reference does not decode
      assert.throws(() => p.unpack(bad, rows, cols, place(0, rows)), (e: Error) => e.message.includes(`at value ${index}`), `${id} ${rows}x${cols}: bad code at value ${index}`);
    }
  }
});

test('every packing: simd == scalar == reference on random ternaries, whole and in row chunks', () => {
  const r = rng(21);
  for (const id of IDS) {
    const step = PACKINGS[id].rowMultiple;
    for (const [rows, cols] of shapesOf(id)) {
      for (const invalidRate of [0, 0.02]) {
        const w = randomTernary(r, rows, cols, invalidRate);
        const d = randInt(r, 0, 0xffff);
        const expected = REF_PACKINGS[id].pack(w, rows, cols, d);
        if (invalidRate === 0) assert.is(expected.bad, 0);
        const chunkings = [[rows], new Array<number>(rows / step).fill(step), randomChunks(r, rows, step)];
        for (const [name, k] of BUILDS) {
          for (const chunks of chunkings) {
            const label = `${name} ${id} ${rows}x${cols} chunks [${chunks}] invalid ${invalidRate}`;
            const got = kernelPack(k, id, w, rows, cols, { chunks, d });
            sameBytes(got.bytes, expected.bytes, label);
            assert.is(got.bad, expected.bad, `${label}: invalid count`);
          }
        }
      }
    }
  }
});

test('every packing: unpack(pack(w)) == w (invalid inputs come back as 0)', () => {
  const r = rng(22);
  for (const id of IDS) {
    const ref = REF_PACKINGS[id];
    for (const [rows, cols] of shapesOf(id)) {
      const w = randomTernary(r, rows, cols, 0.01);
      const back = ref.unpack(ref.pack(w, rows, cols).bytes, rows, cols);
      assert.equal(Array.from(back), Array.from(cleaned(w)), `${id} ${rows}x${cols} reference`);
      assert.equal(Array.from(ref.unpack(kernelPack(simd, id, w, rows, cols).bytes, rows, cols)), Array.from(cleaned(w)),
        `${id} ${rows}x${cols} kernel`);
    }
  }
});

test('every packing: unaligned pointers give the same bytes', () => {
  const r = rng(23);
  for (const id of IDS) {
    const rows = 2 * PACKINGS[id].rowMultiple;
    const cm = PACKINGS[id].colMultiple;
    const cols = cm === 1 ? 203 : 3 * cm;
    const w = randomTernary(r, rows, cols, 0.01);
    const expected = REF_PACKINGS[id].pack(w, rows, cols);
    for (const [name, k] of BUILDS) {
      for (const misalign of [1, 2, 3]) {
        sameBytes(kernelPack(k, id, w, rows, cols, { misalign }).bytes, expected.bytes, `${name} ${id} +${misalign}`);
      }
    }
  }
});

test('every packing: all zeros, all +1, all -1', () => {
  for (const id of IDS) {
    const { rowMultiple: rows, colMultiple } = PACKINGS[id];
    const cols = colMultiple * 2 + (colMultiple === 1 ? 3 : 0);
    for (const v of [0, 1, -1]) {
      const w = new Int8Array(rows * cols).fill(v);
      const expected = REF_PACKINGS[id].pack(w, rows, cols);
      for (const [name, k] of BUILDS) sameBytes(kernelPack(k, id, w, rows, cols).bytes, expected.bytes, `${name} ${id} all ${v}`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// unpackHfU8

test('unpackHfU8: every quarter and chunking == reference; the first code 3 is found', () => {
  const r = rng(24);
  for (const [R, cols] of [[1, 1], [3, 17], [5, 64], [8, 2560], [2, 33]] as const) {
    const rows = 4 * R;
    for (const code3Rate of [0, 0.001, 0.05]) {
      const packed = Uint8Array.from({ length: R * cols }, () => {
        let b = randInt(r, 0, 255);
        // most bytes valid: re-draw any code 3 unless this byte is meant to keep one
        for (let q = 0; q < 4; q++) if (((b >> (2 * q)) & 3) === 3 && r() >= code3Rate) b ^= 1 << (2 * q);
        return b;
      });
      const w = hfU8.unpack(packed, rows, cols); // literal decode: code 3 -> 2
      for (const chunks of [[R], randomChunks(r, R, 1)]) {
        for (const [name, k] of BUILDS) {
          let r0 = 0;
          for (const n of chunks) {
            for (let q = 0; q < 4; q++) {
              k.reset();
              const src = put(k, packed.subarray(r0 * cols, (r0 + n) * cols), 0);
              const dst = guarded(k, n * cols, 0);
              const first = k.exports.unpackHfU8(src, n, cols, q, dst.ptr);
              const got = new Int8Array(dst.take(`${name} unpack`).buffer);
              const expected = w.subarray((q * R + r0) * cols, (q * R + r0 + n) * cols);
              const label = `${name} ${R}x${cols} rows ${r0}+${n} quarter ${q}`;
              assert.equal(Array.from(got), Array.from(expected), label);
              assert.is(first, expected.indexOf(2), `${label}: first code 3`);
            }
            r0 += n;
          }
        }
      }
    }
  }
});

test('unpackHfU8 inverts packHfU8 (kernels both ways)', () => {
  const r = rng(25);
  const rows = 4 * 7;
  const cols = 2560 + 3;
  const w = randomTernary(r, rows, cols);
  for (const [name, k] of BUILDS) {
    const packed = kernelPack(k, 'hf-u8', w, rows, cols).bytes;
    const back = new Int8Array(rows * cols);
    for (let q = 0; q < 4; q++) {
      k.reset();
      const src = put(k, packed, 0);
      const dst = guarded(k, packed.length, 0);
      assert.is(k.exports.unpackHfU8(src, rows / 4, cols, q, dst.ptr), -1, name);
      back.set(new Int8Array(dst.take(name).buffer), q * packed.length);
    }
    assert.equal(Array.from(back), Array.from(w), name);
  }
});

// ---------------------------------------------------------------------------------------------
// the GGUF decode kernels (a .gguf read as input; docs/gguf.md 10)

test('unpackI2s, unpackTq2_0, unpackQ2_0: both builds decode what the reference packs; a code 3 anywhere is reported', () => {
  const r = rng(26);
  for (const id of ['i2_s', 'tq2_0', 'q2_0'] as const) {
    const fn = PACKINGS[id].decodeKernel;
    for (const [rows, cols] of [[1, 256], [3, 512], [7, 2560]] as const) {
      const w = randomTernary(r, rows, cols);
      const packed = REF_PACKINGS[id].pack(w, rows, cols, D_ONE).bytes;
      for (const [name, k] of BUILDS) {
        for (const misalign of [0, 3]) {
          k.reset();
          const src = put(k, packed, misalign);
          const dst = guarded(k, rows * cols, misalign);
          assert.is(k.exports[fn](src, rows * cols, dst.ptr), 0, `${name} ${id} ${rows}x${cols}`);
          assert.equal(Array.from(new Int8Array(dst.take(`${name} ${id}`).buffer)), Array.from(w), `${name} ${id} ${rows}x${cols}`);
        }
        // one code 3 (the literal reference decodes it as 2) at a random value
        const bad = packed.slice();
        let at: number;
        do at = randInt(r, 0, bad.length - 1);
        while (id !== 'i2_s' && (id === 'q2_0' ? at % 18 < 2 : at % 66 >= 64)); // a code byte, not a d
        bad[at] |= 3 << (2 * randInt(r, 0, 3));
        k.reset();
        const src = put(k, bad, 0);
        const dst = guarded(k, rows * cols, 0);
        assert.is.not(k.exports[fn](src, rows * cols, dst.ptr), 0, `${name} ${id}: code 3 at byte ${at}`);
        assert.equal(Array.from(new Int8Array(dst.take(`${name} ${id} bad`).buffer)), Array.from(REF_PACKINGS[id].unpack(bad, rows, cols)), `${name} ${id}: code 3 written as 2`);
      }
    }
  }
});

test('i2sToHfU8: both builds turn I2_S bands into the hf-u8 bytes the reference packs of the same values; a code 3 anywhere is reported', () => {
  const r = rng(27);
  for (const [rows, cols] of [[4, 128], [12, 256], [28, 2560]] as const) {
    const w = randomTernary(r, rows, cols);
    const i2s = REF_PACKINGS.i2_s.pack(w, rows, cols, D_ONE).bytes; // rows of cols/4 bytes, then the tail
    const hf = REF_PACKINGS['hf-u8'].pack(w, rows, cols, D_ONE).bytes; // R = rows/4 rows of cols bytes
    const R = rows / 4;
    const rowBytes = cols / 4;
    // every run of packed rows [r0, r0 + n) of the quarter
    for (const [r0, n] of [[0, R], [R - 1, 1], [Math.floor(R / 2), R - Math.floor(R / 2)]]) {
      const bytes = n * rowBytes;
      for (const [name, k] of BUILDS) {
        for (const misalign of [0, 3]) {
          k.reset();
          const bands = [0, 1, 2, 3].map((q) => put(k, i2s.subarray((q * R + r0) * rowBytes, (q * R + r0) * rowBytes + bytes), misalign));
          const dst = guarded(k, n * cols, misalign);
          const label = `${name} ${rows}x${cols} rows ${r0}+${n}`;
          assert.is(k.exports.i2sToHfU8(bands[0], bands[1], bands[2], bands[3], bytes, dst.ptr), 0, label);
          sameBytes(dst.take(label), hf.subarray(r0 * cols, (r0 + n) * cols), label);
        }
      }
    }
    // one code 3 in any band
    for (const [name, k] of BUILDS) {
      const q = randInt(r, 0, 3);
      const bad = i2s.slice(q * R * rowBytes, (q + 1) * R * rowBytes);
      bad[randInt(r, 0, bad.length - 1)] |= 3 << (2 * randInt(r, 0, 3));
      k.reset();
      const bands = [0, 1, 2, 3].map((b) => put(k, b === q ? bad : i2s.subarray(b * R * rowBytes, (b + 1) * R * rowBytes), 0));
      const dst = guarded(k, R * cols, 0);
      assert.is.not(k.exports.i2sToHfU8(bands[0], bands[1], bands[2], bands[3], R * rowBytes, dst.ptr), 0, `${name}: code 3 in band ${q}`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// worked examples (docs/gguf.md section 4)

/** Both builds and the reference produce exactly `expected` for W (1 or 2 rows). */
function assertExample(id: PackingId, w: Int8Array, rows: number, cols: number, expected: Uint8Array, label: string, d = D_ONE): void {
  sameBytes(REF_PACKINGS[id].pack(w, rows, cols, d).bytes, expected, `reference ${label}`);
  for (const [name, k] of BUILDS) sameBytes(kernelPack(k, id, w, rows, cols, { d }).bytes, expected, `${name} ${label}`);
}

test('TQ2_0 examples: zero code bytes 0x55, x0=+1 x32=-1 x64=0 x96=+1 -> qs[0] = 0x92, d = 1.0 -> 00 3C', () => {
  const zeros = new Uint8Array(66).fill(0x55);
  zeros.set([0x00, 0x3c], 64);
  assertExample('tq2_0', new Int8Array(256), 1, 256, zeros, 'all zero');
  const w = new Int8Array(256);
  w[0] = 1;
  w[32] = -1;
  w[96] = 1;
  const expected = zeros.slice();
  expected[0] = 0x92;
  assertExample('tq2_0', w, 1, 256, expected, 'qs[0]');
});

test('Q2_0 examples: d = 1.0 first (00 3C), zero codes 0x55; x0=+1 x1=-1 x3=+1 -> byte 0 = 0x92; x63=-1 -> byte 15 = 0x15', () => {
  const zeros = new Uint8Array(18).fill(0x55);
  zeros.set([0x00, 0x3c], 0);
  assertExample('q2_0', new Int8Array(64), 1, 64, zeros, 'all zero');
  const w = new Int8Array(64);
  w[0] = 1;
  w[1] = -1;
  w[3] = 1;
  w[63] = -1;
  const expected = zeros.slice();
  expected[2] = 0x92; // codes 2, 0, 1, 2 from the low bits: 10 01 00 10
  expected[17] = 0x15; // codes 1, 1, 1, 0: 00 01 01 01
  assertExample('q2_0', w, 1, 64, expected, 'bytes 0 and 15');
  // two rows of two blocks: each block starts with d (here fp16 0.5 = 0x3800)
  const w2 = new Int8Array(256);
  w2[128 + 64 + 5] = 1; // row 1, block 1, value 5: byte 1 of that block, bits 2..3
  const expected2 = new Uint8Array(72).fill(0x55);
  for (let b = 0; b < 4; b++) expected2.set([0x00, 0x38], 18 * b);
  expected2[18 * 3 + 2 + 1] = 0x59; // codes 1, 2, 1, 1: 01 01 10 01
  assertExample('q2_0', w2, 2, 128, expected2, 'the 2x128 example', 0x3800);
});

test('TQ1_0 examples: zero qs 0x80, zero qh 0x7F, trits (+1, -1, 0, +1, +1) -> 0xBD', () => {
  const zeros = new Uint8Array(54).fill(0x80);
  zeros.fill(0x7f, 48, 52);
  zeros.set([0x00, 0x3c], 52);
  assertExample('tq1_0', new Int8Array(256), 1, 256, zeros, 'all zero');
  const w = new Int8Array(256);
  [1, -1, 0, 1, 1].forEach((v, n) => { w[32 * n] = v; }); // the five trits of qs[0]: elements 0 + 32n
  const expected = zeros.slice();
  expected[0] = 0xbd;
  assertExample('tq1_0', w, 1, 256, expected, 'qs[0]');
});

test('TQ1_0: every 5-trit and 4-trit pattern: simd == scalar == reference, and decodes back', () => {
  // 48 five-trit bytes and 4 four-trit bytes per block: 243 patterns in 6 blocks, 81 in 21 blocks
  const blocks = 21;
  const w = new Int8Array(256 * blocks);
  const trits = (p: number, count: number) => Array.from({ length: count }, (_, n) => Math.floor(p / 3 ** (count - 1 - n)) % 3 - 1);
  for (let b = 0; b < blocks; b++) {
    const at = 256 * b;
    for (let m = 0; m < 48; m++) {
      const elements = m < 32 ? [0, 1, 2, 3, 4].map((n) => m + 32 * n) : [0, 1, 2, 3, 4].map((n) => 160 + m - 32 + 16 * n);
      trits((48 * b + m) % 243, 5).forEach((v, n) => { w[at + elements[n]] = v; });
    }
    for (let j = 0; j < 4; j++) trits((4 * b + j) % 81, 4).forEach((v, n) => { w[at + 240 + j + 4 * n] = v; });
  }
  const expected = REF_PACKINGS.tq1_0.pack(w, blocks, 256);
  for (const [name, k] of BUILDS) sameBytes(kernelPack(k, 'tq1_0', w, blocks, 256).bytes, expected.bytes, name);
  assert.equal(Array.from(REF_PACKINGS.tq1_0.unpack(expected.bytes, blocks, 256)), Array.from(w));
});

test('I2_S examples: 1x128 (scale 0.5) -> 89 55 15 55.. 00 00 00 3F 00..; 2x256 with q[1][161] = +1 -> byte 97 = 0x65', () => {
  const w = new Int8Array(128);
  w[0] = 1;
  w[2] = -1;
  w[32] = -1;
  w[64] = 1;
  const expected = new Uint8Array(64).fill(0x55);
  expected[0] = 0x89;
  expected[2] = 0x15;
  expected.set([0x00, 0x00, 0x00, 0x3f], 32);
  expected.fill(0, 36);
  assertExample('i2_s', w, 1, 128, expected.subarray(0, 32), 'codes of the 1x128 example');
  sameBytes(i2sTail(0.5), expected.subarray(32), 'the tail of the 1x128 example');
  assert.is(packedTensorBytes(PACKINGS.i2_s, 1, 128), 64);

  const w2 = new Int8Array(2 * 256);
  w2[256 + 161] = 1;
  const expected2 = new Uint8Array(128).fill(0x55);
  expected2[97] = 0x65;
  assertExample('i2_s', w2, 2, 256, expected2, 'the 2x256 example');
});

// ---------------------------------------------------------------------------------------------
// ms-int2 against Microsoft's own output

const GOLDEN = new URL('./fixtures/golden-tiny/', import.meta.url);

test('ms-int2: kernels and reference reproduce every projection of Microsoft\'s ms-gpu-int2.safetensors byte for byte', () => {
  const config = JSON.parse(readFileSync(new URL('config.json', GOLDEN), 'utf8')) as Record<string, number>;
  const golden = readSafetensors(new URL('ms-gpu-int2.safetensors', GOLDEN).pathname);
  const ternary = readSafetensors(new URL('reference-ternary.safetensors', GOLDEN).pathname);
  const headDim = config.hidden_size / config.num_attention_heads;
  const get = (name: string): { w: Int8Array; rows: number; cols: number; scale: number } => {
    const t = ternary.get(`${name}.weight`) as RawTensor;
    const s = ternary.get(`${name}.weight_scale`) as RawTensor;
    return { w: new Int8Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.length), rows: t.shape[0], cols: t.shape[1], scale: s.bytes[0] | (s.bytes[1] << 8) };
  };
  /** Rows '(h l d) i -> (h d l) i' with l = 2: Hugging Face's rotate-half order to interleaved pairs. */
  const unpermute = ({ w, rows, cols }: { w: Int8Array; rows: number; cols: number }, heads: number): Int8Array => {
    const half = headDim / 2;
    assert.is(rows, heads * headDim);
    const out = new Int8Array(w.length);
    for (let h = 0; h < heads; h++) {
      for (let l = 0; l < 2; l++) {
        for (let d = 0; d < half; d++) {
          const from = h * headDim + l * half + d;
          const to = h * headDim + d * 2 + l;
          out.set(w.subarray(from * cols, (from + 1) * cols), to * cols);
        }
      }
    }
    return out;
  };
  const stack = (...parts: Int8Array[]) => {
    const out = new Int8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
    return out;
  };
  let checked = 0;
  for (let layer = 0; layer < config.num_hidden_layers; layer++) {
    const p = `model.layers.${layer}.`;
    const [q, k, v, o] = ['q_proj', 'k_proj', 'v_proj', 'o_proj'].map((n) => get(`${p}self_attn.${n}`));
    const [gate, up, down] = ['gate_proj', 'up_proj', 'down_proj'].map((n) => get(`${p}mlp.${n}`));
    const targets: Array<[string, Int8Array, number, number[]]> = [
      ['attention.wqkv', stack(unpermute(q, config.num_attention_heads), unpermute(k, config.num_key_value_heads), v.w), q.cols, [q.scale, k.scale, v.scale, 0]],
      ['attention.wo', o.w, o.cols, [o.scale, 0, 0, 0]],
      ['feed_forward.w13', stack(gate.w, up.w), gate.cols, [gate.scale, up.scale, 0, 0]],
      ['feed_forward.w2', down.w, down.cols, [down.scale, 0, 0, 0]],
    ];
    for (const [name, w, cols, scales] of targets) {
      const rows = w.length / cols;
      const label = `layers.${layer}.${name} (${rows}x${cols})`;
      const g = golden.get(`layers.${layer}.${name}.weight`) as RawTensor;
      assert.equal([g.dtype, ...g.shape], ['I8', rows, cols / 4], `${label}: golden dtype and shape`);
      const s = golden.get(`layers.${layer}.${name}.weight_scale`) as RawTensor;
      assert.equal(Array.from(new Uint16Array(s.bytes.slice().buffer)), scales, `${label}: golden scales are the projections' own`);
      sameBytes(msInt2.pack(w, rows, cols).bytes, g.bytes, `reference ${label}`);
      assert.equal(Array.from(msInt2.unpack(g.bytes, rows, cols)), Array.from(w), `reference unpack ${label}`);
      for (const [build, kern] of BUILDS) {
        for (const chunks of [[rows], new Array<number>(rows / 16).fill(16)]) {
          const got = kernelPack(kern, 'ms-int2', w, rows, cols, { chunks });
          sameBytes(got.bytes, g.bytes, `${build} ${label} chunks of ${chunks[0]}`);
          assert.is(got.bad, 0);
        }
      }
      checked++;
    }
    // the un-permutation is what makes q match: the rows in Hugging Face order do not
    const qkv = stack(q.w, k.w, v.w);
    const plain = msInt2.pack(qkv, qkv.length / q.cols, q.cols).bytes;
    assert.not.equal(Buffer.compare(plain, (golden.get(`layers.${layer}.attention.wqkv.weight`) as RawTensor).bytes), 0);
  }
  assert.is(checked, 4 * config.num_hidden_layers);
});

test.run();

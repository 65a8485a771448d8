// The packed ternary layouts: one row each, in the style of ggml's type_traits (docs/architecture.md 3.5).
// A row is everything the code knows of a layout: the kernel that writes it (with one calling
// convention, `pack`), the TypeScript decoder that reads it back (`unpack`), the block it is made of,
// the shapes it needs, its size, where its scale lives and, for a GGUF type, the type's ids. Writers,
// readers, the weight stream, inspect and the refusal messages all look their facts up here.
// `satisfies Record<PackingId, Packing>` makes a missing row a compile error; each row has a slow
// literal pack and unpack in test/reference/packings-ref.ts, and test/packings.test.ts runs every
// row against it. Platform neutral.
import { CorruptFileError } from '../errors.js';
import { f16ToF32 } from '../quant/floats.js';
import type { KernelExports } from './types.js';

export type PackingId = 'bitnet-rs' | 'hf-u8' | 'ms-int2' | 'tq2_0' | 'tq1_0' | 'i2_s' | 'q2_0';

/** The pack kernels: the exports named pack*. */
export type PackKernel = { [K in keyof KernelExports]: K extends `pack${string}` ? K : never }[keyof KernelExports];

/** Where decoded values sit, for naming a bad code: the file, the tensor, and the tensor's first row in the bytes given. */
export interface UnpackPlace {
  file: string;
  tensor: string;
  /** The tensor row of the first value decoded (quarter-bands: the byte row). */
  row0: number;
  /** The tensor's row count (quarter-bands: R = rows / 4 is the band stride). */
  tensorRows: number;
  /** Quarter-bands: decode only this band (the values of rows band*R + row0 ..). */
  band?: number;
}

export interface Packing {
  /** The kernel that packs whole rows of i8 ternary values. */
  kernel: PackKernel;
  /** The kernel that unpacks it inside wasm, where there is one (a packed checkpoint read as input). */
  unpackKernel?: 'unpackHfU8';
  /** A GGUF type's decoder inside wasm (a .gguf read as input): n values of whole blocks to i8; non-zero when a code is no value. */
  decodeKernel?: 'unpackI2s' | 'unpackTq2_0' | 'unpackQ2_0';
  /** A kernel from this type's stored bytes straight into another packing's, with no i8 between (I2_S to hf-u8). */
  transcode?: { to: PackingId; kernel: 'i2sToHfU8' };
  /** Quantize and pack in one kernel, where there is one. */
  fused?: 'quantizePackRows';
  /** The values one block covers (rows x cols) and its bytes. */
  block: { rows: number; cols: number; bytes: number };
  /** A tensor's row count and row length must be multiples of these. */
  rowMultiple: number;
  colMultiple: number;
  /**
   * Which rows one kernel call reads: consecutive rows, or 4 bands of rows R = rows/4 apart
   * (rows r0 + q*R .., gathered one band after the other).
   */
  rowAccess: 'consecutive' | 'quarter-bands';
  /**
   * Bytes the kernel writes for `rows` rows of length `cols`. Linear in rows, so the output of the
   * chunk starting at row r0 starts at bytes(r0, cols) (hf-u8: r0 counts all four bands).
   */
  bytes(rows: number, cols: number): number;
  /** Bytes the host appends after the last row (i2_s: the f32 scale, then 28 zero bytes). */
  tailBytes: number;
  /**
   * Where the scale is: `outside` the packed bytes (a separate tensor or field), in every `block` as
   * fp16 `d`, or in the `tail` as an f32.
   */
  scale: 'outside' | 'block-f16' | 'tail-f32';
  /** Where codes are 2 bits (tq1_0 has trits): the code that is no value, for a fast scan (anyCode). */
  badCode2?: 0 | 3;
  /** The GGUF tensor type it is, where it is one: ggml's type id and llama.cpp's LLAMA_FTYPE for a file mostly of it. */
  ggml?: { name: string; id: number; fileType: number; forkOnly?: boolean };
  /**
   * Runs the kernel on `rows` rows of i8 values at `src` (in `rowAccess` order), writing `bytes(rows,
   * cols)` bytes at `dst`; `d` is the scale as fp16 bits, for the types whose blocks carry it.
   * Returns how many inputs were not -1, 0 or +1 (packed as 0).
   */
  pack(k: KernelExports, src: number, rows: number, cols: number, dst: number, d?: number): number;
  /**
   * The inverse, in TypeScript: `rows` rows' values from `bytes(rows, cols)` bytes, in `rowAccess`
   * order; a code that is no value (or non-zero row padding) throws CorruptFileError naming its index.
   */
  unpack(bytes: Uint8Array, rows: number, cols: number, place: UnpackPlace): Int8Array;
  /** The fp16 `d` of every block, as numbers (block-f16 packings). */
  blockScales?(bytes: Uint8Array, rows: number, cols: number): Float32Array;
  /** The layout in a line, and its source. */
  note: string;
}

/** A decoded code that is not a ternary value, named by tensor and index. */
export function badCode(file: string, tensor: string, index: number, code: number): never {
  throw new CorruptFileError({ file, tensor }, 'ternary codes only', `code ${code} at value ${index}`);
}

/** Decoder of a packing whose codes sit in value order `at(i)` -> [byte, shift], code = value + 1 (tq2_0, i2_s). */
const plusOne = (byteOf: (i: number) => number, shiftOf: (i: number) => number) => (bytes: Uint8Array, rows: number, cols: number, p: UnpackPlace) => {
  const q = new Int8Array(rows * cols);
  for (let i = 0; i < q.length; i++) {
    const code = (bytes[byteOf(i)] >> shiftOf(i)) & 3;
    if (code > 2) badCode(p.file, p.tensor, p.row0 * cols + i, code);
    q[i] = code - 1;
  }
  return q;
};

/**
 * I2_S a 128-value block at a time (value 32n + m at bits 6 - 2n of byte m): plusOne's two index
 * functions per value made inspect and verify of a GGUF spend half their time here.
 */
function unpackI2s(bytes: Uint8Array, rows: number, cols: number, p: UnpackPlace): Int8Array {
  const q = new Int8Array(rows * cols);
  for (let at = 0, o = 0; at < q.length; at += 128, o += 32) {
    let bad = 0;
    for (let m = 0; m < 32; m++) {
      const b = bytes[o + m];
      bad |= b & (b >> 1) & 0x55; // a code 3
      q[at + m] = (b >> 6) - 1;
      q[at + 32 + m] = ((b >> 4) & 3) - 1;
      q[at + 64 + m] = ((b >> 2) & 3) - 1;
      q[at + 96 + m] = (b & 3) - 1;
    }
    if (bad) {
      for (let i = 0; i < 128; i++) {
        const code = (bytes[o + (i & 31)] >> (6 - 2 * (i >> 5))) & 3;
        if (code > 2) badCode(p.file, p.tensor, p.row0 * cols + at + i, code);
      }
    }
  }
  return q;
}

/** bitnet-rs: the four values of each byte (codes low bits first; 01 = +1, 10 = -1, 00 and 11 = 0, 11 checked apart). */
const BRS_VALUES = Int8Array.from({ length: 1024 }, (_, i) => [0, 1, -1, 0][((i >> 2) >> (2 * (i & 3))) & 3]);

/** The fp16 d at byte `at` of every `blockBytes` bytes. */
const f16At = (blockBytes: number, at: number) => (bytes: Uint8Array) => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(Math.floor(bytes.length / blockBytes));
  for (let b = 0; b < out.length; b++) out[b] = f16ToF32(view.getUint16(b * blockBytes + at, true));
  return out;
};

/** The fp16 scale a block-f16 packing needs. */
const blockScale = (d: number | undefined): number => {
  if (d === undefined) throw new Error('internal: a block-f16 packing needs the scale');
  return d;
};

/** The trit n (0 first, most significant) of a TQ1_0 byte: ((uint8)(x * 3^n) * 3) >> 8. */
const trit = (x: number, n: number) => (((x * 3 ** n) & 255) * 3) >> 8;

const TQ1_BLOCK = 48 + 4 + 2;
const TQ2_BLOCK = 64 + 2;
const Q2_BLOCK = 2 + 16;

export const PACKINGS = {
  'bitnet-rs': {
    kernel: 'packRows',
    fused: 'quantizePackRows',
    block: { rows: 1, cols: 16, bytes: 4 },
    rowMultiple: 1,
    colMultiple: 1,
    rowAccess: 'consecutive',
    bytes: (rows, cols) => rows * 4 * Math.ceil(cols / 16),
    tailBytes: 0,
    scale: 'outside',
    badCode2: 3,
    pack: (k, src, rows, cols, dst) => k.packRows(src, rows, cols, dst),
    unpack(bytes, rows, cols, p) {
      // little-endian u32 words, ceil(cols/16) a row; value i of a word at bits 2i: 01 = +1, 10 = -1
      const wpr = Math.ceil(cols / 16);
      const full = cols >> 4; // words without row padding: four values a byte through a table
      const q = new Int8Array(rows * cols);
      for (let r = 0; r < rows; r++) {
        for (let w = 0, o = 4 * r * wpr, at = r * cols; w < full; w++) {
          let bad = 0;
          for (let k = 0; k < 4; k++, o++, at += 4) {
            const b = bytes[o];
            bad |= b & (b >> 1) & 0x55; // a code 11
            const v = 4 * b;
            q[at] = BRS_VALUES[v];
            q[at + 1] = BRS_VALUES[v + 1];
            q[at + 2] = BRS_VALUES[v + 2];
            q[at + 3] = BRS_VALUES[v + 3];
          }
          if (bad) for (let i = 0; i < 16; i++) if (((bytes[4 * (r * wpr + w) + (i >> 2)] >> (2 * (i & 3))) & 3) === 3) badCode(p.file, p.tensor, (p.row0 + r) * cols + w * 16 + i, 3);
        }
        for (let w = full; w < wpr; w++) {
          const at = 4 * (r * wpr + w);
          const word = (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
          for (let i = 0; i < 16; i++) {
            const code = (word >>> (2 * i)) & 3;
            const c = w * 16 + i;
            if (c >= cols ? code !== 0 : code === 3) badCode(p.file, p.tensor, (p.row0 + r) * cols + c, code); // row padding must be zero
            if (c < cols) q[r * cols + c] = code === 1 ? 1 : code === 2 ? -1 : 0;
          }
        }
      }
      return q;
    },
    note: '16 codes a u32, value i at bits 2i (+1 01, -1 10), rows padded to a word (bitnet.rs packer.rs; docs/formats.md 4)',
  },
  'hf-u8': {
    kernel: 'packHfU8',
    unpackKernel: 'unpackHfU8',
    block: { rows: 4, cols: 1, bytes: 1 },
    rowMultiple: 4,
    colMultiple: 1,
    rowAccess: 'quarter-bands',
    bytes: (rows, cols) => (rows / 4) * cols,
    tailBytes: 0,
    scale: 'outside',
    badCode2: 3,
    pack: (k, src, rows, cols, dst) => k.packHfU8(src, rows / 4, cols, dst),
    unpack(bytes, rows, cols, p) {
      // band q (rows q*R + row0 ..) sits in bits 2q of the byte rows; the bands come out one after the other
      const n = (rows / 4) * cols;
      const R = p.tensorRows / 4;
      const bands = p.band === undefined ? [0, 1, 2, 3] : [p.band];
      const q = new Int8Array(bands.length * n);
      bands.forEach((band, b) => {
        for (let k = 0; k < n; k++) {
          const code = (bytes[k] >> (2 * band)) & 3;
          if (code === 3) badCode(p.file, p.tensor, (band * R + p.row0) * cols + k, code);
          q[b * n + k] = code - 1;
        }
      });
      return q;
    },
    note: 'U8 [out/4, in], W[q*R + r, c] + 1 at bits 2q of byte [r, c] (transformers integrations/bitnet.py pack_weights; docs/formats.md 1)',
  },
  'ms-int2': {
    kernel: 'packMsInt2',
    block: { rows: 16, cols: 32, bytes: 128 },
    rowMultiple: 16,
    colMultiple: 32,
    rowAccess: 'consecutive',
    bytes: (rows, cols) => (rows * cols) / 4,
    tailBytes: 0,
    scale: 'outside',
    badCode2: 0,
    pack: (k, src, rows, cols, dst) => k.packMsInt2(src, rows, cols, dst),
    unpack(bytes, rows, cols, p) {
      // bytes in tile order [N/16][K/32][16 rows][8 bytes]; in each 4-byte word code o of 16 sits at byte
      // o % 4, bits 2 * (o / 4) (the interleave); the word holds tile elements j = 16 w + o of tile row i,
      // which come from block row (t/16)*8 + t%8 and column j%16 + 16*((t%16)/8), t = 2i + j/16; value = code - 2
      const q = new Int8Array(rows * cols);
      const tilesPerRow = cols / 32;
      for (let f = 0; f < bytes.length; f++) {
        const tile = Math.floor(f / 128);
        const m = f % 128;
        const i = m >> 3;
        const w = (m & 7) >> 2;
        const b = m & 3;
        for (let k = 0; k < 4; k++) {
          const code = (bytes[f] >> (2 * k)) & 3;
          const j = 16 * w + b + 4 * k;
          const t = 2 * i + (j >> 4);
          const row = Math.floor(tile / tilesPerRow) * 16 + (t >> 4) * 8 + (t % 8);
          const col = (tile % tilesPerRow) * 32 + (j % 16) + 16 * ((t % 16) >> 3);
          if (code === 0) badCode(p.file, p.tensor, (p.row0 + row) * cols + col, code);
          q[row * cols + col] = code - 2;
        }
      }
      return q;
    },
    note: '16x32 tiles, codes q + 2 permuted and interleaved in u32s (microsoft/BitNet gpu/pack_weight.py; docs/formats.md 5)',
  },
  tq2_0: {
    kernel: 'packTq2_0',
    decodeKernel: 'unpackTq2_0',
    block: { rows: 1, cols: 256, bytes: TQ2_BLOCK },
    rowMultiple: 1,
    colMultiple: 256,
    rowAccess: 'consecutive',
    bytes: (rows, cols) => rows * (cols / 256) * TQ2_BLOCK,
    tailBytes: 0,
    scale: 'block-f16',
    badCode2: 3,
    ggml: { name: 'TQ2_0', id: 35, fileType: 37 },
    pack: (k, src, rows, cols, dst, d) => k.packTq2_0(src, rows, cols, blockScale(d), dst),
    // value 128h + 32n + m of a block at bits 2n of qs[32h + m]
    unpack: plusOne(
      (i) => TQ2_BLOCK * (i >> 8) + 32 * ((i >> 7) & 1) + (i & 31),
      (i) => 2 * ((i >> 5) & 3),
    ),
    blockScales: f16At(TQ2_BLOCK, TQ2_BLOCK - 2),
    note: 'GGUF type 35: qs[64] (2 bits, low first) + fp16 d per 256 values (ggml block_tq2_0; docs/gguf.md 4)',
  },
  tq1_0: {
    kernel: 'packTq1_0',
    block: { rows: 1, cols: 256, bytes: TQ1_BLOCK },
    rowMultiple: 1,
    colMultiple: 256,
    rowAccess: 'consecutive',
    bytes: (rows, cols) => rows * (cols / 256) * TQ1_BLOCK,
    tailBytes: 0,
    scale: 'block-f16',
    ggml: { name: 'TQ1_0', id: 34, fileType: 36 },
    pack: (k, src, rows, cols, dst, d) => k.packTq1_0(src, rows, cols, blockScale(d), dst),
    unpack(bytes, rows, cols, p) {
      // base-3 bytes, five trits each (four in qh), first trit most significant
      const q = new Int8Array(rows * cols);
      const put = (i: number, code: number) => (code > 2 ? badCode(p.file, p.tensor, p.row0 * cols + i, code) : (q[i] = code - 1));
      for (let b = 0; b < (rows * cols) / 256; b++) {
        const o = b * TQ1_BLOCK;
        const at = b * 256;
        for (let m = 0; m < 32; m++) for (let n = 0; n < 5; n++) put(at + m + 32 * n, trit(bytes[o + m], n));
        for (let m = 0; m < 16; m++) for (let n = 0; n < 5; n++) put(at + 160 + m + 16 * n, trit(bytes[o + 32 + m], n));
        for (let j = 0; j < 4; j++) for (let n = 0; n < 4; n++) put(at + 240 + j + 4 * n, trit(bytes[o + 48 + j], n));
      }
      return q;
    },
    blockScales: f16At(TQ1_BLOCK, TQ1_BLOCK - 2),
    note: 'GGUF type 34: qs[48] + qh[4] (5 trits a byte) + fp16 d per 256 values (ggml block_tq1_0; docs/gguf.md 4)',
  },
  i2_s: {
    kernel: 'packI2s',
    decodeKernel: 'unpackI2s',
    transcode: { to: 'hf-u8', kernel: 'i2sToHfU8' },
    block: { rows: 1, cols: 128, bytes: 32 },
    rowMultiple: 1,
    colMultiple: 128,
    rowAccess: 'consecutive',
    bytes: (rows, cols) => (rows * cols) / 4,
    tailBytes: 32,
    scale: 'tail-f32',
    badCode2: 3,
    ggml: { name: 'I2_S', id: 36, fileType: 40, forkOnly: true },
    pack: (k, src, rows, cols, dst) => k.packI2s(src, rows, cols, dst),
    // value i at bits 6 - 2*((i%128)/32) of byte 32*(i/128) + i%32
    unpack: unpackI2s,
    note: 'bitnet.cpp type 36 (fork only): 32 bytes per 128 values, high bits first, then a 32-byte f32 scale tail (docs/gguf.md 4)',
  },
  q2_0: {
    kernel: 'packQ2_0',
    decodeKernel: 'unpackQ2_0',
    block: { rows: 1, cols: 64, bytes: Q2_BLOCK },
    rowMultiple: 1,
    colMultiple: 64,
    rowAccess: 'consecutive',
    bytes: (rows, cols) => rows * (cols / 64) * Q2_BLOCK,
    tailBytes: 0,
    scale: 'block-f16',
    badCode2: 3,
    ggml: { name: 'Q2_0', id: 42, fileType: 41 },
    pack: (k, src, rows, cols, dst, d) => k.packQ2_0(src, rows, cols, blockScale(d), dst),
    // value j of a block at bits 2*(j%4) of byte 2 + j/4 (after d)
    unpack: plusOne(
      (i) => Q2_BLOCK * (i >> 6) + 2 + ((i & 63) >> 2),
      (i) => 2 * (i & 3),
    ),
    blockScales: f16At(Q2_BLOCK, 0),
    note: 'GGUF type 42 (upstream llama.cpp, CPU and GPU): fp16 d + 16 bytes per 64 values, value j at bits 2*(j%4) of byte j/4 (docs/gguf.md 7)',
  },
} as const satisfies Record<PackingId, Packing>;

/** The rows typed as the interface (for lookups by a computed id). */
export const PACKING_ROWS: Readonly<Record<PackingId, Packing>> = PACKINGS;

/** The packings that are GGUF tensor types. */
export type GgufPackingId = { [K in PackingId]: (typeof PACKINGS)[K] extends { ggml: object } ? K : never }[PackingId];
export const GGUF_PACKINGS = (Object.keys(PACKING_ROWS) as PackingId[]).filter((id) => PACKING_ROWS[id].ggml) as GgufPackingId[];

/** The packed size of a whole tensor: its rows and the tail. */
export function packedTensorBytes(packing: Packing, rows: number, cols: number): number {
  return packing.bytes(rows, cols) + packing.tailBytes;
}

/** Why a packing cannot hold a tensor of this shape (undefined when it can): for refusal messages. */
export function shapeProblem(packing: Packing, rows: number, cols: number): string | undefined {
  const need: string[] = [];
  if (rows % packing.rowMultiple !== 0) need.push(`a row count that is a multiple of ${packing.rowMultiple}`);
  if (cols % packing.colMultiple !== 0) need.push(`rows of a multiple of ${packing.colMultiple} values`);
  return need.length ? need.join(' and ') : undefined;
}

/** The ids of the packings that can hold a [rows, cols] tensor, for naming the alternative in a refusal. */
export function packingsThatFit(rows: number, cols: number, among: readonly PackingId[]): PackingId[] {
  return among.filter((id) => !shapeProblem(PACKING_ROWS[id], rows, cols));
}

/** A fast scan: true when some 2-bit code of the bytes is `code` (3: 11, 0: 00). */
export function anyCode(bytes: Uint8Array, code: number): boolean {
  const b = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  const words = new Uint32Array(b.buffer, b.byteOffset, b.length >> 2);
  if (code === 3) {
    for (let i = 0; i < words.length; i++) if (words[i] & (words[i] >>> 1) & 0x55555555) return true;
    for (let i = words.length * 4; i < b.length; i++) if (b[i] & (b[i] >> 1) & 0x55) return true;
    return false;
  }
  for (let i = 0; i < words.length; i++) if (~(words[i] | (words[i] >>> 1)) & 0x55555555) return true;
  for (let i = words.length * 4; i < b.length; i++) if (~(b[i] | (b[i] >> 1)) & 0x55) return true;
  return false;
}

// The packed ternary layouts: one row each, in the style of ggml's type_traits (docs/architecture.md 3.5).
// A row names the kernel that writes the layout, the block it is made of, the shapes it needs and
// its size. `satisfies Record<PackingId, Packing>` makes a missing row a compile error; each row
// has a slow literal pack and unpack in test/reference/packings-ref.ts, and test/packings.test.ts
// runs every row against it. Platform neutral.
import type { KernelExports } from './types.js';

export type PackingId = 'bitnet-rs' | 'hf-u8' | 'ms-int2' | 'tq2_0' | 'tq1_0' | 'i2_s';

/** The pack kernels: the exports named pack*. */
export type PackKernel = { [K in keyof KernelExports]: K extends `pack${string}` ? K : never }[keyof KernelExports];

export interface Packing {
  /** The kernel that packs whole rows of i8 ternary values (returns the count of invalid inputs). */
  kernel: PackKernel;
  /** The kernel that unpacks it, where there is one. */
  unpack?: 'unpackHfU8';
  /** Quantize and pack in one kernel, where there is one. */
  fused?: 'quantizePackRows';
  /** The values one block covers, rows x cols. */
  block: { rows: number; cols: number };
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
  /** The layout in a line, and its source. */
  note: string;
}

export const PACKINGS = {
  'bitnet-rs': {
    kernel: 'packRows',
    fused: 'quantizePackRows',
    block: { rows: 1, cols: 16 },
    rowMultiple: 1,
    colMultiple: 1,
    rowAccess: 'consecutive',
    bytes: (rows, cols) => rows * 4 * Math.ceil(cols / 16),
    tailBytes: 0,
    note: '16 codes a u32, value i at bits 2i (+1 01, -1 10), rows padded to a word (bitnet.rs packer.rs; docs/formats.md 4)',
  },
  'hf-u8': {
    kernel: 'packHfU8',
    unpack: 'unpackHfU8',
    block: { rows: 4, cols: 1 },
    rowMultiple: 4,
    colMultiple: 1,
    rowAccess: 'quarter-bands',
    bytes: (rows, cols) => (rows / 4) * cols,
    tailBytes: 0,
    note: 'U8 [out/4, in], W[q*R + r, c] + 1 at bits 2q of byte [r, c] (transformers integrations/bitnet.py pack_weights; docs/formats.md 1)',
  },
  'ms-int2': {
    kernel: 'packMsInt2',
    block: { rows: 16, cols: 32 },
    rowMultiple: 16,
    colMultiple: 32,
    rowAccess: 'consecutive',
    bytes: (rows, cols) => (rows * cols) / 4,
    tailBytes: 0,
    note: '16x32 tiles, codes q + 2 permuted and interleaved in u32s (microsoft/BitNet gpu/pack_weight.py; docs/formats.md 5)',
  },
  tq2_0: {
    kernel: 'packTq2_0',
    block: { rows: 1, cols: 256 },
    rowMultiple: 1,
    colMultiple: 256,
    rowAccess: 'consecutive',
    bytes: (rows, cols) => rows * (cols / 256) * (64 + 2),
    tailBytes: 0,
    note: 'GGUF type 35: qs[64] (2 bits, low first) + fp16 d per 256 values (ggml block_tq2_0; docs/gguf.md 4)',
  },
  tq1_0: {
    kernel: 'packTq1_0',
    block: { rows: 1, cols: 256 },
    rowMultiple: 1,
    colMultiple: 256,
    rowAccess: 'consecutive',
    bytes: (rows, cols) => rows * (cols / 256) * (48 + 4 + 2),
    tailBytes: 0,
    note: 'GGUF type 34: qs[48] + qh[4] (5 trits a byte) + fp16 d per 256 values (ggml block_tq1_0; docs/gguf.md 4)',
  },
  i2_s: {
    kernel: 'packI2s',
    block: { rows: 1, cols: 128 },
    rowMultiple: 1,
    colMultiple: 128,
    rowAccess: 'consecutive',
    bytes: (rows, cols) => (rows * cols) / 4,
    tailBytes: 32,
    note: 'bitnet.cpp type 36 (fork only): 32 bytes per 128 values, high bits first, then a 32-byte f32 scale tail (docs/gguf.md 4)',
  },
} as const satisfies Record<PackingId, Packing>;

/** The packed size of a whole tensor: its rows and the tail. */
export function packedTensorBytes(packing: Packing, rows: number, cols: number): number {
  return packing.bytes(rows, cols) + packing.tailBytes;
}

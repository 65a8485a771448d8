// Slow, literal pack and unpack of every packed ternary layout, written from the spec text
// (docs/formats.md sections 1, 4, 5 and docs/gguf.md section 4), sharing no code with
// src/ or assembly/. Like gguf-py's quants.py quantize_blocks / dequantize_blocks: each layout's
// pack and its inverse side by side, element by element, with no bit tricks beyond what the text
// states. Values are i8; pack writes a value outside {-1, 0, 1} as 0 and counts it; unpack decodes
// every code literally, so an invalid code gives a value outside {-1, 0, 1}.

export interface Packed {
  bytes: Uint8Array;
  /** Inputs that were not in {-1, 0, 1}. */
  bad: number;
}

export interface RefPacking {
  /** W [rows, cols] -> the bytes the packing's kernel writes for the whole tensor (i2_s: no tail). */
  pack(w: Int8Array, rows: number, cols: number, d?: number): Packed;
  unpack(bytes: Uint8Array, rows: number, cols: number): Int8Array;
}

/** Reads W's values, replacing the ones outside {-1, 0, 1} by 0 and counting them. */
class Ternaries {
  bad = 0;
  constructor(private readonly w: Int8Array, private readonly cols: number) {}
  at(row: number, col: number): number {
    const v = this.w[row * this.cols + col];
    if (v === -1 || v === 0 || v === 1) return v;
    this.bad++;
    return 0;
  }
}

/** Bit field `width` bits wide at bit `shift` of x (x < 2^32). */
const field = (x: number, shift: number, width = 2) => Math.floor(x / 2 ** shift) % 2 ** width;

// ---- bitnet-rs (docs/formats.md 4): 16 codes a u32, value i of a group at bits 2i, +1 -> 01, -1 -> 10,
// 0 -> 00; each row starts on a fresh word, the unused tail of its last word is zero.
const BITNET_CODE: Record<number, number> = { 0: 0b00, 1: 0b01, [-1]: 0b10 };
const BITNET_VALUE: Record<number, number> = { 0b00: 0, 0b01: 1, 0b10: -1, 0b11: 2 };

export const bitnetRs: RefPacking = {
  pack(w, rows, cols) {
    const t = new Ternaries(w, cols);
    const wordsPerRow = Math.ceil(cols / 16);
    const words = new Array<number>(rows * wordsPerRow).fill(0);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) words[r * wordsPerRow + Math.floor(c / 16)] += BITNET_CODE[t.at(r, c)] * 2 ** (2 * (c % 16));
    }
    return { bytes: wordsToBytes(words), bad: t.bad };
  },
  unpack(bytes, rows, cols) {
    const words = bytesToWords(bytes);
    const wordsPerRow = Math.ceil(cols / 16);
    const w = new Int8Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) w[r * cols + c] = BITNET_VALUE[field(words[r * wordsPerRow + Math.floor(c / 16)], 2 * (c % 16))];
    }
    return w;
  },
};

// ---- hf-u8 (docs/formats.md 1): U8 [out/4, in]; with R = out/4, bits 2i..2i+1 of packed[r, c] hold
// W[i*R + r, c] + 1 for i = 0..3. Codes 0 -> -1, 1 -> 0, 2 -> +1 (3 is invalid).
export const hfU8: RefPacking = {
  pack(w, rows, cols) {
    const t = new Ternaries(w, cols);
    const R = rows / 4;
    const bytes = new Uint8Array(R * cols);
    for (let r = 0; r < R; r++) {
      for (let c = 0; c < cols; c++) {
        let byte = 0;
        for (let i = 0; i < 4; i++) byte += (t.at(i * R + r, c) + 1) * 4 ** i;
        bytes[r * cols + c] = byte;
      }
    }
    return { bytes, bad: t.bad };
  },
  unpack(bytes, rows, cols) {
    const R = rows / 4;
    const w = new Int8Array(rows * cols);
    for (let r = 0; r < R; r++) {
      for (let c = 0; c < cols; c++) {
        for (let i = 0; i < 4; i++) w[(i * R + r) * cols + c] = field(bytes[r * cols + c], 2 * i) - 1;
      }
    }
    return w;
  },
};

// ---- ms-int2 (docs/formats.md 5, microsoft/BitNet gpu/pack_weight.py): codes c = q + 2; tiles
// [N/16, K/32, 16, 32] where tile element (i, j) comes from row (t//16)*8 + t%8 and column
// j%16 + 16*((t%16)//8) of the block, t = 2i + j//16; 4 codes a byte, code k at bits 2k; each 4
// bytes as a u32 of 16 codes (code o at bits 2o), code o moved to bit (o%4)*8 + (o//4)*2; bytes in
// tile order, reshaped to [N, K/4].
function msTileSource(i: number, j: number): [number, number] {
  const t = 2 * i + Math.floor(j / 16);
  return [Math.floor(t / 16) * 8 + (t % 8), (j % 16) + 16 * Math.floor((t % 16) / 8)];
}

export const msInt2: RefPacking = {
  pack(w, rows, cols) {
    const t = new Ternaries(w, cols);
    // step 1: the tiles, as one flat list of codes in [N/16][K/32][16][32] order
    const tiled: number[] = [];
    for (let bn = 0; bn < rows / 16; bn++) {
      for (let bk = 0; bk < cols / 32; bk++) {
        for (let i = 0; i < 16; i++) {
          for (let j = 0; j < 32; j++) {
            const [r, c] = msTileSource(i, j);
            tiled.push(t.at(bn * 16 + r, bk * 32 + c) + 2);
          }
        }
      }
    }
    // step 2: four codes a byte, code k at bits 2k
    const packed: number[] = [];
    for (let b = 0; b < tiled.length / 4; b++) {
      let byte = 0;
      for (let k = 0; k < 4; k++) byte += tiled[4 * b + k] * 2 ** (2 * k);
      packed.push(byte);
    }
    // step 3: each u32 (little endian) of 16 codes: code o from bits 2o to bit (o%4)*8 + (o//4)*2
    const words = bytesToWords(Uint8Array.from(packed)).map((word) => {
      let moved = 0;
      for (let o = 0; o < 16; o++) moved += field(word, 2 * o) * 2 ** ((o % 4) * 8 + Math.floor(o / 4) * 2);
      return moved;
    });
    return { bytes: wordsToBytes(words), bad: t.bad };
  },
  unpack(bytes, rows, cols) {
    const w = new Int8Array(rows * cols);
    const words = bytesToWords(bytes);
    let word = 0;
    for (let bn = 0; bn < rows / 16; bn++) {
      for (let bk = 0; bk < cols / 32; bk++) {
        for (let i = 0; i < 16; i++) {
          for (let half = 0; half < 2; half++, word++) {
            for (let o = 0; o < 16; o++) {
              const [r, c] = msTileSource(i, 16 * half + o);
              w[(bn * 16 + r) * cols + bk * 32 + c] = field(words[word], (o % 4) * 8 + Math.floor(o / 4) * 2) - 2;
            }
          }
        }
      }
    }
    return w;
  },
};

// ---- GGUF TQ types (docs/gguf.md 4): rows cut into blocks of 256 values; each block is its code bytes
// followed by the fp16 d (little endian), and codes are q + 1 (value = (code - 1) * d).

/** Packs every block of 256 values: `codes(get)` gives the block's code bytes, get(j) being element j's code. */
function packBlocks(w: Int8Array, rows: number, cols: number, d: number, codes: (get: (j: number) => number) => number[]): Packed {
  const t = new Ternaries(w, cols);
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < cols / 256; b++) out.push(...codes((j) => t.at(r, 256 * b + j) + 1), d % 256, Math.floor(d / 256));
  }
  return { bytes: Uint8Array.from(out), bad: t.bad };
}

/** Unpacks every block of `blockBytes` bytes: `values(block)` gives its 256 values. */
function unpackBlocks(bytes: Uint8Array, rows: number, cols: number, blockBytes: number, values: (block: Uint8Array) => number[]): Int8Array {
  const w = new Int8Array(rows * cols);
  for (let b = 0; b < (rows * cols) / 256; b++) w.set(values(bytes.subarray(b * blockBytes, (b + 1) * blockBytes)), 256 * b);
  return w;
}

// TQ2_0: 66 bytes, qs[64] then d. Element j = 128h + 32n + m (h 0..1, n 0..3, m 0..31):
// qs[32h + m] |= code << 2n (first group in the low bits).
const tq2Byte = (j: number) => 32 * Math.floor(j / 128) + (j % 32);
const tq2Shift = (j: number) => 2 * Math.floor((j % 128) / 32);

export const tq2_0: RefPacking = {
  pack: (w, rows, cols, d = 0x3c00) => packBlocks(w, rows, cols, d, (code) => {
    const qs = new Array<number>(64).fill(0);
    for (let j = 0; j < 256; j++) qs[tq2Byte(j)] += code(j) * 2 ** tq2Shift(j);
    return qs;
  }),
  unpack: (bytes, rows, cols) => unpackBlocks(bytes, rows, cols, 66, (block) =>
    Array.from({ length: 256 }, (_, j) => field(block[tq2Byte(j)], tq2Shift(j)) - 1)),
};

// TQ1_0: 54 bytes, qs[48], qh[4], then d. Base 3, first trit most significant; a byte stores
// ceil(v * 256 / 243) of the 5-trit value v. qs[m] (m < 32): elements m + 32n, n = 0..4;
// qs[32 + m] (m < 16): elements 160 + m + 16n; qh[j] (j < 4): elements 240 + j + 4n, n = 0..3,
// v multiplied by 3. Decoding trit n of byte b: ((uint8)(b * 3^n) * 3) >> 8.
/** The elements of the trits of each byte of qs and qh, in byte order, first trit most significant. */
const TQ1_TRITS: number[][] = [];
for (let m = 0; m < 32; m++) TQ1_TRITS.push([0, 1, 2, 3, 4].map((n) => m + 32 * n));
for (let m = 0; m < 16; m++) TQ1_TRITS.push([0, 1, 2, 3, 4].map((n) => 160 + m + 16 * n));
for (let j = 0; j < 4; j++) TQ1_TRITS.push([0, 1, 2, 3].map((n) => 240 + j + 4 * n));

export const tq1_0: RefPacking = {
  pack: (w, rows, cols, d = 0x3c00) => packBlocks(w, rows, cols, d, (code) => TQ1_TRITS.map((elements) => {
    let v = 0;
    for (const e of elements) v = v * 3 + code(e);
    if (elements.length === 4) v *= 3; // qh: a fifth trit 0
    return Math.ceil((v * 256) / 243);
  })),
  unpack: (bytes, rows, cols) => unpackBlocks(bytes, rows, cols, 54, (block) => {
    const values = new Array<number>(256);
    TQ1_TRITS.forEach((elements, byte) => elements.forEach((e, n) => {
      values[e] = Math.floor((((block[byte] * 3 ** n) % 256) * 3) / 256) - 1;
    }));
    return values;
  }),
};

// ---- I2_S (docs/gguf.md 4, bitnet.cpp x86 layout): rows*cols/4 code bytes, then a 32-byte tail (f32
// scale, 28 zero bytes). With i = row*cols + col: byte[32*(i/128) + i%32] |= code << (6 - 2*((i%128)/32)).
export const i2s: RefPacking = {
  pack(w, rows, cols) {
    const t = new Ternaries(w, cols);
    const bytes = new Uint8Array((rows * cols) / 4);
    for (let i = 0; i < rows * cols; i++) {
      const code = t.at(Math.floor(i / cols), i % cols) + 1;
      bytes[32 * Math.floor(i / 128) + (i % 32)] += code * 2 ** (6 - 2 * Math.floor((i % 128) / 32));
    }
    return { bytes, bad: t.bad };
  },
  unpack(bytes, rows, cols) {
    const w = new Int8Array(rows * cols);
    for (let i = 0; i < rows * cols; i++) {
      w[i] = field(bytes[32 * Math.floor(i / 128) + (i % 32)], 6 - 2 * Math.floor((i % 128) / 32)) - 1;
    }
    return w;
  },
};

/** The I2_S tensor tail: the f32 scale (little endian), then 28 zero bytes. */
export function i2sTail(scale: number): Uint8Array {
  const tail = new Uint8Array(32);
  new DataView(tail.buffer).setFloat32(0, scale, true);
  return tail;
}

// ---- Q2_0 (docs/gguf.md 7, ggml type 42): 18 bytes per 64 values of a row: fp16 d first, then 16
// bytes; value j of a block at bits 2*(j%4) of byte j/4 (first value in the low bits), code q + 1.
export const q2_0: RefPacking = {
  pack(w, rows, cols, d = 0x3c00) {
    const t = new Ternaries(w, cols);
    const out: number[] = [];
    for (let r = 0; r < rows; r++) {
      for (let b = 0; b < cols / 64; b++) {
        const qs = new Array<number>(16).fill(0);
        for (let j = 0; j < 64; j++) qs[Math.floor(j / 4)] += (t.at(r, 64 * b + j) + 1) * 2 ** (2 * (j % 4));
        out.push(d % 256, Math.floor(d / 256), ...qs);
      }
    }
    return { bytes: Uint8Array.from(out), bad: t.bad };
  },
  unpack(bytes, rows, cols) {
    const w = new Int8Array(rows * cols);
    for (let b = 0; b < (rows * cols) / 64; b++) {
      for (let j = 0; j < 64; j++) w[64 * b + j] = field(bytes[18 * b + 2 + Math.floor(j / 4)], 2 * (j % 4)) - 1;
    }
    return w;
  },
};

/** Every packing by its id (the ids of src/kernels/packings.ts; the test checks they agree). */
export const REF_PACKINGS: Record<string, RefPacking> = {
  'bitnet-rs': bitnetRs,
  'hf-u8': hfU8,
  'ms-int2': msInt2,
  tq2_0,
  tq1_0,
  i2_s: i2s,
  q2_0,
};

function wordsToBytes(words: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(words.length * 4);
  const view = new DataView(bytes.buffer);
  words.forEach((word, i) => view.setUint32(4 * i, word, true));
  return bytes;
}

function bytesToWords(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.length / 4 }, (_, i) => view.getUint32(4 * i, true));
}

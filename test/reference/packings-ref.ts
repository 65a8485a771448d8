// Slow, literal pack and unpack of every packed ternary layout, written from the spec text
// (/work/shared/reference/formats.md sections 1 and 4), sharing no code with
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
  /** W [rows, cols] -> the bytes the packing's kernel writes for the whole tensor. */
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

// ---- bitnet-rs (formats.md 4): 16 codes a u32, value i of a group at bits 2i, +1 -> 01, -1 -> 10,
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

// ---- hf-u8 (formats.md 1): U8 [out/4, in]; with R = out/4, bits 2i..2i+1 of packed[r, c] hold
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

/** Every packing by its id (the ids of src/kernels/packings.ts; the test checks they agree). */
export const REF_PACKINGS: Record<string, RefPacking> = {
  'bitnet-rs': bitnetRs,
  'hf-u8': hfU8,
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

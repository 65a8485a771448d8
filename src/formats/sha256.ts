// Incremental SHA-256 (FIPS 180-4) without a platform API: WebCrypto's digest takes the whole input at
// once, which a multi-GB output file in a browser cannot be. Node keeps using node:crypto. The rounds
// over whole blocks are a port: the browser's workers pass the kernels' wasm rounds (Kernels.sha256),
// 2.6x these TypeScript ones (docs/performance.md, "The page").

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const INITIAL = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/** Compresses the whole 64-byte blocks of `blocks` (a multiple of 64 bytes) into `state` (the 8 words). */
export type Sha256Rounds = (state: Int32Array, blocks: Uint8Array) => void;

/** Where a hash stands, as plain data: its 8 words, the bytes of its unfinished block and the length so far (to go on with it on another thread). */
export interface Sha256State {
  h: number[];
  block: Uint8Array;
  length: number;
}

export class Sha256 {
  private readonly h = new Int32Array(INITIAL);
  private readonly w = new Int32Array(64);
  private readonly block = new Uint8Array(64);
  private pending = 0;
  private length = 0;

  constructor(private readonly rounds?: Sha256Rounds) {}

  /** A hash that goes on from `state` (save()). */
  static resume(state: Sha256State, rounds?: Sha256Rounds): Sha256 {
    const s = new Sha256(rounds);
    s.h.set(state.h);
    s.block.set(state.block);
    s.pending = state.block.length;
    s.length = state.length;
    return s;
  }

  save(): Sha256State {
    return { h: [...this.h], block: this.block.slice(0, this.pending), length: this.length };
  }

  update(bytes: Uint8Array): this {
    let i = 0;
    this.length += bytes.length;
    if (this.pending > 0) {
      const take = Math.min(64 - this.pending, bytes.length);
      this.block.set(bytes.subarray(0, take), this.pending);
      this.pending += take;
      i = take;
      if (this.pending < 64) return this;
      this.blocks(this.block, 0, 64);
      this.pending = 0;
    }
    const whole = (bytes.length - i) & ~63;
    if (whole) this.blocks(bytes, i, whole);
    i += whole;
    this.block.set(bytes.subarray(i), 0);
    this.pending = bytes.length - i;
    return this;
  }

  /** The digest as lower-case hex. The hash cannot be updated afterwards. */
  hex(): string {
    const bits = this.length * 8;
    const tail = new Uint8Array(this.pending < 56 ? 64 : 128);
    tail.set(this.block.subarray(0, this.pending));
    tail[this.pending] = 0x80;
    const view = new DataView(tail.buffer);
    view.setUint32(tail.length - 8, Math.floor(bits / 2 ** 32));
    view.setUint32(tail.length - 4, bits >>> 0);
    this.blocks(tail, 0, tail.length);
    let out = '';
    for (const v of this.h) out += (v >>> 0).toString(16).padStart(8, '0');
    return out;
  }

  private blocks(b: Uint8Array, at: number, length: number): void {
    if (this.rounds) return this.rounds(this.h, b.subarray(at, at + length));
    for (let i = at; i < at + length; i += 64) this.compress(b, i);
  }

  private compress(b: Uint8Array, at: number): void {
    const w = this.w;
    for (let t = 0; t < 16; t++) {
      const j = at + t * 4;
      w[t] = (b[j] << 24) | (b[j + 1] << 16) | (b[j + 2] << 8) | b[j + 3];
    }
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15];
      const y = w[t - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
    }
    const h = this.h;
    let a = h[0], b2 = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[t] + w[t]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b2) ^ (a & c) ^ (b2 & c))) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b2;
      b2 = a;
      a = (t1 + t2) | 0;
    }
    h[0] += a;
    h[1] += b2;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
  }
}

// sha256Blocks: the SHA-256 compression function (FIPS 180-4, 6.2.2) over whole 64-byte blocks, for the
// browser's output hashes (src/formats/sha256.ts keeps the partial block and the padding). The 64 rounds
// are written out with the message schedule in 16 locals: measured in V8 (node 20, CPU time) that ran at
// about 410 MiB/s against 330 for a loop over a schedule in memory and 180 for the TypeScript rounds
// (docs/performance.md, "The page").

/** SCRATCH_BYTES of input at sha256Scratch() + 64, the 8-word state at sha256Scratch() (static: the host's allocator never hands them out). */
export const SCRATCH_BYTES: u32 = 16384;
const SCRATCH = memory.data(64 + SCRATCH_BYTES, 64);

export function sha256Scratch(): usize {
  return SCRATCH;
}

/** Compresses `blocks` blocks at `data` into the state at `state` (8 u32, as numbers). */
export function sha256Blocks(state: usize, data: usize, blocks: u32): void {
  let h0 = load<u32>(state, 0), h1 = load<u32>(state, 4), h2 = load<u32>(state, 8), h3 = load<u32>(state, 12);
  let h4 = load<u32>(state, 16), h5 = load<u32>(state, 20), h6 = load<u32>(state, 24), h7 = load<u32>(state, 28);
  for (let p = data, end = data + (<usize>blocks << 6); p < end; p += 64) {
    let w0 = bswap<u32>(load<u32>(p, 0)), w1 = bswap<u32>(load<u32>(p, 4)), w2 = bswap<u32>(load<u32>(p, 8)), w3 = bswap<u32>(load<u32>(p, 12));
    let w4 = bswap<u32>(load<u32>(p, 16)), w5 = bswap<u32>(load<u32>(p, 20)), w6 = bswap<u32>(load<u32>(p, 24)), w7 = bswap<u32>(load<u32>(p, 28));
    let w8 = bswap<u32>(load<u32>(p, 32)), w9 = bswap<u32>(load<u32>(p, 36)), w10 = bswap<u32>(load<u32>(p, 40)), w11 = bswap<u32>(load<u32>(p, 44));
    let w12 = bswap<u32>(load<u32>(p, 48)), w13 = bswap<u32>(load<u32>(p, 52)), w14 = bswap<u32>(load<u32>(p, 56)), w15 = bswap<u32>(load<u32>(p, 60));
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    let t1: u32;
    t1 = h + S1(e) + ch(e, f, g) + 0x428a2f98 + w0; d += t1; h = t1 + S0(a) + maj(a, b, c);
    t1 = g + S1(d) + ch(d, e, f) + 0x71374491 + w1; c += t1; g = t1 + S0(h) + maj(h, a, b);
    t1 = f + S1(c) + ch(c, d, e) + 0xb5c0fbcf + w2; b += t1; f = t1 + S0(g) + maj(g, h, a);
    t1 = e + S1(b) + ch(b, c, d) + 0xe9b5dba5 + w3; a += t1; e = t1 + S0(f) + maj(f, g, h);
    t1 = d + S1(a) + ch(a, b, c) + 0x3956c25b + w4; h += t1; d = t1 + S0(e) + maj(e, f, g);
    t1 = c + S1(h) + ch(h, a, b) + 0x59f111f1 + w5; g += t1; c = t1 + S0(d) + maj(d, e, f);
    t1 = b + S1(g) + ch(g, h, a) + 0x923f82a4 + w6; f += t1; b = t1 + S0(c) + maj(c, d, e);
    t1 = a + S1(f) + ch(f, g, h) + 0xab1c5ed5 + w7; e += t1; a = t1 + S0(b) + maj(b, c, d);
    t1 = h + S1(e) + ch(e, f, g) + 0xd807aa98 + w8; d += t1; h = t1 + S0(a) + maj(a, b, c);
    t1 = g + S1(d) + ch(d, e, f) + 0x12835b01 + w9; c += t1; g = t1 + S0(h) + maj(h, a, b);
    t1 = f + S1(c) + ch(c, d, e) + 0x243185be + w10; b += t1; f = t1 + S0(g) + maj(g, h, a);
    t1 = e + S1(b) + ch(b, c, d) + 0x550c7dc3 + w11; a += t1; e = t1 + S0(f) + maj(f, g, h);
    t1 = d + S1(a) + ch(a, b, c) + 0x72be5d74 + w12; h += t1; d = t1 + S0(e) + maj(e, f, g);
    t1 = c + S1(h) + ch(h, a, b) + 0x80deb1fe + w13; g += t1; c = t1 + S0(d) + maj(d, e, f);
    t1 = b + S1(g) + ch(g, h, a) + 0x9bdc06a7 + w14; f += t1; b = t1 + S0(c) + maj(c, d, e);
    t1 = a + S1(f) + ch(f, g, h) + 0xc19bf174 + w15; e += t1; a = t1 + S0(b) + maj(b, c, d);
    w0 += s0(w1) + w9 + s1(w14);
    t1 = h + S1(e) + ch(e, f, g) + 0xe49b69c1 + w0; d += t1; h = t1 + S0(a) + maj(a, b, c);
    w1 += s0(w2) + w10 + s1(w15);
    t1 = g + S1(d) + ch(d, e, f) + 0xefbe4786 + w1; c += t1; g = t1 + S0(h) + maj(h, a, b);
    w2 += s0(w3) + w11 + s1(w0);
    t1 = f + S1(c) + ch(c, d, e) + 0x0fc19dc6 + w2; b += t1; f = t1 + S0(g) + maj(g, h, a);
    w3 += s0(w4) + w12 + s1(w1);
    t1 = e + S1(b) + ch(b, c, d) + 0x240ca1cc + w3; a += t1; e = t1 + S0(f) + maj(f, g, h);
    w4 += s0(w5) + w13 + s1(w2);
    t1 = d + S1(a) + ch(a, b, c) + 0x2de92c6f + w4; h += t1; d = t1 + S0(e) + maj(e, f, g);
    w5 += s0(w6) + w14 + s1(w3);
    t1 = c + S1(h) + ch(h, a, b) + 0x4a7484aa + w5; g += t1; c = t1 + S0(d) + maj(d, e, f);
    w6 += s0(w7) + w15 + s1(w4);
    t1 = b + S1(g) + ch(g, h, a) + 0x5cb0a9dc + w6; f += t1; b = t1 + S0(c) + maj(c, d, e);
    w7 += s0(w8) + w0 + s1(w5);
    t1 = a + S1(f) + ch(f, g, h) + 0x76f988da + w7; e += t1; a = t1 + S0(b) + maj(b, c, d);
    w8 += s0(w9) + w1 + s1(w6);
    t1 = h + S1(e) + ch(e, f, g) + 0x983e5152 + w8; d += t1; h = t1 + S0(a) + maj(a, b, c);
    w9 += s0(w10) + w2 + s1(w7);
    t1 = g + S1(d) + ch(d, e, f) + 0xa831c66d + w9; c += t1; g = t1 + S0(h) + maj(h, a, b);
    w10 += s0(w11) + w3 + s1(w8);
    t1 = f + S1(c) + ch(c, d, e) + 0xb00327c8 + w10; b += t1; f = t1 + S0(g) + maj(g, h, a);
    w11 += s0(w12) + w4 + s1(w9);
    t1 = e + S1(b) + ch(b, c, d) + 0xbf597fc7 + w11; a += t1; e = t1 + S0(f) + maj(f, g, h);
    w12 += s0(w13) + w5 + s1(w10);
    t1 = d + S1(a) + ch(a, b, c) + 0xc6e00bf3 + w12; h += t1; d = t1 + S0(e) + maj(e, f, g);
    w13 += s0(w14) + w6 + s1(w11);
    t1 = c + S1(h) + ch(h, a, b) + 0xd5a79147 + w13; g += t1; c = t1 + S0(d) + maj(d, e, f);
    w14 += s0(w15) + w7 + s1(w12);
    t1 = b + S1(g) + ch(g, h, a) + 0x06ca6351 + w14; f += t1; b = t1 + S0(c) + maj(c, d, e);
    w15 += s0(w0) + w8 + s1(w13);
    t1 = a + S1(f) + ch(f, g, h) + 0x14292967 + w15; e += t1; a = t1 + S0(b) + maj(b, c, d);
    w0 += s0(w1) + w9 + s1(w14);
    t1 = h + S1(e) + ch(e, f, g) + 0x27b70a85 + w0; d += t1; h = t1 + S0(a) + maj(a, b, c);
    w1 += s0(w2) + w10 + s1(w15);
    t1 = g + S1(d) + ch(d, e, f) + 0x2e1b2138 + w1; c += t1; g = t1 + S0(h) + maj(h, a, b);
    w2 += s0(w3) + w11 + s1(w0);
    t1 = f + S1(c) + ch(c, d, e) + 0x4d2c6dfc + w2; b += t1; f = t1 + S0(g) + maj(g, h, a);
    w3 += s0(w4) + w12 + s1(w1);
    t1 = e + S1(b) + ch(b, c, d) + 0x53380d13 + w3; a += t1; e = t1 + S0(f) + maj(f, g, h);
    w4 += s0(w5) + w13 + s1(w2);
    t1 = d + S1(a) + ch(a, b, c) + 0x650a7354 + w4; h += t1; d = t1 + S0(e) + maj(e, f, g);
    w5 += s0(w6) + w14 + s1(w3);
    t1 = c + S1(h) + ch(h, a, b) + 0x766a0abb + w5; g += t1; c = t1 + S0(d) + maj(d, e, f);
    w6 += s0(w7) + w15 + s1(w4);
    t1 = b + S1(g) + ch(g, h, a) + 0x81c2c92e + w6; f += t1; b = t1 + S0(c) + maj(c, d, e);
    w7 += s0(w8) + w0 + s1(w5);
    t1 = a + S1(f) + ch(f, g, h) + 0x92722c85 + w7; e += t1; a = t1 + S0(b) + maj(b, c, d);
    w8 += s0(w9) + w1 + s1(w6);
    t1 = h + S1(e) + ch(e, f, g) + 0xa2bfe8a1 + w8; d += t1; h = t1 + S0(a) + maj(a, b, c);
    w9 += s0(w10) + w2 + s1(w7);
    t1 = g + S1(d) + ch(d, e, f) + 0xa81a664b + w9; c += t1; g = t1 + S0(h) + maj(h, a, b);
    w10 += s0(w11) + w3 + s1(w8);
    t1 = f + S1(c) + ch(c, d, e) + 0xc24b8b70 + w10; b += t1; f = t1 + S0(g) + maj(g, h, a);
    w11 += s0(w12) + w4 + s1(w9);
    t1 = e + S1(b) + ch(b, c, d) + 0xc76c51a3 + w11; a += t1; e = t1 + S0(f) + maj(f, g, h);
    w12 += s0(w13) + w5 + s1(w10);
    t1 = d + S1(a) + ch(a, b, c) + 0xd192e819 + w12; h += t1; d = t1 + S0(e) + maj(e, f, g);
    w13 += s0(w14) + w6 + s1(w11);
    t1 = c + S1(h) + ch(h, a, b) + 0xd6990624 + w13; g += t1; c = t1 + S0(d) + maj(d, e, f);
    w14 += s0(w15) + w7 + s1(w12);
    t1 = b + S1(g) + ch(g, h, a) + 0xf40e3585 + w14; f += t1; b = t1 + S0(c) + maj(c, d, e);
    w15 += s0(w0) + w8 + s1(w13);
    t1 = a + S1(f) + ch(f, g, h) + 0x106aa070 + w15; e += t1; a = t1 + S0(b) + maj(b, c, d);
    w0 += s0(w1) + w9 + s1(w14);
    t1 = h + S1(e) + ch(e, f, g) + 0x19a4c116 + w0; d += t1; h = t1 + S0(a) + maj(a, b, c);
    w1 += s0(w2) + w10 + s1(w15);
    t1 = g + S1(d) + ch(d, e, f) + 0x1e376c08 + w1; c += t1; g = t1 + S0(h) + maj(h, a, b);
    w2 += s0(w3) + w11 + s1(w0);
    t1 = f + S1(c) + ch(c, d, e) + 0x2748774c + w2; b += t1; f = t1 + S0(g) + maj(g, h, a);
    w3 += s0(w4) + w12 + s1(w1);
    t1 = e + S1(b) + ch(b, c, d) + 0x34b0bcb5 + w3; a += t1; e = t1 + S0(f) + maj(f, g, h);
    w4 += s0(w5) + w13 + s1(w2);
    t1 = d + S1(a) + ch(a, b, c) + 0x391c0cb3 + w4; h += t1; d = t1 + S0(e) + maj(e, f, g);
    w5 += s0(w6) + w14 + s1(w3);
    t1 = c + S1(h) + ch(h, a, b) + 0x4ed8aa4a + w5; g += t1; c = t1 + S0(d) + maj(d, e, f);
    w6 += s0(w7) + w15 + s1(w4);
    t1 = b + S1(g) + ch(g, h, a) + 0x5b9cca4f + w6; f += t1; b = t1 + S0(c) + maj(c, d, e);
    w7 += s0(w8) + w0 + s1(w5);
    t1 = a + S1(f) + ch(f, g, h) + 0x682e6ff3 + w7; e += t1; a = t1 + S0(b) + maj(b, c, d);
    w8 += s0(w9) + w1 + s1(w6);
    t1 = h + S1(e) + ch(e, f, g) + 0x748f82ee + w8; d += t1; h = t1 + S0(a) + maj(a, b, c);
    w9 += s0(w10) + w2 + s1(w7);
    t1 = g + S1(d) + ch(d, e, f) + 0x78a5636f + w9; c += t1; g = t1 + S0(h) + maj(h, a, b);
    w10 += s0(w11) + w3 + s1(w8);
    t1 = f + S1(c) + ch(c, d, e) + 0x84c87814 + w10; b += t1; f = t1 + S0(g) + maj(g, h, a);
    w11 += s0(w12) + w4 + s1(w9);
    t1 = e + S1(b) + ch(b, c, d) + 0x8cc70208 + w11; a += t1; e = t1 + S0(f) + maj(f, g, h);
    w12 += s0(w13) + w5 + s1(w10);
    t1 = d + S1(a) + ch(a, b, c) + 0x90befffa + w12; h += t1; d = t1 + S0(e) + maj(e, f, g);
    w13 += s0(w14) + w6 + s1(w11);
    t1 = c + S1(h) + ch(h, a, b) + 0xa4506ceb + w13; g += t1; c = t1 + S0(d) + maj(d, e, f);
    w14 += s0(w15) + w7 + s1(w12);
    t1 = b + S1(g) + ch(g, h, a) + 0xbef9a3f7 + w14; f += t1; b = t1 + S0(c) + maj(c, d, e);
    w15 += s0(w0) + w8 + s1(w13);
    t1 = a + S1(f) + ch(f, g, h) + 0xc67178f2 + w15; e += t1; a = t1 + S0(b) + maj(b, c, d);
    h0 += a; h1 += b; h2 += c; h3 += d; h4 += e; h5 += f; h6 += g; h7 += h;
  }
  store<u32>(state, h0, 0); store<u32>(state, h1, 4); store<u32>(state, h2, 8); store<u32>(state, h3, 12);
  store<u32>(state, h4, 16); store<u32>(state, h5, 20); store<u32>(state, h6, 24); store<u32>(state, h7, 28);
}

// @ts-ignore: decorator
@inline function S0(x: u32): u32 { return rotr<u32>(x, 2) ^ rotr<u32>(x, 13) ^ rotr<u32>(x, 22); }
// @ts-ignore: decorator
@inline function S1(x: u32): u32 { return rotr<u32>(x, 6) ^ rotr<u32>(x, 11) ^ rotr<u32>(x, 25); }
// @ts-ignore: decorator
@inline function s0(x: u32): u32 { return rotr<u32>(x, 7) ^ rotr<u32>(x, 18) ^ (x >>> 3); }
// @ts-ignore: decorator
@inline function s1(x: u32): u32 { return rotr<u32>(x, 17) ^ rotr<u32>(x, 19) ^ (x >>> 10); }
// @ts-ignore: decorator
@inline function ch(x: u32, y: u32, z: u32): u32 { return (x & y) ^ (~x & z); }
// @ts-ignore: decorator
@inline function maj(x: u32, y: u32, z: u32): u32 { return (x & y) ^ (x & z) ^ (y & z); }

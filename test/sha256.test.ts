// The platform-free SHA-256 the browser path hashes its outputs with, against node:crypto: every length
// around the padding boundaries, fed in random pieces; with the TypeScript rounds and with both kernel
// builds' wasm rounds (the bytes in JS memory, through the scratch, and in wasm memory, in place).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { Sha256 } from '../build/js/formats/sha256.js';
import { BUILDS } from './helpers/kernels.js';

function pseudoRandom(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

test('equals node:crypto for lengths around the 55/56/64-byte padding edges and beyond, in any pieces', () => {
  for (const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 65_537]) {
    const bytes = pseudoRandom(n, n + 7);
    const want = createHash('sha256').update(bytes).digest('hex');
    assert.is(new Sha256().update(bytes).hex(), want, `${n} bytes at once`);
    const h = new Sha256();
    for (let i = 0, step = 1; i < n; i += step, step = (step * 7 + 3) % 97 || 1) h.update(bytes.subarray(i, Math.min(n, i + step)));
    assert.is(h.hex(), want, `${n} bytes in pieces`);
  }
});

test('the known answer for "abc" (FIPS 180-4)', () => {
  assert.is(new Sha256().update(new TextEncoder().encode('abc')).hex(), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('saved and resumed (another thread goes on with a hash) at any length, through a structured clone: the same digest', () => {
  const bytes = pseudoRandom(5000, 3);
  const want = createHash('sha256').update(bytes).digest('hex');
  for (const cut of [0, 1, 55, 56, 63, 64, 65, 127, 128, 129, 4095, 4999, 5000]) {
    for (const second of [cut, Math.min(5000, cut + 200)]) {
      let state = structuredClone(new Sha256().update(bytes.subarray(0, cut)).save());
      state = structuredClone(Sha256.resume(state).update(bytes.subarray(cut, second)).save());
      assert.is(Sha256.resume(state).update(bytes.subarray(second)).hex(), want, `cut at ${cut} and ${second}`);
    }
  }
});

for (const [flavor, k] of BUILDS) {
  test(`${flavor} kernels' rounds equal node:crypto, bytes in JS memory and in wasm memory, in any pieces`, () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 127, 128, 16_383, 16_384, 16_385, 16_448, 50_001, 262_144 + 17]) {
      const bytes = pseudoRandom(n, n + 11);
      const want = createHash('sha256').update(bytes).digest('hex');
      assert.is(new Sha256(k.sha256).update(bytes).hex(), want, `${n} bytes at once`);
      k.reset();
      const inWasm = k.u8(k.alloc(n + 1, 64) + 1, n); // not 64-byte aligned either
      inWasm.set(bytes);
      assert.is(new Sha256(k.sha256).update(inWasm).hex(), want, `${n} bytes in wasm memory`);
      const h = new Sha256(k.sha256);
      for (let i = 0, step = 1; i < n; i += step, step = (step * 7919 + 3) % 40_000 || 1) h.update((i % 2 ? bytes : inWasm).subarray(i, Math.min(n, i + step)));
      assert.is(h.hex(), want, `${n} bytes in pieces`);
      k.reset();
    }
  });
}

test.run();

// Micro-benchmark of the wasm kernels: SIMD build vs scalar build vs plain JavaScript, 16M
// elements, bf16 input; then the packers and convertFloats, SIMD vs scalar (G values/s, values =
// ternary inputs, or elements converted). Run after `npm run build`: node scripts/bench-kernels.mjs [elements]
// Each kernel runs once to warm up, then REPS times; the best time counts. The plain JS versions
// follow the same rules (same results, checked) and are written for speed within plain JS
// (typed arrays, branch-free ternary decisions: with branches they are 4x slower on real weights).
import { DType, PACKINGS, Rounding, compileKernels, instantiateKernels } from '../build/js/kernels/index.js';

const N = Number(process.argv[2] ?? 16 * 1024 * 1024);
const COLS = 4096; // row length (a multiple of 256, as every packing needs); N is rounded down to whole rows
const ROWS = Math.floor(N / COLS);
const n = ROWS * COLS;
const REPS = 5;

// ---- input: bf16 weights ~ N(0, 0.02), and the scale the reference rule gives for them
function makeWeights() {
  let seed = 12345;
  const next = () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const bf16 = new Uint16Array(n);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < n; i++) {
    f[0] = (next() + next() + next() + next() - 2) * 0.035;
    bf16[i] = u[0] >>> 16;
  }
  return bf16;
}
const bf16Round = (x) => {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  u[0] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) & 0xffff0000;
  return f[0];
};

// ---- plain JS implementations (same semantics as the kernels)
const js = {
  widen(src, dst) {
    for (let i = 0; i < src.length; i++) dst[i] = src[i] << 16;
  },
  absSum(src) {
    // 8 f64 lanes (lane = i % 8), then ((l0 + l1) + l2) + ... + l7: the kernels' order
    const blockBits = new Uint32Array(4096);
    const block = new Float32Array(blockBits.buffer);
    let l0 = 0, l1 = 0, l2 = 0, l3 = 0, l4 = 0, l5 = 0, l6 = 0, l7 = 0;
    let tail = [];
    for (let start = 0; start < src.length; start += 4096) {
      const len = Math.min(4096, src.length - start);
      for (let i = 0; i < len; i++) blockBits[i] = (src[start + i] & 0x7fff) << 16;
      let i = 0;
      for (; i + 8 <= len; i += 8) {
        l0 += block[i]; l1 += block[i + 1]; l2 += block[i + 2]; l3 += block[i + 3];
        l4 += block[i + 4]; l5 += block[i + 5]; l6 += block[i + 6]; l7 += block[i + 7];
      }
      tail = Array.from(block.subarray(i, len)); // 4096-blocks keep i % 8 == global index % 8
    }
    const lanes = [l0, l1, l2, l3, l4, l5, l6, l7];
    tail.forEach((v, k) => { lanes[k] += v; });
    let total = lanes[0];
    for (let k = 1; k < 8; k++) total += lanes[k];
    return total;
  },
  quantize(src, s, dst) {
    const t = 0.501953125; // bf16 rounding folded into the threshold, as in the kernels
    const blockBits = new Uint32Array(4096);
    const block = new Float32Array(blockBits.buffer);
    for (let start = 0; start < src.length; start += 4096) {
      const len = Math.min(4096, src.length - start);
      for (let i = 0; i < len; i++) blockBits[i] = src[start + i] << 16;
      for (let i = 0; i < len; i++) {
        const y = Math.fround(block[i] * s);
        dst[start + i] = (y > t) - (y < -t); // branch-free: 3 outcomes are unpredictable
      }
    }
  },
  packRows(src, rows, cols, dst) {
    const wpr = Math.ceil(cols / 16);
    let bad = 0;
    for (let r = 0; r < rows; r++) {
      for (let g = 0; g < wpr; g++) {
        let w = 0;
        const base = r * cols + g * 16;
        const k = Math.min(16, cols - g * 16);
        for (let j = 0; j < k; j++) {
          const v = src[base + j];
          w |= ((v === 1) | ((v === -1) << 1)) << (2 * j);
          bad += (v + 1) >>> 0 > 2;
        }
        dst[r * wpr + g] = w;
      }
    }
    return bad;
  },
  quantizePackRows(src, rows, cols, s, dst) {
    const t = 0.501953125;
    const wpr = Math.ceil(cols / 16);
    const rowBits = new Uint32Array(cols);
    const row = new Float32Array(rowBits.buffer);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) rowBits[c] = src[r * cols + c] << 16;
      for (let g = 0; g < wpr; g++) {
        let w = 0;
        const k = Math.min(16, cols - g * 16);
        for (let j = 0; j < k; j++) {
          const y = Math.fround(row[g * 16 + j] * s);
          w |= ((y > t) | ((y < -t) << 1)) << (2 * j);
        }
        dst[r * wpr + g] = w;
      }
    }
  },
  varint(src, dst) {
    let o = 0;
    for (let i = 0; i < src.length; i++) {
      const v = src[i];
      if (v < 251) dst[o++] = v;
      else if (v < 65536) { dst[o] = 0xfb; dst[o + 1] = v & 0xff; dst[o + 2] = v >>> 8; o += 3; }
      else { dst[o] = 0xfc; dst[o + 1] = v & 0xff; dst[o + 2] = (v >>> 8) & 0xff; dst[o + 3] = (v >>> 16) & 0xff; dst[o + 4] = v >>> 24; o += 5; }
    }
    return o;
  },
};

function best(fn) {
  fn();
  let min = Infinity;
  for (let r = 0; r < REPS; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    min = Math.min(min, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return min;
}

const weights = makeWeights();
let sumAbs = 0;
for (let i = 0; i < n; i += 64) sumAbs += Math.abs(new Float32Array(new Uint32Array([weights[i] << 16]).buffer)[0]);
const s = bf16Round(1 / bf16Round(sumAbs / Math.ceil(n / 64)));
const words = ROWS * (COLS / 16);

const results = {}; // kernel -> { simd, scalar, js } in G elements/s
const results2 = {}; // packers and convertFloats: kernel -> { simd, scalar }
const packed2 = {}; // flavor -> kernel -> output bytes, to cross-check

/**
 * The packers on this tensor's ternaries (q: ROWS x COLS i8 at a pointer) and convertFloats on its
 * bf16 (src) and f32 (f32) copies; each packer's output is kept for the cross-check.
 */
function benchPackers(k, flavor, q, f32, src) {
  const e = k.exports;
  const out = {};
  const run = (name, bytes, fn) => {
    const dst = k.alloc(bytes);
    ((results2[name] ??= {})[flavor] = n / best(() => fn(dst)) / 1e9);
    out[name] = k.u8(dst, bytes).slice();
    return dst;
  };
  // packHfU8 reads q as its four bands (ROWS/4 packed rows); unpackHfU8 counts all four quarters
  run('packHfU8', PACKINGS['hf-u8'].bytes(ROWS, COLS), (dst) => e.packHfU8(q, ROWS / 4, COLS, dst));
  const hf = k.alloc(n / 4);
  e.packHfU8(q, ROWS / 4, COLS, hf);
  run('unpackHfU8 (x4)', n, (dst) => { for (let quarter = 0; quarter < 4; quarter++) e.unpackHfU8(hf, ROWS / 4, COLS, quarter, dst + quarter * (n / 4)); });
  run('packMsInt2', PACKINGS['ms-int2'].bytes(ROWS, COLS), (dst) => e.packMsInt2(q, ROWS, COLS, dst));
  run('packTq2_0', PACKINGS.tq2_0.bytes(ROWS, COLS), (dst) => e.packTq2_0(q, ROWS, COLS, 0x3c00, dst));
  run('packTq1_0', PACKINGS.tq1_0.bytes(ROWS, COLS), (dst) => e.packTq1_0(q, ROWS, COLS, 0x3c00, dst));
  const i2s = run('packI2s', PACKINGS.i2_s.bytes(ROWS, COLS), (dst) => e.packI2s(q, ROWS, COLS, dst));
  run('packQ2_0', PACKINGS.q2_0.bytes(ROWS, COLS), (dst) => e.packQ2_0(q, ROWS, COLS, 0x3c00, dst));
  // the .gguf input's decoder (I2_S codes back to i8 values)
  run('unpackI2s', n, (dst) => e.unpackI2s(i2s, n, dst));
  const f16 = run('convert BF16->F16', n * 2, (dst) => e.convertFloats(DType.BF16, src, n, DType.F16, dst));
  run('convert F16->BF16', n * 2, (dst) => e.convertFloats(DType.F16, f16, n, DType.BF16, dst));
  run('convert F32->F16', n * 2, (dst) => e.convertFloats(DType.F32, f32, n, DType.F16, dst));
  run('convert F32->BF16', n * 2, (dst) => e.convertFloats(DType.F32, f32, n, DType.BF16, dst));
  return out;
}

const record = (kernel, impl, seconds) => ((results[kernel] ??= {})[impl] = n / seconds / 1e9);
const outputs = {}; // impl -> results to cross-check

for (const flavor of ['simd', 'scalar']) {
  const k = await instantiateKernels((await compileKernels(flavor)).module);
  const src = k.alloc(n * 2);
  const f32 = k.alloc(n * 4);
  const q = k.alloc(n);
  const packed = k.alloc(words * 4);
  const vsrc = k.alloc(n * 4);
  const vdst = k.alloc(n * 5);
  k.u16(src, n).set(weights);
  const e = k.exports;
  record('widen', flavor, best(() => e.widen(DType.BF16, src, n, f32)));
  let sum = 0;
  record('absSum', flavor, best(() => { sum = e.absSum(DType.BF16, src, n); }));
  record('quantize', flavor, best(() => e.quantize(DType.BF16, Rounding.BF16, src, n, s, q)));
  let bad = 0;
  record('packRows', flavor, best(() => { bad = e.packRows(q, ROWS, COLS, packed); }));
  record('quantizePackRows', flavor, best(() => e.quantizePackRows(DType.BF16, Rounding.BF16, src, ROWS, COLS, s, packed)));
  // varint input: the packed words of this tensor, tiled to n values (mostly 5-byte varints)
  const pw = k.u32(packed, words);
  const vin = k.u32(vsrc, n);
  for (let i = 0; i < n; i += words) vin.set(pw.subarray(0, Math.min(words, n - i)), i);
  let vbytes = 0;
  record('varintEncodeU32', flavor, best(() => { vbytes = e.varintEncodeU32(vsrc, n, vdst); }));
  outputs[flavor] = {
    widen: k.u32(f32, n).slice(), sum, q: k.i8(q, n).slice(), bad, packed: k.u32(packed, words).slice(),
    varint: k.u8(vdst, vbytes).slice(), vin: k.u32(vsrc, n).slice(),
  };
  packed2[flavor] = benchPackers(k, flavor, q, f32, src);
}

{
  const widened = new Uint32Array(n);
  record('widen', 'js', best(() => js.widen(weights, widened)));
  let sum = 0;
  record('absSum', 'js', best(() => { sum = js.absSum(weights); }));
  const q = new Int8Array(n);
  record('quantize', 'js', best(() => js.quantize(weights, s, q)));
  const packed = new Uint32Array(words);
  let bad = 0;
  record('packRows', 'js', best(() => { bad = js.packRows(q, ROWS, COLS, packed); }));
  const fused = new Uint32Array(words);
  record('quantizePackRows', 'js', best(() => js.quantizePackRows(weights, ROWS, COLS, s, fused)));
  const vdst = new Uint8Array(n * 5);
  let vbytes = 0;
  const vin = outputs.simd.vin;
  record('varintEncodeU32', 'js', best(() => { vbytes = js.varint(vin, vdst); }));
  outputs.js = { widen: widened, sum, q, bad, packed: fused, varint: vdst.subarray(0, vbytes) };
}

// cross-check: all three implementations agree
const same = (a, b) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
for (const impl of ['scalar', 'js']) {
  const a = outputs.simd;
  const b = outputs[impl];
  const bad = ['widen', 'q', 'packed', 'varint'].filter((key) => !same(a[key], b[key]));
  if (!Object.is(a.sum, b.sum)) bad.push('absSum');
  if (a.bad !== 0 || b.bad !== 0) bad.push('packRows invalid count');
  if (bad.length) {
    console.error(`MISMATCH simd vs ${impl}: ${bad.join(', ')}`);
    process.exitCode = 1;
  }
}

const pad = (v, w) => String(v).padStart(w);
console.log(`kernels, ${n.toLocaleString('en')} bf16 elements (${ROWS} x ${COLS}), best of ${REPS}, G elements/s, ${process.version}`);
console.log(`${'kernel'.padEnd(18)}${pad('simd', 9)}${pad('scalar', 9)}${pad('js', 9)}${pad('simd/scalar', 13)}${pad('simd/js', 9)}`);
for (const [kernel, r] of Object.entries(results)) {
  console.log(
    `${kernel.padEnd(18)}${pad(r.simd.toFixed(2), 9)}${pad(r.scalar.toFixed(2), 9)}${pad(r.js.toFixed(2), 9)}` +
      `${pad((r.simd / r.scalar).toFixed(1) + 'x', 13)}${pad((r.simd / r.js).toFixed(1) + 'x', 9)}`,
  );
}
console.log(`(varintEncodeU32 input: this tensor's packed words tiled to ${n.toLocaleString('en')} u32; all outputs cross-checked equal)`);

for (const [kernel, bytes] of Object.entries(packed2.simd)) {
  if (!same(bytes, packed2.scalar[kernel])) {
    console.error(`MISMATCH simd vs scalar: ${kernel}`);
    process.exitCode = 1;
  }
}
console.log(`\npackers (this tensor's ${n.toLocaleString('en')} ternaries) and convertFloats (its weights), G values/s`);
console.log(`${'kernel'.padEnd(20)}${pad('simd', 9)}${pad('scalar', 9)}${pad('simd/scalar', 13)}`);
for (const [kernel, r] of Object.entries(results2)) {
  console.log(`${kernel.padEnd(20)}${pad(r.simd.toFixed(2), 9)}${pad(r.scalar.toFixed(2), 9)}${pad((r.simd / r.scalar).toFixed(1) + 'x', 13)}`);
}
console.log('(simd and scalar outputs cross-checked equal)');

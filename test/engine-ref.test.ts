// The float64 reference forward pass (test/reference/forward-ref.ts) checked against facts that
// need no engine and no GGUF writer: a model computed by hand, causal masking, RoPE properties,
// log-softmax, the ternarization of every input layout, and the "let the blocks matter"
// statistics of docs/gguf.md section 5 for the synthetic checkpoints. Also the
// test-only GGUF writer (test/helpers/gguf-literal.ts) against the container layout byte by byte.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCheckpoint, type LayoutName as Layout } from '../build/js/synth/generate.js';
import type { ModelShape } from '../build/js/synth/presets.js';
import { ENGINE_SHAPE, ENGINE_TOKENS as TOKENS } from './helpers/engine.js';
import { readCheckpointTensors } from './helpers/read-safetensors.js';
import { bitnetF32Gguf, encodeGguf, minimalSpmVocabulary } from './helpers/gguf-literal.js';
import { applyRope, forwardReference, loadReferenceModel, logSoftmax, pearson, type RefModel, type RefProjection, type Variant } from './reference/forward-ref.js';
import { decodeValues, referenceTernary, type Dt } from './reference/ternary-ref.js';

const test = suite('forward reference');
const root = mkdtempSync(join(tmpdir(), 'bitnet-fwdref-'));


const models = new Map<string, string>();
function synth(layout: Layout, shape: ModelShape = ENGINE_SHAPE, seed = 5): string {
  const key = `${layout}-${JSON.stringify(shape)}-${seed}`;
  if (!models.has(key)) {
    const outDir = join(root, `m${models.size}`);
    generateCheckpoint({ outDir, layout, shape, seed });
    models.set(key, outDir);
  }
  return models.get(key)!;
}

const loaded = new Map<string, RefModel>();
function load(layout: Layout): RefModel {
  if (!loaded.has(layout)) loaded.set(layout, loadReferenceModel(synth(layout)));
  return loaded.get(layout)!;
}

const proj = (rows: number, cols: number, q: number[], scale: number): RefProjection => ({ rows, cols, w: Float64Array.from(q, (x) => x * scale), scale });
const ones = (n: number) => new Float64Array(n).fill(1);

/**
 * One layer, hidden 2, one head of 2, intermediate 2, vocab 3, eps 0, relu2. With a single token
 * (position 0: RoPE is the identity, attention returns v), by hand:
 *   x = embed[0] = [1, 1]; attn_norm: rms 1 -> [1, 1]; v = 0.5 * [[1, 0], [0, -1]] [1, 1] = [0.5, -0.5]
 *   attn_sub_norm (weight 2): rms 0.5 -> [2, -2]; o = [[0, 0], [0, 1]] [2, -2] = [0, -2]; h = x + o = [1, -1]
 *   ffn_norm: rms 1 -> [1, -1]; gate = 2 * [[1, 0], [0, -1]] [1, -1] = [2, 2]; up = [[1, 0], [0, -1]] [1, -1] = [1, 1]
 *   relu2(gate) * up = [4, 4]; ffn_sub_norm: rms 4 -> [1, 1]; down = 0.5 * [[1, 0], [1, 1]] [1, 1] = [0.5, 1]
 *   x' = h + down = [1.5, 0]; norm: rms 1.5 / sqrt 2 -> [sqrt 2, 0]
 *   logits = embed [sqrt 2, 0] = [sqrt 2, sqrt 2, 0]  (embed rows [1, 1], [1, -1], [0, 2])
 *   log p = [-log(2 + e^-sqrt2), -log(2 + e^-sqrt2), -log(2 e^sqrt2 + 1)]
 */
function handModel(): RefModel {
  const embed = Float64Array.from([1, 1, 1, -1, 0, 2]);
  return {
    hidden: 2,
    intermediate: 2,
    heads: 1,
    kvHeads: 1,
    headDim: 2,
    vocab: 3,
    eps: 0,
    ropeTheta: 10000,
    act: 'relu2',
    embed,
    head: embed,
    tied: true,
    norm: ones(2),
    layers: [
      {
        attnNorm: ones(2),
        q: proj(2, 2, [1, 0, 0, 1], 1),
        k: proj(2, 2, [1, 0, 0, 1], 1),
        v: proj(2, 2, [1, 0, 0, -1], 0.5),
        o: proj(2, 2, [0, 0, 0, 1], 1),
        attnSubNorm: Float64Array.from([2, 2]),
        ffnNorm: ones(2),
        gate: proj(2, 2, [1, 0, 0, -1], 2),
        up: proj(2, 2, [1, 0, 0, -1], 1),
        down: proj(2, 2, [1, 0, 1, 1], 0.5),
        ffnSubNorm: ones(2),
      },
    ],
  };
}

test('a one-layer model computed by hand', () => {
  const { logits, logprobs } = forwardReference(handModel(), [0]);
  const r2 = Math.SQRT2;
  const expectLogits = [r2, r2, 0];
  const expectLogp = [-Math.log(2 + Math.exp(-r2)), -Math.log(2 + Math.exp(-r2)), -Math.log(2 * Math.exp(r2) + 1)];
  for (let i = 0; i < 3; i++) {
    assert.ok(Math.abs(logits[0][i] - expectLogits[i]) < 1e-12, `logit ${i}: ${logits[0][i]} vs ${expectLogits[i]}`);
    assert.ok(Math.abs(logprobs[0][i] - expectLogp[i]) < 1e-12, `log p ${i}: ${logprobs[0][i]} vs ${expectLogp[i]}`);
  }
});

test('the hand model with SiLU, without sub-norms and without scales: each changes the output as computed by hand', () => {
  const m = handModel();
  // token 0 without sub-norms: attention out [0.5, -0.5] -> o = [0, -0.5], h = [1, 0.5] (instead of [1, -1])
  const full = forwardReference(m, [0]).logits[0];
  const noSub = forwardReference(m, [0], { dropSubNorms: true }).logits[0];
  assert.ok(Math.abs(full[2] - noSub[2]) > 0.1);
  // token 1, by hand: x = [1, -1]; v = [0.5, 0.5] -> sub-norm [2, 2] -> o = [0, 2] -> h = [1, 1];
  //   ffn_norm [1, 1]; gate = [2, -2]; up = [1, -1]
  //   relu2: [4, 0] * [1, -1] = [4, 0] -> sub-norm [sqrt2, 0] -> down 0.5*[sqrt2, sqrt2] -> x' = [1 + sqrt2/2, 1 + sqrt2/2]
  //   silu:  [s(2), s(-2)] * [1, -1] with s(x) = x / (1 + e^-x) -> [1.7616, 0.2384] -> sub-norm -> down -> x' = h + 0.5*[a, a + b]
  const relu = forwardReference(m, [1]).logits[0];
  const xr = 1 + Math.SQRT2 / 2; // x' = [xr, xr]: norm -> [1, 1] -> logits [2, 0, 2]
  assert.ok(Math.abs(relu[0] - 2) < 1e-12 && Math.abs(relu[1]) < 1e-12 && Math.abs(relu[2] - 2) < 1e-12, `relu2 logits ${relu} (x' = [${xr}, ${xr}])`);
  const s = (x: number) => x / (1 + Math.exp(-x));
  const mid = [s(2), -s(-2)];
  const rms = Math.sqrt((mid[0] ** 2 + mid[1] ** 2) / 2);
  const a = mid[0] / rms;
  const b = mid[1] / rms;
  const x = [1 + 0.5 * a, 1 + 0.5 * (a + b)];
  const xrms = Math.sqrt((x[0] ** 2 + x[1] ** 2) / 2);
  const n = [x[0] / xrms, x[1] / xrms];
  const expectSilu = [n[0] + n[1], n[0] - n[1], 2 * n[1]];
  const silu = forwardReference(m, [1], { act: 'silu' }).logits[0];
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(silu[i] - expectSilu[i]) < 1e-12, `silu logit ${i}: ${silu[i]} vs ${expectSilu[i]}`);
  // token 0 ignoring the scales: v's 0.5 and gate's 2 are undone by the sub-norms, down's 0.5 is not:
  //   down = [1, 2] -> x' = [2, 1] -> norm [2, 1] / sqrt 2.5 -> logit 1 = 1 / sqrt 2.5 (instead of sqrt 2)
  assert.ok(Math.abs(forwardReference(m, [0], { ignoreScale: true }).logits[0][1] - 1 / Math.sqrt(2.5)) < 1e-12);
});

test('two positions by hand: attention weights from RoPE-rotated q and k', () => {
  // hidden 2 = one head of 2; q = k = v = identity; no sub-norms; o, gate, up, down zero: the
  // output at position 1 is x1 + attention, with attention = sum_j softmax_j(q1 . k_j / sqrt 2) v_j
  const m = handModel();
  const L = m.layers[0];
  const zero = proj(2, 2, [0, 0, 0, 0], 1);
  L.v = proj(2, 2, [1, 0, 0, 1], 1);
  L.o = proj(2, 2, [1, 0, 0, 1], 1);
  L.attnSubNorm = undefined;
  L.gate = zero;
  L.up = zero;
  L.down = zero;
  L.ffnSubNorm = undefined;
  // tokens 0 then 1: x0 = [1, 1], x1 = [1, -1]; both already rms 1, so the normed inputs equal them
  // RoPE of a 2-vector at position p: rotation by p radians (theta^0 = 1)
  const rot = (v: number[], p: number) => [v[0] * Math.cos(p) - v[1] * Math.sin(p), v[1] * Math.cos(p) + v[0] * Math.sin(p)];
  const q1 = rot([1, -1], 1);
  const k0 = [1, 1];
  const k1 = rot([1, -1], 1);
  const s0 = (q1[0] * k0[0] + q1[1] * k0[1]) / Math.SQRT2;
  const s1 = (q1[0] * k1[0] + q1[1] * k1[1]) / Math.SQRT2;
  const w0 = Math.exp(s0) / (Math.exp(s0) + Math.exp(s1));
  const w1 = 1 - w0;
  const attn = [w0 * 1 + w1 * 1, w0 * 1 + w1 * -1];
  const h = [1 + attn[0], -1 + attn[1]];
  const hr = Math.sqrt((h[0] ** 2 + h[1] ** 2) / 2);
  const n = [h[0] / hr, h[1] / hr];
  const expect = [n[0] + n[1], n[0] - n[1], 2 * n[1]];
  const got = forwardReference(m, [0, 1]).logits[1];
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(got[i] - expect[i]) < 1e-12, `logit ${i}: ${got[i]} vs ${expect[i]}`);
});

test('log-softmax: probabilities sum to 1, shifts do not matter, huge logits do not overflow', () => {
  const l = Float64Array.from([3, -1, 0.5, 1000, 999]);
  const lp = logSoftmax(l);
  assert.ok(Math.abs(lp.reduce((s, x) => s + Math.exp(x), 0) - 1) < 1e-12);
  const shifted = logSoftmax(l.map((x) => x - 123.25));
  lp.forEach((x, i) => assert.ok(Math.abs(x - shifted[i]) < 1e-9));
  assert.ok(Math.abs(lp[3] - -Math.log(1 + Math.exp(-1))) < 1e-12);
  const m = load('1bitllm');
  for (const row of forwardReference(m, TOKENS.slice(0, 4)).logprobs) {
    assert.is(row.length, ENGINE_SHAPE.vocab_size);
    assert.ok(Math.abs(row.reduce((s, x) => s + Math.exp(x), 0) - 1) < 1e-9);
  }
});

test('causal: changing a later token leaves every earlier position unchanged, and changes its own', () => {
  const m = load('1bitllm');
  const a = forwardReference(m, TOKENS.slice(0, 8)).logprobs;
  const changed = TOKENS.slice(0, 8);
  changed[5] = 200;
  const b = forwardReference(m, changed).logprobs;
  for (let i = 0; i < 5; i++) assert.equal(Array.from(a[i]), Array.from(b[i]), `position ${i}`);
  for (let i = 5; i < 8; i++) assert.ok(pearson(a[i], b[i]) < 0.9999, `position ${i} should change`);
  // and a shorter sequence is a prefix of the longer one
  const short = forwardReference(m, TOKENS.slice(0, 3)).logprobs;
  for (let i = 0; i < 3; i++) assert.equal(Array.from(short[i]), Array.from(a[i]));
});

test('RoPE: position 0 is the identity, norms are kept, q.k depends only on the distance, NEOX pairs i with i + d/2', () => {
  const D = 8;
  const heads = 2;
  const rnd = (seed: number) => Float64Array.from({ length: heads * D }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * 3);
  const q = rnd(1);
  const k = rnd(2);
  const at = (v: Float64Array, pos: number, pairing: 'neox' | 'adjacent' = 'neox') => {
    const c = v.slice();
    applyRope(c, heads, D, pos, 10000, pairing);
    return c;
  };
  assert.equal(Array.from(at(q, 0)), Array.from(q));
  const norm = (v: Float64Array) => Math.hypot(...v);
  assert.ok(Math.abs(norm(at(q, 7)) - norm(q)) < 1e-9);
  const dot = (a: Float64Array, b: Float64Array, h: number) => {
    let s = 0;
    for (let d = 0; d < D; d++) s += a[h * D + d] * b[h * D + d];
    return s;
  };
  for (const h of [0, 1]) assert.ok(Math.abs(dot(at(q, 5), at(k, 2), h) - dot(at(q, 13), at(k, 10), h)) < 1e-9);
  // pairing: a vector with only element 0 set rotates into element d/2 (NEOX), element 1 (adjacent)
  const e0 = new Float64Array(heads * D);
  e0[0] = 1;
  const neox = at(e0, 1);
  assert.ok(Math.abs(neox[0] - Math.cos(1)) < 1e-12 && Math.abs(neox[D / 2] - Math.sin(1)) < 1e-12 && neox[1] === 0);
  const adj = at(e0, 1, 'adjacent');
  assert.ok(Math.abs(adj[1] - Math.sin(1)) < 1e-12 && adj[D / 2] === 0);
  // frequencies: pair i turns by pos * theta^(-2i/D)
  const e1 = new Float64Array(heads * D);
  e1[D + 1] = 1; // head 1, pair 1
  const r = at(e1, 3);
  const angle = 3 * Math.pow(10000, -2 / D);
  assert.ok(Math.abs(r[D + 1] - Math.cos(angle)) < 1e-12 && Math.abs(r[D + 1 + D / 2] - Math.sin(angle)) < 1e-12);
});

test('ternarization: float projections are referenceTernary(W) * scale in the weights dtype (master BF16, 1bitllm F32)', () => {
  for (const layout of ['master', '1bitllm'] as const) {
    const dir = synth(layout);
    const m = load(layout);
    const tensors = readCheckpointTensors(dir);
    const names: Array<[keyof typeof m.layers[0], string]> = [['q', 'self_attn.q_proj'], ['k', 'self_attn.k_proj'], ['v', 'self_attn.v_proj'], ['o', 'self_attn.o_proj'], ['gate', 'mlp.gate_proj'], ['up', 'mlp.up_proj'], ['down', 'mlp.down_proj']];
    for (const [key, name] of names) {
      const t = tensors.get(`model.layers.1.${name}.weight`)!;
      const { q, scale } = referenceTernary(decodeValues(t.bytes, t.dtype as Dt), t.dtype as Dt);
      const p = m.layers[1][key] as RefProjection;
      assert.is(p.scale, scale, `${layout} ${name} scale`);
      assert.is(p.rows * p.cols, q.length);
      for (let i = 0; i < q.length; i++) if (p.w[i] !== q[i] * scale) assert.unreachable(`${layout} ${name}[${i}]: ${p.w[i]} vs ${q[i]} * ${scale}`);
    }
    // the head is the float embedding (tied), not ternarized
    assert.ok(m.tied && m.head === m.embed);
    const embed = tensors.get('model.embed_tokens.weight')!;
    assert.equal(Array.from(m.embed.slice(0, 50)), decodeValues(embed.bytes, embed.dtype as Dt).slice(0, 50));
  }
});

test('ternarization: packed U8 projections decode to {-s, 0, +s} with s = weight_scale (autobitlinear) or 1 / weight_scale (bitlinear)', () => {
  for (const [layout, divides] of [['packed', false], ['llama-packed', true]] as const) {
    const dir = synth(layout);
    const m = load(layout);
    const tensors = readCheckpointTensors(dir);
    const stored = decodeValues(tensors.get('model.layers.0.self_attn.o_proj.weight_scale')!.bytes, 'BF16')[0];
    const o = m.layers[0].o;
    assert.is(o.scale, divides ? 1 / stored : stored, layout);
    // the generator forces the first three weights of rows 0, R, 2R, 3R to -1, 0, +1 (R = rows / 4)
    const R = o.rows / 4;
    for (const row of [0, R, 2 * R, 3 * R]) assert.equal(Array.from(o.w.slice(row * o.cols, row * o.cols + 3)), [-o.scale, 0, o.scale], `${layout} row ${row}`);
    for (const x of o.w) if (x !== 0 && x !== o.scale && x !== -o.scale) assert.unreachable(`${layout}: value ${x}`);
    assert.is(m.tied, layout === 'packed');
    assert.is(m.layers[0].attnSubNorm !== undefined, layout === 'packed');
  }
});

/** The smallest per-position correlation between two runs. */
function minCorrelation(a: Float64Array[], b: Float64Array[]): number {
  return Math.min(...a.map((row, i) => pearson(row, b[i])));
}

function std(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m += a[i];
  m /= a.length;
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - m) ** 2;
  return Math.sqrt(s / a.length);
}

const MISTAKES: Array<[string, Variant]> = [
  ['sub-norms dropped', { dropSubNorms: true }],
  ['RoPE pairs adjacent', { ropePairing: 'adjacent' }],
  ['scale ignored', { ignoreScale: true }],
];

test('the blocks matter in the 1bitllm and packed synth models (docs/gguf.md 5): weight stds 0.25 / 0.05 / 0.03 and every mistake below 0.999', () => {
  for (const layout of ['1bitllm', 'packed'] as const) {
    const dir = synth(layout);
    const tensors = readCheckpointTensors(dir);
    const embed = tensors.get('model.embed_tokens.weight')!;
    assert.ok(Math.abs(std(decodeValues(embed.bytes, embed.dtype as Dt)) - 0.25) < 0.01, `${layout} embedding std`);
    if (layout === '1bitllm') {
      const sd = (n: string) => std(decodeValues(tensors.get(`model.layers.0.${n}.weight`)!.bytes, 'F32'));
      assert.ok(Math.abs(sd('self_attn.q_proj') - 0.05) < 0.003 && Math.abs(sd('self_attn.k_proj') - 0.05) < 0.003);
      for (const n of ['self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj']) assert.ok(Math.abs(sd(n) - 0.03) < 0.002, n);
    }
    const m = load(layout);
    const right = forwardReference(m, TOKENS).logprobs;
    const wrongAct = m.act === 'silu' ? 'relu2' : 'silu';
    for (const [what, variant] of [...MISTAKES, [`${wrongAct} instead of ${m.act}`, { act: wrongAct }] as [string, Variant]]) {
      const c = minCorrelation(right, forwardReference(m, TOKENS, variant).logprobs);
      assert.ok(c < 0.999, `${layout}: ${what}: correlation ${c} should be below 0.999`);
    }
    // far from the engine's f32 underflow (p = 0 below about e^-103)
    const lowest = Math.min(...right.map((r) => Math.min(...r)));
    assert.ok(lowest > -80, `${layout}: lowest log p ${lowest}`);
  }
});

test('the master synth layout does NOT let the blocks matter: every weight (embedding too) has std 0.016, a wrong RoPE pairing stays above 0.999', () => {
  // recorded so that nobody uses master-layout synth models to check an engine: its weights keep
  // the bytes the golden tests pin (one width, 0.04, for every tensor: std 0.04 / sqrt 6)
  const dir = synth('master');
  const tensors = readCheckpointTensors(dir);
  const embed = tensors.get('model.embed_tokens.weight')!;
  assert.ok(Math.abs(std(decodeValues(embed.bytes, 'BF16')) - 0.04 / Math.sqrt(6)) < 0.001);
  const m = load('master');
  const right = forwardReference(m, TOKENS).logprobs;
  assert.ok(minCorrelation(right, forwardReference(m, TOKENS, { ropePairing: 'adjacent' }).logprobs) > 0.999);
  assert.ok(minCorrelation(right, forwardReference(m, TOKENS, { dropSubNorms: true }).logprobs) < 0.999);
  // near-uniform next-token distributions: the largest probability is a few times 1/vocab
  assert.ok(Math.max(...right.map((r) => Math.exp(Math.max(...r)))) < 10 / ENGINE_SHAPE.vocab_size);
});

test('pearson: 1 for affine copies, -1 for negated, 0 for orthogonal', () => {
  const a = [1, 2, 3, 4, 5];
  assert.ok(Math.abs(pearson(a, a.map((x) => 3 * x - 7)) - 1) < 1e-12);
  assert.ok(Math.abs(pearson(a, a.map((x) => -x)) + 1) < 1e-12);
  assert.ok(Math.abs(pearson([1, -1, 1, -1], [1, 1, -1, -1])) < 1e-12);
});

test('gguf-literal: header, key/values, tensor infos and 32-byte aligned data, byte by byte', () => {
  const bytes = encodeGguf({
    kv: [
      ['general.architecture', 'string', 'bitnet'],
      ['a.n', 'u32', 7],
      ['a.list', 'i32[]', [1, -2]],
    ],
    tensors: [
      { name: 'x', ne: [3], type: 'F32', data: [1, 2, 3] },
      { name: 'y', ne: [2, 1], type: 'F16', data: [1, -2] },
    ],
  });
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  const u32 = () => ((o += 4), v.getUint32(o - 4, true));
  const u64 = () => ((o += 8), Number(v.getBigUint64(o - 8, true)));
  const str = () => {
    const n = u64();
    o += n;
    return new TextDecoder().decode(bytes.subarray(o - n, o));
  };
  assert.is(new TextDecoder().decode(bytes.subarray(0, 4)), 'GGUF');
  o = 4;
  assert.is(u32(), 3);
  assert.is(u64(), 2);
  assert.is(u64(), 3);
  assert.is(str(), 'general.architecture');
  assert.is(u32(), 8);
  assert.is(str(), 'bitnet');
  assert.is(str(), 'a.n');
  assert.is(u32(), 4);
  assert.is(u32(), 7);
  assert.is(str(), 'a.list');
  assert.is(u32(), 9);
  assert.is(u32(), 5);
  assert.is(u64(), 2);
  assert.is(v.getInt32(o, true), 1);
  assert.is(v.getInt32(o + 4, true), -2);
  o += 8;
  assert.is(str(), 'x');
  assert.is(u32(), 1);
  assert.is(u64(), 3);
  assert.is(u32(), 0);
  assert.is(u64(), 0);
  assert.is(str(), 'y');
  assert.is(u32(), 2);
  assert.is(u64(), 2);
  assert.is(u64(), 1);
  assert.is(u32(), 1);
  assert.is(u64(), 32); // 12 bytes of x padded to 32
  const data = Math.ceil(o / 32) * 32;
  for (let i = o; i < data; i++) assert.is(bytes[i], 0);
  assert.equal([v.getFloat32(data, true), v.getFloat32(data + 4, true), v.getFloat32(data + 8, true)], [1, 2, 3]);
  assert.equal([v.getUint16(data + 32, true), v.getUint16(data + 34, true)], [0x3c00, 0xc000]);
  assert.is(bytes.length, data + 64); // the last tensor is padded too
});

test('gguf-literal: a bitnet fixture has the key/values and the tensor set llama.cpp expects (docs/gguf.md 2-3)', () => {
  const m = load('1bitllm');
  const f = bitnetF32Gguf(m);
  const keys = new Map(f.kv.map((k) => [k[0], k]));
  for (const k of ['general.architecture', 'bitnet.context_length', 'bitnet.embedding_length', 'bitnet.block_count', 'bitnet.attention.layer_norm_rms_epsilon', 'bitnet.feed_forward_length', 'bitnet.attention.head_count', 'bitnet.attention.head_count_kv', 'bitnet.rope.freq_base', 'tokenizer.ggml.model', 'tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type']) {
    assert.ok(keys.has(k), k);
  }
  assert.equal(keys.get('bitnet.rope.dimension_count')![2], 64);
  const names = f.tensors.map((t) => t.name);
  assert.is(names.length, 2 + 11 * ENGINE_SHAPE.num_hidden_layers);
  assert.ok(!names.includes('output.weight'));
  const byName = new Map(f.tensors.map((t) => [t.name, t]));
  assert.equal(byName.get('token_embd.weight')!.ne, [256, 300]);
  assert.equal(byName.get('blk.1.attn_k.weight')!.ne, [256, 128]);
  assert.equal(byName.get('blk.1.ffn_down.weight')!.ne, [512, 256]);
  assert.equal(byName.get('blk.1.ffn_sub_norm.weight')!.ne, [512]);
  const vocab = minimalSpmVocabulary(259);
  assert.equal([vocab[0].piece, vocab[1].piece, vocab[2].piece, vocab[3].piece, vocab[13].piece, vocab[258].piece], ['<unk>', '<s>', '</s>', '<0x00>', '<0x0A>', '<0xFF>']);
  assert.is(new Set(minimalSpmVocabulary(300).map((t) => t.piece)).size, 300);
});

test.run();

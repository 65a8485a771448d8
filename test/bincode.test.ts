import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BincodeReader, BincodeWriter } from '../build/js/formats/bincode.js';
import {
  decode,
  encode,
  readBitLinear,
  readBlock,
  readModel,
  writeBitLinear,
  writeBlock,
  writeModel,
  type BitLinearRecord,
  type ModelRecord,
  type TransformerBlockRecord,
} from '../build/js/outputs/bitnet-rs/records.js';
import { CorruptFileError } from '../build/js/errors.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex').toUpperCase().match(/../g)!.join(' ');

const example: BitLinearRecord = {
  packedWeights: Uint32Array.from([5, 300, 70000]),
  weightScales: Float32Array.from([1.0]),
  inFeatures: 2,
  outFeatures: 2,
};

test('docs/formats.md worked example: 17 bytes in standard()', () => {
  assert.is(hex(encode(writeBitLinear, example)), '03 05 FB 2C 01 FC 70 11 01 00 01 00 00 80 3F 02 02');
});

test('docs/formats.md worked example: 48 bytes in legacy()', () => {
  const b = encode(writeBitLinear, example, 'legacy');
  assert.is(b.length, 48);
  assert.is(
    hex(b),
    '03 00 00 00 00 00 00 00 05 00 00 00 2C 01 00 00 70 11 01 00 01 00 00 00 00 00 00 00 00 00 80 3F 02 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00',
  );
});

test('varint boundaries (bincode spec)', () => {
  const cases: [number, string][] = [
    [0, '00'],
    [250, 'FA'],
    [251, 'FB FB 00'],
    [65535, 'FB FF FF'],
    [65536, 'FC 00 00 01 00'],
    [0xffffffff, 'FC FF FF FF FF'],
    [2 ** 32, 'FD 00 00 00 00 01 00 00 00'],
    [Number.MAX_SAFE_INTEGER, 'FD FF FF FF FF FF FF 1F 00'],
  ];
  for (const [v, want] of cases) {
    assert.is(hex(new BincodeWriter().u64(v).bytes()), want, `u64 ${v}`);
    assert.is(new BincodeReader(new BincodeWriter().u64(v).bytes()).u64(), v, `round trip ${v}`);
  }
  assert.throws(() => new BincodeWriter().u32(2 ** 32), /u32/);
});

const isCorrupt = (e: unknown) => e instanceof CorruptFileError;

test('non-canonical and truncated varints are corrupt', () => {
  assert.throws(() => new BincodeReader(Uint8Array.from([0xfb, 0x05, 0x00]), 'standard', 'x.bin').u32(), (e: unknown) => e instanceof CorruptFileError && /x\.bin/.test((e as Error).message));
  assert.throws(() => new BincodeReader(Uint8Array.from([0xfc, 0x05]), 'standard', 'x.bin').u32(), isCorrupt);
  assert.throws(() => new BincodeReader(Uint8Array.from([0xff]), 'standard', 'x.bin').u64(), isCorrupt);
  // a length larger than the bytes left must not allocate
  assert.throws(() => new BincodeReader(Uint8Array.from([0xfc, 0xff, 0xff, 0xff, 0x7f]), 'standard', 'x.bin').vecF32(), isCorrupt);
});

let seed = 7;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const randWords = (n: number) => Uint32Array.from({ length: n }, () => Math.floor(rand() * 2 ** 32));
const randF32 = (n: number) => Float32Array.from({ length: n }, () => rand() * 2 - 1);
const linear = (out: number, inp: number): BitLinearRecord => ({
  packedWeights: randWords(out * Math.ceil(inp / 16)),
  weightScales: randF32(out),
  inFeatures: inp,
  outFeatures: out,
});
const norm = (n: number) => ({ weight: randF32(n), shape: [1, n] });
const block = (h: number, f: number): TransformerBlockRecord => ({
  attention: { wqkv: linear(h + 2 * (h / 2), h), oProj: linear(h, h) },
  feedForward: { w13: linear(2 * f, h), w2: linear(h, f) },
  attentionNorm: norm(h),
  ffnNorm: norm(h),
  attnSubNorm: norm(h),
  ffnSubNorm: norm(f),
});

function model(): ModelRecord {
  return {
    embedding: { weight: randF32(40 * 24), shape: [40, 24] },
    blocks: [block(24, 40), block(24, 40), block(24, 40)],
    norm: norm(24),
    lmHead: linear(40, 24),
    metadata: { numLayers: 3, vocabSize: 40, hiddenSize: 24, conversionTimestamp: 1_764_000_000 },
  };
}

for (const flavor of ['standard', 'legacy'] as const) {
  test(`full model record round trip (${flavor})`, () => {
    const m = model();
    const bytes = encode(writeModel, m, flavor);
    assert.equal(decode(readModel, bytes, flavor), m);
  });

  test(`single block round trip (${flavor})`, () => {
    const b = block(24, 40);
    assert.equal(decode(readBlock, encode(writeBlock, b, flavor), flavor), b);
  });
}

test('a decoder of the seed block struct reads a block with sub-norms', () => {
  const b = block(32, 48);
  const bytes = encode(writeBlock, b);
  // The seed's TransformerBlockRecord: four fields; trailing bytes are ignored by bincode.
  const r = new BincodeReader(bytes);
  const seedView = { wqkv: readBitLinear(r), oProj: readBitLinear(r), w13: readBitLinear(r), w2: readBitLinear(r) };
  assert.equal(seedView.wqkv, b.attention.wqkv);
  assert.equal(seedView.w2, b.feedForward.w2);
  // and a block without them (an older converter's file) still decodes
  const old = { ...b, attnSubNorm: undefined, ffnSubNorm: undefined };
  const decoded = decode(readBlock, encode(writeBlock, old));
  assert.is(decoded.attnSubNorm, undefined);
  assert.equal(decoded.ffnNorm, b.ffnNorm);
});

test('a reader over a byte range, a few bytes at a time, reads what the reader over bytes in memory does', () => {
  for (const flavor of ['standard', 'legacy'] as const) {
    const bytes = encode(writeModel, model(), flavor);
    const range = (b: Uint8Array) => ({ size: b.length, read: (offset: number, length: number) => b.slice(offset, offset + length) });
    assert.equal(readModel(new BincodeReader(range(bytes), flavor, 'm.bin', 0, 7)), decode(readModel, bytes, flavor), flavor);
    const cut = bytes.subarray(0, bytes.length - 10);
    const message = (read: () => unknown) => {
      try {
        read();
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    const windowed = message(() => readModel(new BincodeReader(range(cut), flavor, 'm.bin', 0, 7)));
    assert.match(windowed, /m\.bin: corrupt file/);
    assert.is(windowed, message(() => decode(readModel, cut, flavor, 'm.bin')));
  }
});

test('truncated record names the file', () => {
  const bytes = encode(writeBitLinear, example);
  assert.throws(() => decode(readBitLinear, bytes.subarray(0, 10), 'standard', 'lm_head.bin'), /lm_head\.bin.*truncated/);
});

test.run();

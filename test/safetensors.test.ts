import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConversionError, CorruptFileError, InvalidWeightCountError, UnsupportedError } from '../build/js/errors.js';
import {
  DTYPES,
  DTYPE_SIZE,
  MAX_HEADER_BYTES,
  encodeSafetensorsHeader,
  isDType,
  parseHeader,
  readHeaderLength,
  type SafetensorsHeader,
} from '../build/js/formats/safetensors.js';
import { buildSafetensors, rawSafetensors } from './helpers/safetensors-file.js';
import { throwsTyped } from './helpers/common.js';

const FILE = 'in-memory.safetensors';

function parseBytes(bytes: Uint8Array, file = FILE): SafetensorsHeader {
  const n = readHeaderLength(bytes.subarray(0, 8), bytes.length, file);
  return parseHeader(bytes.subarray(8, 8 + n), n, bytes.length, file);
}


/** A data section of `n` bytes with a valid header listing the given entries. */
function fileWith(header: Record<string, unknown>, dataLength: number): Uint8Array {
  return rawSafetensors(header, dataLength);
}

// ---------------------------------------------------------------- valid files

test('dtypes: the full safetensors list with sizes; own keys only', () => {
  assert.is(DTYPES.length, 15);
  assert.equal(
    [...DTYPES].sort(),
    ['BF16', 'BOOL', 'F16', 'F32', 'F64', 'F8_E4M3', 'F8_E5M2', 'I16', 'I32', 'I64', 'I8', 'U16', 'U32', 'U64', 'U8'],
  );
  assert.is(DTYPE_SIZE.BF16, 2);
  assert.is(DTYPE_SIZE.F32, 4);
  assert.is(DTYPE_SIZE.U8, 1);
  assert.is(DTYPE_SIZE.I64, 8);
  assert.ok(isDType('I32'));
  assert.not.ok(isDType('constructor'));
  assert.not.ok(isDType('__proto__'));
  assert.not.ok(isDType('bf16'));
  assert.is(MAX_HEADER_BYTES, 16 * 1024 * 1024); // upstream's 100 MB lowered to what the 256 MiB bound holds
});

test('round trip: 1-D and 0-D promoted, 2-D kept, 3-D skipped, zero-length tensors, file order', () => {
  const bytes = buildSafetensors(
    [
      { name: 'w', dtype: 'BF16', shape: [3, 4] },
      { name: 'norm', dtype: 'F32', shape: [4] },
      { name: 'scalar', dtype: 'F16', shape: [] },
      { name: 'conv', dtype: 'F32', shape: [2, 2, 2] },
      { name: 'empty', dtype: 'U8', shape: [0] },
      { name: 'empty2d', dtype: 'I8', shape: [0, 7] },
      { name: 'packed', dtype: 'U8', shape: [2, 4] },
      { name: 'idx', dtype: 'I32', shape: [2] },
    ],
    { format: 'pt', note: 'x' },
  );
  const h = parseBytes(bytes);
  assert.is(h.file, FILE);
  assert.is(h.fileSize, bytes.length);
  assert.is(h.dataStart, 8 + h.headerLength);
  assert.is(h.headerLength % 8, 0, 'encoder pads the header to a multiple of 8');
  assert.equal(h.metadata, { format: 'pt', note: 'x' });
  assert.equal(
    h.tensors.map((t) => [t.name, t.dtype, t.shape, t.storedShape, t.elements, t.byteLength]),
    [
      ['w', 'BF16', [3, 4], [3, 4], 12, 24],
      ['norm', 'F32', [1, 4], [4], 4, 16],
      ['scalar', 'F16', [1, 1], [], 1, 2],
      ['empty', 'U8', [1, 0], [0], 0, 0],
      ['empty2d', 'I8', [0, 7], [0, 7], 0, 0],
      ['packed', 'U8', [2, 4], [2, 4], 8, 8],
      ['idx', 'I32', [1, 2], [2], 2, 8],
    ],
  );
  const offs = h.tensors.map((t) => t.offset - h.dataStart);
  assert.equal(offs, [0, 24, 40, 74, 74, 74, 82]);
  assert.ok(h.tensors.every((t) => t.file === FILE));
  assert.equal(h.skipped.length, 1);
  assert.is(h.skipped[0]!.name, 'conv');
  assert.equal(h.skipped[0]!.shape, [2, 2, 2]);
  assert.match(h.skipped[0]!.reason, /3-D/);
  // The bytes are where the header says.
  const w = bytes.subarray(h.tensors[0]!.offset, h.tensors[0]!.offset + 24);
  assert.is(w.length, 24);
});

test('tensors come out in data order even when the JSON lists them otherwise', () => {
  const bytes = fileWith(
    {
      b: { dtype: 'U8', shape: [2], data_offsets: [4, 6] },
      __metadata__: { k: 'v' },
      a: { dtype: 'U8', shape: [2, 2], data_offsets: [0, 4] },
      z: { dtype: 'BOOL', shape: [0], data_offsets: [6, 6] },
    },
    6,
  );
  const h = parseBytes(bytes);
  assert.equal(
    h.tensors.map((t) => t.name),
    ['a', 'b', 'z'],
  );
  assert.equal(h.metadata, { k: 'v' });
});

test('leading and trailing whitespace padding of the JSON is fine; empty header is fine', () => {
  const body = JSON.stringify({ t: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } });
  const h = parseBytes(rawSafetensors(`  \n${body}\t      `, 4));
  assert.is(h.tensors.length, 1);
  const empty = parseBytes(rawSafetensors({}, 0));
  assert.equal(empty.tensors, []);
  assert.equal(empty.metadata, {});
  const enc = encodeSafetensorsHeader([]);
  assert.equal(parseBytes(enc.bytes).tensors, []);
});

test('names like __proto__ and constructor stay plain data', () => {
  const bytes = fileWith(
    {
      __proto__x: { dtype: 'U8', shape: [1], data_offsets: [0, 1] },
      constructor: { dtype: 'U8', shape: [1], data_offsets: [1, 2] },
      __metadata__: { constructor: 'c' },
    },
    2,
  );
  const h = parseBytes(bytes);
  assert.equal(
    h.tensors.map((t) => t.name),
    ['__proto__x', 'constructor'],
  );
  const text = '{"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"__metadata__":{"__proto__":"p"}}';
  const h2 = parseBytes(rawSafetensors(text, 1));
  assert.is(h2.tensors[0]!.name, '__proto__');
  assert.is(Object.getOwnPropertyDescriptor(h2.metadata, '__proto__')?.value, 'p');
  assert.is(Object.getPrototypeOf(h2.metadata), Object.prototype);
});

test('encodeSafetensorsHeader: offsets, data length, padding, metadata first', () => {
  const enc = encodeSafetensorsHeader(
    [
      { name: 'a', dtype: 'BF16', shape: [3] },
      { name: 'b', dtype: 'F32', shape: [2, 2] },
      { name: 'c', dtype: 'U8', shape: [0] },
    ],
    { format: 'pt' },
  );
  assert.equal(enc.offsets, [0, 6, 22]);
  assert.is(enc.dataLength, 22);
  assert.is(enc.bytes.length % 8, 0);
  const n = Number(new DataView(enc.bytes.buffer).getBigUint64(0, true));
  assert.is(n, enc.bytes.length - 8);
  const text = new TextDecoder().decode(enc.bytes.subarray(8));
  assert.ok(text.startsWith('{"__metadata__":{"format":"pt"}'));
  assert.ok(/^[^ ]* *$/.test(text), 'padding is trailing spaces');
  assert.throws(() => encodeSafetensorsHeader([{ name: 'a', dtype: 'F4' as never, shape: [1] }]), (e: unknown) => e instanceof UnsupportedError);
  assert.throws(() => encodeSafetensorsHeader([{ name: 'a', dtype: 'U8', shape: [-1] }]), (e: unknown) => e instanceof ConversionError);
  assert.throws(() => encodeSafetensorsHeader([{ name: 'a', dtype: 'U8', shape: [2 ** 30, 2 ** 30] }]), (e: unknown) => e instanceof ConversionError);
  assert.throws(
    () =>
      encodeSafetensorsHeader([
        { name: 'a', dtype: 'U8', shape: [1] },
        { name: 'a', dtype: 'U8', shape: [1] },
      ]),
    (e: unknown) => e instanceof ConversionError,
  );
  assert.throws(() => encodeSafetensorsHeader([{ name: '__metadata__', dtype: 'U8', shape: [1] }]), (e: unknown) => e instanceof ConversionError);
});

// ---------------------------------------------------------------- the length prefix

test('header length 0, 1, huge, past the end, short file', () => {
  const good = buildSafetensors([{ name: 't', dtype: 'U8', shape: [4] }]);
  const withLength = (n: bigint): Uint8Array => {
    const b = good.slice();
    new DataView(b.buffer).setBigUint64(0, n, true);
    return b;
  };
  throwsTyped(() => parseBytes(withLength(0n)), CorruptFileError, [FILE, 'header length 0']);
  throwsTyped(() => parseBytes(withLength(1n)), CorruptFileError, [FILE, 'header length 1']);
  throwsTyped(() => parseBytes(withLength(2n ** 64n - 1n)), CorruptFileError, [FILE, '18446744073709551615', 'at most 16777216']);
  throwsTyped(() => parseBytes(withLength(BigInt(MAX_HEADER_BYTES + 1))), CorruptFileError, [FILE, '16777217']);
  throwsTyped(() => parseBytes(withLength(2n ** 32n)), CorruptFileError, [FILE, '4294967296']);
  throwsTyped(() => parseBytes(withLength(BigInt(good.length - 7))), CorruptFileError, [FILE, 'truncated']);
  throwsTyped(() => readHeaderLength(new Uint8Array(3), 3, FILE), CorruptFileError, [FILE, '3 bytes']);
  throwsTyped(() => readHeaderLength(new Uint8Array(0), 0, FILE), CorruptFileError, [FILE, 'at least 8 bytes']);
  // A header length that fits exactly (the whole rest is the header) is structurally fine.
  assert.is(readHeaderLength(withLength(BigInt(good.length - 8)).subarray(0, 8), good.length, FILE), good.length - 8);
});

test('a Git LFS pointer or a text file gets a hint', () => {
  const lfs = new TextEncoder().encode('version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 4830000000\n');
  throwsTyped(() => readHeaderLength(lfs.subarray(0, 8), lfs.length, FILE), CorruptFileError, [FILE, 'Git LFS pointer']);
  const html = new TextEncoder().encode('<!DOCTYPE html><html></html>');
  throwsTyped(() => readHeaderLength(html.subarray(0, 8), html.length, FILE), CorruptFileError, [FILE, 'not a safetensors file']);
});

test('parseHeader re-checks its arguments (short json buffer, bad sizes)', () => {
  const good = buildSafetensors([{ name: 't', dtype: 'U8', shape: [4] }]);
  const n = readHeaderLength(good.subarray(0, 8), good.length, FILE);
  throwsTyped(() => parseHeader(good.subarray(8, 8 + n - 1), n, good.length, FILE), CorruptFileError, [FILE, 'truncated']);
  throwsTyped(() => parseHeader(good.subarray(8, 8 + n), n, 8 + n - 1, FILE), CorruptFileError, [FILE]);
  throwsTyped(() => parseHeader(good.subarray(8, 8 + n), 0, good.length, FILE), CorruptFileError, [FILE]);
  throwsTyped(() => parseHeader(good.subarray(8, 8 + n), n, Number.NaN, FILE), CorruptFileError, [FILE]);
  // A longer buffer is fine: only the first n bytes are the header.
  assert.is(parseHeader(good.subarray(8), n, good.length, FILE).tensors.length, 1);
});

// ---------------------------------------------------------------- the JSON

test('invalid JSON, non-object roots, invalid UTF-8', () => {
  throwsTyped(() => parseBytes(rawSafetensors('{"t": {"dtype": "U8",', 0)), CorruptFileError, [FILE, 'invalid JSON']);
  for (const root of ['[]', 'null', '1', '"s"', 'true', '[{}]']) {
    throwsTyped(() => parseBytes(rawSafetensors(root.padEnd(8, ' '), 0)), CorruptFileError, [FILE, 'JSON object']);
  }
  const bytes = rawSafetensors('{"a": 1}', 0);
  bytes[10] = 0xff; // inside the key
  throwsTyped(() => parseBytes(bytes), CorruptFileError, [FILE, 'UTF-8']);
  const bom = rawSafetensors('\uFEFF{}', 0);
  throwsTyped(() => parseBytes(bom), CorruptFileError, [FILE, 'invalid JSON']);
  const nul = rawSafetensors('{}\0\0\0\0\0\0', 0);
  throwsTyped(() => parseBytes(nul), CorruptFileError, [FILE, 'invalid JSON']);
});

test('__metadata__ must be an object of strings', () => {
  for (const bad of [[], 'x', 1, null, true, [['a', 'b']]]) {
    throwsTyped(() => parseBytes(fileWith({ __metadata__: bad }, 0)), CorruptFileError, [FILE, '__metadata__']);
  }
  for (const bad of [{ a: 1 }, { a: null }, { a: {} }, { a: ['b'] }]) {
    throwsTyped(() => parseBytes(fileWith({ __metadata__: bad }, 0)), CorruptFileError, [FILE, '__metadata__', '"a"']);
  }
});

test('dtypes: unknown -> UnsupportedError naming the tensor; not a string -> CorruptFileError', () => {
  for (const d of ['F4', 'bf16', 'C64', 'constructor', '__proto__', '']) {
    throwsTyped(
      () => parseBytes(fileWith({ 'model.w': { dtype: d, shape: [1], data_offsets: [0, 1] } }, 1)),
      UnsupportedError,
      [FILE, 'tensor model.w', 'dtype'],
    );
  }
  for (const d of [1, null, [], {}]) {
    throwsTyped(() => parseBytes(fileWith({ 'model.w': { dtype: d, shape: [1], data_offsets: [0, 1] } }, 1)), CorruptFileError, [
      FILE,
      'tensor model.w',
      'dtype',
    ]);
  }
  throwsTyped(() => parseBytes(fileWith({ 'model.w': { shape: [1], data_offsets: [0, 1] } }, 1)), CorruptFileError, [FILE, 'tensor model.w', 'dtype nothing']);
  for (const v of [null, [], 'x', 3]) {
    throwsTyped(() => parseBytes(fileWith({ 'model.w': v }, 0)), CorruptFileError, [FILE, 'tensor model.w']);
  }
});

test('shapes: negative, non-integer, not a list, products past 2^53', () => {
  const bad = (shape: unknown, offsets: unknown = [0, 4], dtype = 'U8'): (() => unknown) => () =>
    parseBytes(fileWith({ t: { dtype, shape, data_offsets: offsets } }, 4));
  throwsTyped(bad([-4]), CorruptFileError, [FILE, 'tensor t', 'non-negative integers', '[-4]']);
  throwsTyped(bad([1.5, 2]), CorruptFileError, [FILE, 'tensor t', '[1.5, 2]']);
  throwsTyped(bad(['4']), CorruptFileError, [FILE, 'tensor t']);
  throwsTyped(bad(null), CorruptFileError, [FILE, 'tensor t', 'shape list']);
  throwsTyped(bad('4'), CorruptFileError, [FILE, 'tensor t', 'shape list']);
  throwsTyped(bad([[4]]), CorruptFileError, [FILE, 'tensor t']);
  throwsTyped(bad([2 ** 53]), CorruptFileError, [FILE, 'tensor t']);
  throwsTyped(bad([1e300]), CorruptFileError, [FILE, 'tensor t']);
  throwsTyped(bad([2 ** 30, 2 ** 30, 2 ** 30]), CorruptFileError, [FILE, 'tensor t', 'element count']);
  throwsTyped(bad([94906266, 94906266]), CorruptFileError, [FILE, 'tensor t', 'element count']);
  throwsTyped(bad([2 ** 40, 2 ** 40, 0]), CorruptFileError, [FILE, 'tensor t', 'element count']);
  throwsTyped(bad([2 ** 52], [0, 4], 'BF16'), CorruptFileError, [FILE, 'tensor t', 'byte size']);
  throwsTyped(bad([2 ** 53 - 1], [0, 2 ** 53 - 1]), CorruptFileError, [FILE, 'tensor t', 'within the 4 data bytes']);
  // Shape and size disagree: the seed's InvalidWeightCount.
  throwsTyped(bad([5]), InvalidWeightCountError, [FILE, 'tensor t', 'invalid weight count', 'expected 5 bytes (U8 x [5])', '4 bytes']);
  throwsTyped(bad([4], [0, 4], 'BF16'), InvalidWeightCountError, [FILE, 'tensor t', 'expected 8 bytes (BF16 x [4])']);
  assert.is(parseBytes(fileWith({ t: { dtype: 'BF16', shape: [2], data_offsets: [0, 4] } }, 4)).tensors[0]!.elements, 2);
});

test('offsets: not a list, wrong length, negative, reversed, out of range', () => {
  const bad = (offsets: unknown): (() => unknown) => () => parseBytes(fileWith({ t: { dtype: 'U8', shape: [4], data_offsets: offsets } }, 4));
  for (const o of [null, 'x', {}, 4, [0], [0, 4, 4], ['0', '4'], [0, null], [[0], [4]]]) {
    throwsTyped(bad(o), CorruptFileError, [FILE, 'tensor t', 'data_offsets']);
  }
  throwsTyped(bad([-4, 0]), CorruptFileError, [FILE, 'tensor t', '0 <= begin <= end']);
  throwsTyped(bad([4, 0]), CorruptFileError, [FILE, 'tensor t', '0 <= begin <= end']);
  throwsTyped(bad([0.5, 4.5]), CorruptFileError, [FILE, 'tensor t']);
  throwsTyped(bad([4, 8]), CorruptFileError, [FILE, 'tensor t', 'within the 4 data bytes']);
  throwsTyped(bad([2 ** 53, 2 ** 53 + 4]), CorruptFileError, [FILE, 'tensor t']);
  throwsTyped(() => parseBytes(fileWith({ t: { dtype: 'U8', shape: [4] } }, 4)), CorruptFileError, [FILE, 'tensor t', 'data_offsets nothing']);
});

test('coverage: overlap, gap, first not at 0, trailing bytes, missing data', () => {
  const two = (a: [number, number], b: [number, number], dataLength: number): Uint8Array =>
    fileWith(
      {
        a: { dtype: 'U8', shape: [a[1] - a[0]], data_offsets: a },
        b: { dtype: 'U8', shape: [b[1] - b[0]], data_offsets: b },
      },
      dataLength,
    );
  throwsTyped(() => parseBytes(two([0, 4], [2, 6], 6)), CorruptFileError, [FILE, 'tensor b', 'overlapping tensor a']);
  throwsTyped(() => parseBytes(two([0, 4], [0, 4], 4)), CorruptFileError, [FILE, 'overlapping']);
  throwsTyped(() => parseBytes(two([0, 4], [5, 6], 6)), CorruptFileError, [FILE, 'tensor b', '1 bytes before it']);
  throwsTyped(() => parseBytes(two([1, 4], [4, 6], 6)), CorruptFileError, [FILE, 'tensor a', 'start at data offset 0']);
  throwsTyped(() => parseBytes(two([0, 4], [4, 6], 9)), CorruptFileError, [FILE, '3 trailing bytes']);
  throwsTyped(() => parseBytes(fileWith({}, 1)), CorruptFileError, [FILE, '1 trailing bytes']);
  throwsTyped(() => parseBytes(two([0, 4], [4, 6], 5)), CorruptFileError, [FILE, 'tensor b', 'within the 5 data bytes']);
  // Valid: unsorted JSON order, zero-length tensors at boundaries (also two at the same place).
  const ok = parseBytes(
    fileWith(
      {
        b: { dtype: 'U8', shape: [2], data_offsets: [4, 6] },
        z1: { dtype: 'U8', shape: [0], data_offsets: [4, 4] },
        z2: { dtype: 'F32', shape: [3, 0], data_offsets: [4, 4] },
        a: { dtype: 'U8', shape: [4], data_offsets: [0, 4] },
        z3: { dtype: 'U8', shape: [0], data_offsets: [6, 6] },
      },
      6,
    ),
  );
  assert.equal(
    ok.tensors.map((t) => t.name),
    ['a', 'z1', 'z2', 'b', 'z3'],
  );
});

test('3-D and larger tensors are skipped but still checked for coverage', () => {
  const h = parseBytes(
    fileWith(
      {
        conv: { dtype: 'F16', shape: [2, 1, 2], data_offsets: [0, 8] },
        four: { dtype: 'U8', shape: [1, 1, 1, 2], data_offsets: [8, 10] },
        w: { dtype: 'U8', shape: [2], data_offsets: [10, 12] },
      },
      12,
    ),
  );
  assert.equal(
    h.skipped.map((s) => [s.name, s.shape]),
    [
      ['conv', [2, 1, 2]],
      ['four', [1, 1, 1, 2]],
    ],
  );
  assert.match(h.skipped[1]!.reason, /4-D/);
  assert.equal(
    h.tensors.map((t) => t.name),
    ['w'],
  );
  throwsTyped(
    () => parseBytes(fileWith({ conv: { dtype: 'F16', shape: [2, 1, 2], data_offsets: [0, 6] } }, 6)),
    InvalidWeightCountError,
    [FILE, 'tensor conv', 'expected 8 bytes'],
  );
});

test('duplicate JSON keys: the last wins, and coverage still decides', () => {
  const text = '{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}';
  throwsTyped(() => parseBytes(rawSafetensors(text, 4)), CorruptFileError, [FILE, '2 trailing bytes']);
});

test('a huge tensor name is clipped in the message', () => {
  const name = 'x'.repeat(10_000);
  const e = throwsTyped(() => parseBytes(fileWith({ [name]: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } }, 1)), UnsupportedError, [FILE]);
  assert.ok(e.message.length < 1000);
});

// ---------------------------------------------------------------- the real fixtures

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/golden-tiny/${name}`, import.meta.url));

test('fixture golden-tiny/model.safetensors parses in memory (24 BF16 tensors)', () => {
  const bytes = new Uint8Array(fs.readFileSync(fixture('model.safetensors')));
  const h = parseBytes(bytes, 'model.safetensors');
  assert.is(h.tensors.length, 24);
  assert.is(h.skipped.length, 0);
  assert.ok(h.tensors.every((t) => t.dtype === 'BF16'));
  assert.equal(h.metadata, { format: 'pt' });
  assert.is(h.tensors[0]!.name, 'model.embed_tokens.weight');
  assert.is(h.tensors[0]!.offset, h.dataStart);
  const last = h.tensors[h.tensors.length - 1]!;
  assert.is(last.offset + last.byteLength, bytes.length);
});

test('fixtures reference-ternary and ms-gpu-int2 parse too', () => {
  for (const name of ['reference-ternary.safetensors', 'ms-gpu-int2.safetensors']) {
    const bytes = new Uint8Array(fs.readFileSync(fixture(name)));
    const h = parseBytes(bytes, name);
    assert.ok(h.tensors.length > 0, name);
    for (const t of h.tensors) assert.is(t.byteLength, t.elements * DTYPE_SIZE[t.dtype]);
  }
});

test.run();

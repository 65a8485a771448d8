// The safetensors container: a u64 (little-endian) header length N, N bytes of UTF-8 JSON
//   { "<name>": { "dtype": "BF16", "shape": [..], "data_offsets": [begin, end] }, ..,
//     "__metadata__": { "<key>": "<string>" } }
// padded with spaces, then the tensor data. Offsets are relative to the end of the header.
//
// This module validates before it trusts: nothing here reads the data, allocates by a size taken
// from the file before checking it, or lets a malformed header through. It has no Node imports so
// it can be reused in browsers and Deno; the file I/O lives in src/io/.

import { CorruptFileError, InvalidWeightCountError, UnsupportedError } from '../errors.js';
import { clip, countJson, describe, isPlainObject } from './json-text.js';

/** Every dtype of the safetensors format with a whole number of bytes per element. */
export type DType =
  | 'BOOL'
  | 'U8'
  | 'I8'
  | 'F8_E4M3'
  | 'F8_E5M2'
  | 'I16'
  | 'U16'
  | 'F16'
  | 'BF16'
  | 'I32'
  | 'U32'
  | 'F32'
  | 'F64'
  | 'I64'
  | 'U64';

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Readonly<Record<DType, number>> = Object.freeze({
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
});

/** All dtypes, in the order of DTYPE_SIZE. */
export const DTYPES: readonly DType[] = Object.freeze(Object.keys(DTYPE_SIZE) as DType[]);

/**
 * The safetensors crate's `Dtype` enum order ("in increasing alignment order"). Its writer lays data
 * out by descending dtype, then by name, so every tensor is aligned to its element size.
 */
const WRITER_DTYPE_ORDER: readonly DType[] = ['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64'];

/** Compares two entries as the safetensors crate's writer orders them (descending dtype, then name). */
export function writerOrder(a: { name: string; dtype: DType }, b: { name: string; dtype: DType }): number {
  const d = WRITER_DTYPE_ORDER.indexOf(b.dtype) - WRITER_DTYPE_ORDER.indexOf(a.dtype);
  return d !== 0 ? d : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** True when `s` is one of the dtypes above (own keys only: "constructor" is not a dtype). */
export function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.hasOwn(DTYPE_SIZE, s);
}

/**
 * The largest header read: 16 MiB. The upstream parser accepts 100 MB, but a header is held as bytes,
 * as text and as parsed JSON at once, which at 100 MB is past the converter's 256 MiB bound; real
 * headers are 20-300 KB (about 100 bytes per tensor), so 16 MiB is 50x the largest.
 */
export const MAX_HEADER_BYTES = 16 * 1024 * 1024;

/**
 * The most tensors a header may list when the caller knows no tighter bound (a checkpoint's own bound
 * comes from its config, src/model/checkpoint.ts): real files hold at most a few thousand.
 */
export const MAX_TENSORS = 16_384;

/** JSON values an entry takes (name, object, dtype, shape and its dimensions, offsets: about 12), with room for extra fields. */
const VALUES_PER_TENSOR = 32;

/** The byte length of the length prefix. */
export const PREFIX_BYTES = 8;

export interface TensorInfo {
  name: string;
  /** The file the tensor's data is in (as passed to parseHeader). */
  file: string;
  dtype: DType;
  /** The shape after promotion: 1-D [n] -> [1, n], 0-D [] -> [1, 1]; 2-D unchanged. */
  shape: number[];
  /** The shape as stored in the file. */
  storedShape: number[];
  /** Absolute byte offset of the data in the file. */
  offset: number;
  byteLength: number;
  elements: number;
}

export interface SkippedTensor {
  name: string;
  /** The shape as stored in the file. */
  shape: number[];
  /** Why it was skipped, for a warning. */
  reason: string;
}

export interface SafetensorsHeader {
  file: string;
  fileSize: number;
  /** N, the byte length of the JSON header (without the 8-byte prefix). */
  headerLength: number;
  /** Absolute offset of the data section: 8 + N. */
  dataStart: number;
  /** 0-D, 1-D and 2-D tensors, in file (data offset) order. */
  tensors: TensorInfo[];
  /** Tensors of 3 or more dimensions, which this converter does not handle. */
  skipped: SkippedTensor[];
  metadata: Record<string, string>;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** Tensor names go into error messages; keep pathological ones readable. */
function tensorLabel(name: string): string {
  return clip(name, 256);
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** What the 8 bytes look like when they are obviously not a length, for a hint. */
function prefixHint(prefix8: Uint8Array): string {
  let text = '';
  for (let i = 0; i < 8; i++) {
    const c = prefix8[i]!;
    if (c < 0x20 || c > 0x7e) return '';
    text += String.fromCharCode(c);
  }
  if (text === 'version ') return ' (this is a Git LFS pointer, not the weights: run `git lfs pull` or download the file itself)';
  return ` (the file starts with the text ${JSON.stringify(text)}: not a safetensors file)`;
}

/**
 * Validates the 8-byte length prefix and returns the header length N.
 * N must be at least 2 (`{}`), at most MAX_HEADER_BYTES, and the header must fit in the file.
 */
export function readHeaderLength(prefix8: Uint8Array, fileSize: number, file: string): number {
  if (!Number.isSafeInteger(fileSize) || fileSize < 0) {
    throw new CorruptFileError({ file }, 'a file size that is a non-negative integer', String(fileSize));
  }
  if (fileSize < PREFIX_BYTES || prefix8.length < PREFIX_BYTES) {
    throw new CorruptFileError(
      { file },
      'at least 8 bytes (the header length)',
      `${Math.min(fileSize, prefix8.length)} bytes (truncated or empty file)`,
    );
  }
  const view = new DataView(prefix8.buffer, prefix8.byteOffset, PREFIX_BYTES);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  if (hi !== 0 || lo > MAX_HEADER_BYTES) {
    const n = (BigInt(hi) << 32n) | BigInt(lo);
    throw new CorruptFileError(
      { file },
      `a header length of at most ${MAX_HEADER_BYTES} bytes`,
      `header length ${n}${prefixHint(prefix8)}`,
    );
  }
  const n = lo;
  if (n < 2) {
    throw new CorruptFileError({ file }, 'a header length of at least 2 bytes (the JSON "{}")', `header length ${n}`);
  }
  if (n > fileSize - PREFIX_BYTES) {
    throw new CorruptFileError(
      { file },
      `a header of ${n} bytes inside the file`,
      `only ${fileSize - PREFIX_BYTES} bytes after the length prefix (truncated, or not a safetensors file)${prefixHint(prefix8)}`,
    );
  }
  return n;
}

interface RawEntry {
  name: string;
  dtype: DType;
  storedShape: number[];
  elements: number;
  byteLength: number;
  begin: number;
  end: number;
  order: number;
}

/** How many tensors a header may list, and why (for the message). */
export interface HeaderLimits {
  maxTensors: number;
  /** Why this many, e.g. "64 per layer of config.json's num_hidden_layers 2, plus 64". */
  why?: string;
}

/**
 * Parses and validates the JSON header. `json` holds the N header bytes (extra bytes after N are
 * ignored). `fileSize` is the whole file's size, used to check that the data is exactly covered.
 * The entries are counted before anything is built from them (`limits`, default MAX_TENSORS).
 */
export function parseHeader(
  json: Uint8Array,
  headerLength: number,
  fileSize: number,
  file: string,
  limits: HeaderLimits = { maxTensors: MAX_TENSORS },
): SafetensorsHeader {
  if (!Number.isSafeInteger(headerLength) || headerLength < 2 || headerLength > MAX_HEADER_BYTES) {
    throw new CorruptFileError({ file }, `a header length from 2 to ${MAX_HEADER_BYTES} bytes`, `header length ${headerLength}`);
  }
  if (!Number.isSafeInteger(fileSize) || fileSize < PREFIX_BYTES + headerLength) {
    throw new CorruptFileError(
      { file },
      `a file of at least ${PREFIX_BYTES + headerLength} bytes (length prefix and header)`,
      `${fileSize} bytes (truncated)`,
    );
  }
  if (json.length < headerLength) {
    throw new CorruptFileError({ file }, `${headerLength} header bytes`, `${json.length} bytes (truncated)`);
  }
  const dataStart = PREFIX_BYTES + headerLength;
  const dataLength = fileSize - dataStart;

  // Counted before decoding: JSON.parse of 700k tiny entries costs ~900 MiB.
  const counts = countJson(json.subarray(0, headerLength));
  const why = limits.why ? ` (${limits.why})` : '';
  if (counts.rootKeys > limits.maxTensors + 1) {
    throw new CorruptFileError({ file }, `a header of at most ${limits.maxTensors} tensors${why}`, `${counts.rootKeys} entries`);
  }
  const maxValues = VALUES_PER_TENSOR * (limits.maxTensors + 1) + 1024;
  if (counts.values > maxValues) {
    throw new CorruptFileError({ file }, `a header of at most ${maxValues} JSON values (${VALUES_PER_TENSOR} per tensor, for at most ${limits.maxTensors} tensors${why})`, `${counts.values} values`);
  }

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(json.subarray(0, headerLength));
  } catch {
    throw new CorruptFileError({ file }, 'a UTF-8 JSON header', 'bytes that are not valid UTF-8');
  }
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new CorruptFileError({ file }, 'a JSON header', `invalid JSON (${clip(msg.replace(/\s+/g, ' '), 120)})`);
  }
  if (!isPlainObject(root)) {
    throw new CorruptFileError({ file }, 'a JSON object as the header', describe(root));
  }

  let metadata: Record<string, string> = {};
  const entries: RawEntry[] = [];
  let order = 0;
  for (const [name, value] of Object.entries(root)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(value, file);
      continue;
    }
    entries.push(parseEntry(name, value, dataLength, file, order++));
  }
  if (entries.length > limits.maxTensors) {
    throw new CorruptFileError({ file }, `a header of at most ${limits.maxTensors} tensors${why}`, `${entries.length} tensors`);
  }

  // The data must be exactly covered: sorted by offsets, each tensor begins where the previous
  // one ended, the first at 0 and the last at the end of the file (like upstream safetensors).
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end || a.order - b.order);
  let pos = 0;
  let prev: RawEntry | undefined;
  for (const e of entries) {
    if (e.begin !== pos) {
      const found =
        e.begin < pos
          ? `data_offsets [${e.begin}, ${e.end}], overlapping tensor ${tensorLabel(prev!.name)} (which ends at ${pos})`
          : `data_offsets [${e.begin}, ${e.end}], leaving ${e.begin - pos} bytes before it that no tensor claims`;
      const expected = prev ? `data starting at ${pos}, where tensor ${tensorLabel(prev.name)} ends` : 'the first tensor to start at data offset 0';
      throw new CorruptFileError({ file, tensor: tensorLabel(e.name) }, expected, found);
    }
    pos = e.end;
    prev = e;
  }
  if (pos !== dataLength) {
    throw new CorruptFileError(
      { file },
      `the tensors to cover the ${dataLength} data bytes up to the end of the file`,
      `${dataLength - pos} trailing bytes after the last tensor's data (at ${pos})`,
    );
  }

  const tensors: TensorInfo[] = [];
  const skipped: SkippedTensor[] = [];
  for (const e of entries) {
    const rank = e.storedShape.length;
    if (rank >= 3) {
      skipped.push({
        name: e.name,
        shape: e.storedShape,
        reason: `${rank}-D tensor ${shapeText(e.storedShape)}: only 1-D and 2-D tensors are converted`,
      });
      continue;
    }
    const shape = rank === 2 ? [e.storedShape[0]!, e.storedShape[1]!] : rank === 1 ? [1, e.storedShape[0]!] : [1, 1];
    tensors.push({
      name: e.name,
      file,
      dtype: e.dtype,
      shape,
      storedShape: e.storedShape,
      offset: dataStart + e.begin,
      byteLength: e.byteLength,
      elements: e.elements,
    });
  }
  return { file, fileSize, headerLength, dataStart, tensors, skipped, metadata };
}

function parseMetadata(value: unknown, file: string): Record<string, string> {
  if (!isPlainObject(value)) {
    throw new CorruptFileError({ file }, '"__metadata__" to be an object of string values', describe(value));
  }
  const pairs: [string, string][] = [];
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw new CorruptFileError({ file }, `"__metadata__" values to be strings`, `${clip(JSON.stringify(k), 80)}: ${describe(v)}`);
    }
    pairs.push([k, v]);
  }
  // fromEntries defines own properties, so a "__proto__" key stays plain data.
  return Object.fromEntries(pairs);
}

function parseEntry(name: string, value: unknown, dataLength: number, file: string, order: number): RawEntry {
  const place = { file, tensor: tensorLabel(name) };
  if (!isPlainObject(value)) {
    throw new CorruptFileError(place, 'an object with dtype, shape and data_offsets', describe(value));
  }
  const { dtype, shape, data_offsets: offsets } = value;

  if (typeof dtype !== 'string') {
    throw new CorruptFileError(place, 'a dtype string', `dtype ${describe(dtype)}`);
  }
  if (!isDType(dtype)) {
    throw new UnsupportedError(place, `a safetensors dtype (${DTYPES.join(', ')})`, `dtype ${describe(dtype)}`);
  }

  if (!Array.isArray(shape)) {
    throw new CorruptFileError(place, 'a shape list', `shape ${describe(shape)}`);
  }
  const storedShape: number[] = [];
  let elements = 1;
  for (const d of shape as unknown[]) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new CorruptFileError(place, 'shape dimensions that are non-negative integers', `shape ${describe(shape)}`);
    }
    const dim = d + 0; // -0 -> 0
    // Both factors are safe integers: the double product is exact when the true product is
    // at most 2^53 - 1, and at least 2^53 otherwise, so this test is exact.
    const product = elements * dim;
    if (product > MAX_SAFE) {
      throw new CorruptFileError(place, `an element count of at most 2^53 - 1`, `shape ${describe(shape)}`);
    }
    elements = product;
    storedShape.push(dim);
  }
  const byteLength = elements * DTYPE_SIZE[dtype];
  if (byteLength > MAX_SAFE) {
    throw new CorruptFileError(place, `a byte size of at most 2^53 - 1`, `shape ${describe(shape)} of ${dtype}`);
  }

  if (!Array.isArray(offsets) || offsets.length !== 2) {
    throw new CorruptFileError(place, 'data_offsets as a list [begin, end]', `data_offsets ${describe(offsets)}`);
  }
  const [begin, end] = offsets as unknown[];
  if (
    typeof begin !== 'number' ||
    typeof end !== 'number' ||
    !Number.isSafeInteger(begin) ||
    !Number.isSafeInteger(end) ||
    begin < 0 ||
    end < begin
  ) {
    throw new CorruptFileError(place, 'data_offsets [begin, end] of integers with 0 <= begin <= end', `data_offsets ${describe(offsets)}`);
  }
  if (end > dataLength) {
    throw new CorruptFileError(
      place,
      `data_offsets within the ${dataLength} data bytes of the file`,
      `data_offsets [${begin}, ${end}] (the file is truncated, or the header is wrong)`,
    );
  }
  if (end - begin !== byteLength) {
    throw new InvalidWeightCountError(
      place,
      `${byteLength} bytes (${dtype} x ${shapeText(storedShape)})`,
      `data_offsets [${begin}, ${end}], ${end - begin} bytes`,
    );
  }
  return { name, dtype, storedShape, elements, byteLength, begin: begin + 0, end: end + 0, order };
}

export interface HeaderEntry {
  name: string;
  dtype: DType;
  shape: number[];
}

export interface EncodedHeader {
  /** The 8-byte length prefix followed by the JSON header, padded with spaces to a multiple of 8. */
  bytes: Uint8Array;
  /** Each entry's data offset relative to the start of the data (the end of `bytes`). */
  offsets: number[];
  /** The total byte length of the data section that must follow. */
  dataLength: number;
}

/**
 * Encodes a valid header for tensors laid out back to back in the given order. The caller writes
 * `bytes`, then each entry's data (DTYPE_SIZE[dtype] x product(shape) bytes) at `offsets`.
 * Throws on a bad entry (unknown dtype, bad shape, duplicate or reserved name).
 */
export function encodeSafetensorsHeader(entries: readonly HeaderEntry[], metadata?: Record<string, string>): EncodedHeader {
  const header: Record<string, unknown> = {};
  const define = (key: string, value: unknown): void => {
    Object.defineProperty(header, key, { value, enumerable: true, writable: true, configurable: true });
  };
  if (metadata !== undefined) {
    const meta: Record<string, string> = {};
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') {
        throw new UnsupportedError({ tensor: '__metadata__' }, 'string metadata values', `${JSON.stringify(k)}: ${describe(v)}`);
      }
      Object.defineProperty(meta, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    define('__metadata__', meta);
  }
  const seen = new Set<string>();
  const offsets: number[] = [];
  let pos = 0;
  for (const { name, dtype, shape } of entries) {
    if (name === '__metadata__' || seen.has(name)) {
      throw new UnsupportedError({ tensor: tensorLabel(name) }, 'a unique tensor name other than "__metadata__"', 'a duplicate or reserved name');
    }
    seen.add(name);
    if (!isDType(dtype)) {
      throw new UnsupportedError({ tensor: tensorLabel(name) }, `a safetensors dtype (${DTYPES.join(', ')})`, `dtype ${describe(dtype)}`);
    }
    let elements = 1;
    for (const d of shape) {
      if (!Number.isSafeInteger(d) || d < 0 || elements * d > MAX_SAFE) {
        throw new UnsupportedError({ tensor: tensorLabel(name) }, 'non-negative integer dimensions with at most 2^53 - 1 elements', `shape ${describe(shape)}`);
      }
      elements *= d;
    }
    const bytes = elements * DTYPE_SIZE[dtype];
    if (!Number.isSafeInteger(bytes) || !Number.isSafeInteger(pos + bytes)) {
      throw new UnsupportedError({ tensor: tensorLabel(name) }, 'a data section of at most 2^53 - 1 bytes', `shape ${describe(shape)}`);
    }
    offsets.push(pos);
    define(name, { dtype, shape: shape.map((d) => d + 0), data_offsets: [pos, pos + bytes] });
    pos += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded > MAX_HEADER_BYTES) {
    throw new UnsupportedError({}, `a header of at most ${MAX_HEADER_BYTES} bytes`, `${padded} bytes`);
  }
  const bytes = new Uint8Array(PREFIX_BYTES + padded);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, padded, true);
  view.setUint32(4, 0, true);
  bytes.set(json, PREFIX_BYTES);
  bytes.fill(0x20, PREFIX_BYTES + json.length);
  return { bytes, offsets, dataLength: pos };
}

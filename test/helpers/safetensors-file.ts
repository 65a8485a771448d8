// Test helpers: temporary folders and safetensors files (valid ones built on
// encodeSafetensorsHeader, and raw ones with any header bytes for corruption tests).

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DTYPE_SIZE, encodeSafetensorsHeader, type DType } from '../../build/js/formats/safetensors.js';

/** Creates a fresh folder under os.tmpdir(). Remove it with removeTmpDir. */
export function makeTmpDir(prefix = 'bitnet-st-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeTmpDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Runs fn with a fresh temporary folder and removes the folder afterwards, pass or fail. */
export function withTmpDir<T>(fn: (dir: string) => T): T {
  const dir = makeTmpDir();
  try {
    return fn(dir);
  } finally {
    removeTmpDir(dir);
  }
}

export interface TensorSpec {
  name: string;
  dtype: DType;
  shape: number[];
  /** The raw bytes; default: a deterministic pattern of the right length. */
  data?: Uint8Array;
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A deterministic byte pattern, distinct per tensor name. */
export function patternBytes(name: string, length: number): Uint8Array {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    h = Math.imul(h ^ (h >>> 15), 2246822507) + i;
    out[i] = h >>> 24;
  }
  return out;
}

/** The bytes of a valid safetensors file holding the tensors in the given order. */
export function buildSafetensors(tensors: readonly TensorSpec[], metadata?: Record<string, string>): Uint8Array {
  const enc = encodeSafetensorsHeader(tensors, metadata);
  const out = new Uint8Array(enc.bytes.length + enc.dataLength);
  out.set(enc.bytes, 0);
  tensors.forEach((t, i) => {
    const len = product(t.shape) * DTYPE_SIZE[t.dtype];
    const data = t.data ?? patternBytes(t.name, len);
    if (data.length !== len) throw new Error(`test helper: ${t.name} needs ${len} bytes, got ${data.length}`);
    out.set(data, enc.bytes.length + enc.offsets[i]!);
  });
  return out;
}

export function writeSafetensors(file: string, tensors: readonly TensorSpec[], metadata?: Record<string, string>): Uint8Array {
  const bytes = buildSafetensors(tensors, metadata);
  fs.writeFileSync(file, bytes);
  return bytes;
}

/**
 * A safetensors file from raw parts: `header` is a JSON value (stringified) or the exact header
 * text; the length prefix is the header's byte length unless `headerLength` overrides it.
 */
export function rawSafetensors(
  header: unknown,
  data: Uint8Array | number,
  opts: { headerLength?: bigint | number; pad?: boolean } = {},
): Uint8Array {
  let text = typeof header === 'string' ? header : JSON.stringify(header);
  if (opts.pad !== false && typeof header !== 'string') {
    while (Buffer.byteLength(text) % 8 !== 0) text += ' ';
  }
  const json = Buffer.from(text, 'utf8');
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(opts.headerLength ?? json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

/** Writes config.json (an object) into dir. */
export function writeConfig(dir: string, config: Record<string, unknown>): void {
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
}

/** A minimal BitNet-like config for tests that only need config.json to exist. */
export const TINY_CONFIG: Record<string, unknown> = {
  architectures: ['BitNetForCausalLM'],
  model_type: 'bitnet',
  hidden_size: 16,
  intermediate_size: 32,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  vocab_size: 8,
  tie_word_embeddings: true,
};

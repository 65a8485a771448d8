// A minimal independent safetensors reader for checking converter output in tests
// (whole-file reads: test models only). It shares no code with src/.

import { readFileSync } from 'node:fs';

export interface RawTensor {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

export function readSafetensors(path: string): Map<string, RawTensor> {
  const file = readFileSync(path);
  const n = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, RawTensor>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    out.set(name, { dtype: t.dtype, shape: t.shape, bytes: new Uint8Array(file.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1])) });
  }
  return out;
}

/** All tensors of a checkpoint folder (single file or shards listed in the index). */
export function readCheckpointTensors(dir: string): Map<string, RawTensor> {
  let files = ['model.safetensors'];
  try {
    const index = JSON.parse(readFileSync(`${dir}/model.safetensors.index.json`, 'utf8')) as { weight_map: Record<string, string> };
    files = [...new Set(Object.values(index.weight_map))];
  } catch {
    // single file
  }
  const all = new Map<string, RawTensor>();
  for (const f of files) for (const [k, v] of readSafetensors(`${dir}/${f}`)) all.set(k, v);
  return all;
}

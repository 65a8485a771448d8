// Opens a Hugging Face checkpoint folder: config.json plus either model.safetensors or
// model.safetensors.index.json and its shards. Only the headers are read here (8 bytes, then the
// JSON header, with positioned reads); the tensor data is read later, tensor by tensor.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { CorruptFileError, InvalidConfigError } from '../errors.js';
import {
  MAX_HEADER_BYTES,
  PREFIX_BYTES,
  parseHeader,
  readHeaderLength,
  type SafetensorsHeader,
  type SkippedTensor,
  type TensorInfo,
} from '../formats/safetensors.js';
import { fsErrorText, readFullySync, statOrUndefined } from './read.js';
import { clip, isPlainObject } from '../formats/json-text.js';

export const CONFIG_FILE = 'config.json';
export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

/** config.json is small; anything past this is not a config. */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

export interface CheckpointSkipped extends SkippedTensor {
  /** The file the skipped tensor is in. */
  file: string;
}

export interface Checkpoint {
  dir: string;
  configPath: string;
  config: Record<string, unknown>;
  /** One header per safetensors file (one file, or the shards in name order). */
  files: SafetensorsHeader[];
  /** Every 0-D, 1-D and 2-D tensor of every file, by name (file order, shards in name order). */
  tensors: Map<string, TensorInfo>;
  /** Tensors of 3 or more dimensions, which are not converted (warn about them). */
  skipped: CheckpointSkipped[];
  /** Set for a sharded checkpoint. */
  indexPath?: string;
}

function kindOf(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `the string ${clip(JSON.stringify(v), 60)}`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

/**
 * Reads one safetensors file's header with positioned reads (8 bytes, then the header bytes only)
 * and validates it. The descriptor is closed before returning.
 */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  // Checked before opening: opening a FIFO (or a device) would block for ever.
  const st = statOrUndefined(file);
  if (st && !st.isFile()) throw new CorruptFileError({ file }, 'a safetensors file', 'not a regular file');
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new CorruptFileError({ file }, 'a readable safetensors file', fsErrorText(e));
  }
  try {
    let size: number;
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw new CorruptFileError({ file }, 'a safetensors file', 'not a regular file');
      size = st.size;
    } catch (e) {
      if (e instanceof CorruptFileError) throw e;
      throw new CorruptFileError({ file }, 'a readable safetensors file', fsErrorText(e));
    }
    const prefix = new Uint8Array(PREFIX_BYTES);
    if (size >= PREFIX_BYTES) readFullySync(fd, file, prefix, 0);
    const n = readHeaderLength(prefix, size, file);
    const json = new Uint8Array(n); // n <= MAX_HEADER_BYTES and n <= size - 8, checked above
    readFullySync(fd, file, json, PREFIX_BYTES);
    return parseHeader(json, n, size, file);
  } finally {
    fs.closeSync(fd);
  }
}

function readConfig(dir: string, configPath: string): Record<string, unknown> {
  const st = statOrUndefined(configPath);
  if (!st) {
    const dirSt = statOrUndefined(dir);
    const found = !dirSt
      ? `no such file: the folder ${dir} does not exist (pass the folder of a downloaded checkpoint)`
      : !dirSt.isDirectory()
        ? `no such file: ${dir} is a file, not a folder (pass the folder that holds config.json and the .safetensors weights)`
        : 'no such file (download config.json from the model repository into this folder)';
    throw new InvalidConfigError({ file: configPath }, 'the model config.json next to the weights', found);
  }
  if (!st.isFile()) {
    throw new InvalidConfigError({ file: configPath }, 'a config.json file', 'not a regular file');
  }
  if (st.size > MAX_CONFIG_BYTES) {
    throw new InvalidConfigError({ file: configPath }, `a config.json of at most ${MAX_CONFIG_BYTES} bytes`, `${st.size} bytes (is it the right file?)`);
  }
  let text: string;
  try {
    text = fs.readFileSync(configPath, 'utf8');
  } catch (e) {
    throw new InvalidConfigError({ file: configPath }, 'a readable config.json', fsErrorText(e));
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new InvalidConfigError(
      { file: configPath },
      'valid JSON (re-download config.json from the model repository)',
      `invalid JSON (${clip(msg.replace(/\s+/g, ' '), 120)})`,
    );
  }
  if (!isPlainObject(config)) {
    throw new InvalidConfigError({ file: configPath }, 'a JSON object (re-download config.json from the model repository)', kindOf(config));
  }
  return config;
}

function readIndex(indexPath: string): Map<string, string> {
  const st = statOrUndefined(indexPath);
  if (!st || !st.isFile()) {
    throw new CorruptFileError({ file: indexPath }, 'a readable index file', st ? 'not a regular file' : 'no such file');
  }
  if (st.size > MAX_HEADER_BYTES) {
    throw new CorruptFileError({ file: indexPath }, `an index of at most ${MAX_HEADER_BYTES} bytes`, `${st.size} bytes`);
  }
  let root: unknown;
  try {
    root = JSON.parse(fs.readFileSync(indexPath, 'utf8'));
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new CorruptFileError({ file: indexPath }, 'a JSON index (re-download it)', `invalid JSON or unreadable (${clip(msg.replace(/\s+/g, ' '), 120)})`);
  }
  if (!isPlainObject(root)) {
    throw new CorruptFileError({ file: indexPath }, 'a JSON object with a "weight_map"', kindOf(root));
  }
  const weightMap = root['weight_map'];
  if (!isPlainObject(weightMap)) {
    throw new CorruptFileError({ file: indexPath }, '"weight_map" to be an object of tensor name -> shard file name', kindOf(weightMap));
  }
  const map = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string') {
      throw new CorruptFileError({ file: indexPath, tensor }, 'a shard file name in "weight_map"', kindOf(shard));
    }
    if (shard === '' || shard === '.' || shard === '..' || shard.includes('/') || shard.includes('\\') || shard.includes('\0')) {
      throw new CorruptFileError(
        { file: indexPath, tensor },
        'a shard file name in the same folder as the index',
        `${clip(JSON.stringify(shard), 120)}`,
      );
    }
    map.set(tensor, shard);
  }
  return map;
}

function collect(files: SafetensorsHeader[]): { tensors: Map<string, TensorInfo>; skipped: CheckpointSkipped[] } {
  const tensors = new Map<string, TensorInfo>();
  const skipped: CheckpointSkipped[] = [];
  const owner = new Map<string, string>();
  const claim = (name: string, file: string): void => {
    const other = owner.get(name);
    if (other !== undefined) {
      throw new CorruptFileError(
        { file, tensor: name },
        'each tensor name in one file only',
        other === file ? 'the name twice in this file' : `the same name also in ${other}`,
      );
    }
    owner.set(name, file);
  };
  for (const h of files) {
    for (const t of h.tensors) {
      claim(t.name, h.file);
      tensors.set(t.name, t);
    }
    for (const s of h.skipped) {
      claim(s.name, h.file);
      skipped.push({ ...s, file: h.file });
    }
  }
  return { tensors, skipped };
}

/**
 * Opens a checkpoint folder and validates config.json and every safetensors header. Prefers
 * model.safetensors over an index when both exist (as transformers does).
 */
export function openCheckpoint(dir: string): Checkpoint {
  const configPath = path.join(dir, CONFIG_FILE);
  const config = readConfig(dir, configPath);

  const singlePath = path.join(dir, SINGLE_FILE);
  const indexPath = path.join(dir, INDEX_FILE);
  if (statOrUndefined(singlePath)) {
    const files = [readSafetensorsHeader(singlePath)];
    return { dir, configPath, config, files, ...collect(files) };
  }
  if (!statOrUndefined(indexPath)) {
    let found: string[] = [];
    try {
      found = fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort();
    } catch {
      // the folder held config.json a moment ago; report what we know
    }
    const what =
      found.length === 0
        ? 'neither (and no .safetensors files at all)'
        : `neither, but ${found.length} .safetensors file(s) without an index: ${clip(found.join(', '), 200)} (download ${INDEX_FILE} too)`;
    throw new CorruptFileError({ file: dir }, `${SINGLE_FILE} or ${INDEX_FILE} with its shards in the checkpoint folder`, what);
  }

  const weightMap = readIndex(indexPath);
  const shards = [...new Set(weightMap.values())].sort();
  const missing = shards.filter((s) => !statOrUndefined(path.join(dir, s))?.isFile());
  if (missing.length > 0) {
    throw new CorruptFileError(
      { file: indexPath },
      `every shard named in its weight_map to be in ${dir}`,
      `missing ${clip(missing.join(', '), 300)} (download the missing shard${missing.length > 1 ? 's' : ''})`,
    );
  }
  const files = shards.map((s) => readSafetensorsHeader(path.join(dir, s)));
  const byShard = new Map<string, Set<string>>();
  shards.forEach((s, i) => {
    const h = files[i]!;
    byShard.set(s, new Set([...h.tensors.map((t) => t.name), ...h.skipped.map((t) => t.name)]));
  });
  for (const [tensor, shard] of weightMap) {
    if (!byShard.get(shard)!.has(tensor)) {
      throw new CorruptFileError(
        { file: path.join(dir, shard), tensor },
        `the tensor ${INDEX_FILE} maps to this shard`,
        `no such tensor in the shard (the index ${indexPath} and its shards disagree)`,
      );
    }
  }
  return { dir, configPath, config, files, ...collect(files), indexPath };
}

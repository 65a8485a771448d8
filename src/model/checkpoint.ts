// A Hugging Face checkpoint folder: config.json plus either model.safetensors or
// model.safetensors.index.json and its shards, validated through a small synchronous port (Node: the
// file system; a browser: the user's File objects, whose headers are read ahead). Only the headers
// are read here; the tensor data is read later, tensor by tensor.

import { CorruptFileError, InvalidConfigError } from '../errors.js';
import {
  MAX_TENSORS,
  PREFIX_BYTES,
  parseHeader,
  readHeaderLength,
  type HeaderLimits,
  type SafetensorsHeader,
  type SkippedTensor,
  type TensorInfo,
} from '../formats/safetensors.js';
import { clip, isPlainObject } from '../formats/json-text.js';
import { ggufOfFolder, openGgufCheckpoint, type GgufSource } from './gguf-checkpoint.js';

export const CONFIG_FILE = 'config.json';
export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

/**
 * config.json is a few KB (2B-4T's: 1 KB); 1 MiB is generous and keeps JSON.parse of the worst 1 MiB
 * document (and the copies of the config in the plan and outputs) well inside the 256 MiB bound, which a
 * 16 MB config of 700k keys was not (325 MiB and more).
 */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** An index lists each tensor once in about 100 bytes (Llama3-8B's: 24 KB for 291 tensors); 1 MiB holds 10,000. */
export const MAX_INDEX_BYTES = 1024 * 1024;

/** Tensors a checkpoint may list per layer: the layouts name at most 18 (src/layouts/), extra ones (biases, inv_freq) a few more. */
const TENSORS_PER_LAYER = 64;

/** The folder as the opener sees it. Names are plain file names; `path(name)` is what messages and readers use. */
export interface CheckpointFolder {
  /** How the folder is named in messages and in Checkpoint.dir. */
  dir: string;
  path(name: string): string;
  /** The size of a regular file, 'not a regular file', or undefined when there is no such file. */
  stat(name: string): number | 'not a regular file' | undefined;
  /** Exactly `length` bytes at `position`, or a CorruptFileError naming the file. */
  read(name: string, position: number, length: number): Uint8Array;
  /** A whole small file as UTF-8 text; throws an Error whose message says why it cannot be read. */
  readText(name: string): string;
  /** The file names in the folder. */
  list(): string[];
  /** Why there is no config.json when the folder itself is the problem (missing, a file), if the host can tell. */
  folderProblem?(): string | undefined;
}

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
  /** Set for a .gguf input (docs/gguf.md 10): `config` is rebuilt from its KVs and configPath is the .gguf. */
  gguf?: GgufSource;
}

function kindOf(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `the string ${clip(JSON.stringify(v), 60)}`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

/** Reads and validates one safetensors file's header: 8 bytes, then the header bytes only. */
export function readHeader(folder: CheckpointFolder, name: string, limits?: HeaderLimits): SafetensorsHeader {
  const file = folder.path(name);
  const size = folder.stat(name);
  if (size === undefined) throw new CorruptFileError({ file }, 'a readable safetensors file', 'no such file');
  if (size === 'not a regular file') throw new CorruptFileError({ file }, 'a safetensors file', 'not a regular file');
  const prefix = size >= PREFIX_BYTES ? folder.read(name, 0, PREFIX_BYTES) : new Uint8Array(PREFIX_BYTES);
  const n = readHeaderLength(prefix, size, file);
  return parseHeader(folder.read(name, PREFIX_BYTES, n), n, size, file, limits); // n <= MAX_HEADER_BYTES and n <= size - 8, checked above
}

function readConfig(folder: CheckpointFolder): Record<string, unknown> {
  const configPath = folder.path(CONFIG_FILE);
  const size = folder.stat(CONFIG_FILE);
  if (size === undefined) {
    const found = folder.folderProblem?.() ?? 'no such file (download config.json from the model repository into this folder)';
    throw new InvalidConfigError({ file: configPath }, 'the model config.json next to the weights', found);
  }
  if (size === 'not a regular file') throw new InvalidConfigError({ file: configPath }, 'a config.json file', 'not a regular file');
  if (size > MAX_CONFIG_BYTES) {
    throw new InvalidConfigError({ file: configPath }, `a config.json of at most ${MAX_CONFIG_BYTES} bytes`, `${size} bytes (is it the right file?)`);
  }
  let text: string;
  try {
    text = folder.readText(CONFIG_FILE);
  } catch (e) {
    throw new InvalidConfigError({ file: configPath }, 'a readable config.json', e instanceof Error ? e.message : String(e));
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

/**
 * How many tensors the checkpoint may list: 64 per layer of config.json's num_hidden_layers, plus 64
 * (at most MAX_TENSORS). Each header is counted against it before its entries are built, so a header
 * of 700k tiny tensors is refused before it costs memory.
 */
function tensorLimits(config: Record<string, unknown>): HeaderLimits {
  const layers = config['num_hidden_layers'];
  if (typeof layers === 'number' && Number.isSafeInteger(layers) && layers > 0 && TENSORS_PER_LAYER * (layers + 1) < MAX_TENSORS) {
    return { maxTensors: TENSORS_PER_LAYER * (layers + 1), why: `${TENSORS_PER_LAYER} per layer of config.json's num_hidden_layers ${layers}, plus ${TENSORS_PER_LAYER}` };
  }
  return { maxTensors: MAX_TENSORS, why: 'the most a checkpoint may hold' };
}

function readIndex(folder: CheckpointFolder, limits: HeaderLimits): Map<string, string> {
  const indexPath = folder.path(INDEX_FILE);
  const size = folder.stat(INDEX_FILE);
  if (typeof size !== 'number') {
    throw new CorruptFileError({ file: indexPath }, 'a readable index file', size ?? 'no such file');
  }
  if (size > MAX_INDEX_BYTES) {
    throw new CorruptFileError({ file: indexPath }, `an index of at most ${MAX_INDEX_BYTES} bytes`, `${size} bytes (is it the right file?)`);
  }
  let root: unknown;
  try {
    root = JSON.parse(folder.readText(INDEX_FILE));
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
  let entries = 0;
  for (const _ in weightMap) entries++;
  if (entries > limits.maxTensors) {
    throw new CorruptFileError({ file: indexPath }, `a weight_map of at most ${limits.maxTensors} tensors (${limits.why})`, `${entries} entries`);
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
export function openCheckpointFolder(folder: CheckpointFolder, ggufName?: string): Checkpoint {
  const dir = folder.dir;
  const configPath = folder.path(CONFIG_FILE);
  // a .gguf named, or the one .gguf of a folder without config.json
  const gguf = ggufName ?? (folder.stat(CONFIG_FILE) === undefined ? ggufOfFolder(folder) : undefined);
  if (gguf !== undefined) return openGgufCheckpoint(folder, gguf);
  const config = readConfig(folder);
  const limits = tensorLimits(config);

  if (folder.stat(SINGLE_FILE) !== undefined) {
    const files = [readHeader(folder, SINGLE_FILE, limits)];
    return { dir, configPath, config, files, ...collect(files) };
  }
  const indexPath = folder.path(INDEX_FILE);
  if (folder.stat(INDEX_FILE) === undefined) {
    let found: string[] = [];
    try {
      found = folder.list().filter((f) => f.endsWith('.safetensors')).sort();
    } catch {
      // the folder held config.json a moment ago; report what we know
    }
    const what =
      found.length === 0
        ? 'neither (and no .safetensors files at all)'
        : `neither, but ${found.length} .safetensors file(s) without an index: ${clip(found.join(', '), 200)} (download ${INDEX_FILE} too)`;
    throw new CorruptFileError({ file: dir }, `${SINGLE_FILE} or ${INDEX_FILE} with its shards in the checkpoint folder`, what);
  }

  const weightMap = readIndex(folder, limits);
  const shards = [...new Set(weightMap.values())].sort();
  const missing = shards.filter((s) => typeof folder.stat(s) !== 'number');
  if (missing.length > 0) {
    throw new CorruptFileError(
      { file: indexPath },
      `every shard named in its weight_map to be in ${dir}`,
      `missing ${clip(missing.join(', '), 300)} (download the missing shard${missing.length > 1 ? 's' : ''})`,
    );
  }
  // the checkpoint's budget is shared by its shards
  let listed = 0;
  const files = shards.map((s) => {
    const left = { maxTensors: limits.maxTensors - listed, why: `${limits.why}${listed ? `, ${listed} of them in earlier shards` : ''}` };
    const h = readHeader(folder, s, left);
    listed += h.tensors.length + h.skipped.length;
    return h;
  });
  const byShard = new Map<string, Set<string>>();
  shards.forEach((s, i) => {
    const h = files[i]!;
    byShard.set(s, new Set([...h.tensors.map((t) => t.name), ...h.skipped.map((t) => t.name)]));
  });
  for (const [tensor, shard] of weightMap) {
    if (!byShard.get(shard)!.has(tensor)) {
      throw new CorruptFileError(
        { file: folder.path(shard), tensor },
        `the tensor ${INDEX_FILE} maps to this shard`,
        `no such tensor in the shard (the index ${indexPath} and its shards disagree)`,
      );
    }
  }
  return { dir, configPath, config, files, ...collect(files), indexPath };
}

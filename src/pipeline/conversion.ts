// The steps of a conversion that every host shares (Node's convert(), the browser's convertFiles()):
// the options a format sees, the model plan with its warnings, the job totals for progress, and the
// manifest. The hosts differ only in where bytes come from and go to, and how jobs are scheduled.

import { DEFAULTS } from '../defaults.js';
import { UsageError } from '../errors.js';
import { jsonBytes } from '../formats/json-text.js';
import { planCheckpoint } from '../layouts/index.js';
import type { Checkpoint } from '../model/checkpoint.js';
import { parseModelConfig } from '../model/config.js';
import type { ModelPlan } from '../model/plan.js';
import type { AnyFormat, FormatOwnOptions } from '../outputs/index.js';
import { optionFlag, optionManifestKey, type FormatOptions, type FormatPlan } from '../outputs/types.js';
import { describeRule, type QuantRule, type ScaleGranularity } from '../quant/rule.js';
import { VERSION } from '../version.js';

/**
 * The options of a conversion that do not depend on where it runs, and every format's own options by
 * their keys (ggufType, ggufArch, bincode: each format's `options` schema).
 */
export interface ConversionOptions extends Partial<FormatOwnOptions> {
  /** The output format (outputs/index.ts); default bitnet-rs. */
  format?: string;
  granularity?: ScaleGranularity;
  /** offline (default): the reference rule in the tensor's dtype; online: transformers' WeightQuant in f32. */
  rule?: QuantRule;
  /** Input bytes per chunk read into wasm memory. */
  chunkBytes?: number;
  /** Projections up to this size are read once and held for both passes (default 64 MiB). */
  holdBytes?: number;
  /** conversion_timestamp in seconds; default SOURCE_DATE_EPOCH (Node), else now. */
  timestamp?: number;
  kernels?: 'auto' | 'simd' | 'scalar';
  /** Called about 5 times a second while jobs run, and once at the end. */
  onProgress?: (p: Progress) => void;
  onWarning?: (message: string) => void;
}

export interface ProgressSnapshot {
  bytesRead: number;
  tensorsDone: number;
}

export interface Progress extends ProgressSnapshot {
  /** Input bytes to read in all, counting both passes over a projection too large to hold. */
  bytesTotal: number;
  tensorsTotal: number;
}

export interface OutputFile {
  name: string;
  bytes: number;
  sha256: string;
}

export function checkThreads(threads: number): number {
  if (!Number.isSafeInteger(threads) || threads < 0) throw new UsageError(`--threads: expected a whole number >= 0, found ${threads}`);
  return threads;
}

/** What a format sees of the options, every default filled in (the host's for the timestamp); a value outside a format option's schema is a UsageError. */
export function formatOptions(format: AnyFormat, o: ConversionOptions, modelName: string, defaultTimestamp: () => number): FormatOptions {
  const given = o as Record<string, unknown>;
  const own: Record<string, string> = {};
  for (const opt of format.options) {
    const v = given[opt.key] ?? opt.default;
    if (typeof v !== 'string' || !opt.values.includes(v)) {
      throw new UsageError(`--${optionFlag(opt.key)}: expected one of ${opt.values.join(', ')}, found ${JSON.stringify(v)}`);
    }
    own[opt.key] = v;
  }
  return {
    ...own,
    granularity: o.granularity ?? DEFAULTS.granularity,
    rule: o.rule ?? DEFAULTS.rule,
    chunkBytes: o.chunkBytes ?? DEFAULTS.chunkBytes,
    holdBytes: o.holdBytes ?? DEFAULTS.holdBytes,
    timestamp: o.timestamp ?? defaultTimestamp(),
    modelName,
  };
}

/** A format's own options as this model uses them ("auto" resolved), by manifest key: what manifest.json records. */
export function resolvedOptions(format: AnyFormat, model: ModelPlan, o: FormatOptions): Record<string, unknown> {
  const own = format.resolve ? format.resolve(model, o) : o;
  return Object.fromEntries(format.options.map((opt) => [optionManifestKey(opt.key), own[opt.key]]));
}

/** The options a manifest records, as ConversionOptions (verify re-derives an output with them); a value outside the schema is left out. */
export function optionsFromManifest(format: AnyFormat, recorded: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const opt of format.options) {
    const v = recorded[optionManifestKey(opt.key)];
    if (typeof v === 'string' && opt.values.includes(v)) out[opt.key] = v;
  }
  return out;
}

/** The opened checkpoint as a format-neutral plan; what is skipped or unused becomes a warning. */
export function planModel(checkpoint: Checkpoint, warn: (message: string) => void): ModelPlan {
  for (const s of checkpoint.skipped) warn(`${s.file}: skipped tensor ${s.name} with shape [${s.shape}]: ${s.reason}`);
  const config = parseModelConfig(checkpoint.config, checkpoint.configPath);
  const files = checkpoint.files.map((f) => f.file);
  const model = planCheckpoint({ config, tensors: checkpoint.tensors, files, configPath: checkpoint.configPath });
  if (model.unused.length) warn(`${model.unused.length} tensors are not part of the layout and were not converted: ${model.unused.join(', ')}`);
  return model;
}

export function jobTotals(plan: FormatPlan): { bytesTotal: number; tensorsTotal: number } {
  return {
    bytesTotal: plan.jobs.reduce((sum, j) => sum + j.cost.bytes, 0),
    tensorsTotal: plan.jobs.reduce((sum, j) => sum + j.cost.tensors, 0),
  };
}

export interface SourceDescription {
  /** The input folder's name (not its path, so the manifest does not depend on where it was). */
  folder: string;
  /** config.json, the index and the weight files, relative to the input folder. */
  files: string[];
  /** Size of the safetensors files. */
  bytes: number;
}

/** The input files a manifest names (relative to the folder) and their size. */
export function describeSource(checkpoint: Checkpoint, folder: string, relative: (path: string) => string): SourceDescription {
  const paths = [checkpoint.configPath, ...(checkpoint.indexPath ? [checkpoint.indexPath] : []), ...checkpoint.files.map((f) => f.file)];
  return { folder, files: paths.map(relative), bytes: checkpoint.files.reduce((s, f) => s + f.fileSize, 0) };
}

/** manifest.json: what was written (every file with size and sha256), by which converter, how, from what. */
export function manifestBytes(format: AnyFormat, model: ModelPlan, o: FormatOptions, files: OutputFile[], source: SourceDescription): Uint8Array {
  return jsonBytes({
    converter: { name: 'bitnet-converter', version: VERSION },
    format: format.id,
    conversion_timestamp: o.timestamp,
    options: { ...resolvedOptions(format, model, o), ...format.describe(model, o), scale_granularity: o.granularity, rule: o.rule },
    source: { folder: source.folder, layout: model.layout, files: source.files.map((name) => ({ name })), bytes: source.bytes },
    ternarization: describeRule(o.granularity, o.rule),
    lm_head: model.outputTied ? 'tied: model.embed_tokens.weight' : 'lm_head.weight',
    files,
  });
}

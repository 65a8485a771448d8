// The conversion every host runs (Node's convert(), the browser's convertFiles()): runConversion is the
// one sequence, with the options a format sees, the model plan with its warnings, the job totals for
// progress, and the manifest. A host (ConversionHost) supplies only where bytes come from and go to,
// how jobs are scheduled, and how the output is committed.

import { DEFAULTS } from '../defaults.js';
import { UnsupportedError, UsageError } from '../errors.js';
import { jsonBytes } from '../formats/json-text.js';
import { BIAS, planCheckpoint } from '../layouts/index.js';
import type { Checkpoint } from '../model/checkpoint.js';
import { parseModelConfig } from '../model/config.js';
import type { ModelPlan } from '../model/plan.js';
import { ENGINE_IDS, engineById, engineOptions } from '../outputs/engines.js';
import { formatById, type AnyFormat, type FormatOwnOptions } from '../outputs/index.js';
import { optionFlag, optionManifestKey, type FormatOptions, type FormatPlan, type InputFolder, type SmallFile } from '../outputs/types.js';
import { describeRule, type QuantRule, type ScaleGranularity } from '../quant/rule.js';
import type { TernaryStats } from '../inspect/stats.js';
import { VERSION } from '../version.js';

/**
 * The options of a conversion that do not depend on where it runs, and every format's own options by
 * their keys (ggufType, ggufArch, bincode: each format's `options` schema).
 */
export interface ConversionOptions extends Partial<FormatOwnOptions> {
  /** The output format (outputs/index.ts); default bitnet-rs. */
  format?: string;
  /**
   * The engine the output is for (outputs/engines.ts): it picks the format and its options (for GGUF the
   * type, and the architecture from the model, refused when the engine does not compute it).
   */
  engine?: string;
  /** The input layout by id (layouts/index.ts), for one that is never detected (llama-latent); default: detected. */
  layout?: string;
  granularity?: ScaleGranularity;
  /** offline (default): the reference rule in the tensor's dtype; online: transformers' WeightQuant in f32. */
  rule?: QuantRule;
  /** Input bytes per chunk read into wasm memory. */
  chunkBytes?: number;
  /** Projections up to this size are read once and held for both passes (default 64 MiB). */
  holdBytes?: number;
  /** A float tensor read in more bytes is written by several jobs of whole rows (default 64 MiB). */
  pieceBytes?: number;
  /** Gather each ternary weight's statistics as the conversion streams it (the report's per-layer charts). */
  stats?: boolean;
  /** Write a scale the source stores exactly (a GGUF's) rounded to the output's dtype instead of refusing; manifest.json lists each. */
  allowLossy?: boolean;
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
  /** Tensors whose reading has begun (the browser's host counts them; done ones included). */
  tensorsStarted?: number;
  /** A Hub input: tensor bytes received over the network so far (a read retried after a dropped connection counts once per attempt). */
  bytesFetched?: number;
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
    pieceBytes: o.pieceBytes ?? DEFAULTS.pieceBytes,
    stats: o.stats ?? false,
    allowLossy: o.allowLossy ?? false,
    timestamp: o.timestamp ?? defaultTimestamp(),
    modelName,
  };
}

/** A format's own options as this model uses them ("auto" resolved), by manifest key: what manifest.json records. */
export function resolvedOptions(format: AnyFormat, model: ModelPlan, o: FormatOptions): Record<string, unknown> {
  const own = format.resolve ? format.resolve(model, o) : o;
  return Object.fromEntries(format.options.map((opt) => [optionManifestKey(opt.key), own[opt.key]]));
}

/**
 * The options a manifest records, as ConversionOptions (verify re-derives an output with them): the
 * format's own, and the input layout when it was named; a value outside the schema is left out.
 */
export function optionsFromManifest(format: AnyFormat, recorded: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = typeof recorded.layout === 'string' ? { layout: recorded.layout } : {};
  for (const opt of format.options) {
    const v = recorded[optionManifestKey(opt.key)];
    if (typeof v === 'string' && opt.values.includes(v)) out[opt.key] = v;
  }
  return out;
}

/** The opened checkpoint as a format-neutral plan (the layout named, or detected); what is skipped or unused becomes a warning. */
export function planModel(checkpoint: Checkpoint, warn: (message: string) => void, layout?: string): ModelPlan {
  for (const s of checkpoint.skipped) warn(`${s.file}: skipped tensor ${s.name} with shape [${s.shape}]: ${s.reason}`);
  const config = parseModelConfig(checkpoint.config, checkpoint.configPath);
  const files = checkpoint.files.map((f) => f.file);
  const model = planCheckpoint({ config, tensors: checkpoint.tensors, files, configPath: checkpoint.configPath, gguf: checkpoint.gguf }, layout);
  if (model.unused.length) warn(`${model.unused.length} tensors are not part of the layout and were not converted: ${model.unused.join(', ')}`);
  return model;
}

/**
 * No format writes a bias (the plan has no role for one), and a model computed without its biases is
 * another model: a conversion refuses them, naming the first; inspect still lists them as unused.
 */
function refuseBiases(model: ModelPlan, checkpoint: Checkpoint): void {
  const biases = model.unused.filter((n) => BIAS.test(n));
  if (!biases.length) return;
  throw new UnsupportedError(
    { file: checkpoint.tensors.get(biases[0])?.file, tensor: biases[0] },
    'no bias tensors (no output format carries a bias, and the model computed without it would be another model)',
    biases.length === 1 ? 'this one' : `${biases.length} of them`,
  );
}

/** A job reading less than this is tiny whatever the largest (hf-packed's first job, its norms and scales, beside pieces of 64 MB). */
const TINY_JOB_BYTES = 4 << 20;

/**
 * Tiny jobs (under 1/64 of the largest, or 4 MiB) first, in plan order: they cost the balance nothing, and
 * a container is hashed only up to its first unwritten region (GGUF's output_norm, run last, held back the
 * hash of the whole file after it). Then the jobs of at least 1/8 of all the bytes, largest first: one
 * started late would run alone at the end. Then the rest in the order of their first region in the file
 * (`at`), so that the hash follows the writes: a job run early whose regions lie late in the file was
 * hashed only once every job before it in the file had ended, on one thread while the others stood idle
 * (ms-gpu's embedding, in pieces at the end of its file and started first: 4.4 s of the page's 16.7 for
 * 2B-4T). Jobs with no region (files of their own) go before those, largest first.
 */
export function jobOrder(weights: number[], at: (number | undefined)[] = []): number[] {
  const total = weights.reduce((sum, w) => sum + w, 0);
  const tiny = Math.max(Math.max(...weights) / 64, TINY_JOB_BYTES);
  const group = (i: number) => (weights[i]! < tiny ? 0 : weights[i]! >= total / 8 ? 1 : at[i] === undefined ? 2 : 3);
  const within = (a: number, b: number) => (group(a) === 0 ? 0 : group(a) === 3 ? at[a]! - at[b]! : weights[b]! - weights[a]!);
  return weights.map((_, i) => i).sort((a, b) => group(a) - group(b) || within(a, b));
}

/** The order to start a plan's jobs in (jobOrder): by their input bytes and the place of their first region. */
export function planOrder(jobs: { cost: { bytes: number }; regions?: { offset: number }[] }[]): number[] {
  return jobOrder(
    jobs.map((j) => j.cost.bytes),
    jobs.map((j) => (j.regions?.length ? Math.min(...j.regions.map((r) => r.offset)) : undefined)),
  );
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
  // a .gguf is its own config
  const paths = [...new Set([checkpoint.configPath, ...(checkpoint.indexPath ? [checkpoint.indexPath] : []), ...checkpoint.files.map((f) => f.file)])];
  return { folder, files: paths.map(relative), bytes: checkpoint.files.reduce((s, f) => s + f.fileSize, 0) };
}

/**
 * manifest.json: what was written (every file with size and sha256), by which converter, how, from what;
 * `named`: the layout the caller named (--layout), recorded with the options so that verify re-derives with it.
 */
export function manifestBytes(format: AnyFormat, model: ModelPlan, o: FormatOptions, files: OutputFile[], source: SourceDescription, named?: string, rounded: [string, string][] = []): Uint8Array {
  return jsonBytes({
    converter: { name: 'bitnet-converter', version: VERSION },
    format: format.id,
    conversion_timestamp: o.timestamp,
    options: {
      ...resolvedOptions(format, model, o), ...format.describe(model, o), scale_granularity: o.granularity, rule: o.rule, ...(named === undefined ? {} : { layout: named }),
      ...(o.allowLossy && { allow_lossy: true }),
    },
    // --allow-lossy: every stored scale that was rounded, by tensor (docs/gguf.md 10)
    // (a tensor written in pieces may report more than once: its first report is kept)
    ...(rounded.length > 0 && { rounded: Object.fromEntries([...new Map(rounded.reverse())].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) }),
    source: { folder: source.folder, layout: model.layout, files: source.files.map((name) => ({ name })), bytes: source.bytes },
    ternarization: describeRule(o.granularity, o.rule),
    lm_head: model.outputTied ? 'tied: model.embed_tokens.weight' : 'lm_head.weight',
    files,
  });
}

/** What a host wrote of one file: its size and sha256. */
export interface Written {
  bytes: number;
  sha256: string;
}

/** What one job gave back. */
export interface JobOutcome {
  written?: Written;
  stats?: [string, TernaryStats][];
  /** With options.allowLossy: the stored scales it rounded, by tensor. */
  rounded?: [string, string][];
}

/** The input as a host opened it: the checkpoint's headers, its name, its side files. */
export interface HostInput {
  checkpoint: Checkpoint;
  /** The side files (tokenizer, generation config) formats copy. */
  side: InputFolder;
  /** A path of the checkpoint relative to the input folder, for the manifest. */
  relative(path: string): string;
}

/**
 * One output being written, as a host does it: Node with worker threads into a temporary folder renamed
 * into place, the browser with module workers into OPFS then delivered. Every method may throw a
 * ConversionError; after one, `abort` is called.
 */
export interface HostRun<Delivered> {
  /** Starts the workers (or not, on the calling thread) for these jobs. */
  start(plan: FormatPlan, module: WebAssembly.Module, options: FormatOptions): Promise<void>;
  /** Creates the single-file containers, their heads written and their size set. */
  createContainers(containers: FormatPlan['containers']): Promise<void>;
  /** Runs the jobs (in jobOrder's order); in job order, what each wrote of its own file (none for container regions) and its weights' statistics (options.stats). */
  runJobs(): Promise<JobOutcome[]>;
  /** Input bytes and tensors done so far (read about 5 times a second while the jobs run). */
  progress(): ProgressSnapshot;
  /** The containers' size and sha256, once every region is written. */
  finishContainers(containers: FormatPlan['containers']): Promise<Written[]>;
  writeSmall(name: string, bytes: Uint8Array): Promise<Written>;
  /** Puts the complete output where it was asked for. */
  commit(files: OutputFile[]): Promise<Delivered>;
  abort(): Promise<void>;
  /** The workers used, for the summary. */
  threads: number;
}

/** What a host supplies: file access, planning, threads, the output transaction (HostRun). */
export interface ConversionHost<Delivered> {
  /** The input folder's name (the model's name in outputs and the manifest). */
  inputName: string;
  /** Opens the input: config, index, headers, side files; reads no tensor data. */
  openInput(): Promise<HostInput>;
  /** The timestamp when none is given (Node: SOURCE_DATE_EPOCH, else now). */
  defaultTimestamp(): number;
  /** Plans the format's jobs (Node: on a worker thread, so the main thread stays free). */
  plan(format: AnyFormat, model: ModelPlan, options: FormatOptions, input: HostInput): Promise<FormatPlan>;
  /** The format's small files (format.finish) made while the jobs run (Node: on a thread of their own); without it, on this thread after them. */
  smallFiles?(format: AnyFormat, model: ModelPlan, options: FormatOptions, input: HostInput): Promise<SmallFile[]>;
  /** Checks the output can be written (exists, locked, inside the input) and begins it; `warn` tells what it found and mended (an interrupted replace). */
  begin(format: AnyFormat, input: HostInput, warn: (message: string) => void): Promise<HostRun<Delivered>>;
  /** Compiles the kernels (cached by the host's loader). */
  kernels(build: 'auto' | 'simd' | 'scalar'): Promise<{ module: WebAssembly.Module; flavor: 'simd' | 'scalar' }>;
  /** Starts what the jobs will need (Node: the worker threads) while the input is opened and planned. */
  warm?(build: 'auto' | 'simd' | 'scalar'): void;
  /** Stops what `warm` started and the jobs did not take, whatever the outcome. */
  release?(): Promise<void>;
}

export interface ConversionResult<Delivered> {
  format: string;
  layout: string;
  /** Every output file with its size and sha256: the jobs' own files, the containers, the small files, manifest.json last. */
  files: OutputFile[];
  delivered: Delivered;
  bytesRead: number;
  /** A Hub input: tensor bytes received over the network. */
  bytesFetched?: number;
  inputBytes: number;
  seconds: number;
  /** Where the seconds went: reading headers and planning, starting the workers, the jobs, hashing and writing the small files, delivery. */
  phases: { plan: number; workers: number; jobs: number; finish: number; deliver: number };
  kernels: 'simd' | 'scalar';
  threads: number;
  tiedLmHead: boolean;
  /** The model's transformer blocks. */
  layers: number;
  warnings: string[];
  /** With options.stats: every ternary weight's statistics, by tensor name (the tied head under the embedding's). */
  stats?: Map<string, TernaryStats>;
}

/**
 * The conversion, start to end, for every host: open and check the input, plan (everything that can be
 * checked is checked before the output is touched), run the jobs, hash the containers, write the
 * format's small files and the manifest, commit. A failure aborts the run: nothing is left behind.
 */
export async function runConversion<Delivered>(host: ConversionHost<Delivered>, o: ConversionOptions): Promise<ConversionResult<Delivered>> {
  host.warm?.(o.kernels ?? DEFAULTS.kernels);
  try {
    return await convertOnce(host, o);
  } finally {
    await host.release?.();
  }
}

async function convertOnce<Delivered>(host: ConversionHost<Delivered>, o: ConversionOptions): Promise<ConversionResult<Delivered>> {
  const started = performance.now();
  const marks = [started];
  const mark = () => marks.push(performance.now());
  const engine = o.engine === undefined ? undefined : engineById(o.engine);
  if (o.engine !== undefined && !engine) throw new UsageError(`--engine: expected one of ${ENGINE_IDS.join(', ')}, found ${JSON.stringify(o.engine)}`);
  if (engine && o.format !== undefined && o.format !== engine.format) throw new UsageError(`--engine ${engine.id} writes --format ${engine.format}, not ${o.format}`);
  const format = formatById(engine?.format ?? o.format ?? DEFAULTS.format);
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    o.onWarning?.(m);
  };
  const options = formatOptions(format, o, host.inputName, () => host.defaultTimestamp());
  const input = await host.openInput();
  const model = planModel(input.checkpoint, warn, o.layout);
  refuseBiases(model, input.checkpoint);
  if (engine) {
    const set = engineOptions(engine, model, options);
    // an option the engine sets, given with another value (not auto), is refused: overriding it silently would write what was not asked for
    for (const [key, v] of Object.entries(set)) {
      const given = (o as Record<string, unknown>)[key];
      if (given !== undefined && given !== 'auto' && given !== v) throw new UsageError(`--engine ${engine.id} sets --${optionFlag(key)} ${v}, not ${String(given)}: drop --${optionFlag(key)}, or convert with --format ${engine.format} instead of --engine`);
    }
    Object.assign(options, set);
  }
  // started before the plan: beside the plan thread it is done before the workers' buffers grow (peak memory)
  const small = host.smallFiles?.(format, model, options, input);
  small?.catch(() => undefined); // awaited after the jobs, where a failure is thrown
  const plan = await host.plan(format, model, options, input);
  const run = await host.begin(format, input, warn);
  let timer: ReturnType<typeof setInterval> | undefined;
  try {
    const { module, flavor } = await host.kernels(o.kernels ?? DEFAULTS.kernels);
    mark();
    await run.start(plan, module, options);
    await run.createContainers(plan.containers);
    // written: not held through the jobs (a GGUF's head holds its vocabulary, ~10 MB)
    for (const c of plan.containers) c.head = new Uint8Array(0);
    mark();
    const { bytesTotal, tensorsTotal } = jobTotals(plan);
    const report = () => o.onProgress?.({ ...run.progress(), bytesTotal, tensorsTotal });
    timer = o.onProgress ? setInterval(report, 200) : undefined;
    const own = await run.runJobs();
    clearInterval(timer);
    report();
    mark();

    // the files in the order the manifest lists them: the jobs' own, the containers, the small files
    const files: OutputFile[] = [];
    plan.jobs.forEach((j, i) => own[i].written && files.push({ name: j.file, ...own[i].written! }));
    const hashed = await run.finishContainers(plan.containers);
    plan.containers.forEach((c, i) => files.push({ name: c.file, ...hashed[i] }));
    for (const f of (await small) ?? format.finish(model, options, input.side)) files.push({ name: f.name, ...(await run.writeSmall(f.name, f.bytes)) });
    const source = describeSource(input.checkpoint, host.inputName, input.relative);
    const rounded = own.flatMap((r) => r.rounded ?? []);
    files.push({ name: 'manifest.json', ...(await run.writeSmall('manifest.json', manifestBytes(format, model, options, files, source, o.layout, rounded))) });
    mark();
    const delivered = await run.commit(files);
    mark();
    const [planning, workers, jobs, finish, deliver] = marks.slice(1).map((t, i) => (t - marks[i]) / 1000);
    const { bytesFetched } = run.progress();
    return {
      format: format.id,
      layout: model.layout,
      files,
      delivered,
      bytesRead: run.progress().bytesRead,
      ...(bytesFetched !== undefined && { bytesFetched }),
      inputBytes: source.bytes,
      seconds: (performance.now() - started) / 1000,
      phases: { plan: planning, workers, jobs, finish, deliver },
      kernels: flavor,
      threads: run.threads,
      tiedLmHead: model.outputTied,
      layers: model.blocks.length,
      warnings,
      ...(options.stats && { stats: new Map(own.flatMap((r) => r.stats ?? [])) }),
    };
  } catch (e) {
    await run.abort();
    throw e;
  } finally {
    clearInterval(timer);
  }
}

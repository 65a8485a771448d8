// The contract of an output format. A format owns everything about its bytes: it plans the jobs on
// the main thread (reading no tensor data), fills one job on a worker from the weight stream, adds
// its descriptive files at the end, and reads its own output back (tests, inspect, verify).

import type { ModelPlan, TensorRole } from '../model/plan.js';
import type { ExpectedTensors } from './expected.js';
import type { ByteSink } from '../stream/ports.js';
import type { StreamOptions, WeightStream } from '../stream/weights.js';

/**
 * An option a format owns (its schema): the values and the default. Everything else is derived from it:
 * the CLI flag (`--` + the key in kebab-case), the API key (ConversionOptions[key]), the manifest entry
 * (the key in snake_case, holding the value the format resolved), verify's read-back and the page's control.
 */
export interface FormatOption<K extends string = string, V extends string = string> {
  key: K;
  values: readonly V[];
  default: V;
  /** One line for --help and the page. */
  help: string;
  /** The page's label. */
  label: string;
  /** Its values change only metadata, no tensor's bytes (the conformance matrix varies it alone, not in every combination). */
  independent?: boolean;
}

/** The values of a format's own options, by key. */
export type OwnOptions<O extends readonly FormatOption[]> = { [E in O[number] as E['key']]: E['values'][number] };

/** The options every format sees. */
export interface BaseFormatOptions extends StreamOptions {
  /** Seconds since 1970, recorded where the format has a place for it. */
  timestamp: number;
  /** The model's name (the input folder's), for formats that record one or name their file after it. */
  modelName: string;
}

/** What a format sees: the shared options and its own (FormatOption), every default filled in. */
export type FormatOptions<Own = Record<string, unknown>> = BaseFormatOptions & Own;

/** One unit of work for a worker: fills a whole file, or regions of a preallocated container. */
export interface Job<Part = unknown> {
  /** The format that planned the job (the worker looks it up in FORMATS). */
  format: string;
  /** The output file it writes (created by the job, or a container created by the main thread). */
  file: string;
  /** Input bytes and tensors it streams, for progress and for the order jobs start in (pipeline/conversion.ts jobOrder). */
  cost: { bytes: number; tensors: number };
  /** Format-specific, structured-clonable. */
  part: Part;
  /** For a job that fills regions of a container: the byte ranges it writes (hashed as soon as the job ends). */
  regions?: { offset: number; bytes: number }[];
}

/** A single-file container whose every offset is known from the shapes: created and sized before the jobs. */
export interface Container {
  file: string;
  /** The bytes at offset 0 (e.g. a safetensors header). */
  head: Uint8Array;
  /** The final size of the file. */
  bytes: number;
}

export interface FormatPlan<Part = unknown> {
  jobs: Job<Part>[];
  containers: Container[];
}

/** Where a job's bytes go: `sink()` creates the job's own file; `sink(offset)` writes into its container at offset. */
export interface JobOutput {
  sink(offset?: number): ByteSink;
}

/** A small file written on the main thread after the jobs. */
export interface SmallFile {
  name: string;
  bytes: Uint8Array;
}

/** What the main thread knows of the input folder, for formats that copy side files (tokenizer, generation config). */
export interface InputFolder {
  /** Reads a file of the input folder, or undefined when there is none. */
  readSide(name: string): Uint8Array | undefined;
  /** A side file's size without reading it, where the host can tell (so a huge file is refused before it is read). */
  sideSize?(name: string): number | undefined;
  /** `length` bytes of a file from `offset` (a GGUF source's head), where the host reads ranges. */
  readSideAt?(name: string, offset: number, length: number): Uint8Array;
}

/**
 * An output folder's files, for reading an output back (Node: file descriptors; a browser: Blobs). A
 * folder that offers `size` and `readAt` is read a range at a time (memory bounded by the readers'
 * chunks); one that offers only `read` is read whole, once per range asked (small outputs, tests).
 */
export interface OutputFolder {
  /** The bytes of a file, or undefined when there is none. */
  read(name: string): Uint8Array | undefined;
  /** The names of the files. */
  list(): string[];
  /** The size of a file in bytes, or undefined when there is none. */
  size?(name: string): number | undefined;
  /** Up to `length` bytes of a file from `offset` (fewer only at the end of the file); read into `into` (a view of it returned) when given. */
  readAt?(name: string, offset: number, length: number, into?: Uint8Array): Uint8Array;
}

/** One tensor of an output as its format's reader decodes it. */
export interface ReadTensor {
  /** The name in the file (for a per-file format: `<file>:<field>`). */
  name: string;
  /** What it holds, as the format knows from its own names; undefined for a tensor the format does not write (a foreign .gguf). */
  role?: TensorRole;
  dtype: string;
  shape: number[];
  /** For ternary weights: the values (-1, 0, +1) row-major, and the scale of each row. */
  ternary?: { rows: number; cols: number; q: Int8Array; rowScales: Float32Array };
}

/**
 * A ternary tensor of an output, decoded on demand a row range at a time: what verify and inspect use
 * to keep memory bounded on 2B+ models.
 */
export interface TernaryRows {
  rows: number;
  cols: number;
  rowScales: Float32Array;
  /** A row count to decode at a time (a few MB of values); `decode` accepts ranges starting at its multiples. */
  rowsPerChunk: number;
  /** The values (-1, 0, +1) of rows [row, row + count), row-major; a bad code throws CorruptFileError naming its index in the tensor. */
  decode(row: number, count: number): Int8Array;
  /** Checks every code (range, row padding) without keeping the values; throws what `decode` would. */
  check(): void;
}

/** One tensor of an output, its ternary values not yet decoded. */
export interface LazyTensor {
  name: string;
  /** As ReadTensor's. */
  role?: TensorRole;
  /** The file of the output folder it is in, for messages. */
  file: string;
  dtype: string;
  shape: number[];
  ternary?: TernaryRows;
}

export interface OutputFormat<Part = unknown, Own = {}> {
  id: string;
  about: string;
  /** The options this format owns (none: an empty list). */
  options: readonly FormatOption[];
  /** Checks the model fits the format (a one-line typed error otherwise) and plans the jobs. */
  plan(model: ModelPlan, o: FormatOptions<Own>, input: InputFolder): FormatPlan<Part>;
  /** Worker side: fills one job. */
  write(job: Job<Part>, stream: WeightStream, out: JobOutput, o: FormatOptions<Own>): void;
  /** Main thread, after the jobs: the descriptive files (config.json, metadata, copied tokenizer files). */
  finish(model: ModelPlan, o: FormatOptions<Own>, input: InputFolder): SmallFile[];
  /**
   * The format's own options as this model uses them (an `auto` resolved), for manifest.json; the
   * options as given when there is nothing to resolve.
   */
  resolve?(model: ModelPlan, o: FormatOptions<Own>): Own;
  /** Format-specific lines for manifest.json besides its options. */
  describe(model: ModelPlan, o: FormatOptions<Own>): Record<string, unknown>;
  /** Reads an output folder back: every tensor, ternary ones decoded whole (tests, small outputs). Throws CorruptFileError. */
  read(folder: OutputFolder): ReadTensor[];
  /**
   * The same tensors in the same order, one at a time, ternary values decoded only when asked (verify,
   * inspect); only the tensors of the files `only` accepts when given. Throws CorruptFileError while iterating.
   */
  tensors(folder: OutputFolder, only?: (file: string) => boolean): Iterable<LazyTensor>;
  /**
   * Every tensor `tensors` gives, by name, with the shape the output's own config (config.json; a .gguf's
   * KVs) implies: what verify holds them to. Throws a typed error when that config cannot be read.
   */
  expected(folder: OutputFolder): ExpectedTensors;
}

/** kebab-case of an option key: the CLI flag's name and the page control's id (ggufType -> gguf-type). */
export const optionFlag = (key: string): string => key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
/** snake_case of an option key: its manifest.json entry (ggufType -> gguf_type). */
export const optionManifestKey = (key: string): string => key.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());

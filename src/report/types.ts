// What a report shows: plain data, gathered by gather.ts through a host's ports and rendered by html.ts.
// Platform neutral: no Node API here or below.

export type ReportCommand = 'convert' | 'inspect' | 'verify';

/** A chart's data, or why there is none (said in words instead of an empty chart). */
export type Maybe<T> = T | { unavailable: string };

export interface ReportFile {
  name: string;
  bytes: number;
  sha256?: string;
}

/** One projection (q, k, v, o, gate, up, down, or a fused output tensor such as wqkv) across the blocks. */
export interface LayerSeries {
  label: string;
  points: { block: number; scale: number; zero: number }[];
}

export interface LayerStats {
  /** Where the numbers come from, in words (e.g. "the source weights under the offline rule"). */
  source: string;
  series: LayerSeries[];
  /** Caveats, e.g. per-row scales shown as the middle of their range. */
  notes: string[];
}

/** |w| / mean|w| of one projection's source weights, as the absmean rule sees it. */
export interface HistogramData {
  tensor: string;
  dtype: string;
  rule: string;
  rows: number;
  cols: number;
  /** mean|w| as the rule rounds it (the projection's scale). */
  scale: number;
  /** Bin width in |w|/mean|w| units; bins start at 0; the last count holds everything >= max. */
  binWidth: number;
  max: number;
  counts: number[];
  /** Values the rule sends to 0 (|w|/mean|w| <= 0.5 after rounding) and to -1/+1. */
  zeros: number;
  nonzeros: number;
  cutoff: number;
}

export interface RunStats {
  /** Label, value rows: wall time, bytes, GB/s, peak memory... */
  rows: [string, string][];
}

export interface Verdict {
  ok: boolean;
  headline: string;
  /** Problems (verify), the error (a failed run), or what was checked. */
  lines: string[];
}

export interface ReportData {
  command: ReportCommand;
  /** The model's name (the folder's). */
  model: string;
  /** e.g. "bitnet-converter 0.1.0". */
  generator: string;
  verdict: Verdict;
  /** Model summary rows: layout/format, architecture, shapes, parameters, bytes. */
  summary: [string, string][];
  files: Maybe<{ title: string; list: ReportFile[] }>[];
  run?: RunStats;
  layers: Maybe<LayerStats>;
  histogram: Maybe<HistogramData>;
  notes: string[];
}

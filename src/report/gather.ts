// What a --report page shows for convert, inspect and verify: the model summary, the files, the run, the
// per-layer statistics (from inspect's pass, or counted by the conversion itself) and the histogram of one
// source projection (streamed twice). Platform neutral: every file is reached through the host's ports
// (a checkpoint folder, an output folder, a tensor source), and the inspection pass is the host's.

import { compileKernels, DType, instantiateKernels } from '../kernels/index.js';
import type { Checkpoint, CheckpointFolder } from '../model/checkpoint.js';
import { roleWeights } from '../model/plan.js';
import type { OutputFolder } from '../outputs/types.js';
import { planModel, type OutputFile } from '../pipeline/conversion.js';
import { roundBf16, roundF16 } from '../quant/floats.js';
import { absmeanScale, type QuantRule } from '../quant/rule.js';
import type { TensorSource } from '../stream/ports.js';
import { checkpointInspection, type Inspection } from '../inspect/inspection.js';
import type { TernaryStats } from '../inspect/stats.js';
import { withWeightStream } from '../inspect/stream.js';
import { DEFAULTS } from '../defaults.js';
import { VERSION } from '../version.js';
import { HistogramCounter } from './histogram.js';
import { bytesText, rateText } from './html.js';
import { layerSeries } from './layers.js';
import type { HistogramData, LayerStats, Maybe, ReportData, ReportFile } from './types.js';

/** What gathering a report needs of its platform. */
export interface ReportHost {
  /** A path as the report shows it (absolute). */
  absolute(path: string): string;
  /** The last part of a path (a model's name, a single file's name). */
  baseName(path: string): string;
  /** What is at `path`: a folder, a regular file with its size, or undefined (nothing, or something else). */
  entry(path: string): { kind: 'folder' } | { kind: 'file'; bytes: number } | undefined;
  /** A checkpoint opened through its port (src/model/checkpoint.ts): a folder, or a .gguf file. */
  checkpoint(path: string): Checkpoint;
  /** A folder through the checkpoint's port, for the listing of an input's files. */
  folder(dir: string): CheckpointFolder;
  /** An output folder through the readers' port. */
  output(dir: string): OutputFolder;
  /** An output's manifest.json, its fields checked (a typed error when they are not). */
  manifest(dir: string): { files: { name: string; bytes: number; sha256: string }[]; options: Record<string, unknown> };
  /** Positioned reads of the histogram's checkpoint's tensors (a Hub input's: once a reader is started); closed after the histogram. */
  tensorSource(): (TensorSource & { close(): void }) | Promise<TensorSource & { close(): void }>;
  /** `inspect PATH`: the host runs the statistics pass (Node: on worker threads). */
  inspect(path: string, o?: { rule?: QuantRule; layout?: string }): Promise<Inspection>;
  /** The process's peak memory so far, in bytes. */
  peakMemory(): number;
}

/** What convert gives the report: its summary and --json-summary's document, or the error. */
export type ConvertOutcome =
  | {
      summary: {
        outputDir: string;
        format: string;
        layout: string;
        files: OutputFile[];
        inputBytes: number;
        kernels: string;
        threads: number;
        warnings: string[];
        /** With `stats`: every ternary weight's statistics, by tensor name. */
        stats?: Map<string, TernaryStats>;
      };
      doc: { seconds: number; input_gb_per_second: number; bytes_read: number; peak_rss_bytes: number; output: { bytes: number } };
    }
  | { error: unknown; seconds: number };

/** What verify gives the report: its verdict, or the error. */
export type VerifyOutcome = { ok: boolean; problems: string[]; checked: { files: number; tensors: number; ternaryValues: number; against?: string } } | { error: unknown };

export const GENERATOR = `bitnet-converter ${VERSION}`;

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
const seconds = (s: number) => `${s.toFixed(2)} s`;
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const modelName = (host: ReportHost, path: string) => host.baseName(host.absolute(path));

/** Model summary rows from an inspection: layout or format, architecture and shapes, parameters. */
function modelRows(host: ReportHost, r: Inspection | undefined, extra: [string, string][] = []): [string, string][] {
  const out: [string, string][] = [];
  if (r) out.push(r.kind === 'input' ? ['layout', r.layout ?? '?'] : ['format', r.format ?? '?']);
  out.push(...extra);
  const c = r?.config ?? (r && r.kind === 'output' ? outputConfig(host, r.path) : undefined);
  if (c) {
    const arch = [Array.isArray(c.architectures) ? c.architectures.join(', ') : c.model_type, c.hidden_act].filter((x) => x !== undefined).join(', ');
    if (arch) out.push(['architecture', String(arch)]);
    const shape = (['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'vocab_size'] as const)
      .filter((k) => c[k] !== undefined)
      .map((k) => `${k.replace(/^num_/, '').replace(/_/g, ' ')} ${String(c[k])}`)
      .join(', ');
    if (shape) out.push(['shape', shape]);
    if (c.tie_word_embeddings !== undefined) out.push(['tied embedding', String(c.tie_word_embeddings)]);
    if (c.torch_dtype !== undefined) out.push(['torch_dtype', String(c.torch_dtype)]);
  }
  if (r) {
    const own = r.tensors.filter((t) => !t.name.endsWith('(tied output head)'));
    const params = own.reduce((s, t) => s + (t.ternary ? t.ternary.rows * t.ternary.cols : t.shape.reduce((a, b) => a * b, 1)), 0);
    out.push(['parameters', `${params.toLocaleString('en-US')} (${(params / 1e6).toFixed(2)} M)`]);
    out.push(['tensors', `${own.length} (${own.filter((t) => t.ternary).length} ternary)`]);
  }
  return out;
}

/** The config.json an output folder carries (most formats copy it), for the model summary. */
function outputConfig(host: ReportHost, path: string): Record<string, unknown> | undefined {
  try {
    const bytes = host.entry(path)?.kind === 'folder' ? host.output(path).read('config.json') : undefined;
    return bytes && (JSON.parse(new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes)) as Record<string, unknown>);
  } catch {
    return undefined; // the summary goes without it
  }
}

/** Per-layer series from an inspection, said in words when there are none. */
function layersOf(r: Inspection, source: string, notes: string[] = []): Maybe<LayerStats> {
  const { series, perRow, fused } = layerSeries(r.tensors);
  if (series.length === 0) return { unavailable: `No per-block ternary tensors were found in ${r.path}.` };
  const all = [...notes];
  if (perRow) all.push('Some tensors hold more than one scale (per-row scales, or fused tensors with one scale per projection): their points show the middle of the range.');
  if (fused) all.push('This format stores fused tensors (e.g. wqkv, w13): their series are the fused tensors, as the reader decodes them.');
  return { source, series, notes: all };
}

/** The top-level regular files of a folder (or one file) with their sizes, by name. */
function filesOf(host: ReportHost, path: string): ReportFile[] {
  const e = host.entry(path);
  if (e?.kind === 'file') return [{ name: host.baseName(path), bytes: e.bytes }];
  const folder = host.folder(path);
  return folder
    .list()
    .sort()
    .flatMap((name) => {
      const bytes = folder.stat(name);
      return typeof bytes === 'number' ? [{ name, bytes }] : [];
    });
}

/** The files a manifest lists, with their hashes (an output folder). */
const manifestFiles = (m: ReturnType<ReportHost['manifest']>): ReportFile[] => m.files.map((f) => ({ name: f.name, bytes: f.bytes, sha256: f.sha256 }));

const ROUND: Record<'F32' | 'BF16' | 'F16', (x: number) => number> = { F32: Math.fround, BF16: roundBf16, F16: roundF16 };

/**
 * The histogram of |w| / mean|w| of one projection of a checkpoint's master weights: `name` is a tensor
 * name or a role (blk.0.attn_q, output); default the first block's q projection; `layout`: the input
 * layout by id (default: detected). Streamed twice in chunks (mean, then the values), never held whole.
 */
async function sourceHistogram(host: ReportHost, dir: string, name: string | undefined, rule: QuantRule, layout?: string): Promise<Maybe<HistogramData>> {
  let plan;
  try {
    plan = planModel(host.checkpoint(dir), () => {}, layout);
  } catch (e) {
    return { unavailable: `The source could not be read for the histogram: ${message(e)}` };
  }
  const roles = roleWeights(plan);
  const want = name ?? 'blk.0.attn_q';
  const found = roles.find(([role, w]) => role === want || w.tensor.name === want);
  if (!found) {
    return { unavailable: `No tensor or role ${JSON.stringify(want)} in ${dir}: pass --report-tensor with a tensor name such as ${plan.blocks[0]?.attn_q.tensor.name ?? '?'} or a role such as blk.0.attn_q.` };
  }
  const [role, w] = found;
  if (w.kind === 'packed') {
    return { unavailable: `The source holds ${w.tensor.name} as packed ternary codes (layout ${plan.layout}), not float weights: there is no |w| / mean|w| to show.` };
  }
  if (w.kind === 'float') return { unavailable: `${w.tensor.name} (${role}) is kept as floats, not ternarized: pick a projection such as blk.0.attn_q.` };
  const t = w.tensor;
  const kernels = await instantiateKernels((await compileKernels(DEFAULTS.kernels)).module);
  try {
    const source = await host.tensorSource();
    try {
      return withWeightStream(kernels, rule, source, (stream) => {
        const code = { F32: DType.F32, BF16: DType.BF16, F16: DType.F16 }[t.dtype];
        let sum = 0;
        stream.floats(t, 'source', (bytes, _first, rows) => {
          sum += kernels.exports.absSum(code, bytes.byteOffset, rows * t.shape[1]);
        });
        const s = absmeanScale(sum, t.elements, t.dtype, rule);
        const counter = new HistogramCounter(s.inverse, ROUND[rule === 'offline' ? t.dtype : 'F32']);
        stream.floats(t, 'F32', (bytes) => counter.add(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)));
        const label = t.name === role ? t.name : `${t.name} (${role})`;
        return counter.result({ tensor: label, dtype: t.dtype, rule, rows: t.shape[0], cols: t.shape[1], scale: s.scale });
      });
    } finally {
      source.close();
    }
  } catch (e) {
    return { unavailable: `The histogram of ${t.name} could not be computed: ${message(e)}` };
  }
}

/** What a convert report shows: the run's summary (--json-summary's document), the source's per-layer statistics, a source histogram. */
export async function convertReportData(
  host: ReportHost,
  o: { inputDir: string; outputDir: string; format: string; rule: QuantRule; granularity: string; tensor?: string },
  outcome: ConvertOutcome,
): Promise<ReportData> {
  const name = modelName(host, o.inputDir);
  if ('error' in outcome) {
    return {
      command: 'convert',
      model: name,
      generator: GENERATOR,
      verdict: { ok: false, headline: `conversion FAILED after ${seconds(outcome.seconds)}`, lines: [message(outcome.error)] },
      summary: [['input', host.absolute(o.inputDir)], ['output', host.absolute(o.outputDir)], ['format', o.format]],
      files: [{ unavailable: 'No output was written: the output folder was left as it was.' }],
      run: { rows: [['wall time', seconds(outcome.seconds)], ['peak memory', mib(host.peakMemory())]] },
      layers: { unavailable: 'The conversion failed: no statistics were gathered.' },
      histogram: { unavailable: 'The conversion failed: no histogram was computed.' },
      notes: [],
    };
  }
  const { summary, doc } = outcome;
  const started = performance.now();
  const notes: string[] = [];
  let inspection: Inspection | undefined;
  let layers: Maybe<LayerStats>;
  try {
    // the statistics the conversion gathered as it streamed (convert --report asks for them); else one more pass
    const stats = summary.stats;
    // planned with the layout the conversion used (a named one such as llama-latent is never detected)
    inspection = stats
      ? await checkpointInspection(host.checkpoint(o.inputDir), async () => stats, summary.layout)
      : await host.inspect(o.inputDir, { rule: o.rule, layout: summary.layout });
    const packed = inspection.packed === true;
    const source = packed
      ? `the source's packed codes and stored scales (layout ${summary.layout}), which the conversion copies`
      : `the source weights ternarized with the ${o.rule} absmean rule, as the conversion does`;
    const extra = o.granularity === 'row' && !packed ? ['This run used --scale-granularity row: the output has one scale per row, and these statistics show those row scales.'] : [];
    layers = layersOf(inspection, source, extra);
  } catch (e) {
    layers = { unavailable: `The per-layer statistics could not be gathered: ${message(e)}` };
  }
  const histogram = await sourceHistogram(host, o.inputDir, o.tensor, o.rule, summary.layout);
  const reportSeconds = (performance.now() - started) / 1000;
  notes.push(
    summary.stats
      ? `The per-layer statistics were counted as the conversion streamed the weights; the report took ${seconds(reportSeconds)} after it, for the headers and two passes over the histogram's projection.`
      : `The report's statistics took ${seconds(reportSeconds)} after the conversion: one more streamed pass over the source's ternary weights (one projection in memory at a time) and two over the histogram's projection.`,
  );
  if (summary.warnings.length) notes.push(...summary.warnings.map((w) => `warning: ${w}`));
  const written = summary.files.reduce((s, f) => s + f.bytes, 0);
  const input = host.absolute(o.inputDir);
  return {
    command: 'convert',
    model: name,
    generator: GENERATOR,
    verdict: {
      ok: true,
      headline: `converted: ${summary.layout} -> ${summary.format}, ${summary.files.length} files, ${bytesText(written)}`,
      lines: [`${input} -> ${summary.outputDir}`],
    },
    summary: modelRows(host, inspection, [['output format', summary.format], ['input', `${input} (${bytesText(summary.inputBytes)})`], ['output', `${summary.outputDir} (${bytesText(written)})`]]),
    files: [{ title: 'Output files', list: summary.files.map((f) => ({ name: f.name, bytes: f.bytes, sha256: f.sha256 })) }],
    run: {
      rows: [
        ['wall time', seconds(doc.seconds)],
        ['input', bytesText(summary.inputBytes)],
        ['bytes read', bytesText(doc.bytes_read)],
        ['speed', `${rateText(doc.input_gb_per_second * 1e9)} of input`],
        ['written', bytesText(doc.output.bytes)],
        ['peak memory', mib(doc.peak_rss_bytes)],
        ['threads, kernels', `${summary.threads}, ${summary.kernels}`],
        ['report statistics', `${seconds(reportSeconds)} more; peak memory then ${mib(host.peakMemory())}`],
      ],
    },
    layers,
    histogram,
    notes,
  };
}

/** What an inspect report shows: the inspection's per-layer statistics, and a histogram for a checkpoint with float weights. */
export async function inspectReportData(host: ReportHost, path: string, r: Inspection, o: { rule: QuantRule; tensor?: string; seconds: number; layout?: string }): Promise<ReportData> {
  const input = r.kind === 'input';
  const packed = input && r.packed === true;
  const layers = layersOf(
    r,
    input ? (packed ? `the checkpoint's packed codes and stored scales (layout ${r.layout})` : `the checkpoint's weights ternarized with the ${o.rule} absmean rule`) : `the output as its format's reader (${r.format}) decodes it`,
  );
  const histogram: Maybe<HistogramData> = input
    ? await sourceHistogram(host, path, o.tensor, o.rule, o.layout)
    : { unavailable: 'An output holds ternary codes only, not the source floats: there is no |w| / mean|w| to show. Inspect the source checkpoint (or verify --against it) for this chart.' };
  const files = input || host.entry(path)?.kind !== 'folder' ? filesOf(host, path) : manifestFiles(host.manifest(path));
  const bytes = files.reduce((s, f) => s + f.bytes, 0);
  const ternary = r.tensors.filter((t) => t.ternary).length;
  return {
    command: 'inspect',
    model: modelName(host, path),
    generator: GENERATOR,
    verdict: {
      ok: true,
      headline: `inspected: ${input ? `input checkpoint, layout ${r.layout}` : `output, format ${r.format}`}`,
      lines: [`${host.absolute(path)}: ${r.tensors.length} tensors (${ternary} with ternary statistics), ${files.length} files, ${bytesText(bytes)}`],
    },
    summary: modelRows(host, r, [['path', host.absolute(path)], ['bytes', bytesText(bytes)]]),
    files: [{ title: input ? 'Checkpoint files' : 'Output files (manifest.json)', list: files }],
    run: { rows: [['wall time', seconds(o.seconds)], ['bytes', bytesText(bytes)], ['peak memory', mib(host.peakMemory())]] },
    layers,
    histogram,
    notes: [],
  };
}

/** What a verify report shows: the verdict with its problem lines, the output's per-layer statistics as its reader decodes them, a source histogram with --against. */
export async function verifyReportData(host: ReportHost, output: string, against: string | undefined, v: VerifyOutcome, o: { tensor?: string; seconds: number }): Promise<ReportData> {
  let inspection: Inspection | undefined;
  let layers: Maybe<LayerStats>;
  try {
    inspection = await host.inspect(output);
    layers = layersOf(inspection, `the output as its format's reader (${inspection.format}) decodes it`);
  } catch (e) {
    layers = { unavailable: `The output could not be read back for statistics: ${message(e)}` };
  }
  let rule: QuantRule = DEFAULTS.rule;
  let layout: string | undefined;
  let files: Maybe<{ title: string; list: ReportFile[] }>;
  try {
    const m = host.manifest(output);
    rule = (m.options.rule as QuantRule) ?? rule;
    layout = typeof m.options.layout === 'string' ? m.options.layout : undefined; // recorded when named, as verify --against re-derives
    files = { title: 'Output files (manifest.json)', list: manifestFiles(m) };
  } catch (e) {
    files = { unavailable: `manifest.json could not be read: ${message(e)}` };
  }
  const histogram: Maybe<HistogramData> =
    against !== undefined
      ? await sourceHistogram(host, against, o.tensor, rule, layout)
      : { unavailable: 'Verified without --against: there are no source floats to show. Pass --against SOURCE for the histogram of a source projection.' };
  const verdict =
    'error' in v
      ? { ok: false, headline: `verification FAILED: ${output}`, lines: [message(v.error)] }
      : {
          ok: v.ok,
          headline: `${v.ok ? 'verified' : `FAILED (${v.problems.length} problems)`}: ${v.checked.files} files, ${v.checked.tensors} tensors, ${v.checked.ternaryValues.toLocaleString('en-US')} ternary values${v.checked.against ? `, against ${v.checked.against}` : ''}`,
          lines: v.problems,
        };
  const bytes = 'unavailable' in files ? 0 : files.list.reduce((s, f) => s + f.bytes, 0);
  return {
    command: 'verify',
    model: modelName(host, output),
    generator: GENERATOR,
    verdict,
    summary: modelRows(host, inspection, [['output', host.absolute(output)], ...(against !== undefined ? [['against', host.absolute(against)] as [string, string]] : [])]),
    files: [files],
    run: { rows: [['wall time', seconds(o.seconds)], ['output bytes', bytesText(bytes)], ['speed', `${rateText(bytes / o.seconds)} of output`], ['peak memory', mib(host.peakMemory())]] },
    layers,
    histogram,
    notes: [],
  };
}

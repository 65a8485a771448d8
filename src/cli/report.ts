// --report FILE.html for convert, inspect and verify: gathers the report's data with Node file access
// (the per-layer statistics from inspect's streamed pass, the histogram from one source projection
// streamed twice) and writes the page atomically. The page itself is rendered by src/report/ (platform
// neutral).

import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { openCheckpoint } from '../io/checkpoint.js';
import { readManifest } from '../io/converted.js';
import { withWeightStream } from '../run/stats-worker.js';
import { compileKernels, DType, instantiateKernels } from '../kernels/index.js';
import { roleWeights } from '../model/plan.js';
import { planModel } from '../pipeline/conversion.js';
import { roundBf16, roundF16 } from '../quant/floats.js';
import { absmeanScale, type QuantRule } from '../quant/rule.js';
import { DEFAULTS } from '../defaults.js';
import { VERSION } from '../version.js';
import { checkpointInspection, inspect, type Inspection } from '../run/inspect.js';
import type { ConvertSummary } from '../run/convert.js';
import type { Verdict as VerifyVerdict } from '../run/verify.js';
import { HistogramCounter } from '../report/histogram.js';
import { bytesText, rateText, renderReport } from '../report/html.js';
import { layerSeries } from '../report/layers.js';
import type { HistogramData, LayerStats, Maybe, ReportData, ReportFile } from '../report/types.js';

export const GENERATOR = `bitnet-converter ${VERSION}`;

/** Writes the page beside its final name, then renames it into place (never a half-written report). */
export function writeReport(file: string, data: ReportData): void {
  const dir = dirname(resolve(file));
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, renderReport(data));
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Model summary rows from an inspection: layout or format, architecture and shapes, parameters. */
export function modelRows(r: Inspection | undefined, extra: [string, string][] = []): [string, string][] {
  const out: [string, string][] = [];
  if (r) out.push(r.kind === 'input' ? ['layout', r.layout ?? '?'] : ['format', r.format ?? '?']);
  out.push(...extra);
  const c = r?.config ?? (r && r.kind === 'output' ? outputConfig(r.path) : undefined);
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
function outputConfig(path: string): Record<string, unknown> | undefined {
  try {
    const file = join(path, 'config.json');
    return statSync(path).isDirectory() && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // the summary goes without it
  }
}

/** Per-layer series from an inspection, said in words when there are none. */
export function layersOf(r: Inspection, source: string, notes: string[] = []): Maybe<LayerStats> {
  const { series, perRow, fused } = layerSeries(r.tensors);
  if (series.length === 0) return { unavailable: `No per-block ternary tensors were found in ${r.path}.` };
  const all = [...notes];
  if (perRow) all.push('Some tensors hold more than one scale (per-row scales, or fused tensors with one scale per projection): their points show the middle of the range.');
  if (fused) all.push('This format stores fused tensors (e.g. wqkv, w13): their series are the fused tensors, as the reader decodes them.');
  return { source, series, notes: all };
}

/** The top-level files of a folder (or one file) with their sizes. */
export function filesOf(path: string): ReportFile[] {
  if (statSync(path).isFile()) return [{ name: basename(path), bytes: statSync(path).size }];
  return readdirSync(path)
    .filter((n) => statSync(join(path, n)).isFile())
    .sort()
    .map((n) => ({ name: n, bytes: statSync(join(path, n)).size }));
}

/** The files a manifest lists, with their hashes (an output folder). */
export function manifestFiles(dir: string): ReportFile[] {
  return readManifest(dir).files.map((f) => ({ name: f.name, bytes: f.bytes, sha256: f.sha256 }));
}

const ROUND: Record<'F32' | 'BF16' | 'F16', (x: number) => number> = { F32: Math.fround, BF16: roundBf16, F16: roundF16 };

/**
 * The histogram of |w| / mean|w| of one projection of a checkpoint's master weights: `name` is a tensor
 * name or a role (blk.0.attn_q, output); default the first block's q projection. Streamed twice in
 * chunks (mean, then the values), never held whole.
 */
export async function sourceHistogram(dir: string, name: string | undefined, rule: QuantRule, layout?: string): Promise<Maybe<HistogramData>> {
  let ck;
  let plan;
  try {
    ck = openCheckpoint(dir);
    plan = planModel(ck, () => {}, layout);
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
    return withWeightStream(kernels, rule, (stream) => {
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
  } catch (e) {
    return { unavailable: `The histogram of ${t.name} could not be computed: ${message(e)}` };
  }
}

export const seconds = (s: number) => `${s.toFixed(2)} s`;
export const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
export const peakRss = () => process.resourceUsage().maxRSS * 1024;
export const modelName = (path: string) => basename(resolve(path));

/** What a convert report shows: the run's summary (--json-summary's document), the source's per-layer statistics, a source histogram. */
export async function convertReportData(
  o: { inputDir: string; outputDir: string; format: string; rule: QuantRule; granularity: string; tensor?: string },
  outcome: { summary: ConvertSummary; doc: { seconds: number; input_gb_per_second: number; bytes_read: number; peak_rss_bytes: number; output: { bytes: number } } } | { error: unknown; seconds: number },
): Promise<ReportData> {
  const name = modelName(o.inputDir);
  if ('error' in outcome) {
    return {
      command: 'convert',
      model: name,
      generator: GENERATOR,
      verdict: { ok: false, headline: `conversion FAILED after ${seconds(outcome.seconds)}`, lines: [message(outcome.error)] },
      summary: [['input', resolve(o.inputDir)], ['output', resolve(o.outputDir)], ['format', o.format]],
      files: [{ unavailable: 'No output was written: the output folder was left as it was.' }],
      run: { rows: [['wall time', seconds(outcome.seconds)], ['peak memory', mib(peakRss())]] },
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
    inspection = stats ? await checkpointInspection(o.inputDir, async () => stats, summary.layout) : await inspect(o.inputDir, { rule: o.rule, layout: summary.layout });
    const packed = inspection.packed === true;
    const source = packed
      ? `the source's packed codes and stored scales (layout ${summary.layout}), which the conversion copies`
      : `the source weights ternarized with the ${o.rule} absmean rule, as the conversion does`;
    const extra = o.granularity === 'row' && !packed ? ['This run used --scale-granularity row: the output has one scale per row, and these statistics show those row scales.'] : [];
    layers = layersOf(inspection, source, extra);
  } catch (e) {
    layers = { unavailable: `The per-layer statistics could not be gathered: ${message(e)}` };
  }
  const histogram = await sourceHistogram(o.inputDir, o.tensor, o.rule, summary.layout);
  const reportSeconds = (performance.now() - started) / 1000;
  notes.push(
    summary.stats
      ? `The per-layer statistics were counted as the conversion streamed the weights; the report took ${seconds(reportSeconds)} after it, for the headers and two passes over the histogram's projection.`
      : `The report's statistics took ${seconds(reportSeconds)} after the conversion: one more streamed pass over the source's ternary weights (one projection in memory at a time) and two over the histogram's projection.`,
  );
  if (summary.warnings.length) notes.push(...summary.warnings.map((w) => `warning: ${w}`));
  const written = summary.files.reduce((s, f) => s + f.bytes, 0);
  return {
    command: 'convert',
    model: name,
    generator: GENERATOR,
    verdict: {
      ok: true,
      headline: `converted: ${summary.layout} -> ${summary.format}, ${summary.files.length} files, ${bytesText(written)}`,
      lines: [`${resolve(o.inputDir)} -> ${summary.outputDir}`],
    },
    summary: modelRows(inspection, [['output format', summary.format], ['input', `${resolve(o.inputDir)} (${bytesText(summary.inputBytes)})`], ['output', `${summary.outputDir} (${bytesText(written)})`]]),
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
        ['report statistics', `${seconds(reportSeconds)} more; peak memory then ${mib(peakRss())}`],
      ],
    },
    layers,
    histogram,
    notes,
  };
}

/** What an inspect report shows: the inspection's per-layer statistics, and a histogram for a checkpoint with float weights. */
export async function inspectReportData(path: string, r: Inspection, o: { rule: QuantRule; tensor?: string; seconds: number; layout?: string }): Promise<ReportData> {
  const input = r.kind === 'input';
  const packed = input && r.packed === true;
  const layers = layersOf(
    r,
    input ? (packed ? `the checkpoint's packed codes and stored scales (layout ${r.layout})` : `the checkpoint's weights ternarized with the ${o.rule} absmean rule`) : `the output as its format's reader (${r.format}) decodes it`,
  );
  const histogram: Maybe<HistogramData> = input
    ? await sourceHistogram(path, o.tensor, o.rule, o.layout)
    : { unavailable: 'An output holds ternary codes only, not the source floats: there is no |w| / mean|w| to show. Inspect the source checkpoint (or verify --against it) for this chart.' };
  const files = input || !statSync(path).isDirectory() ? filesOf(path) : manifestFiles(path);
  const bytes = files.reduce((s, f) => s + f.bytes, 0);
  const ternary = r.tensors.filter((t) => t.ternary).length;
  return {
    command: 'inspect',
    model: modelName(path),
    generator: GENERATOR,
    verdict: {
      ok: true,
      headline: `inspected: ${input ? `input checkpoint, layout ${r.layout}` : `output, format ${r.format}`}`,
      lines: [`${resolve(path)}: ${r.tensors.length} tensors (${ternary} with ternary statistics), ${files.length} files, ${bytesText(bytes)}`],
    },
    summary: modelRows(r, [['path', resolve(path)], ['bytes', bytesText(bytes)]]),
    files: [{ title: input ? 'Checkpoint files' : 'Output files (manifest.json)', list: files }],
    run: { rows: [['wall time', seconds(o.seconds)], ['bytes', bytesText(bytes)], ['peak memory', mib(peakRss())]] },
    layers,
    histogram,
    notes: [],
  };
}

/** What a verify report shows: the verdict with its problem lines, the output's per-layer statistics as its reader decodes them, a source histogram with --against. */
export async function verifyReportData(output: string, against: string | undefined, v: VerifyVerdict | { error: unknown }, o: { tensor?: string; seconds: number }): Promise<ReportData> {
  let inspection: Inspection | undefined;
  let layers: Maybe<LayerStats>;
  try {
    inspection = await inspect(output);
    layers = layersOf(inspection, `the output as its format's reader (${inspection.format}) decodes it`);
  } catch (e) {
    layers = { unavailable: `The output could not be read back for statistics: ${message(e)}` };
  }
  let rule: QuantRule = DEFAULTS.rule;
  let layout: string | undefined;
  let files: Maybe<{ title: string; list: ReportFile[] }>;
  try {
    const m = readManifest(output);
    rule = (m.options.rule as QuantRule) ?? rule;
    layout = typeof m.options.layout === 'string' ? m.options.layout : undefined; // recorded when named, as verify --against re-derives
    files = { title: 'Output files (manifest.json)', list: m.files.map((f) => ({ name: f.name, bytes: f.bytes, sha256: f.sha256 })) };
  } catch (e) {
    files = { unavailable: `manifest.json could not be read: ${message(e)}` };
  }
  const histogram: Maybe<HistogramData> =
    against !== undefined
      ? await sourceHistogram(against, o.tensor, rule, layout)
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
    model: modelName(output),
    generator: GENERATOR,
    verdict,
    summary: modelRows(inspection, [['output', resolve(output)], ...(against !== undefined ? [['against', resolve(against)] as [string, string]] : [])]),
    files: [files],
    run: { rows: [['wall time', seconds(o.seconds)], ['output bytes', bytesText(bytes)], ['speed', `${rateText(bytes / o.seconds)} of output`], ['peak memory', mib(peakRss())]] },
    layers,
    histogram,
    notes: [],
  };
}

// The report as one self-contained HTML page: inline CSS and SVG, no script, no external reference.
// A pure function from ReportData to a string. Platform neutral.

import type { HistogramData, LayerStats, Maybe, ReportData, ReportFile } from './types.js';
import { esc, histogramChart, lineChart } from './svg.js';

export type { ReportData } from './types.js';

const CSS = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;background:#fafafa;margin:0}
main{max-width:980px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#666;margin:0 0 16px}
.verdict{border-radius:8px;padding:12px 16px;margin:12px 0;border:1px solid}
.verdict.ok{background:#e8f6ec;border-color:#3a9a5b}
.verdict.failed{background:#fdecec;border-color:#c33}
.verdict .head{font-weight:700;font-size:17px}
.verdict ul{margin:6px 0 0;padding-left:20px;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;word-break:break-all}
table{border-collapse:collapse;margin:4px 0}
td,th{padding:3px 12px 3px 0;text-align:left;vertical-align:top}
th{color:#555;font-weight:600;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px;word-break:break-all}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:0 32px}
.unavailable{background:#f3f3f3;border-left:4px solid #aaa;padding:10px 14px;color:#444}
.note{color:#555;font-size:13.5px;margin:4px 0}
svg.chart{display:block;max-width:100%;height:auto;background:#fff;border:1px solid #e3e3e3;border-radius:6px;margin:8px 0}
svg .ctitle{font-size:14px;font-weight:600;fill:#222}
svg .tick{font-size:11.5px;fill:#555}
svg .alabel{font-size:12.5px;fill:#333}
svg .legend-text{font-size:13px;fill:#222}
svg .grid{stroke:#eee}
svg .axis{stroke:#888}
svg .bar.zero{fill:#9aa7b4}
svg .bar.one{fill:#0072b2}
svg .bar.over{fill:#56b4e9}
svg .zone-zero{fill:#f1f3f5}
svg .cutoff{stroke:#d55e00;stroke-width:2;stroke-dasharray:5 3}
svg .cut-label{font-size:13px;font-weight:600;fill:#d55e00}
details{margin:6px 0}
summary{cursor:pointer;color:#333}
`;

const decimals = (step: number) => Math.max(0, Math.ceil(-Math.log10(step) - 1e-9));
const pctTick = (y: number, step: number) => `${(100 * y).toFixed(decimals(100 * step))}%`;
const numTick = (y: number, step: number) => y.toFixed(decimals(step));
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const sci = (x: number) => (Math.abs(x) >= 0.01 && Math.abs(x) < 1000 ? x.toPrecision(4) : x.toExponential(3));

/** A rate of bytes per second: GB/s, or MB/s below 0.1 GB/s. */
export function rateText(bytesPerSecond: number): string {
  return bytesPerSecond >= 1e8 ? `${(bytesPerSecond / 1e9).toFixed(2)} GB/s` : `${(bytesPerSecond / 1e6).toFixed(2)} MB/s`;
}

export function bytesText(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} bytes`;
}

const unavailable = (what: string, why: string) => `<p class="unavailable" data-unavailable="${esc(what)}">${esc(why)}</p>`;

function isUnavailable<T extends object>(m: Maybe<T>): m is { unavailable: string } {
  return 'unavailable' in m;
}

function rows(r: [string, string][]): string {
  return `<table>${r.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`;
}

function fileTable(list: ReportFile[]): string {
  const total = list.reduce((s, f) => s + f.bytes, 0);
  const hasSha = list.some((f) => f.sha256);
  const body = list
    .map((f) => `<tr><td class="mono">${esc(f.name)}</td><td class="num">${f.bytes.toLocaleString('en-US')}</td>${hasSha ? `<td class="mono">${esc(f.sha256 ?? '')}</td>` : ''}</tr>`)
    .join('');
  return (
    `<table class="files"><tr><th>file</th><th>bytes</th>${hasSha ? '<th>sha256</th>' : ''}</tr>${body}` +
    `<tr><th>${list.length} files</th><td class="num">${total.toLocaleString('en-US')}</td></tr></table>`
  );
}

function layersSection(l: Maybe<LayerStats>): string {
  if (isUnavailable(l)) return unavailable('layers', l.unavailable);
  if (l.series.length === 0) return unavailable('layers', 'No ternary projection was found in any block.');
  const toLine = (key: 'scale' | 'zero') => l.series.map((s) => ({ label: s.label, points: s.points.map((p) => ({ x: p.block, y: p[key] })) }));
  return [
    `<p class="note">From ${esc(l.source)}. One line per projection; x is the block index.</p>`,
    ...l.notes.map((n) => `<p class="note">${esc(n)}</p>`),
    lineChart({ id: 'chart-scale', title: 'Scale (mean |w|) per block', xLabel: 'block', yLabel: 'scale', series: toLine('scale'), formatY: sci, formatTick: numTick }),
    lineChart({ id: 'chart-zero', title: 'Share of zeros per block', xLabel: 'block', yLabel: 'zeros', series: toLine('zero'), formatY: pct, formatTick: pctTick }),
  ].join('\n');
}

function histogramSection(h: Maybe<HistogramData>): string {
  if (isUnavailable(h)) return unavailable('histogram', h.unavailable);
  const n = h.zeros + h.nonzeros;
  const chart = histogramChart({
    id: 'chart-histogram',
    title: `${h.tensor}: |w| / mean|w|`,
    counts: h.counts,
    binWidth: h.binWidth,
    max: h.max,
    cutoff: h.cutoff,
    leftLabel: `→ 0: ${pct(h.zeros / n)}`,
    rightLabel: `→ ±1: ${pct(h.nonzeros / n)}`,
    xLabel: '|w| / mean|w|  (bins of 0.05; the last holds everything ≥ 3)',
  });
  return [
    `<p class="note">Source weights of <span class="mono">${esc(h.tensor)}</span> (${esc(h.dtype)}, [${h.rows}, ${h.cols}], ${n.toLocaleString('en-US')} values), mean|w| = ${sci(h.scale)}, rule ${esc(h.rule)}.` +
      ` The absmean rule sends w to round(w / mean|w|) clamped to -1..1, so the cut-off is at ${h.cutoff}: values at or below it become 0 (0.5 itself rounds to 0, half to even), values above it become -1 or +1.</p>`,
    chart,
    `<table class="shares"><tr><th>→ 0 (|w|/mean|w| ≤ ${h.cutoff})</th><td class="num" data-zeros="${h.zeros}">${h.zeros.toLocaleString('en-US')}</td><td class="num">${pct(h.zeros / n)}</td></tr>` +
      `<tr><th>→ -1 or +1 (above ${h.cutoff})</th><td class="num" data-nonzeros="${h.nonzeros}">${h.nonzeros.toLocaleString('en-US')}</td><td class="num">${pct(h.nonzeros / n)}</td></tr></table>`,
  ].join('\n');
}

export function renderReport(d: ReportData): string {
  const title = `bitnet-converter ${d.command}: ${d.model}`;
  const v = d.verdict;
  const files = d.files.map((f) => (isUnavailable(f) ? `<h2>Files</h2>${unavailable('files', f.unavailable)}` : `<h2>${esc(f.title)}</h2>${fileTable(f.list)}`)).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style></head>
<body><main>
<h1 id="title">${esc(title)}</h1>
<p class="sub">Report written by ${esc(d.generator)}.</p>
<section class="verdict ${v.ok ? 'ok' : 'failed'}" id="verdict"><div class="head">${esc(v.headline)}</div>${v.lines.length ? `<ul>${v.lines.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>` : ''}</section>
<div class="grid2">
<section><h2>Model</h2>${rows(d.summary)}</section>
<section><h2>Run</h2>${d.run ? rows(d.run.rows) : unavailable('run', 'No timings were recorded.')}</section>
</div>
<h2>Per-layer statistics</h2>
${layersSection(d.layers)}
<h2>Quantization of one projection</h2>
${histogramSection(d.histogram)}
${files}
${d.notes.length ? `<h2>Notes</h2>${d.notes.map((n) => `<p class="note">${esc(n)}</p>`).join('')}` : ''}
</main></body></html>
`;
}

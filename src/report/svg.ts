// Inline SVG charts: a line chart with one series per projection and a legend, and a histogram with
// a marked cut-off. Strings in, a string out; every text escaped. Platform neutral.

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Colour-blind-friendly colours (Okabe-Ito), then greys for any further series. */
export const COLORS = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#000000', '#999999', '#666666', '#bbbbbb'];

const f = (x: number) => (Math.round(x * 10) / 10).toString();

/** About `n` round tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

export interface LineSeries {
  label: string;
  points: { x: number; y: number }[];
}

export interface LineChartSpec {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  formatY: (y: number) => string;
  /** A tick's label, given the step between ticks (enough decimals to tell ticks apart). */
  formatTick: (y: number, step: number) => string;
  /** Force the y axis to include 0. */
  fromZero?: boolean;
}

const W = 760;
const H = 300;
const M = { left: 86, right: 110, top: 34, bottom: 46 };

export function lineChart(c: LineChartSpec): string {
  const xs = c.series.flatMap((s) => s.points.map((p) => p.x));
  const ys = c.series.flatMap((s) => s.points.map((p) => p.y));
  let xLo = Math.min(...xs);
  let xHi = Math.max(...xs);
  if (xHi === xLo) (xLo -= 1), (xHi += 1);
  let yLo = c.fromZero ? Math.min(0, ...ys) : Math.min(...ys);
  let yHi = Math.max(...ys);
  const pad = (yHi - yLo) * 0.08 || Math.abs(yHi) * 0.1 || 1;
  yHi += pad;
  if (!c.fromZero) yLo -= pad;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const X = (x: number) => M.left + ((x - xLo) / (xHi - xLo)) * pw;
  const Y = (y: number) => M.top + ph - ((y - yLo) / (yHi - yLo)) * ph;
  const out: string[] = [];
  out.push(`<svg id="${esc(c.id)}" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(c.title)}">`);
  out.push(`<text class="ctitle" x="${M.left}" y="20">${esc(c.title)}</text>`);
  const yt = ticks(yLo, yHi);
  const step = yt.length > 1 ? yt[1] - yt[0] : Math.abs(yt[0]) || 1;
  for (const t of yt) {
    out.push(`<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${f(Y(t))}" y2="${f(Y(t))}"/>`);
    out.push(`<text class="tick" x="${M.left - 6}" y="${f(Y(t) + 4)}" text-anchor="end">${esc(c.formatTick(t, step))}</text>`);
  }
  const xt = ticks(xLo, xHi, Math.min(10, xHi - xLo)).filter((t) => Number.isInteger(t));
  for (const t of xt) out.push(`<text class="tick" x="${f(X(t))}" y="${H - M.bottom + 16}" text-anchor="middle">${t}</text>`);
  out.push(`<line class="axis" x1="${M.left}" x2="${W - M.right}" y1="${M.top + ph}" y2="${M.top + ph}"/>`);
  out.push(`<line class="axis" x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + ph}"/>`);
  out.push(`<text class="alabel" x="${M.left + pw / 2}" y="${H - 8}" text-anchor="middle">${esc(c.xLabel)}</text>`);
  out.push(`<text class="alabel" transform="translate(16 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}</text>`);
  c.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points.map((p) => `${f(X(p.x))},${f(Y(p.y))}`).join(' ');
    out.push(`<g class="series" data-series="${esc(s.label)}">`);
    if (s.points.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts}"/>`);
    for (const p of s.points) {
      out.push(
        `<circle cx="${f(X(p.x))}" cy="${f(Y(p.y))}" r="3.2" fill="${color}" data-x="${p.x}" data-y="${p.y}"><title>${esc(`${s.label}, block ${p.x}: ${c.formatY(p.y)}`)}</title></circle>`,
      );
    }
    out.push('</g>');
  });
  // the legend, right of the plot
  out.push('<g class="legend">');
  c.series.forEach((s, i) => {
    const y = M.top + 8 + i * 20;
    const color = COLORS[i % COLORS.length];
    out.push(
      `<g class="legend-entry" data-series="${esc(s.label)}"><line x1="${W - M.right + 14}" x2="${W - M.right + 38}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="3"/>` +
        `<circle cx="${W - M.right + 26}" cy="${y}" r="3.2" fill="${color}"/><text class="legend-text" x="${W - M.right + 44}" y="${y + 4}">${esc(s.label)}</text></g>`,
    );
  });
  out.push('</g></svg>');
  return out.join('\n');
}

export interface HistogramSpec {
  id: string;
  title: string;
  counts: number[];
  binWidth: number;
  /** Values at or above max are in the last count. */
  max: number;
  cutoff: number;
  leftLabel: string;
  rightLabel: string;
  xLabel: string;
}

export function histogramChart(c: HistogramSpec): string {
  const n = c.counts.length;
  const top0 = M.top + 22; // a band above the bars for the cut-off's label and the key
  const pw = W - M.left - 30;
  const ph = H - top0 - M.bottom;
  const barW = pw / n;
  const top = Math.max(1, ...c.counts) * 1.08; // headroom above the tallest bar
  const Y = (v: number) => top0 + ph - (v / top) * ph;
  const X = (x: number) => M.left + (x / c.binWidth) * barW;
  const out: string[] = [];
  out.push(`<svg id="${esc(c.id)}" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(c.title)}">`);
  out.push(`<text class="ctitle" x="${M.left}" y="20">${esc(c.title)}</text>`);
  const cx = X(c.cutoff);
  out.push(`<rect class="zone-zero" x="${M.left}" y="${top0}" width="${f(cx - M.left)}" height="${ph}"/>`);
  for (const t of ticks(0, top, 4)) {
    out.push(`<line class="grid" x1="${M.left}" x2="${M.left + pw}" y1="${f(Y(t))}" y2="${f(Y(t))}"/>`);
    out.push(`<text class="tick" x="${M.left - 6}" y="${f(Y(t) + 4)}" text-anchor="end">${t}</text>`);
  }
  out.push('<g class="bars">');
  c.counts.forEach((v, i) => {
    const lo = i * c.binWidth;
    const last = i === n - 1;
    const range = last ? `>= ${c.max}` : `${lo.toFixed(2)}-${(lo + c.binWidth).toFixed(2)}`;
    const cls = lo + c.binWidth <= c.cutoff + 1e-9 ? 'bar zero' : last ? 'bar over' : 'bar one';
    out.push(
      `<rect class="${cls}" x="${f(M.left + i * barW + 0.5)}" y="${f(Y(v))}" width="${f(Math.max(1, barW - 1))}" height="${f(top0 + ph - Y(v))}" data-count="${v}"><title>${esc(`${range}: ${v}`)}</title></rect>`,
    );
  });
  out.push('</g>');
  for (let x = 0; x <= c.max; x += 0.5) {
    out.push(`<text class="tick" x="${f(X(x))}" y="${H - M.bottom + 16}" text-anchor="middle">${x === c.max ? `≥${x}` : x}</text>`);
  }
  out.push(`<line class="axis" x1="${M.left}" x2="${M.left + pw}" y1="${top0 + ph}" y2="${top0 + ph}"/>`);
  out.push(`<line class="cutoff" x1="${f(cx)}" x2="${f(cx)}" y1="${top0 - 18}" y2="${top0 + ph}"/>`);
  out.push(`<text class="cut-label" x="${f(cx + 6)}" y="${top0 - 6}">cut-off ${c.cutoff}</text>`);
  const kx = W - 30 - 300;
  out.push(
    `<g class="legend"><g class="legend-entry" data-series="zero"><rect class="bar zero" x="${kx}" y="${M.top - 4}" width="12" height="12"/><text class="legend-text" x="${kx + 17}" y="${M.top + 6}">${esc(c.leftLabel)}</text></g>` +
      `<g class="legend-entry" data-series="one"><rect class="bar one" x="${kx + 150}" y="${M.top - 4}" width="12" height="12"/><text class="legend-text" x="${kx + 167}" y="${M.top + 6}">${esc(c.rightLabel)}</text></g></g>`,
  );
  out.push(`<text class="alabel" x="${M.left + pw / 2}" y="${H - 8}" text-anchor="middle">${esc(c.xLabel)}</text>`);
  out.push(`<text class="alabel" transform="translate(16 ${top0 + ph / 2}) rotate(-90)" text-anchor="middle">values</text>`);
  out.push('</svg>');
  return out.join('\n');
}

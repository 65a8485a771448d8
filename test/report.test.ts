// --report FILE.html: convert, inspect and verify each write one self-contained page (no external
// reference, no script); its numbers match independent computation (the per-layer zero fractions and
// scales are the output reader's, the histogram's counts add up to the projection's element count and
// its share of zeros is the reference rule's); what is not available is said in words; a failing
// verify or convert writes its failure; headless Chromium shows the title, the charts, the legend and
// the verdict (a PNG is saved in build/test-out/).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { readOutput } from '../build/js/io/converted.js';
import { readCheckpointTensors } from './helpers/read-safetensors.js';
import { decodeValues, referenceTernary } from './reference/ternary-ref.js';
import { browserMissing, launchBrowser } from './helpers/browser.js';

const CLI = new URL('../build/js/cli/main.js', import.meta.url).pathname;
// outside test/, where uvu would take a .png for a test file; build/ is ignored by git
const OUT = new URL('../build/test-out/', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'bitnet-report-'));

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const odd = join(tmp, 'odd');
const packed = join(tmp, 'packed');
assert.is(cli(['synth', '--preset', 'odd', '--out', odd]).code, 0);
assert.is(cli(['synth', '--preset', 'tiny', '--layout', 'packed', '--out', packed]).code, 0);

function selfContained(html: string, what: string): void {
  assert.not.match(html, /https?:\/\//i, `${what}: no http(s) address`);
  assert.not.match(html, /<script\b/i, `${what}: no script`);
  assert.not.match(html, /<link\b/i, `${what}: no link`);
  assert.not.match(html, /<img\b|url\(|@import/i, `${what}: no image, url() or @import`);
  assert.match(html, /^<!doctype html>/);
}

/** The points of a line chart: series label -> block -> value. */
function chartPoints(html: string, id: string): Map<string, Map<number, number>> {
  const svg = html.slice(html.indexOf(`<svg id="${id}"`), html.indexOf('</svg>', html.indexOf(`<svg id="${id}"`)));
  assert.ok(svg.length > 0, `chart ${id}`);
  const out = new Map<string, Map<number, number>>();
  for (const g of svg.matchAll(/<g class="series" data-series="([^"]+)">([\s\S]*?)<\/g>/g)) {
    const pts = new Map<number, number>();
    for (const c of g[2].matchAll(/data-x="([^"]+)" data-y="([^"]+)"/g)) pts.set(Number(c[1]), Number(c[2]));
    out.set(g[1], pts);
  }
  return out;
}

function histogram(html: string): { counts: number[]; zeros: number; nonzeros: number } {
  const svg = html.slice(html.indexOf('<svg id="chart-histogram"'), html.indexOf('</svg>', html.indexOf('<svg id="chart-histogram"')));
  return {
    counts: [...svg.matchAll(/data-count="(\d+)"/g)].map((m) => Number(m[1])),
    zeros: Number(/data-zeros="(\d+)"/.exec(html)?.[1]),
    nonzeros: Number(/data-nonzeros="(\d+)"/.exec(html)?.[1]),
  };
}

/** The share of zeros of the reference rule over a source tensor (the test's own implementation). */
function referenceZeros(dir: string, name: string): { zeros: number; elements: number } {
  const t = readCheckpointTensors(dir).get(name)!;
  const q = referenceTernary(decodeValues(t.bytes, t.dtype as 'BF16'), t.dtype as 'BF16').q;
  return { zeros: q.filter((v) => v === 0).length, elements: q.length };
}

const PROJ: Record<string, string> = { q: 'self_attn.q_proj', k: 'self_attn.k_proj', v: 'self_attn.v_proj', o: 'self_attn.o_proj', gate: 'mlp.gate_proj', up: 'mlp.up_proj', down: 'mlp.down_proj' };

test('convert --report: one self-contained file whose charts are the output reader\'s numbers and whose histogram is the reference rule\'s', () => {
  const out = join(tmp, 'odd-hf');
  const dir = join(tmp, 'reports');
  const file = join(dir, 'convert.html');
  const r = cli(['--input-dir', odd, '--output-dir', out, '--format', 'hf-packed', '--threads', '0', '-q', '--log-dir', join(tmp, 'logs'), '--report', file]);
  assert.is(r.code, 0, r.stderr);
  assert.equal(readdirSync(dir), ['convert.html'], 'one file, no temporary left');
  const html = readFileSync(file, 'utf8');
  selfContained(html, 'convert');
  assert.match(html, /<title>bitnet-converter convert: odd<\/title>/);
  assert.match(html, /converted: hf-bitnet -&gt; hf-packed/);
  assert.match(html, /hidden size 72, intermediate size 200, hidden layers 2/);
  for (const k of ['wall time', 'bytes read', 'GB/s|MB/s', 'peak memory']) assert.match(html, new RegExp(k));
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { files: { name: string; sha256: string }[] };
  for (const f of manifest.files) assert.ok(html.includes(f.sha256), `${f.name} sha256 listed`);

  // per-layer charts: one series per projection, each point the reader's value
  const tensors = new Map(readOutput(out).tensors.map((t) => [t.name, t.ternary!]));
  const zero = chartPoints(html, 'chart-zero');
  const scale = chartPoints(html, 'chart-scale');
  assert.equal([...zero.keys()], ['q', 'k', 'v', 'o', 'gate', 'up', 'down']);
  assert.equal([...scale.keys()], [...zero.keys()]);
  for (const [label, path] of Object.entries(PROJ)) {
    for (const block of [0, 1]) {
      const t = tensors.get(`model.layers.${block}.${path}.weight`)!;
      const zeros = t.q.filter((v) => v === 0).length / t.q.length;
      assert.ok(Math.abs(zero.get(label)!.get(block)! - zeros) < 1e-12, `${label} ${block} zeros ${zero.get(label)!.get(block)} vs ${zeros}`);
      assert.is(scale.get(label)!.get(block), t.rowScales[0], `${label} ${block} scale`);
    }
  }
  for (const label of ['q', 'k', 'v', 'o', 'gate', 'up', 'down']) assert.match(html, new RegExp(`<g class="legend-entry" data-series="${label}">`));

  // the histogram of the default projection (blk.0.attn_q)
  const h = histogram(html);
  const want = referenceZeros(odd, 'model.layers.0.self_attn.q_proj.weight');
  assert.is(h.counts.reduce((a, b) => a + b, 0), want.elements, 'counts sum to the element count');
  assert.is(h.zeros + h.nonzeros, want.elements);
  assert.is(h.zeros, want.zeros, 'zeros: the reference rule\'s');
  const q0 = tensors.get('model.layers.0.self_attn.q_proj.weight')!.q;
  assert.is(h.zeros, q0.filter((v) => v === 0).length, 'zeros: the output reader\'s');
  assert.match(html, /cut-off 0\.5/);
});

test('--report-tensor picks the histogram\'s projection, by role or by name; an unknown one is said in words', () => {
  for (const [pick, name] of [['blk.1.ffn_down', 'model.layers.1.mlp.down_proj.weight'], ['model.layers.0.self_attn.v_proj.weight', 'model.layers.0.self_attn.v_proj.weight']]) {
    const file = join(tmp, `inspect-${pick}.html`);
    const r = cli(['inspect', odd, '--report', file, '--report-tensor', pick]);
    assert.is(r.code, 0, r.stderr);
    const html = readFileSync(file, 'utf8');
    selfContained(html, pick);
    assert.ok(html.includes(`${name}`), pick);
    const h = histogram(html);
    const want = referenceZeros(odd, name);
    assert.is(h.counts.reduce((a, b) => a + b, 0), want.elements);
    assert.is(h.zeros, want.zeros, `${pick} zeros`);
  }
  const file = join(tmp, 'inspect-unknown.html');
  assert.is(cli(['inspect', odd, '--report', file, '--report-tensor', 'blk.9.attn_q']).code, 0);
  assert.match(readFileSync(file, 'utf8'), /data-unavailable="histogram">No tensor or role &quot;blk\.9\.attn_q&quot;/);
});

test('inspect --report: a packed checkpoint and an output folder have no source floats, said in words; their charts are there', () => {
  const file = join(tmp, 'inspect-packed.html');
  assert.is(cli(['inspect', packed, '--report', file]).code, 0);
  let html = readFileSync(file, 'utf8');
  selfContained(html, 'packed');
  assert.match(html, /inspected: input checkpoint, layout hf-bitnet-packed/);
  assert.match(html, /data-unavailable="histogram">The source holds [^<]* as packed ternary codes/);
  assert.is(chartPoints(html, 'chart-zero').size, 7);

  const out = join(tmp, 'odd-hf'); // from the first test
  const file2 = join(tmp, 'inspect-output.html');
  assert.is(cli(['inspect', out, '--report', file2]).code, 0);
  html = readFileSync(file2, 'utf8');
  selfContained(html, 'output');
  assert.match(html, /inspected: output, format hf-packed/);
  assert.match(html, /data-unavailable="histogram">An output holds ternary codes only/);
  assert.is(chartPoints(html, 'chart-scale').size, 7);
});

test('inspect --report on outputs: series by the roles the reader reports (a stack stays one series, said in a note), in block order', () => {
  const want: Record<string, string[]> = { 'bitnet-rs': ['wqkv', 'o', 'w13', 'down'], 'bitnet-rs-safetensors': ['wqkv', 'o', 'w13', 'down'] };
  for (const [format, labels] of Object.entries(want)) {
    const out = join(tmp, `odd-${format}`);
    assert.is(cli(['--input-dir', odd, '--output-dir', out, '--format', format, '--threads', '0', '-q', '--log-dir', join(tmp, 'logs')]).code, 0);
    const file = join(tmp, `inspect-${format}.html`);
    assert.is(cli(['inspect', out, '--report', file]).code, 0);
    const html = readFileSync(file, 'utf8');
    assert.equal([...chartPoints(html, 'chart-zero').keys()], labels, format);
    assert.match(html, /This format stores fused tensors/);
  }
});

test('verify --report: a passing verify against the source, and a failing one with its problem lines', () => {
  const out = join(tmp, 'odd-hf');
  const good = join(tmp, 'verify-good.html');
  const r = cli(['verify', out, '--against', odd, '--report', good]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  let html = readFileSync(good, 'utf8');
  selfContained(html, 'verify');
  assert.match(html, /class="verdict ok"/);
  assert.match(html, /verified: \d+ files, \d+ tensors/);
  assert.is(histogram(html).zeros, referenceZeros(odd, 'model.layers.0.self_attn.q_proj.weight').zeros);

  // a changed byte in the weights: the sha256 and (re-derived) values differ
  const bad = join(tmp, 'odd-hf-bad');
  assert.is(cli(['--input-dir', odd, '--output-dir', bad, '--format', 'hf-packed', '--threads', '0', '-q', '--log-dir', join(tmp, 'logs')]).code, 0);
  const f = join(bad, 'model.safetensors');
  const bytes = readFileSync(f);
  bytes[bytes.length - 5] ^= 0x01;
  writeFileSync(f, bytes);
  const report = join(tmp, 'verify-bad.html');
  const v = cli(['verify', bad, '--report', report]);
  assert.is(v.code, 1);
  html = readFileSync(report, 'utf8');
  selfContained(html, 'failed verify');
  assert.match(html, /class="verdict failed"/);
  assert.match(html, /FAILED \(\d+ problems?\)/);
  assert.match(html, /<li>model\.safetensors: expected sha256 [0-9a-f]{64} \(manifest\.json\), found [0-9a-f]{64}<\/li>/);
  assert.match(html, /data-unavailable="layers">The output could not be read back/);
});

test('llama-latent (never detected): inspect --layout reads it, and convert --report and verify --against --report plan the source with the layout the conversion used', () => {
  const latent = join(tmp, 'latent');
  assert.is(cli(['synth', '--preset', 'tiny', '--layout', 'llama-latent', '--out', latent]).code, 0);
  const q0 = 'model.layers.0.self_attn.q_proj.weight';
  const want = referenceZeros(latent, q0);
  // detected, it is refused (as convert refuses it); named, it is read
  const refused = cli(['inspect', latent, '--json']);
  assert.is(refused.code, 1);
  assert.match(refused.stderr, /--layout llama-latent/);
  const r = cli(['inspect', latent, '--layout', 'llama-latent', '--json']);
  assert.is(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.is(doc.layout, 'llama-latent');
  const t = doc.tensors.find((x: { name: string }) => x.name === q0);
  assert.is(t.ternary.fractions.zero, want.zeros / want.elements, 'the reference rule\'s share of zeros');
  const inspected = join(tmp, 'inspect-latent.html');
  assert.is(cli(['inspect', latent, '--layout', 'llama-latent', '--report', inspected]).code, 0);
  assert.is(histogram(readFileSync(inspected, 'utf8')).zeros, want.zeros);

  const out = join(tmp, 'latent-out');
  const file = join(tmp, 'convert-latent.html');
  const c = cli(['--input-dir', latent, '--output-dir', out, '--format', 'bitnet-rs', '--layout', 'llama-latent', '--threads', '0', '-q', '--log-dir', join(tmp, 'logs'), '--report', file]);
  assert.is(c.code, 0, c.stderr);
  let html = readFileSync(file, 'utf8');
  assert.match(html, /converted: llama-latent -&gt; bitnet-rs/);
  assert.not.match(html, /data-unavailable="layers"/, 'per-layer statistics present');
  assert.is(histogram(html).zeros, want.zeros, 'the histogram: the reference rule on the source');
  const verified = join(tmp, 'verify-latent.html');
  const v = cli(['verify', out, '--against', latent, '--report', verified]);
  assert.is(v.code, 0, v.stdout + v.stderr);
  html = readFileSync(verified, 'utf8');
  assert.match(html, /class="verdict ok"/);
  assert.is(histogram(html).zeros, want.zeros, 'verify --against: the source planned with the recorded layout');
});

test('a failing convert writes its failure', () => {
  const file = join(tmp, 'convert-failed.html');
  const r = cli(['--input-dir', odd, '--output-dir', join(tmp, 'gguf'), '--format', 'gguf', '--gguf-type', 'i2_s', '--threads', '0', '-q', '--log-dir', join(tmp, 'logs'), '--report', file]);
  assert.is(r.code, 1);
  const html = readFileSync(file, 'utf8');
  selfContained(html, 'failed convert');
  assert.match(html, /class="verdict failed"/);
  assert.match(html, /conversion FAILED/);
  assert.ok(html.includes(r.stderr.replace(/^error: /, '').trim().replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')), 'the error line');
});

const missing = browserMissing();
(missing ? test.skip : test)(`headless Chromium shows the title, the charts, the legend and the verdict${missing ? ` (skipped: ${missing})` : ''}`, async () => {
  const file = join(tmp, 'reports', 'convert.html');
  assert.ok(existsSync(file));
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    const requests: string[] = [];
    page.on('request', (req) => {
      if (!req.url().startsWith('data:') && req.url() !== 'about:blank') requests.push(req.url());
    });
    await page.setContent(readFileSync(file, 'utf8'));
    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, 'report-convert.png'), fullPage: true });
    assert.equal(requests, [], 'no request');
    assert.is(await page.title(), 'bitnet-converter convert: odd');
    assert.is((await page.textContent('h1'))?.trim(), 'bitnet-converter convert: odd');
    for (const id of ['chart-scale', 'chart-zero', 'chart-histogram']) {
      const box = await page.locator(`svg#${id}`).boundingBox();
      assert.ok(box && box.width > 300 && box.height > 150, `${id}: ${JSON.stringify(box)}`);
      const drawn = await page.locator(`svg#${id} circle, svg#${id} rect.bar`).count();
      assert.ok(drawn > 0, `${id} draws marks`);
    }
    const legend = await page.locator('svg#chart-zero .legend-text').allTextContents();
    assert.equal(legend, ['q', 'k', 'v', 'o', 'gate', 'up', 'down']);
    for (const t of await page.locator('svg#chart-zero .legend-entry').all()) {
      const b = await t.boundingBox();
      assert.ok(b && b.width > 0 && b.height > 0, 'legend entry drawn');
    }
    assert.match((await page.textContent('#verdict')) ?? '', /converted: hf-bitnet -> hf-packed/);
    assert.match((await page.textContent('svg#chart-histogram')) ?? '', /cut-off 0\.5.*→ 0: [\d.]+%.*→ ±1: [\d.]+%/s);
  } finally {
    await browser.close();
  }
});

test.run();

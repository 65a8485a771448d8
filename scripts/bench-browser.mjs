// The browser conversion beside the CLI's on this machine: the same synthetic checkpoint converted by
// `bitnet-converter` (Node) and by the page in Debian's headless Chromium (picked with the file input,
// written to OPFS), medians of N rounds each, as input GB/s. Needs test/tools (playwright-core) and
// /usr/bin/chromium, as the browser tests do.
// Usage: node scripts/bench-browser.mjs [--preset small | --input DIR] [--format bitnet-rs] [--runs 3] [--no-stats]

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: { 'no-stats': { type: 'boolean', default: false }, preset: { type: 'string', default: 'small' }, input: { type: 'string' }, format: { type: 'string', default: 'bitnet-rs' }, runs: { type: 'string', default: '3' } },
});
const root = new URL('..', import.meta.url).pathname;
const cli = join(root, 'build/js/cli/main.js');
const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'bitnet-converter', 'bench');
const input = args.input ?? join(cache, `browser-${args.preset}`);
const output = join(cache, `browser-${args.preset}-cli-${args.format}`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

if (!args.input && !existsSync(join(input, '.complete'))) {
  rmSync(input, { recursive: true, force: true });
  execFileSync(process.execPath, [cli, 'synth', '--preset', args.preset, '--out', input], { stdio: 'inherit' });
  writeFileSync(join(input, '.complete'), '');
}
const bytes = readdirSync(input).filter((f) => f.endsWith('.safetensors')).reduce((s, f) => s + statSync(join(input, f)).size, 0);
const runs = Number(args.runs);

const cliSecs = [];
const cliPeaks = [];
for (let i = 0; i < runs; i++) {
  rmSync(output, { recursive: true, force: true });
  const t = performance.now();
  const r = spawnSync(process.execPath, [cli, '--input-dir', input, '--output-dir', output, '--format', args.format, '--timestamp', '0', '--log-dir', join(cache, 'logs')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`CLI conversion failed: ${r.stderr}`);
  cliPeaks.push(Number(/peak memory (\d+) MiB/.exec(r.stderr)?.[1]));
  cliSecs.push((performance.now() - t) / 1000);
}

const { LAUNCH, playwrightChromium } = await import(join(root, 'test/helpers/chromium.mjs'));
const chromium = playwrightChromium();
const { servePage } = await import(join(root, 'build/js/cli/serve.js'));
const { server, url } = await servePage(0, '127.0.0.1');
// A persistent profile: a fresh context is like private browsing, whose storage (OPFS) is in memory with a
// small quota; a user's browser keeps OPFS on disk.
const profile = mkdtempSync(join(tmpdir(), 'bitnet-bench-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  ...LAUNCH,
  acceptDownloads: true,
});
/** The largest resident set of a Chromium renderer process (the page and its workers live there), sampled every 100 ms. */
function sampleRenderers() {
  let peak = 0;
  const timer = setInterval(() => {
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=renderer')) continue;
        const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
        peak = Math.max(peak, kb * 1024);
      } catch {
        // the process ended between listing and reading
      }
    }
  }, 100);
  return () => (clearInterval(timer), peak);
}
const pageSecs = [];
const peaks = [];
const reported = [];
const phases = [];
try {
  for (let i = 0; i < runs; i++) {
    const page = await browser.newPage();
    await page.goto(url);
    await page.setInputFiles('#folder', input);
    await page.selectOption('#engine', 'format'); // the format chosen under "Advanced options"
    await page.click('#advanced summary');
    await page.selectOption('#format', args.format);
    if (args['no-stats']) await page.uncheck('#stats'); // the page's inspect summary off
    await page.selectOption('#destination', 'download');
    await page.fill('#timestamp', '0');
    const stop = sampleRenderers();
    const t = performance.now();
    await page.click('#convert');
    await page.waitForSelector('#result:not([hidden]), #error:not([hidden])', { timeout: 600_000 });
    pageSecs.push((performance.now() - t) / 1000);
    peaks.push(stop());
    if (!(await page.isHidden('#error'))) throw new Error(`the page failed: ${await page.textContent('#error-text')}`);
    reported.push(Number(/written in ([\d.]+) s/.exec(await page.textContent('#summary'))?.[1]));
    phases.push(await page.evaluate(() => document.getElementById('summary').dataset.phases));
    await page.close();
  }
} finally {
  await browser.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}

const rate = (s) => (bytes / s / 1e9).toFixed(2);
const c = median(cliSecs);
const p = median(pageSecs);
console.log(`input: ${args.input ?? `synth --preset ${args.preset}`} (${(bytes / 1e6).toFixed(1)} MB of safetensors), --format ${args.format}, ${runs} rounds, medians`);
console.log(`| run | seconds | input GB/s |`);
console.log(`|---|---|---|`);
console.log(`| CLI (node, process start included) | ${c.toFixed(2)} | ${rate(c)} |`);
console.log(`| page in Chromium (click to result, workers and wasm compile included) | ${p.toFixed(2)} | ${rate(p)} |`);
console.log(`| page, convertFiles' own time | ${median(reported).toFixed(2)} | ${rate(median(reported))} |`);
console.log(`page phases (s), last round: ${phases.at(-1)}`);
console.log(`peak RSS of the CLI: ${Math.max(...cliPeaks)} MiB`);
console.log(`peak RSS of Chromium's renderer process (the page and its workers) during the conversion: ${Math.round(Math.max(...peaks) / 2 ** 20)} MiB`);

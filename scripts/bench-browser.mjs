// The browser conversion beside the CLI's on this machine: the same synthetic checkpoint converted by
// `bitnet-converter` (Node) and by the page in Debian's headless Chromium (picked with the file input,
// written to OPFS). Each round converts with the CLI, then with the page, so that the two meet the same
// load on a shared machine; the ratio of each round, CPU seconds of both (the CLI process; our Chromium's
// processes), the CLI's peak RSS and the renderer's (the page and its workers; also with the page idle).
// Needs test/tools (playwright-core) and /usr/bin/chromium, as the browser tests do.
// Usage: node scripts/bench-browser.mjs [--preset small | --input DIR] [--format bitnet-rs] [--runs 3] [--no-stats]

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: { 'no-stats': { type: 'boolean', default: false }, preset: { type: 'string', default: 'small' }, input: { type: 'string' }, format: { type: 'string', default: 'bitnet-rs' }, runs: { type: 'string', default: '3' } },
});
const root = new URL('..', import.meta.url).pathname;
const cli = join(root, 'build/js/cli/main.js');
const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'bitnet-converter', 'bench');
const input = args.input ?? join(cache, `browser-${args.preset}`);
const output = join(cache, `${args.input ? basename(args.input) : `browser-${args.preset}`}-browser-cli-${args.format}`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

if (!args.input && !existsSync(join(input, '.complete'))) {
  rmSync(input, { recursive: true, force: true });
  execFileSync(process.execPath, [cli, 'synth', '--preset', args.preset, '--out', input], { stdio: 'inherit' });
  writeFileSync(join(input, '.complete'), '');
}
const bytes = readdirSync(input).filter((f) => f.endsWith('.safetensors')).reduce((s, f) => s + statSync(join(input, f)).size, 0);
const runs = Number(args.runs);

/** User + system CPU seconds of finished children (the CLI processes), from /proc/self/stat. */
function childCpu() {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(f[13]) + Number(f[14])) / 100; // cutime, cstime in clock ticks (100 a second on Linux)
}
function cliRound() {
  rmSync(output, { recursive: true, force: true });
  const cpu = childCpu();
  const t = performance.now();
  const r = spawnSync(process.execPath, [cli, '--input-dir', input, '--output-dir', output, '--format', args.format, '--timestamp', '0', '--log-dir', join(cache, 'logs')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`CLI conversion failed: ${r.stderr}`);
  return { secs: (performance.now() - t) / 1000, cpu: childCpu() - cpu, peak: Number(/peak memory (\d+) MiB/.exec(r.stderr)?.[1]) };
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
/** Our Chromium's processes: the browser started with our profile and its descendants (other sessions may run Chromium too). */
function ours() {
  const procs = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      procs.push({ pid, ppid: stat[1], cpu: (Number(stat[11]) + Number(stat[12])) / 100, cmd: readFileSync(`/proc/${pid}/cmdline`, 'utf8') });
    } catch {
      // the process ended between listing and reading
    }
  }
  const mine = new Set(procs.filter((p) => p.cmd.includes(profile) && !p.cmd.includes('--type=')).map((p) => p.pid));
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) {
      if (!mine.has(p.pid) && mine.has(p.ppid)) {
        mine.add(p.pid);
        grew = true;
      }
    }
  }
  return procs.filter((p) => mine.has(p.pid));
}
const cpuOf = () => ours().reduce((s, p) => s + p.cpu, 0);
/** The largest resident set of our renderer process (the page and its workers), sampled every 100 ms. */
function sampleRenderer() {
  let peak = 0;
  const timer = setInterval(() => {
    for (const { pid, cmd } of ours()) {
      if (!cmd.includes('--type=renderer')) continue;
      try {
        peak = Math.max(peak, Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024);
      } catch {
        // ended
      }
    }
  }, 100);
  return () => (clearInterval(timer), peak);
}
const rounds = [];
try {
  for (let i = 0; i < runs; i++) {
    const c = cliRound();
    const page = await browser.newPage();
    await page.goto(url);
    await page.setInputFiles('#folder', input);
    await page.selectOption('#engine', 'format'); // the format chosen under "Advanced options"
    await page.click('#advanced summary');
    await page.selectOption('#format', args.format);
    if (args['no-stats']) await page.uncheck('#stats'); // the page's inspect summary off
    await page.selectOption('#destination', 'download');
    await page.fill('#timestamp', '0');
    await new Promise((r) => setTimeout(r, 1000)); // the page settled (warmUp done)
    const idle = sampleRenderer();
    await new Promise((r) => setTimeout(r, 500));
    const idlePeak = idle();
    const stop = sampleRenderer();
    const cpu = cpuOf();
    const t = performance.now();
    await page.click('#convert');
    await page.waitForSelector('#result:not([hidden]), #error:not([hidden])', { timeout: 600_000 });
    const secs = (performance.now() - t) / 1000;
    const peak = stop();
    const pageCpu = cpuOf() - cpu;
    if (!(await page.isHidden('#error'))) throw new Error(`the page failed: ${await page.textContent('#error-text')}`);
    const reported = Number(/written in ([\d.]+) s/.exec(await page.textContent('#summary'))?.[1]);
    const phases = await page.evaluate(() => document.getElementById('summary').dataset.phases);
    await page.close();
    rounds.push({ cli: c, secs, cpu: pageCpu, peak, idlePeak, reported, phases });
  }
} finally {
  await browser.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
  rmSync(output, { recursive: true, force: true });
}

const rate = (s) => (bytes / s / 1e9).toFixed(2);
const mib = (b) => Math.round(b / 2 ** 20);
console.log(`input: ${args.input ?? `synth --preset ${args.preset}`} (${(bytes / 1e6).toFixed(1)} MB of safetensors), --format ${args.format}${args['no-stats'] ? ', inspect summary off' : ''}, ${runs} round(s): the CLI, then the page`);
console.log('round  CLI s  page s  ratio  CLI cpu-s  page cpu-s  cpu ratio  CLI peak  renderer peak (idle)');
rounds.forEach((r, i) =>
  console.log(
    `${String(i + 1).padStart(5)}  ${r.cli.secs.toFixed(2).padStart(5)}  ${r.secs.toFixed(2).padStart(6)}  ${(r.secs / r.cli.secs).toFixed(2).padStart(4)}x  ${r.cli.cpu.toFixed(2).padStart(9)}  ${r.cpu.toFixed(2).padStart(10)}  ${(r.cpu / r.cli.cpu).toFixed(2).padStart(8)}x  ${String(r.cli.peak).padStart(4)} MiB  ${String(mib(r.peak)).padStart(8)} MiB (${mib(r.idlePeak)} MiB)`,
  ),
);
const c = median(rounds.map((r) => r.cli.secs));
const p = median(rounds.map((r) => r.secs));
console.log(`| run | seconds | input GB/s |`);
console.log(`|---|---|---|`);
console.log(`| CLI (node, process start included) | ${c.toFixed(2)} | ${rate(c)} |`);
console.log(`| page in Chromium (click to result, workers and wasm compile included) | ${p.toFixed(2)} | ${rate(p)} |`);
console.log(`| page, convertFiles' own time | ${median(rounds.map((r) => r.reported)).toFixed(2)} | ${rate(median(rounds.map((r) => r.reported)))} |`);
console.log(`median ratio page / CLI of the same round: ${median(rounds.map((r) => r.secs / r.cli.secs)).toFixed(2)}x; CPU seconds: ${median(rounds.map((r) => r.cpu / r.cli.cpu)).toFixed(2)}x`);
console.log(`page phases (s), last round: ${rounds.at(-1).phases}`);
console.log(`peak RSS of the CLI: ${Math.max(...rounds.map((r) => r.cli.peak))} MiB`);
console.log(`peak RSS of our Chromium renderer (the page and its workers) during the conversion: ${mib(Math.max(...rounds.map((r) => r.peak)))} MiB (with the page idle before it: ${mib(Math.max(...rounds.map((r) => r.idlePeak)))} MiB)`);

// The browser conversion beside the CLI's on this machine: the same synthetic checkpoint converted by
// `bitnet-converter` (Node) and by the page (picked with the file input, written to OPFS) in Debian's
// headless Chromium, Firefox ESR or WebKitGTK (the test suite's host with kept storage,
// test/helpers/webkit-host.py), medians of N rounds each, as input GB/s, with the peak resident memory of
// the browser's page process (and WebKit's network process, where its writable streams write). Each round
// converts with the CLI, then with the page, so that both meet the same load on a shared machine: the ratio
// of each round, and the CPU seconds of both (the CLI process; the browser's processes). Needs what the
// browser tests need (test/tools, the Debian packages of scripts/install-engines.mjs).
// Usage: node scripts/bench-browser.mjs [--engine chromium|firefox|webkit] [--preset small | --input DIR] [--format bitnet-rs] [--runs 3] [--no-stats]
//   [--no-isolate] (served without the isolation headers, as a plain static host: the workers read with FileReaderSync)

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: { engine: { type: 'string', default: 'chromium' }, 'no-stats': { type: 'boolean', default: false }, 'no-isolate': { type: 'boolean', default: false }, preset: { type: 'string', default: 'small' }, input: { type: 'string' }, format: { type: 'string', default: 'bitnet-rs' }, runs: { type: 'string', default: '3' } },
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
/** One CLI conversion: seconds, CPU seconds, peak RSS in MiB (as the CLI reports it). */
function cliRound() {
  rmSync(output, { recursive: true, force: true });
  const cpu = childCpu();
  const t = performance.now();
  const r = spawnSync(process.execPath, [cli, '--input-dir', input, '--output-dir', output, '--format', args.format, '--timestamp', '0', '--log-dir', join(cache, 'logs')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`CLI conversion failed: ${r.stderr}`);
  return { secs: (performance.now() - t) / 1000, cpu: childCpu() - cpu, peak: Number(/peak memory (\d+) MiB/.exec(r.stderr)?.[1]) };
}

const { servePage } = await import(join(root, 'build/js/cli/serve.js'));
const { server, url } = await servePage(0, '127.0.0.1', { isolate: !args['no-isolate'] });

/** The process ids under `root` (its descendants and itself). */
function tree(root) {
  const children = new Map();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const ppid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(pid)]);
    } catch {
      // the process ended between listing and reading
    }
  }
  const out = [];
  for (const queue = [root]; queue.length; ) {
    const pid = queue.pop();
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/**
 * Samples, every 100 ms, the largest resident set of the processes whose command line matches each
 * pattern (among `root`'s descendants when given): the page's process (its workers live there), and
 * for WebKit its network process. Returns a stop() giving the peaks in bytes, by pattern.
 */
function sample(patterns, root) {
  const peaks = patterns.map(() => 0);
  const cpu0 = cpuOf(root);
  let cpu = cpu0; // the last seen: WebKit's host has ended when stop() is called
  const timer = setInterval(() => {
    cpu = Math.max(cpu, cpuOf(root));
    const pids = root() ? tree(root()) : []; // WebKit's host is not started yet
    for (const pid of pids) {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        const i = patterns.findIndex((p) => p.test(cmd));
        if (i < 0) continue;
        const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
        peaks[i] = Math.max(peaks[i], kb * 1024);
      } catch {
        // the process ended between listing and reading
      }
    }
  }, 100);
  return () => (clearInterval(timer), { peaks, cpu: Math.max(cpu, cpuOf(root)) - cpu0 });
}
/** User + system CPU seconds of the processes under `root()` now (their finished children included). */
function cpuOf(root) {
  let s = 0;
  for (const pid of root() ? tree(root()) : []) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      s += (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
    } catch {
      // the process ended between listing and reading
    }
  }
  return s;
}
/** The browser process whose command line names `dir` (its profile): other sessions may run the same browser. */
function started(dir) {
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(dir) && !cmd.includes('--type=')) return Number(pid);
    } catch {
      // the process ended between listing and reading
    }
  }
  throw new Error(`no browser process with ${dir} found`);
}

/** The page's summary and phases, as both drivers read them. */
const SUMMARY = `[document.getElementById('error').hidden ? '' : document.getElementById('error-text').textContent, document.getElementById('summary').textContent, document.getElementById('summary').dataset.phases,
  [...document.querySelectorAll('#files-table tr')].map((tr) => [...tr.cells].map((c) => c.textContent))]`;

/** Clicks Convert in a driven page (playwright's or puppeteer's), waits for the result and records the round with the sampler `stop` started. */
async function convertRound(page, cliRun, stop) {
  const t = performance.now();
  await page.click('#convert');
  await page.waitForSelector('#result:not([hidden]), #error:not([hidden])', { timeout: 1_800_000 });
  record(cliRun, (performance.now() - t) / 1000, stop(), await page.evaluate(SUMMARY));
  await page.close();
}

/** One conversion in the page: seconds from the click to the result, the summary, peak memory by process kind. */
const engines = {
  async chromium(rounds) {
    const { LAUNCH, playwrightChromium } = await import(join(root, 'test/helpers/chromium.mjs'));
    // A persistent profile: a fresh context is like private browsing, whose storage (OPFS) is in memory with a
    // small quota; a user's browser keeps OPFS on disk.
    const profile = mkdtempSync(join(tmpdir(), 'bitnet-bench-chromium-'));
    const browser = await playwrightChromium().launchPersistentContext(profile, { ...LAUNCH, acceptDownloads: true });
    const pid = started(profile);
    try {
      for (let i = 0; i < rounds; i++) {
        const cliRun = cliRound();
        const page = await browser.newPage();
        await page.goto(url);
        await page.setInputFiles('#folder', input);
        await page.selectOption('#engine', 'format'); // the format chosen under "Advanced options"
        await page.click('#advanced summary');
        await page.selectOption('#format', args.format);
        if (args['no-stats']) await page.uncheck('#stats'); // the page's inspect summary off
        await page.selectOption('#destination', 'download');
        await page.fill('#timestamp', '0');
        await convertRound(page, cliRun, sample([/--type=renderer/], () => pid));
      }
    } finally {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    }
  },
  async firefox(rounds) {
    const { launchFirefox } = await import(join(root, 'test/helpers/engines-web.mjs'));
    const browser = await launchFirefox();
    try {
      for (let i = 0; i < rounds; i++) {
        const cliRun = cliRound();
        const page = await browser.newPage();
        await page.goto(url);
        await page.waitForSelector('body[data-ready="offline"]', { timeout: 60_000 });
        // its driver hands over files, not a folder: the folder's name typed (a GGUF's general.name is the CLI's)
        await (await page.$('#files')).uploadFile(...readdirSync(input).filter((f) => !f.startsWith('.')).map((f) => join(input, f)));
        await page.type('#model-name', basename(input));
        await page.select('#engine', 'format');
        await page.click('#advanced summary');
        await page.select('#format', args.format);
        if (args['no-stats']) await page.click('#stats');
        await page.type('#timestamp', '0');
        await convertRound(page, cliRun, sample([/-contentproc/], () => browser.process().pid));
      }
    } finally {
      await browser.close();
    }
  },
  async webkit(rounds) {
    const { inWebKitHost } = await import(join(root, 'test/helpers/engines-web.mjs'));
    for (let i = 0; i < rounds; i++) {
      const cliRun = cliRound();
      let host = 0;
      const stop = sample([/WebKitWebProcess/, /WebKitNetworkProcess/], () => host);
      const data = mkdtempSync(join(tmpdir(), 'bitnet-bench-webkit-'));
      // WebKitGTK leaves a copy of every file its writable streams wrote in TMPDIR (docs/architecture.md): 1.3 GB a round of 2B-4T
      const env = { ...process.env };
      process.env.TMPDIR = join(data, 'tmp');
      mkdirSync(process.env.TMPDIR);
      try {
        // the seconds are the page's own, from the click to the result (the host's start and the load are not in them)
        const [seconds, ...summary] = JSON.parse(
          await inWebKitHost(
            url,
            `const $ = (id) => document.getElementById(id);
            const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
            for (let i = 0; i < 1000 && !$('version').textContent; i++) await sleep(10);
            const changed = new Promise((r) => $('files').addEventListener('change', r, { once: true }));
            $('files').click();
            await changed;
            for (let i = 0; i < 600 && !document.body.dataset.ready; i++) await sleep(100);
            const set = (id, v, ev = 'change') => { $(id).value = v; $(id).dispatchEvent(new Event(ev, { bubbles: true })); };
            set('model-name', 'model', 'input');
            set('engine', 'format');
            $('advanced').open = true;
            set('format', ${JSON.stringify(args.format)});
            ${args['no-stats'] ? "$('stats').checked = false; $('stats').dispatchEvent(new Event('change', { bubbles: true }));" : ''}
            set('timestamp', '0', 'input');
            for (let i = 0; i < 500 && $('convert').disabled; i++) await sleep(10);
            const t = performance.now();
            $('convert').click();
            while ($('result').hidden && $('error').hidden) await sleep(100);
            return JSON.stringify([(performance.now() - t) / 1000, ...${SUMMARY}]);`,
            1800,
            { files: [readdirSync(input).filter((f) => !f.startsWith('.')).map((f) => join(input, f))], dataDir: data, started: (pid) => (host = pid) },
          ),
        );
        record(cliRun, seconds, stop(), summary);
      } finally {
        stop();
        process.env.TMPDIR = env.TMPDIR;
        if (env.TMPDIR === undefined) delete process.env.TMPDIR;
        rmSync(data, { recursive: true, force: true });
      }
    }
  },
};

/** Each round: the CLI's conversion, the page's seconds, CPU seconds and peaks, convertFiles' own seconds, its phases. */
const rounds = [];
/** The sha256 of each file of the CLI's output of the last round, but manifest.json (it names the model, which the page's drivers type differently). */
const cliFiles = () => Object.fromEntries(readdirSync(output).filter((f) => f !== 'manifest.json').map((f) => [f, createHash('sha256').update(readFileSync(join(output, f))).digest('hex')]));
function record(cliRun, seconds, { peaks, cpu }, [error, summary, phase, table]) {
  if (error) throw new Error(`the page failed: ${error}`);
  // the page's table: name, bytes, sha256 (a heading row first); output files are named after the model, the CLI's too
  const rename = (f) => f.replaceAll(/^model|^master-2b-4t/g, 'MODEL');
  const page = Object.fromEntries(table.filter((r) => r.length >= 3 && /^[0-9a-f]{64}$/.test(r[2]) && r[0] !== 'manifest.json').map((r) => [rename(r[0]), r[2]]));
  const cli = Object.fromEntries(Object.entries(cliFiles()).map(([f, h]) => [rename(f), h]));
  if (JSON.stringify(page, Object.keys(page).sort()) !== JSON.stringify(cli, Object.keys(cli).sort())) throw new Error(`the page's files differ from the CLI's: ${JSON.stringify({ page, cli })}`);
  rounds.push({ cli: cliRun, secs: seconds, cpu, peaks, reported: Number(/written in ([\d.]+) s/.exec(summary)?.[1]), phase });
}
const run = engines[args.engine];
if (!run) throw new Error(`--engine: one of ${Object.keys(engines).join(', ')}`);
try {
  await run(runs);
} finally {
  server.close();
}

const rate = (s) => (bytes / s / 1e9).toFixed(2);
const mib = (b) => Math.round(b / 2 ** 20);
console.log(`input: ${args.input ?? `synth --preset ${args.preset}`} (${(bytes / 1e6).toFixed(1)} MB of safetensors), --format ${args.format}${args['no-stats'] ? ', inspect summary off' : ''}${args['no-isolate'] ? ', not cross-origin isolated' : ''}, ${runs} round(s): the CLI, then the page in ${args.engine}`);
console.log('round  CLI s  page s  ratio  CLI cpu-s  page cpu-s  cpu ratio  CLI peak  page process peak');
rounds.forEach((r, i) =>
  console.log(
    `${String(i + 1).padStart(5)}  ${r.cli.secs.toFixed(2).padStart(5)}  ${r.secs.toFixed(2).padStart(6)}  ${(r.secs / r.cli.secs).toFixed(2).padStart(4)}x  ${r.cli.cpu.toFixed(2).padStart(9)}  ${r.cpu.toFixed(2).padStart(10)}  ${(r.cpu / r.cli.cpu).toFixed(2).padStart(8)}x  ${String(r.cli.peak).padStart(4)} MiB  ${String(mib(r.peaks[0])).padStart(8)} MiB`,
  ),
);
const c = median(rounds.map((r) => r.cli.secs));
const p = median(rounds.map((r) => r.secs));
const own = median(rounds.map((r) => r.reported));
console.log(`| run | seconds | input GB/s |`);
console.log(`|---|---|---|`);
console.log(`| CLI (node, process start included) | ${c.toFixed(2)} | ${rate(c)} |`);
console.log(`| page in ${args.engine} (click to result, workers and wasm compile included) | ${p.toFixed(2)} | ${rate(p)} |`);
console.log(`| page, convertFiles' own time | ${own.toFixed(2)} | ${rate(own)} |`);
console.log(`median ratio page / CLI of the same round: ${median(rounds.map((r) => r.secs / r.cli.secs)).toFixed(2)}x; CPU seconds: ${median(rounds.map((r) => r.cpu / r.cli.cpu)).toFixed(2)}x`);
console.log(`page phases (s), last round: ${rounds.at(-1).phase}`);
console.log(`every file the page wrote has the sha256 of the CLI's (manifest.json aside: it names the model)`);
console.log(`peak RSS of the CLI: ${Math.max(...rounds.map((r) => r.cli.peak))} MiB`);
console.log(`peak RSS of ${args.engine}'s page process (the page and its workers) during the conversion: ${mib(Math.max(...rounds.map((r) => r.peaks[0])))} MiB`);
if (args.engine === 'webkit') console.log(`peak RSS of WebKit's network process (its writable streams write there): ${mib(Math.max(...rounds.map((r) => r.peaks[1])))} MiB`);

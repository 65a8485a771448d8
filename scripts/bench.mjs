// End-to-end benchmark against the I/O floor, in one run on this machine. For each case (an input
// layout and shape, an output format):
//   1. generate (once, cached outside the repo) the synthetic checkpoint;
//   2. in each round, time reading the input with cat (page cache warm) and writing as many bytes as
//      the conversion outputs with dd + fsync (the I/O floor), then the conversion and its peak memory
//      (from its closing summary), so that floor and conversion meet the same disk;
// then run the kernel micro-benchmark.
// Check cases `verify:<input>:<format>` (verify OUTPUT --against INPUT) and `inspect:<input>` (inspect of
// the input checkpoint) run, in each round after the same floors, the conversion of <input> to <format>
// (bitnet-rs for inspect), then the command on its output: its time, its ratio to that conversion and
// its peak RSS (read by a preloaded exit hook: the process's maxRSS, worker threads included).
// Hub cases `hub:<input>:<format>` convert, in each round after the same floors and the conversion from
// disk, the same input as a Hugging Face repository served by the test suite's local Hub stand-in
// (test/helpers/hub-server.ts, over HTTP on 127.0.0.1; its folder also holds a file no conversion needs):
// the time, its ratio to the conversion from disk, the peak RSS, and the bytes fetched of each file
// against the bytes the conversion needs (each safetensors file's header and tensors, other files whole).
// Usage: npm run bench [-- --case master-2b-4t:hf-packed ...] [-- --case hub:master-2b-4t:gguf ...] [-- --case falcon3-10b-packed:gguf:gguf-type=i2_s ...] [-- --case verify:master-2b-4t:gguf ...] [-- --threads N] [-- --runs N] [-- --no-kernels] [-- --no-browser]

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, homedir, totalmem } from 'node:os';
import { join } from 'node:path';
import { openSync, readSync, closeSync, realpathSync, symlinkSync } from 'node:fs';
import { parseArgs } from 'node:util';

/** input id -> how synth makes it. */
const INPUTS = {
  'master-2b-4t': ['--layout', 'master', '--preset', '2b-4t'],
  'packed-2b-4t': ['--layout', 'packed', '--preset', '2b-4t'],
  'llama-packed-8b': ['--layout', 'llama-packed', '--preset', 'llama3-8b', '--shards', '4'],
  // 2B-4T's shapes with a SiLU FFN (the 1bitLLM family), for llama.cpp's arch bitnet
  'silu-2b-4t': ['--layout', '1bitllm', '--preset', '2b-4t', '--dtype', 'BF16'],
  // tiiuae/Falcon3-10B-Base-1.58bit's shapes, packed as its LlamaForCausalLM checkpoint, for GGUF arch llama
  'falcon3-10b-packed': ['--layout', 'llama-packed', '--preset', 'falcon3-10b', '--shards', '4'],
  // a .gguf input (docs/gguf.md 9): 2B-4T's shapes as I2_S, arch bitnet-b1.58 (relu2) ...
  'gguf-2b-4t': ['--layout', 'gguf', '--preset', '2b-4t', '--dtype', 'BF16'],
  // ... and a SiLU variant (a Llama-layout model, arch llama, untied head), for re-typing to Q2_0
  'gguf-silu-2b-4t': ['--layout', 'gguf', '--preset', '2b-4t', '--dtype', 'BF16', '--untied'],
};
const DEFAULT_CASES = [
  'master-2b-4t:bitnet-rs',
  'master-2b-4t:bitnet-rs-safetensors',
  'master-2b-4t:hf-packed',
  'master-2b-4t:ms-gpu',
  'master-2b-4t:gguf', // bitnet-b1.58 + I2_S
  'silu-2b-4t:gguf:gguf-type=tq2_0', // bitnet + TQ2_0
  'silu-2b-4t:gguf', // bitnet + Q2_0 (auto)
  'falcon3-10b-packed:gguf', // llama + Q2_0 (auto)
  'falcon3-10b-packed:gguf:gguf-type=i2_s', // llama + I2_S, for bitnet.cpp
  'llama-packed-8b:gguf', // llama + Q2_0 (auto)
  'packed-2b-4t:bitnet-rs',
  'llama-packed-8b:bitnet-rs',
  'verify:master-2b-4t:bitnet-rs',
  'verify:master-2b-4t:gguf',
  'inspect:master-2b-4t',
  'gguf-2b-4t:hf-packed',
  'gguf-silu-2b-4t:gguf:gguf-type=q2_0:allow-lossy', // I2_S -> Q2_0: its f32 scales rounded to fp16 d
  'hub:master-2b-4t:gguf', // the same model read from a (local) Hub by range requests
  'hub:gguf-2b-4t:hf-packed', // a repository of a .gguf, read the same way
];
/** Preloaded into a checked command: prints its peak RSS as the conversion's summary does. */
const PEAK_HOOK = `data:text/javascript,process.on('exit',()=>process.stderr.write('peak memory '+Math.round(process.resourceUsage().maxRSS/1024)+' MiB\\n'))`;

const { values: args } = parseArgs({
  options: { case: { type: 'string', multiple: true }, threads: { type: 'string' }, runs: { type: 'string', default: '3' }, 'no-kernels': { type: 'boolean' }, 'no-browser': { type: 'boolean' } },
});
const cli = new URL('../build/js/cli/main.js', import.meta.url).pathname;
const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'bitnet-converter', 'bench');
const node = process.execPath;
const gb = (b) => (b / 1e9).toFixed(2);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const seconds = (fn) => {
  const t = performance.now();
  fn();
  return (performance.now() - t) / 1000;
};

function prepare(id) {
  const dir = join(cache, id);
  if (!existsSync(join(dir, '.complete'))) {
    console.error(`generating ${id} in ${dir} (once)...`);
    rmSync(dir, { recursive: true, force: true });
    execFileSync(node, [cli, 'synth', ...INPUTS[id], '--out', dir], { stdio: 'inherit' });
    writeFileSync(join(dir, '.complete'), '');
  }
  const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors') || f.endsWith('.gguf')).map((f) => join(dir, f));
  return { dir, files, bytes: files.reduce((s, f) => s + statSync(f).size, 0) };
}

/** The local Hub stand-in, started by each hub case for its repository. */
let hubServer;
async function hubRepo(inputId, input) {
  // the input's files, and one more that nothing reads (a repository holds more than a conversion needs)
  const dir = join(cache, `hub-${inputId}`);
  if (!existsSync(join(dir, 'optimizer.pt'))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    for (const f of readdirSync(input.dir).filter((f) => !f.startsWith('.'))) symlinkSync(join(input.dir, f), join(dir, f));
    symlinkSync(input.files[0], join(dir, 'optimizer.pt'));
  }
  const repo = `bench/hub-${inputId}`;
  await hubServer?.close();
  const { tsImport } = await import('tsx/esm/api');
  const { startHubServer } = await tsImport('../test/helpers/hub-server.ts', import.meta.url);
  hubServer = await startHubServer({ [repo]: { dir } });
  return { dir, repo };
}

/**
 * What a conversion reads of a .gguf: the prefix its head is parsed from (8 MiB, more while the head goes
 * on), then its tensors' bytes, and each I2_S tensor's 4-byte scale once more (hf-packed writes the scales
 * first, read apart from the codes they end).
 */
async function ggufNeededBytes(file) {
  const { parseGgufPrefix } = await import('../build/js/formats/gguf.js');
  const fd = openSync(file, 'r');
  try {
    let prefix = 0;
    const head = parseGgufPrefix((n) => {
      prefix = n;
      const b = Buffer.alloc(n);
      readSync(fd, b, 0, n, 0);
      return b;
    }, file, statSync(file).size);
    return prefix + head.tensors.reduce((s, t) => s + t.bytes + (t.type === 'I2_S' ? 4 : 0), 0);
  } finally {
    closeSync(fd);
  }
}

/** What a conversion reads of a safetensors file: its length prefix, its header and its tensors' bytes. */
function neededBytes(file) {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(8);
    readSync(fd, head, 0, 8, 0);
    const n = Number(head.readBigUInt64LE(0));
    const json = Buffer.alloc(n);
    readSync(fd, json, 0, n, 8);
    const tensors = Object.entries(JSON.parse(json.toString('utf8'))).filter(([k]) => k !== '__metadata__');
    return 8 + n + tensors.reduce((s, [, t]) => s + t.data_offsets[1] - t.data_offsets[0], 0);
  } finally {
    closeSync(fd);
  }
}

const dirBytes = (dir) => readdirSync(dir).reduce((s, f) => s + statSync(join(dir, f)).size, 0);

async function benchCase(name) {
  const check = /^(verify|inspect|hub):/.exec(name)?.[1];
  // input:format[:flag=value...], each flag a convert option without its dashes (gguf-type=i2_s; allow-lossy: a switch)
  const [inputId, format = 'bitnet-rs', ...flags] = (check ? name.slice(check.length + 1) : name).split(':');
  if (!INPUTS[inputId]) throw new Error(`unknown input ${inputId}: one of ${Object.keys(INPUTS).join(', ')}`);
  const input = prepare(inputId);
  const output = join(cache, [inputId, format, ...flags].join('-').replace(/[^A-Za-z0-9._-]/g, '_'));
  const convertArgs = [cli, '--input-dir', input.dir, '--output-dir', output, '--format', format, '--timestamp', '0', ...flags.flatMap((f) => (f.includes('=') ? [`--${f.split('=')[0]}`, f.split('=').slice(1).join('=')] : [`--${f}`]))];
  if (args.threads) convertArgs.push('--threads', args.threads);
  const catInput = () => execFileSync('sh', ['-c', `cat ${input.files.map((f) => `'${f}'`).join(' ')} > /dev/null`]);
  const convertOnce = () => {
    rmSync(output, { recursive: true, force: true }); // not timed: replacing an old output is not the conversion's work
    execFileSync('sync');
    let res;
    const secs = seconds(() => (res = spawnSync(node, convertArgs, { encoding: 'utf8' })));
    if (res.status !== 0) throw new Error(`conversion failed: ${res.stderr}`);
    return { secs, peak: Number(/peak memory (\d+) MiB/.exec(res.stderr)?.[1]) };
  };
  const hub = check === 'hub' ? await hubRepo(inputId, input) : undefined;
  const hubOutput = `${output}-hub`;
  const checkArgs =
    check === 'verify' ? [cli, 'verify', output, '--against', input.dir]
    : check === 'inspect' ? [cli, 'inspect', input.dir]
    : hub ? convertArgs.map((a) => (a === input.dir ? `hf:${hub.repo}` : a === output ? hubOutput : a))
    : undefined;
  if (checkArgs && args.threads && check === 'verify') checkArgs.push('--threads', args.threads);
  const checkOnce = async () => {
    rmSync(hubOutput, { recursive: true, force: true });
    execFileSync('sync');
    if (hub) await hubServer.reset();
    let res;
    const secs = seconds(() => (res = spawnSync(node, ['--import', PEAK_HOOK, ...checkArgs], { encoding: 'utf8', maxBuffer: 1 << 26, env: hub ? { ...process.env, HF_ENDPOINT: hubServer.url } : process.env })));
    if (res.status !== 0) throw new Error(`${check} failed: ${res.stdout.slice(0, 2000)}${res.stderr}`);
    const fetched = hub ? (await hubServer.stats()).sent : undefined;
    rmSync(hubOutput, { recursive: true, force: true });
    // the hook runs in the worker threads too (each prints the process's maxRSS so far when it ends): the largest is the last
    return { checkSecs: secs, checkPeak: Math.max(...[...res.stderr.matchAll(/peak memory (\d+) MiB/g)].map((m) => Number(m[1]))), fetched };
  };
  // Warm-up: fills the page cache with the input and tells the output size.
  catInput();
  convertOnce();
  const outputBytes = dirBytes(output);
  const ddFile = join(cache, 'dd-floor.bin');
  const rounds = [];
  for (let i = 0; i < Number(args.runs); i++) {
    const read = seconds(catInput);
    execFileSync('sync');
    const write = seconds(() => execFileSync('dd', ['if=/dev/zero', `of=${ddFile}`, 'bs=1M', `count=${Math.ceil(outputBytes / 2 ** 20)}`, 'conv=fsync'], { stdio: 'ignore' }));
    rmSync(ddFile, { force: true });
    const round = { read, write, ...convertOnce() };
    rounds.push(checkArgs ? { ...round, ...(await checkOnce()) } : round);
  }
  rmSync(output, { recursive: true, force: true });
  const ratios = rounds.map((r) => r.secs / (r.read + r.write));
  const shown = (a) => `node ${a.map((x) => x.replace(cache, '$CACHE')).join(' ').replace(cli, 'build/js/cli/main.js')}`;
  const checkCommand = checkArgs && `${hub ? 'HF_ENDPOINT=<local Hub stand-in> ' : ''}${shown(checkArgs)}`;
  return { name, check, input, hub, outputBytes, rounds, ratios, command: shown(convertArgs), checkCommand };
}

mkdirSync(cache, { recursive: true });
console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${gb(totalmem())} GB RAM, node ${process.version}`);
const results = [];
for (const name of args.case ?? DEFAULT_CASES) {
  const r = await benchCase(name);
  results.push(r);
  console.log(`\n${r.name}: input ${gb(r.input.bytes)} GB in ${r.input.files.length} file(s), output ${gb(r.outputBytes)} GB`);
  console.log('round  read floor (cat)  write floor (dd+fsync)  I/O floor  bitnet-converter  ratio  GB/s in  peak RSS');
  r.rounds.forEach((x, i) =>
    console.log(
      `${String(i + 1).padStart(5)}  ${x.read.toFixed(2).padStart(14)} s  ${x.write.toFixed(2).padStart(20)} s  ${(x.read + x.write).toFixed(2).padStart(7)} s` +
        `  ${x.secs.toFixed(2).padStart(14)} s  ${r.ratios[i].toFixed(2).padStart(4)}x  ${gb(r.input.bytes / x.secs).padStart(7)}  ${x.peak} MiB`,
    ),
  );
  console.log(`command: ${r.command}`);
  if (r.check) {
    console.log(`${r.check} after each round's conversion:`);
    console.log(`round  ${r.check.padStart(6)}  conversion  ratio to conversion  peak RSS`);
    r.rounds.forEach((x, i) => console.log(`${String(i + 1).padStart(5)}  ${x.checkSecs.toFixed(2).padStart(6)} s  ${x.secs.toFixed(2).padStart(8)} s  ${(x.checkSecs / x.secs).toFixed(2).padStart(18)}x  ${x.checkPeak} MiB`));
    console.log(`command: ${r.checkCommand}`);
  }
  if (r.hub) {
    const repoFiles = readdirSync(r.hub.dir);
    const last = r.rounds.at(-1).fetched;
    const fetchedOf = (f) => last[`${r.hub.repo}/${f}`] ?? 0;
    console.log('bytes fetched in the last round, by file (the repository holds optimizer.pt, which nothing needs):');
    let needed = 0;
    for (const f of repoFiles) {
      const size = statSync(join(r.hub.dir, f)).size;
      const need = f === 'optimizer.pt' ? 0 : f.endsWith('.safetensors') ? neededBytes(join(r.hub.dir, f)) : f.endsWith('.gguf') ? await ggufNeededBytes(join(r.hub.dir, f)) : fetchedOf(f) > 0 ? size : 0;
      needed += need;
      console.log(`  ${f.padEnd(28)} ${String(size).padStart(14)} bytes, fetched ${String(fetchedOf(f)).padStart(14)}, needed ${String(need).padStart(14)}${fetchedOf(f) === need ? '' : '  <- differs'}`);
    }
    const total = Object.values(last).reduce((a, b) => a + b, 0);
    r.fetchedTotal = total;
    r.neededTotal = needed;
    console.log(`  fetched ${total} bytes, needed ${needed}${total === needed ? ' (equal)' : ' (NOT equal)'}, the repository ${repoFiles.reduce((s, f) => s + statSync(join(r.hub.dir, f)).size, 0)}`);
  }
}
console.log('\nsummary (median of the rounds):');
console.log('case                                   in GB   out GB  conversion  I/O floor  ratio  peak RSS');
for (const r of results) {
  const floor = median(r.rounds.map((x) => x.read + x.write));
  console.log(
    `${r.name.padEnd(38)} ${gb(r.input.bytes).padStart(6)}  ${gb(r.outputBytes).padStart(6)}  ${median(r.rounds.map((x) => x.secs)).toFixed(2).padStart(8)} s  ${floor.toFixed(2).padStart(7)} s  ${median(r.ratios).toFixed(2).padStart(4)}x  ${Math.max(...r.rounds.map((x) => x.peak))} MiB`,
  );
}
const checks = results.filter((r) => r.check);
if (checks.length) {
  console.log('\nchecks (median of the rounds; ratio: to the conversion of the same round):');
  console.log('case                                   check time  conversion  ratio  peak RSS');
  for (const r of checks) {
    if (r.hub) console.log(`${r.name}: fetched ${gb(r.fetchedTotal)} GB = needed ${gb(r.neededTotal)} GB: ${r.fetchedTotal === r.neededTotal}`);
    console.log(
      `${r.name.padEnd(38)} ${median(r.rounds.map((x) => x.checkSecs)).toFixed(2).padStart(8)} s  ${median(r.rounds.map((x) => x.secs)).toFixed(2).padStart(8)} s  ${median(r.rounds.map((x) => x.checkSecs / x.secs)).toFixed(2).padStart(4)}x  ${Math.max(...r.rounds.map((x) => x.checkPeak))} MiB`,
    );
  }
}
if (!args['no-browser']) {
  // the page in headless Chromium beside the CLI, on the small preset (issue 10) and the 2B-4T input
  console.log('\nbrowser (the page in Debian\'s headless Chromium, scripts/bench-browser.mjs):');
  const script = new URL('./bench-browser.mjs', import.meta.url).pathname;
  execFileSync(node, [script, '--preset', 'small', '--runs', args.runs], { stdio: 'inherit' });
  // the real path: Playwright picks no files from a folder reached through a symbolic link
  execFileSync(node, [script, '--input', realpathSync(prepare('master-2b-4t').dir), '--runs', args.runs], { stdio: 'inherit' });
}
await hubServer?.close();
if (!args['no-kernels']) {
  console.log('\nkernel micro-benchmark:');
  execFileSync(node, [new URL('./bench-kernels.mjs', import.meta.url).pathname], { stdio: 'inherit' });
}

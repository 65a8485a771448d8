// End-to-end benchmark against the I/O floor, in one run on this machine:
//   1. generate (once, cached outside the repo) a synthetic checkpoint with the exact 2B-4T shapes;
//   2. in each round, time reading it with cat (page cache warm) and writing as many bytes as we
//      output with dd + fsync (the I/O floor), then our conversion and its peak memory (from its
//      closing summary), so that floor and conversion meet the same disk;
//   3. run the kernel micro-benchmark.
// Usage: npm run bench [-- --preset small] [-- --threads N] [-- --runs N]

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, homedir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { preset: { type: 'string', default: '2b-4t' }, threads: { type: 'string' }, runs: { type: 'string', default: '3' } } });
const cli = new URL('../build/js/cli/main.js', import.meta.url).pathname;
const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'bitnet-converter', 'bench');
const input = join(cache, `${args.preset}-bf16`);
const output = join(cache, `${args.preset}-bf16-converted`);
const node = process.execPath;

const seconds = (fn) => {
  const t = performance.now();
  fn();
  return (performance.now() - t) / 1000;
};

if (!existsSync(join(input, '.complete'))) {
  console.error(`generating the ${args.preset} checkpoint in ${input} (once)...`);
  rmSync(input, { recursive: true, force: true });
  execFileSync(node, [cli, 'synth', '--preset', args.preset, '--out', input], { stdio: 'inherit' });
  writeFileSync(join(input, '.complete'), '');
}
const inputFiles = readdirSync(input).filter((f) => f.endsWith('.safetensors')).map((f) => join(input, f));
const inputBytes = inputFiles.reduce((s, f) => s + statSync(f).size, 0);

const convertArgs = [cli, '--input-dir', input, '--output-dir', output, '--timestamp', '0'];
if (args.threads) convertArgs.push('--threads', args.threads);
const catInput = () => execFileSync('sh', ['-c', `cat ${inputFiles.map((f) => `'${f}'`).join(' ')} > /dev/null`]);
const convertOnce = () => {
  rmSync(output, { recursive: true, force: true }); // not timed: replacing an old output is not the conversion's work
  execFileSync('sync');
  let res;
  const secs = seconds(() => (res = spawnSync(node, convertArgs, { encoding: 'utf8' })));
  if (res.status !== 0) throw new Error(`conversion failed: ${res.stderr}`);
  return { secs, peak: Number(/peak memory (\d+) MiB/.exec(res.stderr)?.[1]) };
};

// Warm-up: fills the page cache with the input and tells the output size.
catInput();
convertOnce();
const outputBytes = readdirSync(output).reduce((s, f) => s + statSync(join(output, f)).size, 0);
const mib = Math.ceil(outputBytes / 2 ** 20);
mkdirSync(cache, { recursive: true });
const ddFile = join(cache, 'dd-floor.bin');

// Each round measures its own floor right before the conversion, so that both see the same disk.
const rounds = [];
for (let i = 0; i < Number(args.runs); i++) {
  const read = seconds(catInput);
  execFileSync('sync');
  const write = seconds(() => execFileSync('dd', ['if=/dev/zero', `of=${ddFile}`, 'bs=1M', `count=${mib}`, 'conv=fsync'], { stdio: 'ignore' }));
  rmSync(ddFile, { force: true });
  const run = convertOnce();
  rounds.push({ read, write, ...run, ratio: run.secs / (read + write) });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const gb = (b) => (b / 1e9).toFixed(2);
const lines = [
  `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${gb(totalmem())} GB RAM, node ${process.version}`,
  `input: ${args.preset} BF16 synthetic, ${gb(inputBytes)} GB in ${inputFiles.length} file(s); output ${gb(outputBytes)} GB`,
  'round  read floor (cat)  write floor (dd+fsync)  I/O floor  bitnet-converter  ratio  GB/s in  peak RSS',
  ...rounds.map(
    (r, i) =>
      `${String(i + 1).padStart(5)}  ${r.read.toFixed(2).padStart(14)} s  ${r.write.toFixed(2).padStart(20)} s  ${(r.read + r.write).toFixed(2).padStart(7)} s` +
      `  ${r.secs.toFixed(2).padStart(14)} s  ${r.ratio.toFixed(2).padStart(4)}x  ${gb(inputBytes / r.secs).padStart(7)}  ${r.peak} MiB`,
  ),
  `median ratio to the I/O floor: ${median(rounds.map((r) => r.ratio)).toFixed(2)}x; best ${Math.min(...rounds.map((r) => r.ratio)).toFixed(2)}x, worst ${Math.max(...rounds.map((r) => r.ratio)).toFixed(2)}x; peak RSS at most ${Math.max(...rounds.map((r) => r.peak))} MiB`,
  `command: node ${convertArgs.map((a) => a.replace(cache, '$CACHE')).join(' ').replace(cli, 'build/js/cli/main.js')}`,
];
console.log(lines.join('\n'));
console.log('\nkernel micro-benchmark:');
execFileSync(node, [new URL('./bench-kernels.mjs', import.meta.url).pathname], { stdio: 'inherit' });

// End-to-end benchmark against the I/O floor, in one run on this machine:
//   1. generate (once, cached outside the repo) a synthetic checkpoint with the exact 2B-4T shapes;
//   2. time reading it with cat (page cache warm) and writing as many bytes as we output with dd + fsync;
//   3. time our conversion and read its peak memory from its closing summary;
//   4. run the kernel micro-benchmark.
// Usage: npm run bench [-- --preset small] [-- --threads N]

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, homedir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { preset: { type: 'string', default: '2b-4t' }, threads: { type: 'string' }, runs: { type: 'string', default: '2' } } });
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

// Warm the page cache, then time the read floor.
execFileSync('cat', inputFiles, { stdio: ['ignore', 'ignore', 'inherit'] });
const readSecs = Math.min(...[0, 1].map(() => seconds(() => execFileSync('sh', ['-c', `cat ${inputFiles.map((f) => `'${f}'`).join(' ')} > /dev/null`]))));

const convertArgs = [cli, '--input-dir', input, '--output-dir', output, '--force', '--timestamp', '0'];
if (args.threads) convertArgs.push('--threads', args.threads);
const runs = [];
for (let i = 0; i < Number(args.runs); i++) {
  let res;
  const secs = seconds(() => (res = spawnSync(node, convertArgs, { encoding: 'utf8' })));
  if (res.status !== 0) throw new Error(`conversion failed: ${res.stderr}`);
  const peak = Number(/peak memory (\d+) MiB/.exec(res.stderr)?.[1]);
  runs.push({ secs, peak });
}
const outputBytes = readdirSync(output).reduce((s, f) => s + statSync(join(output, f)).size, 0);

// The write floor: the same number of bytes, written and fsynced by dd.
mkdirSync(cache, { recursive: true });
const ddFile = join(cache, 'dd-floor.bin');
const mib = Math.ceil(outputBytes / 2 ** 20);
const writeSecs = seconds(() => execFileSync('dd', ['if=/dev/zero', `of=${ddFile}`, 'bs=1M', `count=${mib}`, 'conv=fsync'], { stdio: 'ignore' }));
rmSync(ddFile, { force: true });

const best = runs.reduce((a, b) => (b.secs < a.secs ? b : a));
const median = [...runs].sort((a, b) => a.secs - b.secs)[Math.floor((runs.length - 1) / 2)];
const floor = readSecs + writeSecs;
const gb = (b) => (b / 1e9).toFixed(2);
const lines = [
  `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${gb(totalmem())} GB RAM, node ${process.version}`,
  `input: ${args.preset} BF16 synthetic, ${gb(inputBytes)} GB in ${inputFiles.length} file(s); output ${gb(outputBytes)} GB`,
  `read floor   (cat > /dev/null, warm):       ${readSecs.toFixed(2)} s (${gb(inputBytes / readSecs)} GB/s)`,
  `write floor  (dd ${mib} MiB + fsync):        ${writeSecs.toFixed(2)} s (${gb(outputBytes / writeSecs)} GB/s)`,
  `I/O floor    (read + write):                ${floor.toFixed(2)} s`,
  `bitnet-converter (best of ${runs.length}):  ${best.secs.toFixed(2)} s wall, ${gb(inputBytes / best.secs)} GB/s of input, peak RSS ${best.peak} MiB`,
  `             all runs: ${runs.map((r) => `${r.secs.toFixed(2)} s / ${r.peak} MiB`).join(', ')}`,
  `ratio to the I/O floor: ${(best.secs / floor).toFixed(2)}x best, ${(median.secs / floor).toFixed(2)}x median`,
  `command: node ${convertArgs.map((a) => a.replace(cache, '$CACHE')).join(' ').replace(cli, 'build/js/cli/main.js')}`,
];
console.log(lines.join('\n'));
console.log('\nkernel micro-benchmark:');
execFileSync(node, [new URL('./bench-kernels.mjs', import.meta.url).pathname], { stdio: 'inherit' });

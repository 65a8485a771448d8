// A Hugging Face model as input (hf:ORG/NAME[@REV]), read from a local stand-in for the Hub
// (test/helpers/hub-server.ts): the files written must be byte for byte those of the same model read
// from disk, through the CLI and the library, on worker threads and inline; a connection dropped
// mid-file is resumed at the byte; only the bytes the conversion needs are fetched; every error
// (no such repository, revision or file, a gated repository without a token or with the wrong one)
// is one line; the token is never logged nor written.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert, type ConvertOptions } from '../build/js/run/convert.js';
import { inspect } from '../build/js/run/inspect.js';
import { generateCheckpoint, type SynthOptions } from '../build/js/synth/generate.js';
import { CorruptFileError, HubError, UnsupportedError } from '../build/js/errors.js';
import { HUB_SIDE_FILES, openHubInput, parseHubRef } from '../build/js/hub/repo.js';
import { writeSplitGguf } from './helpers/gguf-input.js';
import { startHubServer, type HubServer } from './helpers/hub-server.js';
import { conversionFails } from './helpers/common.js';

const CLI = new URL('../build/js/cli/main.js', import.meta.url).pathname;
const TOKEN = 'hf_testTokenThatMustNeverBeWritten';
const tmp = mkdtempSync(join(tmpdir(), 'bitnet-hub-'));
let n = 0;
const fresh = (name: string) => join(tmp, `${name}-${n++}`);

/** A synthetic model in a folder named as its repository is (the manifest names the input folder). */
function model(name: string, o: Partial<SynthOptions>): string {
  const dir = join(tmp, 'disk', name);
  mkdirSync(dir, { recursive: true });
  generateCheckpoint({ outDir: dir, ...o });
  mkdirSync(join(dir, 'original')); // a subfolder, as real repositories have: not part of the checkpoint
  return dir;
}

// rows of 256: every GGUF type fits; the larger one has projections of 1-4 MiB and a 16 MiB embedding
const WIDE = { hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 512 };
const LARGER = { hidden_size: 1024, intermediate_size: 2048, num_hidden_layers: 2, num_attention_heads: 8, num_key_value_heads: 4, vocab_size: 8192 };
const tiny = model('tiny-bitnet', { preset: 'tiny', shape: WIDE, seed: 3 });
const sharded = model('sharded-bitnet', { preset: 'tiny', shape: WIDE, seed: 4, shards: 3 });
const packed = model('packed-bitnet', { preset: 'tiny', shape: WIDE, seed: 5, layout: 'hf-bitnet-packed' });
const gated = model('gated-bitnet', { preset: 'tiny', seed: 6 });
const broken = model('broken-bitnet', { preset: 'tiny', seed: 7 });
const big = model('big-bitnet', { preset: 'tiny', shape: LARGER, seed: 8 });
const ggufOnly = join(tmp, 'disk', 'gguf-only');
mkdirSync(ggufOnly, { recursive: true });
writeFileSync(join(ggufOnly, 'ggml-model-i2_s.gguf'), new Uint8Array(4096)); // not a GGUF: refused, naming it
// repositories of GGUFs (made in `before`): one file beside a README, and several (two types and a split set)
const tinyGguf = join(tmp, 'disk', 'tiny-gguf');
const manyGguf = join(tmp, 'disk', 'many-gguf');
const bothGguf = join(tmp, 'disk', 'both'); // safetensors with config.json, and a .gguf beside them
const REPOS = {
  'org/tiny-bitnet': { dir: tiny, revisions: { v1: 'a'.repeat(40) } },
  'org/sharded-bitnet': { dir: sharded },
  'org/packed-bitnet': { dir: packed },
  'org/gated-bitnet': { dir: gated, token: TOKEN },
  'org/broken-bitnet': { dir: broken, missing: ['model.safetensors'] },
  'org/big-bitnet': { dir: big },
  'org/gguf-only': { dir: ggufOnly },
  'org/tiny-gguf': { dir: tinyGguf },
  'org/many-gguf': { dir: manyGguf },
  'org/both': { dir: bothGguf },
};

/** The .gguf of `tiny` converted to `type`, in a fresh folder. */
async function ggufOf(type: string): Promise<string> {
  const out = fresh(`gguf-${type}`);
  await convert({ inputDir: tiny, outputDir: out, format: 'gguf', ggufType: type, threads: 0, timestamp: 1_700_000_000 });
  return join(out, readdirSync(out).find((f) => f.endsWith('.gguf'))!);
}

async function makeGgufRepos(): Promise<void> {
  const i2s = await ggufOf('i2_s');
  const tq2 = await ggufOf('tq2_0');
  mkdirSync(tinyGguf, { recursive: true });
  copyFileSync(i2s, join(tinyGguf, 'tiny-gguf.gguf'));
  writeFileSync(join(tinyGguf, 'README.md'), '# tiny-gguf\n');
  mkdirSync(manyGguf, { recursive: true });
  copyFileSync(i2s, join(manyGguf, 'm-i2_s.gguf'));
  copyFileSync(tq2, join(manyGguf, 'm-tq2_0.gguf'));
  writeSplitGguf(new Uint8Array(readFileSync(tq2)), manyGguf, 's');
  mkdirSync(bothGguf, { recursive: true });
  for (const f of readdirSync(tiny).filter((f) => f.includes('.'))) copyFileSync(join(tiny, f), join(bothGguf, f));
  copyFileSync(tq2, join(bothGguf, 'both.gguf'));
}

/** Every file of an output folder, by name. */
function filesOf(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))]));
}

function sameFiles(got: string, want: string, label: string): void {
  const a = filesOf(got);
  const b = filesOf(want);
  assert.equal([...a.keys()], [...b.keys()], `${label}: file names`);
  for (const [name, bytes] of b) assert.ok(a.get(name)!.equals(bytes), `${label}: ${name} differs from the output of the model on disk`);
}

function cli(args: string[], env: Record<string, string> = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  // asynchronous: the Hub stand-in answers from this process's event loop
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: tmp, env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000', HF_TOKEN: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status: status ?? -1, stdout, stderr }));
  });
}

const Hub = suite<{ hub: HubServer }>('Hub input');

Hub.before(async (ctx) => {
  await makeGgufRepos();
  ctx.hub = await startHubServer(REPOS);
});
Hub.after(async (ctx) => {
  await ctx.hub.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function pair(disk: string, repo: string, o: Partial<ConvertOptions>, hubUrl: string): Promise<{ fromDisk: string; fromHub: string }> {
  const fromDisk = fresh('disk-out');
  const fromHub = fresh('hub-out');
  await convert({ inputDir: disk, outputDir: fromDisk, timestamp: 1_700_000_000, ...o });
  await convert({ inputDir: `hf:${repo}`, outputDir: fromHub, timestamp: 1_700_000_000, hub: { endpoint: hubUrl }, ...o });
  return { fromDisk, fromHub };
}

Hub('the CLI writes the same bytes from hf:ORG/NAME as from the folder on disk: bitnet-rs and gguf', async ({ hub }) => {
  for (const format of ['bitnet-rs', 'gguf']) {
    const fromDisk = fresh('cli-disk');
    const fromHub = fresh('cli-hub');
    const a = await cli(['--input-dir', tiny, '--output-dir', fromDisk, '--format', format, '--threads', '2', '--quiet']);
    assert.is(a.status, 0, a.stderr);
    const b = await cli(['--input-dir', 'hf:org/tiny-bitnet', '--output-dir', fromHub, '--format', format, '--threads', '2', '--json-summary', join(tmp, `s-${format}.json`)], { HF_ENDPOINT: hub.url });
    assert.is(b.status, 0, b.stderr);
    assert.match(b.stderr, /GB fetched from the Hub/);
    sameFiles(fromHub, fromDisk, `cli ${format}`);
    const summary = JSON.parse(readFileSync(join(tmp, `s-${format}.json`), 'utf8'));
    assert.is(summary.input.dir, 'hf:org/tiny-bitnet');
    assert.ok(summary.bytes_fetched > 0);
  }
});

Hub('the library: every format, a sharded and a packed model, on worker threads and inline, at a named revision', async ({ hub }) => {
  const cases: [string, string, Partial<ConvertOptions>][] = [
    [tiny, 'tiny-bitnet', { format: 'hf-packed', threads: 2 }],
    [tiny, 'tiny-bitnet@v1', { format: 'bitnet-rs-safetensors', threads: 0 }],
    [tiny, 'tiny-bitnet@main', { format: 'ms-gpu', threads: 1 }],
    [sharded, 'sharded-bitnet', { format: 'gguf', ggufType: 'tq2_0', threads: 2 }],
    [sharded, 'sharded-bitnet', { format: 'bitnet-rs', threads: 0, chunkBytes: 4096 }],
    [packed, 'packed-bitnet', { format: 'bitnet-rs', threads: 2 }],
  ];
  for (const [disk, repo, o] of cases) {
    const { fromDisk, fromHub } = await pair(disk, `org/${repo}`, o, hub.url);
    sameFiles(fromHub, fromDisk, `${repo} -> ${o.format}`);
  }
});

Hub('a connection dropped mid-file is resumed at the byte: same output, the file fetched about once', async ({ hub }) => {
  const size = statSync(join(big, 'model.safetensors')).size;
  await hub.reset({ dropOnce: { file: 'model.safetensors', at: Math.floor(size * 0.6) } });
  const { fromDisk, fromHub } = await pair(big, 'org/big-bitnet', { format: 'hf-packed', threads: 2, chunkBytes: 1 << 20 }, hub.url);
  const stats = await hub.stats();
  assert.is(stats.drops, 1, 'the connection was dropped once');
  sameFiles(fromHub, fromDisk, 'after a dropped connection');
  const sent = stats.sent['org/big-bitnet/model.safetensors'];
  // every tensor once, the headers twice (each process reads them ahead), and what was in flight when dropped
  assert.ok(sent < size * 1.05, `sent ${sent} bytes of a ${size}-byte file`);
});

/** The commit the stand-in gives a repository's main branch (hub-server.ts: sha1 of "main:ORG/NAME"). */
const mainSha = (repo: string) => createHash('sha1').update(`main:${repo}`).digest('hex');

Hub('the revision is resolved to its commit up front: every file is read at that commit, not at the branch', async ({ hub }) => {
  await hub.reset();
  const { fromDisk, fromHub } = await pair(tiny, 'org/tiny-bitnet@main', { format: 'bitnet-rs', threads: 2 }, hub.url);
  sameFiles(fromHub, fromDisk, 'at main');
  const { revisions } = await hub.stats();
  assert.ok(revisions.length > 3, `${revisions.length} files resolved`);
  assert.equal([...new Set(revisions)], [mainSha('org/tiny-bitnet')], 'every resolve URL names the commit');
});

/** How many requests of a repository's model.safetensors the read-ahead makes (the headers), before any tensor read. */
async function readAheadRequests(hub: HubServer, repo: string): Promise<number> {
  await hub.reset();
  await openHubInput({ repo }, { endpoint: hub.url });
  return (await hub.stats()).requests[`${repo}/model.safetensors`];
}

Hub('a file that changes on the Hub during the conversion (another ETag): one line naming it, nothing written, on any thread', async ({ hub }) => {
  const ahead = await readAheadRequests(hub, 'org/tiny-bitnet');
  assert.ok(ahead >= 1);
  // right after the read-ahead: the workers' own readers (which never saw the first version) must refuse it;
  // a few requests later: mid-file, after some tensors were read
  for (const [later, threads] of [[0, 2], [0, 0], [3, 2]]) {
    await hub.reset({ changeAfter: { file: 'model.safetensors', requests: ahead + later } });
    const out = fresh('changed');
    await conversionFails(() => convert({ inputDir: 'hf:org/tiny-bitnet', outputDir: out, format: 'hf-packed', threads, hub: { endpoint: hub.url } }), out, tmp, HubError, [
      /^hf:org\/tiny-bitnet\/model\.safetensors: changed on the Hub while it was read \(ETag "[0-9a-f]+", then "another-version-/,
      /nothing was written/,
    ]);
  }
});

Hub('5xx and 429 answers are retried (after the pause Retry-After or RateLimit asks), at the byte; past the limit, one line', async ({ hub }) => {
  const fast = { endpoint: hub.url, retryMs: 20 };
  // on the tensor reads, after the read-ahead's requests (one thread: its requests in order)
  const ahead = await readAheadRequests(hub, 'org/tiny-bitnet');
  await hub.reset({ fail: { file: 'model.safetensors', status: 503, times: 3, after: ahead } });
  let out = fresh('retried');
  await convert({ inputDir: 'hf:org/tiny-bitnet', outputDir: out, format: 'bitnet-rs', threads: 0, timestamp: 1_700_000_000, hub: fast });
  const disk = fresh('retried-disk');
  await convert({ inputDir: tiny, outputDir: disk, format: 'bitnet-rs', threads: 2, timestamp: 1_700_000_000 });
  sameFiles(out, disk, 'after three 503s');
  let s = await hub.stats();
  assert.is(s.failures, 3);
  let ranges = s.ranges['org/tiny-bitnet/model.safetensors'];
  assert.ok(ranges.length > ahead + 3);
  for (let i = ahead; i < ahead + 3; i++) assert.is(ranges[i + 1], ranges[i], 'the same range asked again after each 503');

  // a 429 asks for 1 s: the next attempt waits that long, not the 20 ms the backoff would
  await hub.reset({ fail: { file: 'model.safetensors', status: 429, times: 1, retryAfter: '1' } });
  out = fresh('retry-after');
  await convert({ inputDir: 'hf:org/tiny-bitnet', outputDir: out, format: 'bitnet-rs', threads: 0, timestamp: 1_700_000_000, hub: fast });
  sameFiles(out, disk, 'after a 429');
  s = await hub.stats();
  let times = s.times['org/tiny-bitnet/model.safetensors'];
  assert.ok(times[1] - times[0] >= 950, `the retry came ${times[1] - times[0]} ms after the 429`);
  // the Hub's own form: a RateLimit header whose t= is the seconds until the quota resets
  await hub.reset({ fail: { file: 'model.safetensors', status: 429, times: 1, rateLimit: '"resolvers";r=0;t=1' } });
  out = fresh('ratelimit');
  await convert({ inputDir: 'hf:org/tiny-bitnet', outputDir: out, format: 'bitnet-rs', threads: 0, timestamp: 1_700_000_000, hub: fast });
  sameFiles(out, disk, 'after a 429 with RateLimit');
  times = (await hub.stats()).times['org/tiny-bitnet/model.safetensors'];
  assert.ok(times[1] - times[0] >= 950, `the retry came ${times[1] - times[0]} ms after the 429 with RateLimit t=1`);

  // the listing's API calls too
  await hub.reset({ apiFail: { status: 502, times: 2 } });
  out = fresh('api-retried');
  await convert({ inputDir: 'hf:org/tiny-bitnet', outputDir: out, format: 'bitnet-rs', threads: 0, timestamp: 1_700_000_000, hub: fast });
  sameFiles(out, disk, 'after two 502s of the API');

  // past the limit: the file, the byte, the status
  await hub.reset({ fail: { file: 'model.safetensors', status: 500, times: 1000 } });
  out = fresh('gave-up');
  await conversionFails(() => convert({ inputDir: 'hf:org/tiny-bitnet', outputDir: out, threads: 2, hub: { ...fast, retries: 2 } }), out, tmp, HubError, [
    /^hf:org\/tiny-bitnet\/model\.safetensors: the connection failed 3 times in a row at byte 0 of \d+ \(HTTP 500\); try again later$/,
  ]);
  assert.is((await hub.stats()).failures, 3, 'three attempts, no more');
  // on the workers' tensor reads (the main thread serves them), mid-file
  await hub.reset({ fail: { file: 'model.safetensors', status: 500, times: 1000, after: ahead } });
  await conversionFails(() => convert({ inputDir: 'hf:org/tiny-bitnet', outputDir: out, threads: 2, hub: { ...fast, retries: 2 } }), out, tmp, HubError, [
    /^hf:org\/tiny-bitnet\/model\.safetensors: the connection failed 3 times in a row at byte [1-9]\d* of \d+ \(HTTP 500\); try again later$/,
  ]);
  await hub.reset({ apiFail: { status: 503, times: 1000 } });
  await conversionFails(() => convert({ inputDir: 'hf:org/tiny-bitnet', outputDir: out, hub: { ...fast, retries: 1 } }), out, tmp, HubError, [
    /^hf:org\/tiny-bitnet: the Hub answered HTTP 503 2 times in a row; try again later$/,
  ]);
  assert.is((await hub.stats()).failures, 2);
});

Hub('a connection dropped three times in one file: each resumed at the byte, same output', async ({ hub }) => {
  const size = statSync(join(tiny, 'model.safetensors')).size;
  const at = [0.3, 0.5, 0.7].map((f) => Math.floor(size * f));
  await hub.reset({ drops: { file: 'model.safetensors', at } });
  const out = fresh('dropped3');
  await convert({ inputDir: 'hf:org/tiny-bitnet', outputDir: out, format: 'gguf', threads: 2, timestamp: 0, hub: { endpoint: hub.url, retryMs: 20 } });
  const disk = fresh('dropped3-disk');
  await convert({ inputDir: tiny, outputDir: disk, format: 'gguf', threads: 2, timestamp: 0 });
  sameFiles(out, disk, 'after three dropped connections');
  const s = await hub.stats();
  assert.is(s.drops, 3);
  const starts = s.ranges['org/tiny-bitnet/model.safetensors'].map((r) => Number(/^bytes=(\d+)-/.exec(r)![1]));
  for (const d of at) assert.ok(starts.includes(d + 1), `a request resumed at byte ${d + 1}, after the drop at ${d} (requests started at ${starts.join(', ')})`);
  assert.ok(s.sent['org/tiny-bitnet/model.safetensors'] < size * 1.05, 'the file fetched about once');
});

Hub('only the bytes the conversion needs are fetched (no projection above the hold size: each read once)', async ({ hub }) => {
  await hub.reset();
  const out = fresh('fetched');
  const r = await convert({ inputDir: 'hf:org/big-bitnet', outputDir: out, format: 'gguf', threads: 2, timestamp: 0, hub: { endpoint: hub.url } });
  const size = statSync(join(big, 'model.safetensors')).size;
  assert.is(r.bytesFetched, r.bytesRead, 'tensor bytes fetched = tensor bytes the stream read');
  // GGUF reads each tensor once (the tied head is the embedding, not read again): the file once, plus its header read ahead
  const sent = (await hub.stats()).sent['org/big-bitnet/model.safetensors'];
  assert.ok(r.bytesRead <= size && sent <= size + 64 * 1024, `${sent} bytes sent, ${r.bytesRead} read, of a ${size}-byte file`);
});

Hub('a tensor written in pieces by several jobs (hf-packed\'s embedding): each piece fetched once, nothing past it', async ({ hub }) => {
  await hub.reset();
  const out = fresh('pieces');
  const r = await convert({ inputDir: 'hf:org/big-bitnet', outputDir: out, format: 'hf-packed', threads: 2, timestamp: 0, pieceBytes: 2 << 20, hub: { endpoint: hub.url } });
  const sent = (await hub.stats()).sent['org/big-bitnet/model.safetensors'];
  // the embedding's 16 MiB in 8 pieces; a request that ran to the tensor's end would send more than its piece before it is cancelled
  assert.is(r.bytesFetched, r.bytesRead);
  assert.ok(sent - r.bytesRead <= 64 * 1024, `${sent} bytes sent for ${r.bytesRead} read (the header read ahead aside)`);
});

Hub('a gated repository: 401 without a token, 403 with the wrong one, converts with the right one; the token is never written', async ({ hub }) => {
  const out = fresh('gated');
  await conversionFails(() => convert({ inputDir: 'hf:org/gated-bitnet', outputDir: out, hub: { endpoint: hub.url } }), out, tmp, HubError, [
    /^hf:org\/gated-bitnet: /,
    /HTTP 401/,
    /--hf-token/,
  ]);
  await conversionFails(() => convert({ inputDir: 'hf:org/gated-bitnet', outputDir: out, hub: { endpoint: hub.url, token: 'hf_wrong' } }), out, tmp, HubError, [/HTTP 403/, /accept its conditions/]);
  const logs = fresh('logs');
  const ok = await cli(['--input-dir', 'hf:org/gated-bitnet', '--output-dir', out, '--hf-token', TOKEN, '--log-dir', logs, '--threads', '1'], { HF_ENDPOINT: hub.url });
  assert.is(ok.status, 0, ok.stderr);
  const viaEnv = await cli(['--input-dir', 'hf:org/gated-bitnet', '--output-dir', fresh('gated-env'), '--log-dir', logs, '--threads', '0'], { HF_ENDPOINT: hub.url, HF_TOKEN: TOKEN });
  assert.is(viaEnv.status, 0, viaEnv.stderr);
  const written = [...filesOf(out).values(), ...filesOf(logs).values()].map((b) => b.toString('latin1')).join('');
  assert.ok(written.includes('hf:org/gated-bitnet'), 'the log names the input');
  assert.not.ok(written.includes(TOKEN) || ok.stderr.includes(TOKEN) || ok.stdout.includes(TOKEN), 'the token is in no output file, log or message');
  const refused = await cli(['--input-dir', 'hf:org/gated-bitnet', '--output-dir', fresh('gated-cli'), '--quiet'], { HF_ENDPOINT: hub.url });
  assert.is(refused.status, 1);
  assert.is(refused.stderr.trim().split('\n').length, 1, refused.stderr);
  assert.match(refused.stderr, /^error: hf:org\/gated-bitnet: access refused \(HTTP 401\)/);
});

/** Every chart of a report (its points and bars, by chart id), and the text of its summary table, for comparing two reports. */
function reportCharts(html: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const m of html.matchAll(/<svg id="(chart-[\w-]+)"[\s\S]*?<\/svg>/g)) out[m[1]] = [...m[0].matchAll(/data-[\w-]+="[^"]*"/g)].map((d) => d[0]);
  return out;
}

Hub('--report, inspect --report and verify --against hf:ORG/NAME: the same charts as from the folder on disk, the source named as the repository, the token nowhere', async ({ hub }) => {
  const env = { HF_ENDPOINT: hub.url };
  const dir = fresh('reports');
  mkdirSync(dir);
  const logs = join(dir, 'logs');
  const outputs: string[] = [];
  const r = (name: string) => join(dir, `${name}.html`);
  const runs: { status: number; stdout: string; stderr: string }[] = [];
  const ok = async (args: string[], e: Record<string, string> = env) => {
    const x = await cli([...args, '--log-dir', logs], e);
    runs.push(x);
    assert.is(x.status, 0, `${args.join(' ')}: ${x.stderr}`);
    return x;
  };
  for (const [label, input] of [['disk', gated], ['hub', 'hf:org/gated-bitnet']]) {
    const out = join(dir, `out-${label}`);
    outputs.push(out);
    // the token from HF_TOKEN for convert, from --hf-token for inspect and verify
    await ok(['--input-dir', input, '--output-dir', out, '--format', 'hf-packed', '--threads', '2', '--report', r(`convert-${label}`)], { ...env, HF_TOKEN: TOKEN });
    await ok(['inspect', input, '--hf-token', TOKEN, '--report', r(`inspect-${label}`)]);
    const v = await ok(['verify', join(dir, 'out-disk'), '--against', input, '--hf-token', TOKEN, '--report', r(`verify-${label}`)]);
    assert.match(v.stdout, new RegExp(`^verified: .*against ${input.replace(/[/.]/g, '\\$&')}\n$`));
  }
  for (const cmd of ['convert', 'inspect', 'verify']) {
    const disk = readFileSync(r(`${cmd}-disk`), 'utf8');
    const fromHub = readFileSync(r(`${cmd}-hub`), 'utf8');
    const charts = reportCharts(fromHub);
    assert.ok(Object.keys(charts).length >= 2 && charts['chart-histogram']?.length > 10, `${cmd}: charts and a histogram (${Object.keys(charts)})`);
    assert.equal(charts, reportCharts(disk), `${cmd}: the same charts from the Hub as from the disk`);
    assert.ok(fromHub.includes('hf:org/gated-bitnet'), `${cmd}: the report names the repository`);
    if (cmd !== 'verify') assert.match(fromHub, /<h1[^>]*>[^<]*gated-bitnet/, `${cmd}: the model's name (verify's is the output's)`);
  }
  // a failing conversion from the Hub writes its failure report, which names the repository
  const failed = await cli(['--input-dir', 'hf:org/gated-bitnet', '--output-dir', join(dir, 'refused'), '--hf-token', 'hf_wrong', '--report', r('convert-refused'), '--log-dir', logs], env);
  assert.is(failed.status, 1);
  assert.match(readFileSync(r('convert-refused'), 'utf8'), /conversion FAILED[\s\S]*hf:org\/gated-bitnet: access refused \(HTTP 403\)/);
  const written = [...readdirSync(dir).filter((f) => f.endsWith('.html')).map((f) => join(dir, f)), ...readdirSync(logs).map((f) => join(logs, f))].map((f) => readFileSync(f, 'latin1'));
  for (const out of outputs) written.push(...[...filesOf(out).values()].map((b) => b.toString('latin1')));
  assert.ok(written.some((w) => w.includes('hf:org/gated-bitnet')), 'the logs name the input');
  for (const w of [...written, ...runs.flatMap((x) => [x.stdout, x.stderr])]) assert.not.ok(w.includes(TOKEN), 'the token is in no report, output, log or message');
});

Hub('no such repository, revision or file: one line each, nothing written', async ({ hub }) => {
  const out = fresh('missing');
  const endpoint = { endpoint: hub.url };
  await conversionFails(() => convert({ inputDir: 'hf:org/no-such-model', outputDir: out, hub: endpoint }), out, tmp, HubError, [/^hf:org\/no-such-model: no such model repository/]);
  await conversionFails(() => convert({ inputDir: 'hf:org/no-such-model', outputDir: out, hub: { ...endpoint, token: TOKEN } }), out, tmp, HubError, [/no such model repository .*HTTP 404/]);
  await conversionFails(() => convert({ inputDir: 'hf:org/tiny-bitnet@v2', outputDir: out, hub: endpoint }), out, tmp, HubError, [/^hf:org\/tiny-bitnet@v2: no revision "v2"/]);
  await conversionFails(() => convert({ inputDir: 'hf:org/broken-bitnet', outputDir: out, hub: endpoint }), out, tmp, HubError, [
    /^hf:org\/broken-bitnet\/model.safetensors: no such file in the repository at this revision \(HTTP 404\)/,
  ]);
  // a .gguf that is not one: its name and what was expected
  await conversionFails(() => convert({ inputDir: 'hf:org/gguf-only', outputDir: out, hub: endpoint }), out, tmp, CorruptFileError, [/^hf:org\/gguf-only\/ggml-model-i2_s\.gguf: /, /GGUF/]);
  const bad = await cli(['--input-dir', 'hf:not a repo', '--output-dir', out, '--quiet'], { HF_ENDPOINT: hub.url });
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /expected a Hugging Face model as hf:ORG\/NAME/);
  const unreachable = await cli(['--input-dir', 'hf:org/tiny-bitnet', '--output-dir', out, '--quiet'], { HF_ENDPOINT: 'http://127.0.0.1:9' });
  assert.is(unreachable.status, 1);
  assert.match(unreachable.stderr, /^error: hf:org\/tiny-bitnet: cannot reach http:\/\/127.0.0.1:9/);
});

Hub('inspect hf:ORG/NAME shows what inspect of the folder shows', async ({ hub }) => {
  const fromDisk = await inspect(sharded, { threads: 2 });
  const fromHub = await inspect('hf:org/sharded-bitnet', { threads: 2, hub: { endpoint: hub.url } });
  assert.equal({ ...fromHub, path: '' }, { ...fromDisk, path: '' });
  const r = await cli(['inspect', 'hf:org/tiny-bitnet', '--json'], { HF_ENDPOINT: hub.url });
  assert.is(r.status, 0, r.stderr);
  assert.is(JSON.parse(r.stdout).layout, 'hf-bitnet');
});

Hub('hf:ORG/NAME[@REV][/FILE.gguf]: a .gguf in a revision, which may hold slashes', () => {
  assert.equal(parseHubRef('hf:org/m'), { repo: 'org/m' });
  assert.equal(parseHubRef('hf:org/m/x.gguf'), { repo: 'org/m', file: 'x.gguf' });
  assert.equal(parseHubRef('hf:org/m@v1/x-00001-of-00002.gguf'), { repo: 'org/m', revision: 'v1', file: 'x-00001-of-00002.gguf' });
  assert.equal(parseHubRef('hf:org/m@refs/pr/1'), { repo: 'org/m', revision: 'refs/pr/1' });
  assert.equal(parseHubRef('hf:org/m@refs/pr/1/x.gguf'), { repo: 'org/m', revision: 'refs/pr/1', file: 'x.gguf' });
  assert.throws(() => parseHubRef('hf:org/m/x.safetensors'), /hf:ORG\/NAME\[@REVISION\]\/FILE\.gguf/);
});

Hub('a repository of a .gguf: the same bytes as the file on disk, CLI and library, every format, threads and inline; only that file and the side files fetched', async ({ hub }) => {
  const disk = join(tinyGguf, 'tiny-gguf.gguf');
  for (const format of ['hf-packed', 'bitnet-rs', 'gguf']) {
    const fromDisk = fresh('gguf-cli-disk');
    const fromHub = fresh('gguf-cli-hub');
    const a = await cli(['--input-dir', disk, '--output-dir', fromDisk, '--format', format, '--threads', '2', '--quiet']);
    assert.is(a.status, 0, a.stderr);
    const b = await cli(['--input-dir', 'hf:org/tiny-gguf', '--output-dir', fromHub, '--format', format, '--threads', '2', '--quiet'], { HF_ENDPOINT: hub.url });
    assert.is(b.status, 0, b.stderr);
    sameFiles(fromHub, fromDisk, `cli gguf -> ${format}`);
  }
  // the tokenizer rebuilt from the GGUF's vocabulary (hf-packed), and the vocabulary copied from its head (gguf -> gguf)
  const cases: Partial<ConvertOptions>[] = [
    { format: 'hf-packed', threads: 0 },
    { format: 'gguf', ggufType: 'tq2_0', threads: 2 },
    { format: 'gguf', threads: 0 },
    { format: 'bitnet-rs-safetensors', threads: 1 },
    { format: 'ms-gpu', threads: 2 },
  ];
  const size = statSync(disk).size;
  for (const o of cases) {
    await hub.reset();
    const fromDisk = fresh('gguf-disk');
    const fromHub = fresh('gguf-hub');
    await convert({ inputDir: tinyGguf, outputDir: fromDisk, timestamp: 1_700_000_000, ...o });
    const r = await convert({ inputDir: 'hf:org/tiny-gguf', outputDir: fromHub, timestamp: 1_700_000_000, hub: { endpoint: hub.url }, ...o });
    sameFiles(fromHub, fromDisk, `tiny-gguf -> ${o.format} ${o.ggufType ?? ''}`);
    if (o.format === 'hf-packed') assert.ok(existsSync(join(fromHub, 'tokenizer.json')), 'a tokenizer.json rebuilt from the GGUF');
    // the head read ahead (its first 8 MiB: all of this small file), then what the conversion read of its tensors
    const { sent } = await hub.stats();
    assert.equal(sent, { 'org/tiny-gguf/tiny-gguf.gguf': Math.min(size, 8 << 20) + r.bytesFetched }, 'only the head and the tensors read fetched: not the README');
  }
  const fromDisk = await inspect(disk, { threads: 2 });
  const fromHub = await inspect('hf:org/tiny-gguf', { threads: 2, hub: { endpoint: hub.url } });
  assert.equal({ ...fromHub, path: '' }, { ...fromDisk, path: '' }, 'inspect');
  // --report, inspect --report and verify --against from the Hub's .gguf: the charts of the file on disk
  const dir = fresh('gguf-reports');
  mkdirSync(dir);
  const r = (name: string) => join(dir, `${name}.html`);
  for (const [label, input] of [['disk', disk], ['hub', 'hf:org/tiny-gguf']]) {
    const runs = [
      await cli(['--input-dir', input, '--output-dir', join(dir, `out-${label}`), '--format', 'bitnet-rs', '--threads', '2', '--quiet', '--report', r(`convert-${label}`)], { HF_ENDPOINT: hub.url }),
      await cli(['inspect', input, '--report', r(`inspect-${label}`)], { HF_ENDPOINT: hub.url }),
      await cli(['verify', join(dir, 'out-disk'), '--against', input, '--report', r(`verify-${label}`)], { HF_ENDPOINT: hub.url }),
    ];
    for (const x of runs) assert.is(x.status, 0, x.stderr);
    assert.match(runs[2].stdout, /^verified: /);
  }
  for (const cmd of ['convert', 'inspect', 'verify']) {
    const charts = reportCharts(readFileSync(r(`${cmd}-hub`), 'utf8'));
    assert.ok(charts['chart-scale']?.length > 0 && charts['chart-zero']?.length > 0, `${cmd}: the scale and zero-share charts (a packed source has no latent histogram)`);
    assert.equal(charts, reportCharts(readFileSync(r(`${cmd}-disk`), 'utf8')), `${cmd}: the same charts from the Hub as from the disk`);
  }
});

Hub('a repository of safetensors with config.json and a .gguf: the safetensors are read, the .gguf only when named', async ({ hub }) => {
  const endpoint = { endpoint: hub.url };
  await hub.reset();
  let fromDisk = fresh('both-disk');
  let fromHub = fresh('both-hub');
  await convert({ inputDir: bothGguf, outputDir: fromDisk, format: 'bitnet-rs', threads: 2, timestamp: 0 });
  await convert({ inputDir: 'hf:org/both', outputDir: fromHub, format: 'bitnet-rs', threads: 2, timestamp: 0, hub: endpoint });
  sameFiles(fromHub, fromDisk, 'the safetensors');
  assert.is((await hub.stats()).sent['org/both/both.gguf'] ?? 0, 0, 'nothing of the .gguf fetched');
  await hub.reset();
  fromDisk = fresh('both-disk');
  fromHub = fresh('both-hub');
  await convert({ inputDir: join(bothGguf, 'both.gguf'), outputDir: fromDisk, format: 'hf-packed', threads: 2, timestamp: 0 });
  await convert({ inputDir: 'hf:org/both/both.gguf', outputDir: fromHub, format: 'hf-packed', threads: 2, timestamp: 0, hub: endpoint });
  sameFiles(fromHub, fromDisk, 'the .gguf named');
  const side = HUB_SIDE_FILES.filter((f) => existsSync(join(bothGguf, f)));
  assert.ok(side.includes('tokenizer.json'));
  assert.equal(Object.keys((await hub.stats()).sent).sort(), ['both.gguf', ...side].map((f) => `org/both/${f}`).sort(), 'the .gguf and the side files beside it, not the safetensors');
});

Hub('a repository of several .gguf: refused naming them, nothing fetched; one named (a split set by its first part) reads only its files; a name it lacks is refused', async ({ hub }) => {
  await hub.reset();
  const out = fresh('many');
  const endpoint = { endpoint: hub.url };
  await conversionFails(() => convert({ inputDir: 'hf:org/many-gguf', outputDir: out, hub: endpoint }), out, tmp, UnsupportedError, [
    /^hf:org\/many-gguf: unsupported: expected one \.gguf in the repository, or one named as hf:org\/many-gguf\/FILE\.gguf, found 3: m-i2_s\.gguf, m-tq2_0\.gguf, s-00001-of-00002\.gguf$/,
  ]);
  assert.equal((await hub.stats()).sent, {}, 'nothing fetched');
  await conversionFails(() => convert({ inputDir: 'hf:org/many-gguf/m-q2_0.gguf', outputDir: out, hub: endpoint }), out, tmp, HubError, [
    /^hf:org\/many-gguf\/m-q2_0\.gguf: no such file in the repository at this revision \(its \.gguf: m-i2_s\.gguf, m-tq2_0\.gguf, s-00001-of-00002\.gguf\)$/,
  ]);
  for (const [name, o] of [['m-i2_s.gguf', { format: 'bitnet-rs', threads: 2 }], ['s-00001-of-00002.gguf', { format: 'hf-packed', threads: 2 }], ['s-00001-of-00002.gguf', { format: 'gguf', threads: 0 }]] as const) {
    await hub.reset();
    const fromDisk = fresh('many-disk');
    const fromHub = fresh('many-hub');
    await convert({ inputDir: join(manyGguf, name), outputDir: fromDisk, timestamp: 1_700_000_000, ...o });
    await convert({ inputDir: `hf:org/many-gguf/${name}`, outputDir: fromHub, timestamp: 1_700_000_000, hub: endpoint, ...o });
    // the model is named after the repository from the Hub, after the file from disk: the weight files and the tokenizer agree
    for (const f of readdirSync(fromDisk).filter((f) => !f.endsWith('.json') || f === 'tokenizer.json')) {
      const hubName = f.replace(/^(m-i2_s|s)(?=[-.])/, 'many-gguf');
      assert.ok(readFileSync(join(fromHub, hubName)).equals(readFileSync(join(fromDisk, f))), `${name} -> ${o.format}: ${f}`);
    }
    const sent = Object.keys((await hub.stats()).sent).sort();
    const want = name === 'm-i2_s.gguf' ? ['org/many-gguf/m-i2_s.gguf'] : ['org/many-gguf/s-00001-of-00002.gguf', 'org/many-gguf/s-00002-of-00002.gguf'];
    assert.equal(sent, want, `${name}: only its files fetched`);
  }
});

Hub('the page\'s import map names the vendored @huggingface/hub and its imports, and its hash is in the page\'s script-src', () => {
  const html = readFileSync(new URL('../build/js/web/page/index.html', import.meta.url), 'utf8');
  const map = /<script type="importmap">([^<]*)<\/script>/.exec(html)![1];
  const hash = createHash('sha256').update(map).digest('base64');
  assert.ok(html.includes(`'sha256-${hash}'`), 'a changed import map needs its new hash in the Content-Security-Policy');
  for (const [name, target] of Object.entries(JSON.parse(map).imports as Record<string, string>)) {
    assert.ok(existsSync(new URL(target, new URL('../build/js/web/page/', import.meta.url))), `${name}: ${target} is in build/`);
  }
});

Hub.run();

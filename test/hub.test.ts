// A Hugging Face model as input (hf:ORG/NAME[@REV]), read from a local stand-in for the Hub
// (test/helpers/hub-server.ts): the files written must be byte for byte those of the same model read
// from disk, through the CLI and the library, on worker threads and inline; a connection dropped
// mid-file is resumed at the byte; only the bytes the conversion needs are fetched; every error
// (no such repository, revision or file, a gated repository without a token or with the wrong one)
// is one line; the token is never logged nor written.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert, type ConvertOptions } from '../build/js/run/convert.js';
import { inspect } from '../build/js/run/inspect.js';
import { generateCheckpoint, type SynthOptions } from '../build/js/synth/generate.js';
import { HubError } from '../build/js/errors.js';
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
const REPOS = {
  'org/tiny-bitnet': { dir: tiny, revisions: { v1: 'a'.repeat(40) } },
  'org/sharded-bitnet': { dir: sharded },
  'org/packed-bitnet': { dir: packed },
  'org/gated-bitnet': { dir: gated, token: TOKEN },
  'org/broken-bitnet': { dir: broken, missing: ['model.safetensors'] },
  'org/big-bitnet': { dir: big },
};

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

Hub('no such repository, revision or file: one line each, nothing written', async ({ hub }) => {
  const out = fresh('missing');
  const endpoint = { endpoint: hub.url };
  await conversionFails(() => convert({ inputDir: 'hf:org/no-such-model', outputDir: out, hub: endpoint }), out, tmp, HubError, [/^hf:org\/no-such-model: no such model repository/]);
  await conversionFails(() => convert({ inputDir: 'hf:org/no-such-model', outputDir: out, hub: { ...endpoint, token: TOKEN } }), out, tmp, HubError, [/no such model repository .*HTTP 404/]);
  await conversionFails(() => convert({ inputDir: 'hf:org/tiny-bitnet@v2', outputDir: out, hub: endpoint }), out, tmp, HubError, [/^hf:org\/tiny-bitnet@v2: no revision "v2"/]);
  await conversionFails(() => convert({ inputDir: 'hf:org/broken-bitnet', outputDir: out, hub: endpoint }), out, tmp, HubError, [
    /^hf:org\/broken-bitnet\/model.safetensors: no such file in the repository at this revision \(HTTP 404\)/,
  ]);
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

// The page, as a user drives it, in Debian's headless Chromium: pick a model folder (file input),
// choose the format, convert, download every file; each download must equal the CLI's output byte for
// byte (same --timestamp). Also: the SIMD and scalar kernels agree on the page, a corrupt file is
// reported in words, the page logs nothing, and a screenshot of the finished page is saved and checked.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { servePage } from '../build/js/cli/serve.js';
import { generateCheckpoint } from '../build/js/synth/generate.js';
import { launchBrowser, type Browser, type Page } from './helpers/browser.js';

const CLI = new URL('../build/js/cli/main.js', import.meta.url).pathname;
const SHOTS = new URL('../build/screenshots/', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'bitnet-browser-'));
let browser: Browser;
let url: string;
let close: () => void;
const noise: string[] = [];

function cli(...args: string[]): void {
  execFileSync(process.execPath, [CLI, ...args], { stdio: 'pipe' });
}

test.before(async () => {
  const s = await servePage(0, '127.0.0.1');
  url = s.url;
  close = () => s.server.close();
  browser = await launchBrowser();
});

test.after(async () => {
  await browser?.close();
  close?.();
  rmSync(tmp, { recursive: true, force: true });
});

async function openPage(): Promise<Page> {
  const page = await browser.newPage({ acceptDownloads: true });
  page.on('console', (m) => noise.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => noise.push(`page error: ${e.message}`));
  await page.goto(url);
  return page;
}

/** Picks `input` and sets the options (an engine, or a format under "Advanced options"), without converting. */
async function choose(page: Page, input: string, o: { format?: string; engine?: string; kernels?: string; ggufType?: string; destination?: string; layout?: string }): Promise<void> {
  await page.setInputFiles('#folder', input);
  if (o.layout) await page.selectOption('#layout', o.layout);
  await page.selectOption('#engine', o.engine ?? 'format');
  if (!(await page.$eval('#advanced', (d) => (d as HTMLDetailsElement).open))) await page.click('#advanced summary');
  if (o.format && !o.engine) await page.selectOption('#format', o.format);
  if (o.ggufType) await page.selectOption('#gguf-type', o.ggufType);
  await page.selectOption('#kernels', o.kernels ?? 'auto');
  await page.selectOption('#destination', o.destination ?? 'download');
  await page.fill('#timestamp', '0');
}

/** Converts `input` through the page's controls; returns the page once it shows a result or an error. */
async function convertInPage(page: Page, input: string, o: { format?: string; engine?: string; kernels?: string; ggufType?: string; layout?: string }): Promise<void> {
  await choose(page, input, o);
  await page.click('#convert');
  await page.waitForSelector('#result:not([hidden]), #error:not([hidden])', { timeout: 120_000 });
}

/** Clicks every download link; returns the folder the files were saved to. */
async function downloadAll(page: Page, into: string): Promise<string[]> {
  mkdirSync(into, { recursive: true });
  const names: string[] = [];
  for (const link of await page.$$('#files-table a[download]')) {
    const [d] = await Promise.all([page.waitForEvent('download'), link.click()]);
    await d.saveAs(join(into, d.suggestedFilename()));
    names.push(d.suggestedFilename());
  }
  return names;
}

function sameFiles(cliDir: string, pageDir: string): void {
  const want = readdirSync(cliDir).sort();
  assert.equal(readdirSync(pageDir).sort(), want, 'the same files');
  for (const f of want) assert.ok(readFileSync(join(cliDir, f)).equals(readFileSync(join(pageDir, f))), `${f}: byte-identical to the CLI's`);
}

/** The CLI's output of `input` in `format` (into tmp/<name>), each file's sha256 by name. */
function cliHashes(name: string, input: string, format: string): Record<string, string> {
  const out = join(tmp, name);
  cli('--input-dir', input, '--output-dir', out, '--format', format, '--timestamp', '0', '-q', '--log-dir', join(tmp, 'logs'));
  return Object.fromEntries(readdirSync(out).map((f) => [f, createHash('sha256').update(readFileSync(join(out, f))).digest('hex')]));
}

/** The start of a script run in the page (plain JavaScript: a function would be rewritten by the test's TypeScript loader): the API, the picked folder's files, sha256 of a Blob. */
const API_PRELUDE = `
  const web = await import('/js/web/index.js');
  const files = [...(document.getElementById('folder')).files];
  const hex = async (b) => [...new Uint8Array(await crypto.subtle.digest('SHA-256', await b.arrayBuffer()))].map((x) => x.toString(16).padStart(2, '0')).join('');`;

async function check(name: string, input: string, format: string, extra: string[] = [], o: { ggufType?: string; kernels?: string; engine?: string; layout?: string } = {}) {
  const cliOut = join(tmp, `${name}-cli`);
  cli('--input-dir', input, '--output-dir', cliOut, '--format', format, '--timestamp', '0', '-q', '--log-dir', join(tmp, 'logs'), ...extra);
  const page = await openPage();
  try {
    await convertInPage(page, input, { format, ...o });
    assert.is(await page.isHidden('#error'), true, `no error: ${await page.textContent('#error-text')}`);
    const got = join(tmp, `${name}-page`);
    await downloadAll(page, got);
    sameFiles(cliOut, got);
    return page;
  } catch (e) {
    await page.close();
    throw e;
  }
}

test('tiny model, every format with its own files or a container: the page writes the CLI\'s bytes', async () => {
  const input = join(tmp, 'tiny-model');
  cli('synth', '--out', input, '--preset', 'tiny');
  for (const format of ['bitnet-rs', 'hf-packed']) await (await check(`tiny-${format}`, input, format)).close();
});

test('a sharded model into GGUF (regions of one file written by several workers) equals the CLI\'s, SIMD and scalar alike', async () => {
  const input = join(tmp, 'sharded-model');
  // rows of 256: TQ2_0 holds them (the CLI refuses other row lengths for it)
  generateCheckpoint({ outDir: input, layout: '1bitllm', shards: 3, seed: 5, shape: { hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 300 } });
  assert.ok(readdirSync(input).includes('model.safetensors.index.json'));
  await (await check('sharded-gguf-simd', input, 'gguf', ['--gguf-type', 'tq2_0'], { ggufType: 'tq2_0', kernels: 'simd' })).close();
  await (await check('sharded-gguf-scalar', input, 'gguf', ['--gguf-type', 'tq2_0'], { ggufType: 'tq2_0', kernels: 'scalar' })).close();
  await (await check('sharded-bitnet-rs-scalar', input, 'bitnet-rs', [], { kernels: 'scalar' })).close();
});

test('a .gguf picked as one file (I2_S) into hf-packed (its vocabulary rebuilt as tokenizer files), bitnet-rs and gguf: the CLI\'s bytes from the same file', async () => {
  const model = join(tmp, 'gguf-source');
  generateCheckpoint({ outDir: model, layout: 'hf-bitnet', dtype: 'F16', seed: 7, shape: { hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 300 } });
  const ggufDir = join(tmp, 'gguf-source-i2s');
  cli('--input-dir', model, '--output-dir', ggufDir, '--format', 'gguf', '--gguf-type', 'i2_s', '--timestamp', '0', '-q', '--log-dir', join(tmp, 'logs'));
  const name = readdirSync(ggufDir).find((f) => f.endsWith('.gguf'))!;
  const gguf = join(ggufDir, name);
  for (const [format, extra, o] of [['hf-packed', [], {}], ['bitnet-rs', [], {}], ['gguf', ['--gguf-type', 'i2_s'], { ggufType: 'i2_s' }]] as const) {
    const cliOut = join(tmp, `gguf-in-${format}-cli`);
    cli('--input-dir', gguf, '--output-dir', cliOut, '--format', format, '--timestamp', '0', '-q', '--log-dir', join(tmp, 'logs'), ...extra);
    if (format === 'hf-packed') assert.ok(readdirSync(cliOut).includes('tokenizer.json'), 'the CLI rebuilt tokenizer.json from the vocabulary');
    const page = await openPage();
    try {
      await page.setInputFiles('#files', gguf);
      assert.match((await page.textContent('#picked')) ?? '', /^the chosen files: 1 file, 1 \.gguf, /);
      assert.is(await page.inputValue('#model-name'), name.replace(/\.gguf$/, ''), 'named after the file, as the CLI names it');
      await page.selectOption('#engine', 'format');
      if (!(await page.$eval('#advanced', (d) => (d as HTMLDetailsElement).open))) await page.click('#advanced summary');
      await page.selectOption('#format', format);
      if ('ggufType' in o) await page.selectOption('#gguf-type', o.ggufType);
      await page.selectOption('#destination', 'download');
      await page.fill('#timestamp', '0');
      await page.click('#convert');
      await page.waitForSelector('#result:not([hidden]), #error:not([hidden])', { timeout: 120_000 });
      assert.is(await page.isHidden('#error'), true, `no error: ${await page.textContent('#error-text')}`);
      const got = join(tmp, `gguf-in-${format}-page`);
      await downloadAll(page, got);
      sameFiles(cliOut, got);
    } finally {
      await page.close();
    }
  }
});

test('the input layout select: detected by default (a llama-latent folder is then refused in words), llama-latent when chosen, equal to the CLI\'s --layout llama-latent', async () => {
  const input = join(tmp, 'latent-model');
  cli('synth', '--out', input, '--preset', 'tiny', '--layout', 'llama-latent');
  const page = await openPage();
  try {
    assert.is(await page.$eval('#layout', (s) => (s as HTMLSelectElement).value), '', 'detected by default');
    assert.ok((await page.$$eval('#layout option', (os) => os.map((x) => (x as HTMLOptionElement).value))).includes('llama-latent'));
    await convertInPage(page, input, { format: 'bitnet-rs' });
    // the CLI's flag said as the page's control
    assert.match((await page.textContent('#error')) ?? '', /only with "Input layout" llama-latent/);
    assert.not.match((await page.textContent('#error')) ?? '', /--layout/);
  } finally {
    await page.close();
  }
  await (await check('latent-bitnet-rs', input, 'bitnet-rs', ['--layout', 'llama-latent'], { layout: 'llama-latent' })).close();
});

test('the finished page: screenshot saved, the result shown in words', async () => {
  const input = join(tmp, 'tiny-model');
  const page = await check('tiny-shot', input, 'hf-packed', [], { engine: 'transformers' });
  try {
    const shot = join(tmp, 'page.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(readFileSync(shot).subarray(1, 4).toString() === 'PNG');
    assert.match((await page.textContent('#result-state')) ?? '', /^Done: tiny-model-hf-packed$/);
    assert.match((await page.textContent('#summary')) ?? '', /hf-bitnet → hf-packed: 6 files/);
    // serve makes the page cross-origin isolated: the workers read through the reader worker
    assert.match((await page.textContent('#summary')) ?? '', /reads through shared memory/);
    assert.is(await page.$$eval('#files-table tr', (rows) => rows.length), 6);
    assert.is(await page.$eval('#bar', (b) => (b as HTMLProgressElement).value), 1);
    assert.match((await page.textContent('#version')) ?? '', /^0\.1\.0 · wasm SIMD$/);
    assert.match((await page.textContent('#run-command')) ?? '', /model="tiny-model-hf-packed"/);
    const box = await page.locator('#result').boundingBox();
    assert.ok(box && box.height > 100, 'the result is laid out');
    // kept for people to look at (build/ is not committed)
    mkdirSync(SHOTS, { recursive: true });
    cpSync(shot, join(SHOTS, 'browser-page.png'));
  } finally {
    await page.close();
  }
});

test('a truncated weight file is reported in words, naming the file; nothing is offered for download', async () => {
  const input = join(tmp, 'broken-model');
  cli('synth', '--out', input, '--preset', 'tiny');
  const file = join(input, 'model.safetensors');
  truncateSync(file, readFileSync(file).length - 1000);
  const page = await openPage();
  try {
    await convertInPage(page, input, { format: 'bitnet-rs' });
    const text = (await page.textContent('#error-text')) ?? '';
    assert.match(text, /^The conversion failed: broken-model\/model\.safetensors: tensor \S+: corrupt file: expected .* found .*truncated/);
    assert.is(await page.isHidden('#result'), true);
    assert.is(await page.$$eval('#files-table a', (a) => a.length), 0);
    // the failed run left nothing in the browser's storage
    const left = await page.evaluate(async () => {
      const root = await navigator.storage.getDirectory();
      const runs = await root.getDirectoryHandle('bitnet-converter', { create: true });
      const names: string[] = [];
      for await (const [name] of (runs as unknown as { entries(): AsyncIterable<[string, unknown]> }).entries()) names.push(name);
      return names;
    });
    assert.ok(!left.some((n) => n.startsWith('broken-model')), `left in OPFS: ${left.join(', ')}`);
  } finally {
    await page.close();
  }
});

test('bitnet-converter/web: convertFiles into a directory handle and into Blobs, the CLI\'s hashes; an existing folder refused without force', async () => {
  const input = join(tmp, 'tiny-model');
  const want = cliHashes('api-cli', input, 'bitnet-rs-safetensors');
  const page = await openPage();
  try {
    await page.setInputFiles('#folder', input);
    const got = (await page.evaluate(`(async () => {${API_PRELUDE}
      const root = await navigator.storage.getDirectory();
      const picked = await root.getDirectoryHandle('picked-by-user', { create: true });
      const o = { format: 'bitnet-rs-safetensors', timestamp: 0 };
      const r = await web.convertFiles(files, { ...o, output: { kind: 'directory', handle: picked } });
      const inFolder = {};
      const folder = await picked.getDirectoryHandle(r.outputName);
      for (const f of r.files) inFolder[f.name] = await hex(await (await folder.getFileHandle(f.name)).getFile());
      let refused = '';
      try {
        await web.convertFiles(files, { ...o, output: { kind: 'directory', handle: picked } });
      } catch (e) {
        refused = e.message;
      }
      const forced = await web.convertFiles(files, { ...o, output: { kind: 'directory', handle: picked }, force: true });
      const b = await web.convertFiles(files, { ...o, output: { kind: 'blobs' } });
      const blobs = {};
      for (const x of b.outputs) blobs[x.name] = await hex(x.blob);
      const runs = await root.getDirectoryHandle('bitnet-converter', { create: true });
      const left = [];
      for await (const [name] of runs.entries()) left.push(name);
      return { name: r.outputName, listed: Object.fromEntries(r.files.map((f) => [f.name, f.sha256])), inFolder, refused, forced: forced.files.length, blobs, left };
    })()`)) as { name: string; listed: object; inFolder: object; blobs: object; refused: string; forced: number; left: string[] };
    assert.is(got.name, 'tiny-model-bitnet-rs-safetensors');
    assert.equal(got.listed, want, 'the hashes convertFiles reports are those of the CLI\'s files');
    assert.equal(got.inFolder, want, 'the files in the picked folder');
    assert.equal(got.blobs, want, 'the Blobs');
    assert.match(got.refused, /tiny-model-bitnet-rs-safetensors: the output folder already exists/);
    assert.is(got.forced, Object.keys(want).length);
    assert.equal(got.left, [], 'nothing left in OPFS once delivered');
  } finally {
    await page.close();
  }
});

test('containers of many regions (GGUF, hf-packed) hashed as the jobs write them: the CLI\'s bytes and hashes, on 1 and 2 workers', async () => {
  // 40-60 MB containers: many 8 MiB steps of the hash follow the jobs (web/index.ts, FollowingHash)
  const input = join(tmp, 'wide-model');
  generateCheckpoint({ outDir: input, layout: 'hf-bitnet', seed: 12, shape: { hidden_size: 1024, intermediate_size: 2816, num_hidden_layers: 6, num_attention_heads: 8, num_key_value_heads: 8, vocab_size: 8192 } });
  const want = Object.fromEntries(['gguf', 'hf-packed'].map((format) => [format, cliHashes(`wide-${format}-cli`, input, format)]));
  const page = await openPage();
  try {
    await page.setInputFiles('#folder', input);
    const got = (await page.evaluate(`(async () => {${API_PRELUDE}
      const out = {};
      for (const format of ['gguf', 'hf-packed']) {
        for (const threads of [1, 2]) {
          const r = await web.convertFiles(files, { format, timestamp: 0, threads, output: { kind: 'blobs' } });
          const blobs = {};
          for (const x of r.outputs) blobs[x.name] = await hex(x.blob);
          out[format + '/' + threads] = { listed: Object.fromEntries(r.files.map((f) => [f.name, f.sha256])), blobs };
        }
      }
      return out;
    })()`)) as Record<string, { listed: Record<string, string>; blobs: Record<string, string> }>;
    for (const [key, r] of Object.entries(got)) {
      const format = key.split('/')[0]!;
      assert.equal(r.blobs, want[format], `${key}: the bytes`);
      assert.equal(r.listed, want[format], `${key}: the hashes the page reports (manifest.json's too)`);
    }
  } finally {
    await page.close();
  }
});

test('major GCs while the page serves reads: the conversion ends, with the CLI\'s bytes (a read in flight stays reachable)', async () => {
  // A Blob stream with a read pending was collected with everything awaiting it, and the worker waited for
  // ever: the page hung near the end of 5 of 11 2B-4T runs once major GCs came often (stream/shared-read.ts).
  const input = join(tmp, 'gc-model');
  generateCheckpoint({ outDir: input, layout: 'hf-bitnet', seed: 13, shape: { hidden_size: 1024, intermediate_size: 2816, num_hidden_layers: 4, num_attention_heads: 8, num_key_value_heads: 8, vocab_size: 8192 } });
  const want = cliHashes('gc-cli', input, 'bitnet-rs-safetensors');
  const gcBrowser = await launchBrowser(['--js-flags=--expose-gc']);
  try {
    const page = await gcBrowser.newPage();
    page.on('pageerror', (e) => noise.push(`page error: ${e.message}`));
    await page.goto(url);
    await page.setInputFiles('#folder', input);
    const got = (await page.evaluate(`(async () => {${API_PRELUDE}
      const out = [];
      const timer = setInterval(() => gc(), 1);
      try {
        for (let round = 0; round < 3; round++) {
          const hung = new Promise((_, reject) => setTimeout(() => reject(new Error('round ' + round + ' hung')), 60000));
          const r = await Promise.race([web.convertFiles(files, { format: 'bitnet-rs-safetensors', timestamp: 0, threads: 2, output: { kind: 'blobs' } }), hung]);
          const blobs = {};
          for (const x of r.outputs) blobs[x.name] = await hex(x.blob);
          out.push({ reads: r.reads, blobs });
        }
      } catch (e) {
        return e.message;
      } finally {
        clearInterval(timer);
      }
      return out;
    })()`)) as { reads: string; blobs: Record<string, string> }[] | string;
    assert.type(got, 'object', `every round ended: ${String(got)}`);
    for (const r of got as { reads: string; blobs: Record<string, string> }[]) {
      assert.is(r.reads, 'shared', 'the reads the main thread serves');
      assert.equal(r.blobs, want);
    }
  } finally {
    await gcBrowser.close();
  }
});

test('bitnet-converter serve: the page, its modules and the wasm on 127.0.0.1; nothing outside build/', async () => {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d;
        if (out.includes('\n')) resolve(out);
      });
      child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    });
    const base = /serving the bitnet-converter page at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(line)?.[1];
    assert.ok(base, line);
    const root = await fetch(base, { redirect: 'manual' });
    assert.is(root.status, 302);
    const pageUrl = new URL(root.headers.get('location')!, base);
    const page = await fetch(pageUrl);
    assert.is(page.status, 200);
    assert.match(await page.text(), /<title>bitnet-converter<\/title>/);
    const wasm = await fetch(new URL('/kernels.simd.wasm', base));
    assert.is(wasm.headers.get('content-type'), 'application/wasm');
    assert.ok(WebAssembly.validate(new Uint8Array(await wasm.arrayBuffer())));
    for (const bad of ['/../package.json', '/%2e%2e/package.json', '/js/../../package.json', '/nothing.js']) {
      assert.is((await fetch(new URL(bad, base))).status, 404, bad);
    }
  } finally {
    child.kill();
  }
});

test('removeLeftovers: folders of runs no tab holds are deleted, a running one (its Web Lock held) is kept', async () => {
  const page = await openPage();
  try {
    const got = (await page.evaluate(`(async () => {
      const web = await import('/js/web/index.js');
      const root = await navigator.storage.getDirectory();
      const runs = await root.getDirectoryHandle('bitnet-converter', { create: true });
      for (const name of ['left-by-a-closed-tab', 'running-elsewhere']) {
        const d = await runs.getDirectoryHandle(name, { create: true });
        await d.getFileHandle('block_0.bin', { create: true });
      }
      let release;
      const held = new Promise((acquired) => navigator.locks.request('bitnet-converter/running-elsewhere', () => { acquired(); return new Promise((r) => (release = r)); }));
      await held;
      const removed = await web.removeLeftovers();
      const left = [];
      for await (const name of runs.keys()) left.push(name);
      release();
      return { removed, left };
    })()`)) as { removed: string[]; left: string[] };
    assert.equal(got.removed, ['left-by-a-closed-tab']);
    assert.equal(got.left, ['running-elsewhere']);
  } finally {
    await page.close();
  }
});

test('offline once loaded: with the server stopped, the page still converts (the CLI\'s bytes)', async () => {
  const input = join(tmp, 'tiny-model');
  const own = await servePage(0, '127.0.0.1');
  const page = await browser.newPage({ acceptDownloads: true });
  page.on('console', (m) => noise.push(`console.${m.type()}: ${m.text()}`));
  try {
    await page.goto(own.url);
    await page.waitForSelector('body[data-ready="offline"]', { timeout: 30_000 });
    await new Promise<void>((r) => {
      own.server.close(() => r());
      own.server.closeAllConnections();
    });
    assert.is((await fetch(own.url).catch(() => undefined)) === undefined, true, 'the server is gone');
    await convertInPage(page, input, { format: 'bitnet-rs' });
    assert.is(await page.isHidden('#error'), true, `no error: ${await page.textContent('#error-text')}`);
    const got = join(tmp, 'offline-page');
    await downloadAll(page, got);
    const cliOut = join(tmp, 'offline-cli');
    cli('--input-dir', input, '--output-dir', cliOut, '--format', 'bitnet-rs', '--timestamp', '0', '-q', '--log-dir', join(tmp, 'logs'));
    sameFiles(cliOut, got);
  } finally {
    await page.close();
  }
});

test('served without cross-origin isolation (a plain static host), the workers read with FileReaderSync: the same bytes', async () => {
  const input = join(tmp, 'sharded-model');
  const plain = await servePage(0, '127.0.0.1', { isolate: false });
  const page = await browser.newPage({ acceptDownloads: true });
  page.on('console', (m) => noise.push(`console.${m.type()}: ${m.text()}`));
  try {
    await page.goto(plain.url);
    assert.is(await page.evaluate(() => crossOriginIsolated), false);
    await convertInPage(page, input, { format: 'gguf', ggufType: 'tq2_0' });
    assert.is(await page.isHidden('#error'), true, `no error: ${await page.textContent('#error-text')}`);
    assert.match((await page.textContent('#summary')) ?? '', /reads with FileReaderSync/);
    const got = join(tmp, 'plain-page');
    await downloadAll(page, got);
    sameFiles(join(tmp, 'sharded-gguf-simd-cli'), got);
  } finally {
    await page.close();
    plain.server.close();
  }
});

test('the page logged nothing (no console messages, no page errors)', () => {
  assert.equal(noise, []);
});

test.run();

// The page and bitnet-converter/web reading a model from the Hugging Face Hub, in headless Chromium:
// the page's requests to https://huggingface.co are answered by the local stand-in of the Hub
// (test/helpers/hub-server.ts) through the browser context's routing, so the page runs as served,
// its Content-Security-Policy and import map included. Every file downloaded must equal the CLI's
// output of the same model on disk; a missing repository is reported in words. Served without
// cross-origin isolation, the workers read the Hub with synchronous XMLHttpRequest: a gated repository
// refused without the token (in words), converted with it, retried through 503s, the token nowhere.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { servePage } from '../build/js/cli/serve.js';
import { generateCheckpoint } from '../build/js/synth/generate.js';
import { launchBrowser, type Browser, type Page } from './helpers/browser.js';
import { startHubServer, type HubServer } from './helpers/hub-server.js';

const CLI = new URL('../build/js/cli/main.js', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'bitnet-browser-hub-'));
const TOKEN = 'hf_pageTokenThatMustNeverBeShown';
const WIDE = { hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 512 };
const model = join(tmp, 'wide-bitnet');
generateCheckpoint({ outDir: model, preset: 'tiny', shape: WIDE, seed: 9, shards: 2 });
const gatedModel = join(tmp, 'gated-wide'); // the manifest names the model as its folder or repository is named
generateCheckpoint({ outDir: gatedModel, preset: 'tiny', shape: WIDE, seed: 10, shards: 2 });

let browser: Browser;
let url: string;
let hub: HubServer;
let close: () => void;
const noise: string[] = [];

test.before(async () => {
  const s = await servePage(0, '127.0.0.1');
  url = s.url;
  close = () => s.server.close();
  hub = await startHubServer({ 'org/wide-bitnet': { dir: model }, 'org/gated-wide': { dir: gatedModel, token: TOKEN }, 'org/wide-gguf': { dir: ggufRepo() } });
  browser = await launchBrowser();
});

test.after(async () => {
  await browser?.close();
  close?.();
  await hub?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Requests of a file to answer with a reset connection, before the stand-in sees them (a connection dropped before any byte). */
const resets = { file: '', times: 0, after: 0 };

/** Clicks every download link of the page's result into tmp/`name` and checks the files are the CLI's output in `cliOut`, byte for byte; the folder and the file names. */
async function downloadsEqualCli(page: Page, name: string, cliOut: string): Promise<{ got: string; want: string[] }> {
  const got = join(tmp, name);
  mkdirSync(got);
  for (const link of await page.$$('#files-table a[download]')) {
    const [d] = await Promise.all([page.waitForEvent('download'), link.click()]);
    await d.saveAs(join(got, d.suggestedFilename()));
  }
  const want = readdirSync(cliOut).sort();
  assert.equal(readdirSync(got).sort(), want, 'the same files');
  for (const f of want) assert.ok(readFileSync(join(cliOut, f)).equals(readFileSync(join(got, f))), `${f}: byte-identical to the CLI's`);
  return { got, want };
}

async function openPage(at = url, log = noise): Promise<Page> {
  const context = await browser.newContext({ acceptDownloads: true });
  // the Hub's origin, answered by the stand-in (requests of the page and of its workers)
  await context.route('https://huggingface.co/**', async (route) => {
    const u = new URL(route.request().url());
    if (resets.times > 0 && route.request().method() === 'GET' && u.pathname.endsWith(`/${resets.file}`) && resets.after-- <= 0) {
      resets.times--;
      return route.abort('connectionreset');
    }
    const headers = { ...route.request().headers(), 'x-forwarded-host': u.host, 'x-forwarded-proto': 'https' };
    const response = await route.fetch({ url: `${hub.url}${u.pathname}${u.search}`, headers, maxRedirects: 5 });
    await route.fulfill({ response });
  });
  const page = await context.newPage();
  page.on('console', (m) => log.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`page error: ${e.message}`));
  await page.goto(at);
  return page;
}

function cliOutput(name: string, format: string, extra: string[] = [], input = model): string {
  const out = join(tmp, `${name}-cli`);
  execFileSync(process.execPath, [CLI, '--input-dir', input, '--output-dir', out, '--format', format, '--timestamp', '0', '-q', '--log-dir', join(tmp, 'logs'), ...extra], { stdio: 'pipe' });
  return out;
}

/** The page converts `repo` named in its repo field into `format` (the format itself, under "Advanced options"), for download, and shows no error. */
async function convertRepoInPage(page: Page, repo: string, format: string, ggufType?: string): Promise<void> {
  await page.fill('#hf-repo', repo);
  await page.selectOption('#engine', 'format');
  if (!(await page.$eval('#advanced', (d) => (d as HTMLDetailsElement).open))) await page.click('#advanced summary');
  await page.selectOption('#format', format);
  if (ggufType) await page.selectOption('#gguf-type', ggufType);
  await page.selectOption('#destination', 'download');
  await page.fill('#timestamp', '0');
  await page.click('#convert');
  await page.waitForSelector('#result:not([hidden]), #error:not([hidden])', { timeout: 120_000 });
  assert.is(await page.isHidden('#error'), true, `no error: ${await page.textContent('#error')}`);
}

test('the page converts org/NAME from the Hub: every download equals the CLI\'s output of the folder on disk', async () => {
  const cliOut = cliOutput('page-gguf', 'gguf', ['--gguf-type', 'tq2_0']);
  const page = await openPage();
  try {
    await convertRepoInPage(page, 'org/wide-bitnet', 'gguf', 'tq2_0');
    await downloadsEqualCli(page, 'page-gguf-page', cliOut);
  } finally {
    await page.close();
  }
});

/** A repository holding the model as an I2_S .gguf, named as the repository, beside a README. */
function ggufRepo(): string {
  const dir = join(tmp, 'wide-gguf');
  const made = cliOutput('wide-gguf-made', 'gguf', ['--gguf-type', 'i2_s']);
  mkdirSync(dir);
  copyFileSync(join(made, readdirSync(made).find((f) => f.endsWith('.gguf'))!), join(dir, 'wide-gguf.gguf'));
  writeFileSync(join(dir, 'README.md'), '# wide-gguf\n');
  return dir;
}

test('a repository of a .gguf, in the page and through convertHub given the file\'s page: the CLI\'s bytes from the file on disk', async () => {
  const dir = join(tmp, 'wide-gguf');
  const cliOut = cliOutput('page-from-gguf', 'hf-packed', [], dir);
  const apiOut = cliOutput('api-from-gguf', 'bitnet-rs', [], join(dir, 'wide-gguf.gguf'));
  const want = Object.fromEntries(readdirSync(apiOut).map((f) => [f, createHash('sha256').update(readFileSync(join(apiOut, f))).digest('hex')]));
  const page = await openPage();
  try {
    await convertRepoInPage(page, 'org/wide-gguf', 'hf-packed');
    const { want: files } = await downloadsEqualCli(page, 'page-from-gguf-page', cliOut);
    assert.ok(files.includes('tokenizer.json'), 'the tokenizer rebuilt from the GGUF\'s vocabulary');
    const got = (await page.evaluate(`(async () => {
      const web = await import('/js/web/index.js');
      const r = await web.convertHub('https://huggingface.co/org/wide-gguf/blob/main/wide-gguf.gguf', undefined, { format: 'bitnet-rs', timestamp: 0, output: { kind: 'blobs' } });
      return { name: r.outputName, listed: Object.fromEntries(r.files.map((f) => [f.name, f.sha256])) };
    })()`)) as { name: string; listed: object };
    assert.is(got.name, 'wide-gguf-bitnet-rs');
    assert.equal(got.listed, want);
  } finally {
    await page.close();
  }
});

test('bitnet-converter/web convertHub: the CLI\'s hashes; a missing repository and revision in words', async () => {
  const cliOut = cliOutput('api-bitnet-rs', 'bitnet-rs');
  const want = Object.fromEntries(readdirSync(cliOut).map((f) => [f, createHash('sha256').update(readFileSync(join(cliOut, f))).digest('hex')]));
  const page = await openPage();
  try {
    // plain JavaScript run in the page (a function would be rewritten by the test's TypeScript loader)
    const got = (await page.evaluate(`(async () => {
      const web = await import('/js/web/index.js');
      const r = await web.convertHub('https://huggingface.co/org/wide-bitnet', 'main', { format: 'bitnet-rs', timestamp: 0, output: { kind: 'blobs' } }); // the page's address, as pasted
      const errors = [];
      for (const [repo, rev] of [['org/no-such-model', undefined], ['org/wide-bitnet', 'v9']]) {
        try {
          await web.convertHub(repo, rev, { output: { kind: 'blobs' } });
        } catch (e) {
          errors.push(e.message);
        }
      }
      return { name: r.outputName, reads: r.reads, listed: Object.fromEntries(r.files.map((f) => [f.name, f.sha256])), errors, fetched: r.bytesFetched, read: r.bytesRead };
    })()`)) as { name: string; reads: string; listed: object; errors: string[]; fetched: number; read: number };
    assert.is(got.name, 'wide-bitnet-bitnet-rs');
    assert.is(got.reads, 'shared', 'the workers read through shared windows the page\'s thread fills');
    assert.equal(got.listed, want);
    assert.ok(got.read > 0);
    assert.is(got.fetched, got.read, 'tensor bytes fetched = tensor bytes the workers read: each once');
    assert.match(got.errors[0], /^hf:org\/no-such-model: no such model repository/);
    assert.match(got.errors[1], /^hf:org\/wide-bitnet@v9: no revision "v9"/);
  } finally {
    await page.close();
  }
});

test('not cross-origin isolated: the workers read the Hub with synchronous XMLHttpRequest; a gated repository, 503s retried, the CLI\'s bytes, the token nowhere', async () => {
  const cliOut = cliOutput('xhr-bitnet-rs', 'bitnet-rs', [], gatedModel);
  const plain = await servePage(0, '127.0.0.1', { isolate: false });
  const log: string[] = [];
  const page = await openPage(plain.url, log);
  const shown: string[] = [];
  const convertOnce = async () => {
    await page.click('#convert');
    await page.waitForSelector('#result:not([hidden]), #error:not([hidden])', { timeout: 120_000 });
    shown.push((await page.textContent('body')) ?? '');
  };
  try {
    assert.is(await page.evaluate('crossOriginIsolated'), false);
    await page.fill('#hf-repo', 'org/gated-wide');
    await page.selectOption('#engine', 'format');
    if (!(await page.$eval('#advanced', (d) => (d as HTMLDetailsElement).open))) await page.click('#advanced summary');
    await page.selectOption('#format', 'bitnet-rs');
    await page.selectOption('#destination', 'download');
    await page.fill('#timestamp', '0');
    await convertOnce();
    assert.match((await page.textContent('#error-text')) ?? '', /hf:org\/gated-wide: access refused \(HTTP 401\).*access token/);
    await page.fill('#hf-token', 'hf_wrong');
    await convertOnce();
    assert.match((await page.textContent('#error-text')) ?? '', /access refused \(HTTP 403\)/);
    // with the token, on the workers' tensor reads (after the 2 requests of the read-ahead of each file):
    // two 503s in one file, three reset connections in the other; retried
    Object.assign(resets, { file: 'model-00001-of-00002.safetensors', times: 3, after: 2 });
    await hub.reset({ fail: { file: 'model-00002-of-00002.safetensors', status: 503, times: 2, after: 2 } });
    await page.fill('#hf-token', TOKEN);
    await convertOnce();
    assert.is(resets.times, 0, 'the resets were used');
    assert.is(await page.isHidden('#error'), true, `no error: ${await page.textContent('#error-text')}`);
    assert.match((await page.textContent('#summary')) ?? '', /reads with synchronous XMLHttpRequest/);
    assert.match((await page.textContent('#summary')) ?? '', /, [1-9][0-9]*\.[0-9] MiB fetched from the Hub;/);
    const s = await hub.stats();
    assert.is(s.failures, 2, 'two 503s answered');
    assert.ok(s.authorizations.length > 0 && s.authorizations.every((a) => a === `Bearer ${TOKEN}`), 'the token sent, as a bearer token');
    const { got, want } = await downloadsEqualCli(page, 'xhr-page', cliOut);
    // the version read ahead changes under the workers' reads: said in words
    await hub.reset({ changeAfter: { file: 'model-00002-of-00002.safetensors', requests: 2 } });
    await convertOnce();
    assert.match((await page.textContent('#error-text')) ?? '', /hf:org\/gated-wide\/model-00002-of-00002\.safetensors: changed on the Hub while it was read/);
    await hub.reset();
    for (const text of [...shown, ...log, ...want.map((f) => readFileSync(join(got, f), 'latin1'))]) assert.not.ok(text.includes(TOKEN), 'the token in no page text, console message or file');
    const refused = /^console\.error: Failed to load resource: (the server responded with a status of (401|403|503)|net::ERR_CONNECTION_RESET)/;
    assert.equal(log.filter((m) => !refused.test(m)), [], 'nothing else in the console');
  } finally {
    await page.close();
    plain.server.close();
  }
});

test('Enter in the repo field converts, as Convert does', async () => {
  const page = await openPage();
  try {
    await page.selectOption('#destination', 'download');
    await page.fill('#hf-repo', 'org/wide-bitnet');
    await page.press('#hf-repo', 'Enter');
    await page.waitForSelector('#result:not([hidden]), #error:not([hidden])', { timeout: 120_000 });
    assert.is(await page.isHidden('#error'), true, `no error: ${await page.textContent('#error-text')}`);
    assert.match((await page.textContent('#result-state')) ?? '', /^Done: wide-bitnet-gguf$/);
  } finally {
    await page.close();
  }
});

test('Cancel while the Hub\'s listing is retried (503s with Retry-After) ends the run at once', async () => {
  const log: string[] = [];
  const page = await openPage(url, log);
  try {
    await hub.reset({ apiFail: { status: 503, times: 50, retryAfter: '20' } });
    await page.fill('#hf-repo', 'org/wide-bitnet');
    await page.selectOption('#destination', 'download');
    await page.click('#convert');
    await page.waitForFunction(() => document.getElementById('status')!.textContent === 'Reading the headers…');
    await page.waitForTimeout(1000);
    assert.ok((await hub.stats()).failures > 0, 'the listing was refused and is being retried');
    const t0 = Date.now();
    await page.click('#cancel');
    await page.waitForSelector('#error:not([hidden])', { timeout: 10_000 });
    assert.ok(Date.now() - t0 < 2000, `cancelled in ${Date.now() - t0} ms, not after the retries`);
    assert.is(await page.textContent('#error-text'), 'Cancelled: the workers were stopped and nothing was kept.');
    assert.is(await page.isDisabled('#convert'), false, 'the page can convert again');
  } finally {
    await hub.reset();
    await page.close();
  }
});

test('the page logged nothing but the browser\'s own lines for the two refused requests', () => {
  const refused = /^console\.error: Failed to load resource: the server responded with a status of (401|404)/;
  assert.equal(noise.filter((m) => !refused.test(m)), []);
  assert.is(noise.filter((m) => refused.test(m)).length, 2, 'the missing repository (401, as the Hub answers without a token) and the missing revision (404)');
});

test.run();

// The page in Firefox and WebKit (test/browser.test.ts and test/page.test.ts drive Chromium), each
// from Debian: Firefox ESR through puppeteer-core over WebDriver BiDi, WebKitGTK's MiniBrowser through
// WebKitWebDriver and selenium-webdriver (test/helpers/engines-web.mjs). Firefox converts through the
// page with the files handed over one by one (its driver cannot hand over a folder), on both read paths,
// and every file and the .zip equal the CLI's bytes; GGUF's regions of one file written by several
// workers run there on exclusive handles. WebKit: MiniBrowser under automation keeps no storage, which the
// page says in one line (recorded in build/screenshots/webkit.json with the APIs it has); a WebKitGTK host
// of our own (test/helpers/webkit-host.py) keeps it, and there the page converts through writable streams
// (its workers have no synchronous handles): Cancel, a storage quota, and the API into a picked folder and a .zip
// (test/web-matrix.test.ts converts every input into every format in all three engines). In
// both, convertHub reads a sharded model and a .gguf from the test suite's local Hub stand-in (test/helpers/hub-server.ts,
// given as the endpoint) and gives the CLI's bytes of the same model on disk.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { servePage } from '../build/js/cli/serve.js';
import { generateCheckpoint } from '../build/js/synth/generate.js';
import { cliRunner } from './helpers/browser.js';
import { inWebKitHost, launchFirefox, launchWebKit, webkitVersion } from './helpers/engines-web.mjs';
import { startHubServer, type HubServer } from './helpers/hub-server.js';
import { PAGE_PRELUDE, hubTriesScript } from './helpers/page-script.js';
import { TOOLS } from './helpers/chromium.mjs';

const SHOTS = new URL('../build/screenshots/', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'bitnet-browsers-'));
const TINY = join(tmp, 'tiny-model');
const SHARDED = join(tmp, 'sharded-model');
const BIG = join(tmp, 'big-model');
/** A folder holding one .gguf (I2_S) and nothing else: the page reads it as the model (docs/gguf.md 10). */
const GGUF = join(tmp, 'gguf-model');
const noise: string[] = [];
const GATED_TOKEN = 'hf_gatedTokenOfTheTests';
/** The sharded model's second shard: listed but missing in org/broken-model, dropped mid-file in the drop test. */
const secondShard = () => readdirSync(SHARDED).filter((f) => /^model-\d+-of-\d+\.safetensors$/.test(f)).sort()[1]!;
let isolated: { url: string; server: { close(): void } };
let plain: { url: string; server: { close(): void } };
let hub: HubServer;
/** The page served for the Hub stand-in's address (serve --hf-endpoint): its CSP lets it connect there. */
let hubPage: { url: string; server: { close(): void } };

const { cli, cliOut } = cliRunner(tmp);

test.before(async () => {
  isolated = await servePage(0, '127.0.0.1');
  plain = await servePage(0, '127.0.0.1', { isolate: false });
  cli('synth', '--out', TINY, '--preset', 'tiny');
  generateCheckpoint({ outDir: SHARDED, layout: '1bitllm', shards: 3, seed: 5, shape: { hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 300 } });
  const ggufFrom = join(tmp, 'gguf-source');
  generateCheckpoint({ outDir: ggufFrom, layout: 'hf-bitnet', dtype: 'F16', seed: 9, shape: { hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 300 } });
  const i2s = cliOut('gguf-source-i2s', ggufFrom, '--format', 'gguf', '--gguf-type', 'i2_s');
  mkdirSync(GGUF);
  renameSync(join(i2s, readdirSync(i2s).find((f) => f.endsWith('.gguf'))!), join(GGUF, 'gguf-model.gguf'));
  // large enough to be cancelled mid-run (Firefox and WebKit)
  generateCheckpoint({ outDir: BIG, layout: 'hf-bitnet', seed: 3, shape: { hidden_size: 1024, intermediate_size: 2816, num_hidden_layers: 6, num_attention_heads: 8, num_key_value_heads: 8, vocab_size: 8192 } });
  hub = await startHubServer({
    'org/sharded-model': { dir: SHARDED },
    'org/gguf-model': { dir: GGUF },
    'org/gated-model': { dir: SHARDED, token: GATED_TOKEN },
    'org/broken-model': { dir: SHARDED, missing: [secondShard()] },
  });
  hubPage = await servePage(0, '127.0.0.1', { hubEndpoint: hub.url });
});

test.after(async () => {
  await firefox?.close(); // a Firefox left running would hold the test runner's output open
  await hub?.close();
  hubPage?.server.close();
  isolated?.server.close();
  plain?.server.close();
  rmSync(tmp, { recursive: true, force: true });
});

// ---- Firefox ----

type Puppeteer = { newPage(): Promise<PPage>; close(): Promise<void>; version(): Promise<string> };
type PPage = {
  goto(url: string): Promise<unknown>;
  on(event: string, f: (x: { type(): string; text(): string; message?: string }) => void): void;
  waitForSelector(s: string, o?: { timeout?: number }): Promise<unknown>;
  $(s: string): Promise<{ uploadFile(...paths: string[]): Promise<void> }>;
  select(s: string, v: string): Promise<unknown>;
  type(s: string, t: string): Promise<void>;
  click(s: string): Promise<void>;
  evaluate(js: string): Promise<unknown>;
  screenshot(o: { path: string; fullPage: boolean }): Promise<unknown>;
  close(): Promise<void>;
};

let firefox: Puppeteer | undefined;
async function ff(): Promise<Puppeteer> {
  return (firefox ??= (await launchFirefox()) as Puppeteer);
}

const text = (page: PPage, id: string) => page.evaluate(`document.getElementById(${JSON.stringify(id)}).textContent`) as Promise<string>;

/** Converts `input` in a Firefox page: the files one by one into the file input, the model's name typed. */
async function firefoxConvert(url: string, input: string, name: string, o: { format: string; ggufType?: string }): Promise<PPage> {
  const page = await (await ff()).newPage();
  page.on('console', (m) => noise.push(`firefox console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => noise.push(`firefox page error: ${e.message}`));
  await page.goto(url);
  await page.waitForSelector('body[data-ready="offline"]', { timeout: 30_000 });
  await (await page.$('#files')).uploadFile(...readdirSync(input).map((f) => join(input, f)));
  await page.waitForSelector('#model-name');
  await page.evaluate(`document.getElementById('model-name').value = ''`); // a .gguf fills in its own name
  await page.type('#model-name', name);
  await page.select('#engine', 'format');
  await page.click('#advanced summary');
  await page.select('#format', o.format);
  if (o.ggufType) await page.select('#gguf-type', o.ggufType);
  await page.type('#timestamp', '0');
  await page.click('#convert');
  await page.waitForSelector('#result:not([hidden]), #error:not([hidden])', { timeout: 120_000 });
  return page;
}

/** Every file the page offers for download, by name, fetched from its link (the bytes a click saves). */
async function pageFiles(page: PPage): Promise<Map<string, Buffer>> {
  const got = (await page.evaluate(`(async () => {
    const out = {};
    for (const a of document.querySelectorAll('#files-table a[download]')) {
      const b = new Uint8Array(await (await fetch(a.href)).arrayBuffer());
      let s = '';
      for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
      out[a.download] = btoa(s);
    }
    return out;
  })()`)) as Record<string, string>;
  return new Map(Object.entries(got).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
}

/** Clicks "Download all" and takes the .zip the page hands to its download link. */
async function pageZip(page: PPage): Promise<Buffer> {
  const b64 = (await page.evaluate(`(async () => {
    let href;
    const click = HTMLAnchorElement.prototype.click;
    HTMLAnchorElement.prototype.click = function () { href = this.href; };
    document.getElementById('download-all').click();
    for (let i = 0; !href && i < 600; i++) await new Promise((r) => setTimeout(r, 50));
    HTMLAnchorElement.prototype.click = click;
    const b = new Uint8Array(await (await fetch(href)).arrayBuffer());
    let s = '';
    for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
    return btoa(s);
  })()`)) as string;
  return Buffer.from(b64, 'base64');
}

function sameAsCli(cliDir: string, files: Map<string, Buffer>): void {
  assert.equal([...files.keys()].sort(), readdirSync(cliDir).sort(), 'the same files');
  for (const [name, bytes] of files) assert.ok(readFileSync(join(cliDir, name)).equals(bytes), `${name}: byte-identical to the CLI's`);
}

for (const [label, serve] of [['cross-origin isolated: reads through shared memory', () => isolated], ['a plain static host: reads with FileReaderSync', () => plain]] as const) {
  test(`Firefox, ${label}: bitnet-rs, hf-packed, a sharded model into GGUF and a .gguf into hf-packed equal the CLI's bytes; the .zip unpacks to them`, async () => {
    const shared = label.startsWith('cross');
    const cases = [
      { name: 'tiny-model', input: TINY, format: 'bitnet-rs', args: ['--format', 'bitnet-rs'] },
      { name: 'tiny-model', input: TINY, format: 'hf-packed', args: ['--format', 'hf-packed'] },
      { name: 'sharded-model', input: SHARDED, format: 'gguf', ggufType: 'tq2_0', args: ['--format', 'gguf', '--gguf-type', 'tq2_0'] },
      { name: 'gguf-model', input: GGUF, format: 'hf-packed', args: ['--format', 'hf-packed'] },
    ];
    for (const c of cases) {
      const want = cliOut(`ff-${c.name}-${c.format}-${shared}`, c.input, ...c.args);
      const page = await firefoxConvert(serve().url, c.input, c.name, c);
      try {
        assert.is(await page.evaluate(`document.getElementById('error').hidden`), true, await text(page, 'error-text'));
        assert.is(await text(page, 'result-state'), `Done: ${c.name}-${c.format}`, 'named after the typed model name');
        assert.match(await text(page, 'summary'), shared ? /reads through shared memory/ : /reads with FileReaderSync/);
        sameAsCli(want, await pageFiles(page));
        if (c.format === 'hf-packed' && c.input === TINY) {
          const zip = join(tmp, `ff-${shared}.zip`);
          writeFileSync(zip, await pageZip(page));
          const out = join(tmp, `ff-${shared}-unzipped`);
          mkdirSync(out);
          execFileSync('unzip', ['-q', zip, '-d', out]);
          const inside = join(out, `${c.name}-${c.format}`); // the output's folder, as the run command names it
          assert.equal(readdirSync(out), [`${c.name}-${c.format}`]);
          sameAsCli(want, new Map(readdirSync(inside).map((f) => [f, readFileSync(join(inside, f))])));
        }
        if (shared && c.format === 'gguf') {
          mkdirSync(SHOTS, { recursive: true });
          await page.screenshot({ path: join(SHOTS, 'firefox-page.png'), fullPage: true });
        }
      } finally {
        await page.close();
      }
    }
  });
}

test('Firefox: Cancel mid-run stops the workers and leaves nothing in OPFS', async () => {
  const big = BIG;
  const page = await (await ff()).newPage();
  page.on('console', (m) => noise.push(`firefox console.${m.type()}: ${m.text()}`));
  try {
    await page.goto(isolated.url);
    await page.waitForSelector('body[data-ready="offline"]', { timeout: 30_000 });
    await (await page.$('#files')).uploadFile(...readdirSync(big).map((f) => join(big, f)));
    await page.type('#model-name', 'big-model'); // files handed over without their folder: the page asks for the name
    await page.select('#engine', 'format');
    await page.click('#advanced summary');
    await page.select('#format', 'bitnet-rs');
    await page.select('#kernels', 'scalar');
    await page.click('#convert');
    await page.evaluate(`(async () => { while (!/tensor [1-9]/.test(document.getElementById('status').textContent)) await new Promise((r) => setTimeout(r, 20)); })()`);
    await page.click('#cancel');
    await page.waitForSelector('#error:not([hidden])', { timeout: 30_000 });
    assert.is(await text(page, 'error-text'), 'Cancelled: the workers were stopped and nothing was kept.');
    const left = await page.evaluate(`(async () => { ${PAGE_PRELUDE}
 return leftInOpfs(); })()`);
    assert.equal(left, [], 'nothing left in OPFS');
  } finally {
    await page.close();
  }
});

test('Firefox: the directory picker is missing, so the page offers downloads and says so on the other choice', async () => {
  const page = await (await ff()).newPage();
  try {
    await page.goto(isolated.url);
    await page.waitForSelector('body[data-ready="offline"]');
    const got = (await page.evaluate(`(() => { const d = document.getElementById('destination'); return [d.value, d.options[0].disabled, d.options[0].textContent]; })()`)) as [string, boolean, string];
    assert.equal(got, ['download', true, 'a folder I pick (not in this browser)']);
  } finally {
    await page.close();
    await firefox?.close();
    firefox = undefined;
  }
});

// ---- WebKit ----

test('WebKit (WebKitGTK MiniBrowser): the page says in one line what the browser lacks and offers no conversion; the APIs it has are recorded', async () => {
  const { driver, stop } = await launchWebKit();
  try {
    await driver.get(isolated.url);
    await driver.wait(async () => Boolean(await driver.executeScript('return document.body.dataset.ready || document.body.dataset.unsupported')), 30_000);
    await driver.wait(async () => Boolean(await driver.executeScript('return document.body.dataset.unsupported || null')), 5_000).catch(() => undefined);
    const seen = (await driver.executeAsyncScript(`const done = arguments[arguments.length - 1];
      (async () => {
        const o = { crossOriginIsolated, sharedArrayBuffer: typeof SharedArrayBuffer === 'function', moduleWorkers: typeof Worker === 'function',
          directoryPicker: 'showDirectoryPicker' in window, wasmSimd: document.getElementById('version').textContent.includes('wasm SIMD') };
        try { new Blob([]).stream().getReader({ mode: 'byob' }).releaseLock(); o.byobReaders = true; } catch (e) { o.byobReaders = false; }
        o.unsupported = document.body.dataset.unsupported === 'true' ? document.getElementById('unsupported').textContent : '';
        o.convertDisabled = document.getElementById('convert').disabled;
        return o;
      })().then(done, (e) => done({ error: String(e) }));`)) as Record<string, unknown>;
    mkdirSync(SHOTS, { recursive: true });
    writeFileSync(join(SHOTS, 'webkit-minibrowser.png'), Buffer.from(await driver.takeScreenshot(), 'base64'));
    // FileReaderSync, in a worker from a blob: URL, which the page's CSP forbids: from a plain document of the origin
    await driver.get(new URL('app.js', await driver.getCurrentUrl()).href);
    seen.fileReaderSync = await driver.executeAsyncScript(`const done = arguments[arguments.length - 1];
      const w = new Worker(URL.createObjectURL(new Blob(['postMessage(typeof FileReaderSync === "function")'])));
      w.onmessage = (e) => done(e.data);
      w.onerror = (e) => done(String(e.message));`);
    mkdirSync(SHOTS, { recursive: true });
    writeFileSync(join(SHOTS, 'webkit.json'), JSON.stringify({ webkit2gtk: webkitVersion(), ...seen }, null, 2) + '\n');
    // WebKitGTK 2.50 under automation keeps no storage: OPFS fails, and the page says so in one line
    assert.match(String(seen.unsupported), /^This browser (refuses|does not give) the page its private file system \(OPFS[^\n]*$/, JSON.stringify(seen));
    assert.is(seen.convertDisabled, true);
    assert.is(seen.moduleWorkers, true);
    assert.is(seen.fileReaderSync, true, 'the read path the page takes without BYOB readers');
    assert.is(seen.wasmSimd, true);
  } finally {
    await driver.quit().catch(() => undefined);
    stop();
  }
});

// A WebKitGTK host of our own keeps its storage, so OPFS works; its workers have no synchronous access handle
// (NotSupportedError: WebKitGTK cannot hand the file to the web process, docs/architecture.md), so the page
// writes through the main thread's writable streams (src/web/streamed.ts).

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const cliHashes = (dir: string) => Object.fromEntries(readdirSync(dir).map((f) => [f, sha256(join(dir, f))]));
const filesOf = (dir: string) => readdirSync(dir).map((f) => join(dir, f));

test('WebKit host: Cancel mid-run stops the workers, drops the writable streams and leaves nothing in OPFS', async () => {
  const got = JSON.parse(
    (await inWebKitHost(
      isolated.url,
      `${PAGE_PRELUDE}
      await pick('big-model');
      await ready();
      choose('bitnet-rs');
      set('kernels', 'scalar');
      const done = convert();
      while (!/tensor [1-9]/.test($('status').textContent) && $('error').hidden && $('result').hidden) await sleep(10);
      const status = $('status').textContent;
      $('cancel').click();
      const error = await done;
      await sleep(200);
      return JSON.stringify({ status, error, left: await leftInOpfs() });`,
      120,
      { files: [filesOf(BIG)] },
    )) as string,
  ) as { status: string; error: string; left: string[] };
  assert.match(got.status, /tensor [1-9]/, 'cancelled while converting');
  assert.is(got.error, 'Cancelled: the workers were stopped and nothing was kept.');
  assert.equal(got.left, [], 'nothing left in OPFS');
});

test('WebKit host, a storage quota of 2 MB: the writable streams fail, the page says it is the quota in one line, and nothing is left in OPFS', async () => {
  const got = JSON.parse(
    (await inWebKitHost(
      isolated.url,
      `${PAGE_PRELUDE}
      await pick('big-model');
      await ready();
      choose('bitnet-rs');
      const error = await convert();
      await sleep(200);
      return JSON.stringify({ error, left: await leftInOpfs() });`,
      120,
      { files: [filesOf(BIG)], quota: 2 << 20 },
    )) as string,
  ) as { error: string; left: string[] };
  assert.match(got.error, /^The conversion failed: [^\n]*cannot write: the browser's storage quota for this page is used up[^\n]*$/);
  assert.equal(got.left, [], 'nothing left in OPFS');
});

test('WebKit host: convertFiles (the API) into Blobs, OPFS (and its .zip) and a directory handle, the CLI\'s hashes; nothing left in OPFS', async () => {
  const want = cliHashes(cliOut('wk-api', SHARDED, '--format', 'gguf', '--gguf-type', 'tq2_0'));
  const got = JSON.parse(
    (await inWebKitHost(
      isolated.url,
      `${PAGE_PRELUDE}
      await pick('sharded-model');
      await ready();
      const files = [...$('files').files];
      const web = await import('/js/web/index.js');
      const o = { format: 'gguf', ggufType: 'tq2_0', timestamp: 0, folderName: 'sharded-model' };
      const b = await web.convertFiles(files, { ...o, output: { kind: 'blobs' } });
      const blobs = {};
      for (const x of b.outputs) blobs[x.name] = await hex(x.blob);
      const kept = await web.convertFiles(files, o);
      const opfs = {};
      for (const x of kept.outputs) opfs[x.name] = await hex(x.blob);
      const z = new Uint8Array(await (await kept.zip()).arrayBuffer());
      let zipped = '';
      for (let i = 0; i < z.length; i += 0x8000) zipped += String.fromCharCode(...z.subarray(i, i + 0x8000));
      zipped = btoa(zipped);
      await kept.remove();
      const picked = await (await navigator.storage.getDirectory()).getDirectoryHandle('picked-by-user', { create: true });
      const d = await web.convertFiles(files, { ...o, output: { kind: 'directory', handle: picked } });
      const inFolder = {};
      const folder = await picked.getDirectoryHandle(d.outputName);
      for (const f of d.files) inFolder[f.name] = await hex(await (await folder.getFileHandle(f.name)).getFile());
      await (await navigator.storage.getDirectory()).removeEntry('picked-by-user', { recursive: true }); // the user's folder, not the page's
      return JSON.stringify({ writes: [b.writes, kept.writes, d.writes], listed: Object.fromEntries(b.files.map((f) => [f.name, f.sha256])), blobs, opfs, zipped, inFolder, left: await leftInOpfs() });`,
      120,
      { files: [filesOf(SHARDED)] },
    )) as string,
  ) as { writes: string[]; listed: object; blobs: object; opfs: object; zipped: string; inFolder: object; left: string[] };
  assert.equal(got.writes, ['streams', 'streams', 'streams']);
  assert.equal(got.listed, want, 'the hashes convertFiles reports are those of the CLI\'s files');
  assert.equal(got.blobs, want, 'the Blobs');
  assert.equal(got.opfs, want, 'the files left in OPFS');
  const zip = join(tmp, 'wk-api.zip');
  writeFileSync(zip, Buffer.from(got.zipped, 'base64'));
  const unzipped = join(tmp, 'wk-api-unzipped');
  mkdirSync(unzipped);
  execFileSync('unzip', ['-q', zip, '-d', unzipped]);
  assert.equal(readdirSync(unzipped), ['sharded-model-gguf'], 'one folder, named as the output');
  assert.equal(cliHashes(join(unzipped, 'sharded-model-gguf')), want, 'the .zip (streamed into OPFS through a writable) unpacks to the CLI\'s files');
  assert.equal(got.inFolder, want, 'the files in the picked folder');
  assert.equal(got.left, [], 'nothing left in OPFS once removed or delivered');
});

test('WebKit host, a page that is not cross-origin isolated: no shared memory to wait on, so the page says in one line why it cannot write', async () => {
  const got = JSON.parse(
    (await inWebKitHost(
      plain.url,
      `${PAGE_PRELUDE}
      for (let i = 0; i < 300 && !document.body.dataset.unsupported; i++) await sleep(100);
      return JSON.stringify({ isolated: crossOriginIsolated, unsupported: $('unsupported').textContent, convertDisabled: $('convert').disabled });`,
      60,
    )) as string,
  ) as { isolated: boolean; unsupported: string; convertDisabled: boolean };
  assert.is(got.isolated, false);
  assert.match(got.unsupported, /^This browser's workers cannot write into its private file system \(OPFS createSyncAccessHandle or createWritable\), as the converter does: NotSupportedError: [^\n]*writable streams work, but writing through them needs shared memory, which this page was not given \(serve it cross-origin isolated: bitnet-converter serve\)$/);
  assert.is(got.convertDisabled, true);
});

/** In-page: convertHub from the stand-in (its address as the endpoint) into Blobs; the outputs' sha256 as the API lists them and as the Blobs hash. */
const HUB_API = (endpoint: string) => `
  const web = await import('/js/web/index.js');
  const r = await web.convertHub('org/sharded-model', 'main', { format: 'gguf', ggufType: 'tq2_0', timestamp: 0, output: { kind: 'blobs' }, hub: { endpoint: ${JSON.stringify(endpoint)} } });
  const blobs = {};
  for (const x of r.outputs) blobs[x.name] = [...new Uint8Array(await crypto.subtle.digest('SHA-256', await x.blob.arrayBuffer()))].map((b) => b.toString(16).padStart(2, '0')).join('');
  let missing = '';
  try {
    await web.convertHub('org/no-such-model', undefined, { output: { kind: 'blobs' }, hub: { endpoint: ${JSON.stringify(endpoint)} } });
  } catch (e) {
    missing = e.message;
  }
  // a repository of a .gguf: its head read ahead by range requests, its tokenizer rebuilt
  const g = await web.convertHub('org/gguf-model', undefined, { format: 'hf-packed', timestamp: 0, output: { kind: 'blobs' }, hub: { endpoint: ${JSON.stringify(endpoint)} } });
  const listed = (x) => Object.fromEntries(x.files.map((f) => [f.name, f.sha256]));
  return JSON.stringify({ reads: r.reads, listed: listed(r), blobs, missing, gguf: listed(g) });`;
type HubApiResult = { reads: string; listed: object; blobs: object; missing: string; gguf: object };

/** The CLI's files of the sharded model into GGUF TQ2_0 and of the .gguf into hf-packed, by their hashes. */
const hubApiWants = (name: string) => ({
  sharded: cliHashes(cliOut(name, SHARDED, '--format', 'gguf', '--gguf-type', 'tq2_0')),
  gguf: cliHashes(cliOut(`${name}-gguf`, GGUF, '--format', 'hf-packed')),
});

function checkHubApi(got: HubApiResult, want: ReturnType<typeof hubApiWants>): void {
  assert.equal(got.listed, want.sharded, 'the hashes convertHub reports are those of the CLI\'s files from the model on disk');
  assert.equal(got.blobs, want.sharded, 'the Blobs');
  assert.match(got.missing, /^hf:org\/no-such-model: no such model repository/);
  assert.equal(got.gguf, want.gguf, 'a repository of a .gguf: the CLI\'s files from the .gguf on disk');
}

test('Firefox: the page converts a sharded model named in its repo field, read from the Hub at the address it was served for, into the CLI\'s bytes', async () => {
  const cliDir = cliOut('ff-hub-page', SHARDED, '--format', 'bitnet-rs');
  const page = await (await ff()).newPage();
  page.on('console', (m) => noise.push(`firefox console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => noise.push(`firefox page error: ${e.message}`));
  try {
    await page.goto(hubPage.url);
    await page.waitForSelector('body[data-ready="offline"]', { timeout: 30_000 });
    assert.is(await page.evaluate(`document.querySelector('label[for="hf-repo"]').textContent`), `Or a repo on ${hub.url.replace(/\/+$/, '')} (ORG/NAME, or ORG/NAME/FILE.gguf)`);
    await page.type('#hf-repo', 'org/sharded-model');
    await page.select('#engine', 'format');
    await page.click('#advanced summary');
    await page.select('#format', 'bitnet-rs');
    await page.type('#timestamp', '0');
    await page.click('#convert');
    await page.waitForSelector('#result:not([hidden]), #error:not([hidden])', { timeout: 120_000 });
    assert.is(await page.evaluate(`document.getElementById('error').hidden`), true, await text(page, 'error-text'));
    sameAsCli(cliDir, await pageFiles(page));
  } finally {
    await page.close();
  }
});

test('Firefox: convertHub reads a sharded model and a .gguf from a Hub (the local stand-in) and gives the CLI\'s bytes; a missing repository in words', async () => {
  const want = hubApiWants('ff-hub');
  const page = await (await ff()).newPage();
  page.on('console', (m) => noise.push(`firefox console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => noise.push(`firefox page error: ${e.message}`));
  try {
    await page.goto(hubPage.url);
    await page.waitForSelector('body[data-ready="offline"]', { timeout: 30_000 });
    const got = JSON.parse((await page.evaluate(`(async () => { ${HUB_API(hub.url)} })()`)) as string) as HubApiResult;
    assert.is(got.reads, 'shared', 'ranges fetched by the page\'s thread into shared windows');
    checkHubApi(got, want);
  } finally {
    await page.close();
  }
});

test('WebKit host: convertHub reads a sharded model and a .gguf from a Hub (the local stand-in) and gives the CLI\'s bytes; a missing repository in words; nothing left in OPFS', async () => {
  const want = hubApiWants('wk-hub');
  const got = JSON.parse(
    (await inWebKitHost(hubPage.url, `${PAGE_PRELUDE}
      await ready();
      const result = JSON.parse(await (async () => { ${HUB_API(hub.url)} })());
      return JSON.stringify({ ...result, left: await leftInOpfs() });`, 120)) as string,
  ) as HubApiResult & { left: string[] };
  checkHubApi(got, want);
  assert.equal(got.left, [], 'Blobs delivered: nothing left in OPFS');
});

/**
 * The Hub's failures as the page shows them (a missing repository, revision or file, a gated repository
 * without a token and with a wrong one), each in words naming the page's fields, never a CLI flag; then a
 * connection dropped in the middle of a shard, resumed at the byte: the CLI's files.
 */
const HUB_TRIES = [
  { repo: 'org/no-such-model' },
  { repo: 'org/sharded-model', revision: 'v9' },
  { repo: 'org/broken-model' },
  { repo: 'org/gated-model' },
  { repo: 'org/gated-model', token: 'hf_wrong' },
  { repo: 'org/sharded-model' },
];

async function dropMidShard(): Promise<void> {
  await hub.reset({ dropOnce: { file: secondShard(), at: Math.floor(statSync(join(SHARDED, secondShard())).size / 2) } });
}

function checkHubTries(got: { error: string; files: Record<string, string> }[], engine: string): void {
  const [missing, revision, broken, gated, wrong, dropped] = got;
  assert.match(missing!.error, /^The conversion failed: hf:org\/no-such-model: no such model repository on http:\/\/127\.0\.0\.1:\d+ \(HTTP 401\), or a private one: pass an access token \(the "Access token" field\)$/, engine);
  assert.match(revision!.error, /^The conversion failed: hf:org\/sharded-model@v9: no revision "v9"/, engine);
  assert.match(broken!.error, new RegExp(`^The conversion failed: hf:org/broken-model/${secondShard().replace(/\./g, '\\.')}: no such file in the repository at this revision \\(HTTP 404\\)`), engine);
  assert.match(gated!.error, /access refused \(HTTP 401\): the repository is gated or private; pass an access token \(the "Access token" field\)$/, engine);
  assert.match(wrong!.error, /access refused \(HTTP 403\): the token does not give access to this repository/, engine);
  for (const g of got) assert.not.match(g.error, /--[a-z]|HF_TOKEN/, `${engine}: no CLI flag in the page's words: ${g.error}`);
  assert.is(dropped!.error, '', `${engine}: a connection dropped mid-shard is resumed`);
  assert.equal(dropped!.files, cliHashes(cliOut(`${engine}-hub-drop`, SHARDED, '--format', 'bitnet-rs')), `${engine}: the CLI's files after the drop`);
}

test('Firefox: the Hub\'s failures in the page\'s words (missing repo, revision, file; gated, wrong token), a connection dropped mid-shard resumed; axe-core finds no violation, loaded and with an error shown', async () => {
  const page = await (await ff()).newPage();
  try {
    await page.goto(hubPage.url);
    await page.waitForSelector('body[data-ready="offline"]', { timeout: 30_000 });
    const axe = async () => {
      await page.evaluate(readFileSync(join(TOOLS, 'node_modules/axe-core/axe.min.js'), 'utf8'));
      return page.evaluate(`axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }).then((r) => r.violations.map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).join(', ')))`);
    };
    assert.equal(await axe(), [], 'the page as loaded');
    await dropMidShard();
    const got = JSON.parse((await page.evaluate(`(async () => { ${PAGE_PRELUDE}\n${hubTriesScript(HUB_TRIES)} })()`)) as string);
    assert.is((await hub.stats()).drops, 1, 'the connection was dropped');
    checkHubTries(got, 'Firefox');
    await page.evaluate(`(async () => { ${PAGE_PRELUDE}\n set('hf-repo', 'org/no-such-model', 'input'); choose('bitnet-rs'); await convert(); })()`);
    assert.equal(await axe(), [], 'the page with an error shown');
  } finally {
    await hub.reset();
    await page.close();
  }
});

test('WebKit host: the Hub\'s failures in the page\'s words (missing repo, revision, file; gated, wrong token), a connection dropped mid-shard resumed', async () => {
  await dropMidShard();
  try {
    const got = JSON.parse((await inWebKitHost(hubPage.url, `${PAGE_PRELUDE}\n await ready();\n ${hubTriesScript(HUB_TRIES)}`, 180)) as string);
    assert.is((await hub.stats()).drops, 1, 'the connection was dropped');
    checkHubTries(got, 'WebKit');
  } finally {
    await hub.reset();
  }
});

test('the pages logged nothing in Firefox (no console messages, no page errors)', () => {
  assert.equal(noise, []);
});

test.run();

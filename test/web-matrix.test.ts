// The proof the page's issue asks of CI, as one matrix: in each of the three engines (Debian's Chromium,
// Firefox ESR, WebKitGTK in the test suite's host), through the page's controls and through the API
// (convertFiles, convertHub), each input (a model folder, a sharded model, a packed model, a .gguf, and the
// sharded model read from the local Hub stand-in) into bitnet-rs, hf-packed and gguf: every file offered for
// download, and every Blob the API gives, has the sha256 of the CLI's file of the same model on disk.
// The page is served cross-origin isolated, as `bitnet-converter serve` serves it. Other files test the
// engines' own paths (test/browsers.test.ts: Firefox's FileReaderSync read path, WebKit's MiniBrowser,
// quota, cancel), the page as a user drives it (test/page.test.ts), and the Hub's faults (test/browser-hub.test.ts).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { servePage } from '../build/js/cli/serve.js';
import { generateCheckpoint } from '../build/js/synth/generate.js';
import { cliRunner, launchBrowser } from './helpers/browser.js';
import { inWebKitHost, launchFirefox, webkitVersion } from './helpers/engines-web.mjs';
import { startHubServer, type HubServer } from './helpers/hub-server.js';
import { PAGE_PRELUDE, matrixScript, type ApiCell, type MatrixFormat, type PageCell } from './helpers/page-script.js';

const SHOTS = new URL('../build/screenshots/', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'bitnet-web-matrix-'));
const { cli, cliOut } = cliRunner(tmp);
const SHAPE = { hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 300 };
const HUB_REPO = 'org/sharded-model';

/** The inputs, each with GGUF's type: the default where the model's rows allow it, else one that holds them. */
const INPUTS = [
  { name: 'tiny-model', what: 'a model folder (BF16 master)', ggufType: 'f16' },
  { name: 'sharded-model', what: 'a sharded model (1bitLLM, 3 shards)', ggufType: 'tq2_0' },
  { name: 'packed-model', what: 'a packed model (U8 codes + weight_scale)' },
  { name: 'gguf-model', what: 'a .gguf (I2_S)', ggufType: 'i2_s' },
] as const;
type InputName = (typeof INPUTS)[number]['name'];
const FORMATS = ['bitnet-rs', 'hf-packed', 'gguf'] as const;
const formatsOf = (name: InputName): MatrixFormat[] => {
  const ggufType = INPUTS.find((i) => i.name === name)!.ggufType;
  const cells: MatrixFormat[] = FORMATS.map((format) => ({ format, ...(format === 'gguf' && ggufType && { ggufType }) }));
  // an engine's choice that writes two containers: Microsoft's GPU kernels (the int2 file and its BF16 prefill weights)
  return name === 'tiny-model' ? [...cells, { format: 'ms-gpu', engine: 'ms-gpu' }] : cells;
};
const dirOf = (name: InputName) => join(tmp, name);
const filesOf = (name: InputName) => readdirSync(dirOf(name)).map((f) => join(dirOf(name), f));

/** The CLI's files of each input in each format, by sha256: what every engine must give. */
const want = new Map<string, Record<string, string>>();
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

let page: { url: string; server: { close(): void } };
let hub: HubServer;

test.before(async () => {
  cli('synth', '--out', dirOf('tiny-model'), '--preset', 'tiny');
  generateCheckpoint({ outDir: dirOf('sharded-model'), layout: '1bitllm', shards: 3, seed: 5, shape: SHAPE });
  generateCheckpoint({ outDir: dirOf('packed-model'), layout: 'packed', seed: 7, shape: SHAPE });
  const ggufFrom = join(tmp, 'gguf-source');
  generateCheckpoint({ outDir: ggufFrom, layout: 'hf-bitnet', dtype: 'F16', seed: 9, shape: SHAPE });
  const i2s = cliOut('gguf-source-i2s', ggufFrom, '--format', 'gguf', '--gguf-type', 'i2_s');
  mkdirSync(dirOf('gguf-model'));
  renameSync(join(i2s, readdirSync(i2s).find((f) => f.endsWith('.gguf'))!), join(dirOf('gguf-model'), 'gguf-model.gguf'));
  for (const { name } of INPUTS) {
    for (const f of formatsOf(name)) {
      const out = cliOut(`${name}-${f.format}`, dirOf(name), ...(f.engine ? ['--engine', f.engine] : ['--format', f.format]), ...(f.ggufType ? ['--gguf-type', f.ggufType] : []));
      want.set(`${name} -> ${f.format}`, Object.fromEntries(readdirSync(out).map((file) => [file, sha256(join(out, file))])));
    }
  }
  hub = await startHubServer({ [HUB_REPO]: { dir: dirOf('sharded-model') } });
  // the page served for the stand-in's address: its Content-Security-Policy lets it connect there
  page = await servePage(0, '127.0.0.1', { hubEndpoint: hub.url });
});

test.after(async () => {
  await hub?.close();
  page?.server.close();
  rmSync(tmp, { recursive: true, force: true });
});

type Got = { page: Record<string, PageCell>; api: Record<string, ApiCell> };

/**
 * Checks one engine's row of the matrix for one input: through the page and through the API, each format's
 * files are the CLI's. `summary`: how the page says it read and wrote in this engine.
 */
function check(engine: string, name: InputName, got: Got, summary: RegExp, hubbed = false): void {
  for (const f of formatsOf(name)) {
    const what = `${engine}, ${hubbed ? `${HUB_REPO} from the Hub` : name} -> ${f.format}`;
    const cli = want.get(`${name} -> ${f.format}`)!;
    const p = got.page[f.format]!;
    assert.is(p.error, '', `${what}, the page: no error`);
    assert.is(p.state, `Done: ${name}-${f.format}`, `${what}, the page: its result`);
    assert.match(p.summary, summary, `${what}, the page's summary`);
    assert.equal(p.files, cli, `${what}, the page: every file offered for download is the CLI's`);
    const a = got.api[f.format]!;
    assert.is(a.error, undefined, `${what}, the API: no error`);
    assert.equal(a.listed, cli, `${what}, the API: the hashes it lists are the CLI's`);
    assert.equal(a.blobs, cli, `${what}, the API: every Blob is the CLI's file`);
  }
}

const hubScript = () => `set('hf-repo', ${JSON.stringify(HUB_REPO)}, 'input');\n${matrixScript(formatsOf('sharded-model'), { hub: { repo: HUB_REPO, endpoint: hub.url } })}`;

// ---- Chromium (playwright-core): the folder picked as a folder ----

test('Chromium: the page and the API convert a folder, a sharded model, a packed model, a .gguf and a Hub repository into bitnet-rs, hf-packed and gguf: the CLI\'s bytes', async () => {
  const browser = await launchBrowser();
  const noise: string[] = [];
  try {
    const run = async (pick: ((p: Awaited<ReturnType<typeof browser.newPage>>) => Promise<void>) | undefined, script: string) => {
      const p = await browser.newPage();
      p.on('console', (m) => noise.push(`console.${m.type()}: ${m.text()}`));
      p.on('pageerror', (e) => noise.push(`page error: ${e.message}`));
      try {
        await p.goto(page.url);
        await p.waitForSelector('body[data-ready="offline"]');
        await pick?.(p);
        return JSON.parse((await p.evaluate(`(async () => { ${PAGE_PRELUDE}\n${script} })()`)) as string) as Got;
      } finally {
        await p.close();
      }
    };
    for (const { name } of INPUTS) {
      const got = await run((p) => p.setInputFiles('#folder', dirOf(name)), matrixScript(formatsOf(name), { files: { input: 'folder', name } }));
      check('Chromium', name, got, /reads through shared memory\)/);
    }
    check('Chromium', 'sharded-model', await run(undefined, hubScript()), /fetched from the Hub; .*reads through shared memory\)/, true);
    assert.equal(noise, [], 'the page logged nothing');
  } finally {
    await browser.close();
  }
});

// ---- Firefox ESR (puppeteer-core over WebDriver BiDi): files handed over one by one, the name typed ----

type PPage = {
  goto(url: string): Promise<unknown>;
  on(event: string, f: (x: { type(): string; text(): string; message?: string }) => void): void;
  waitForSelector(s: string, o?: { timeout?: number }): Promise<unknown>;
  $(s: string): Promise<{ uploadFile(...paths: string[]): Promise<void> }>;
  evaluate(js: string): Promise<unknown>;
  close(): Promise<void>;
};

test('Firefox: the page and the API convert a folder, a sharded model, a packed model, a .gguf and a Hub repository into bitnet-rs, hf-packed and gguf: the CLI\'s bytes', async () => {
  const firefox = (await launchFirefox()) as { newPage(): Promise<PPage>; close(): Promise<void> };
  const noise: string[] = [];
  try {
    const run = async (files: string[] | undefined, script: string) => {
      const p = await firefox.newPage();
      p.on('console', (m) => noise.push(`console.${m.type()}: ${m.text()}`));
      p.on('pageerror', (e) => noise.push(`page error: ${e.message}`));
      try {
        await p.goto(page.url);
        await p.waitForSelector('body[data-ready="offline"]', { timeout: 30_000 });
        if (files) await (await p.$('#files')).uploadFile(...files);
        return JSON.parse((await p.evaluate(`(async () => { ${PAGE_PRELUDE}\n${script} })()`)) as string) as Got;
      } finally {
        await p.close();
      }
    };
    for (const { name } of INPUTS) {
      // Firefox's driver hands over files, not a folder: the name is typed, as a user of the file picker would
      const got = await run(filesOf(name), `set('model-name', ${JSON.stringify(name)}, 'input');\n${matrixScript(formatsOf(name), { files: { input: 'files', name } })}`);
      check('Firefox', name, got, /reads through shared memory\)/);
    }
    check('Firefox', 'sharded-model', await run(undefined, hubScript()), /fetched from the Hub; .*reads through shared memory\)/, true);
    assert.equal(noise, [], 'the page logged nothing');
  } finally {
    await firefox.close();
  }
});

// ---- WebKit: WebKitGTK in the test suite's host, which keeps its storage (OPFS) and answers the file chooser ----

for (const { name } of INPUTS) {
  test(`WebKit (WebKitGTK host): the page and the API convert ${name} into bitnet-rs, hf-packed and gguf through writable streams: the CLI's bytes`, async () => {
    const last = name === INPUTS.at(-1)!.name;
    const got = JSON.parse(
      (await inWebKitHost(
        page.url,
        `${PAGE_PRELUDE}
        await pick(${JSON.stringify(name)});
        await ready();
        const probe = await new Promise((r) => { const w = new Worker('/js/web/worker.js', { type: 'module' }); w.onmessage = (e) => (w.terminate(), r(e.data)); w.postMessage({ type: 'probe' }); });
        for (const n of probe.probeFiles ?? []) await (await navigator.storage.getDirectory()).removeEntry(n).catch(() => undefined); // as the page removes its own
        const got = JSON.parse(await (async () => { ${matrixScript(formatsOf(name), { files: { input: 'files', name } })} })());
        return JSON.stringify({ ...got, probe, left: await leftInOpfs() });`,
        180,
        { files: [filesOf(name)], ...(last && { shot: join(SHOTS, 'webkit-page.png') }) },
      )) as string,
    ) as Got & { probe: { writes?: string; noSync?: string }; left: string[] };
    if (last) {
      mkdirSync(SHOTS, { recursive: true });
      const record = join(SHOTS, 'webkit.json');
      let earlier = {};
      try {
        earlier = JSON.parse(readFileSync(record, 'utf8'));
      } catch {
        // test/browsers.test.ts writes the MiniBrowser half; this file may run alone
      }
      writeFileSync(record, JSON.stringify({ webkit2gtk: webkitVersion(), ...earlier, persistentHost: { writes: got.probe.writes, noSync: got.probe.noSync } }, null, 2) + '\n');
    }
    assert.is(got.probe.writes, 'streams', JSON.stringify(got.probe));
    assert.match(String(got.probe.noSync), /^NotSupportedError: /, 'a worker\'s createSyncAccessHandle fails (docs/architecture.md says why)');
    check('WebKit', name, got, /reads with FileReaderSync, writes through writable streams\)/);
    // the page's last result stays in OPFS (for its downloads) until the next run; the API's Blobs leave nothing
    assert.ok(got.left.length === 1 && got.left[0]!.startsWith('bitnet-converter/'), `only the page's last run is left in OPFS: ${got.left.join(', ')}`);
  });
}

test('WebKit (WebKitGTK host): the page and the API convert a Hub repository into bitnet-rs, hf-packed and gguf: the CLI\'s bytes of the model on disk', async () => {
  const got = JSON.parse(
    (await inWebKitHost(page.url, `${PAGE_PRELUDE}
      await ready();
      ${hubScript()}`, 180)) as string,
  ) as Got;
  check('WebKit', 'sharded-model', got, /fetched from the Hub; .*writes through writable streams\)/, true);
});

test.run();

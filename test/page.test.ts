// The page as a new user drives it, in Debian's headless Chromium (test/browser.test.ts has the
// byte-identity matrix): a parent folder picked, Cancel, Replace, keyboard only, progress in the
// folder's units, one .zip for the whole output (unpacked by Info-ZIP's unzip), refusals naming the
// alternative in the page's words, picker failures, a new pick clearing the result, and the engine
// choice with its run command and inspect summary (against the CLI's --engine and inspect).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { servePage } from '../build/js/cli/serve.js';
import { generateCheckpoint } from '../build/js/synth/generate.js';
import { cliRunner, launchBrowser, type Browser, type Page } from './helpers/browser.js';
import { TOOLS } from './helpers/chromium.mjs';

const tmp = mkdtempSync(join(tmpdir(), 'bitnet-page-'));
const TINY = join(tmp, 'tiny-model');
let browser: Browser;
let url: string;
let close: () => void;
const noise: string[] = [];

const { cli, cliOut } = cliRunner(tmp);

test.before(async () => {
  const s = await servePage(0, '127.0.0.1');
  url = s.url;
  close = () => s.server.close();
  browser = await launchBrowser();
  cli('synth', '--out', TINY, '--preset', 'tiny');
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
  await page.waitForSelector('body[data-ready="offline"]');
  return page;
}

async function withPage(use: (page: Page) => Promise<void>): Promise<void> {
  const page = await openPage();
  try {
    await use(page);
  } finally {
    await page.close();
  }
}

async function openAdvanced(page: Page): Promise<void> {
  if (!(await page.$eval('#advanced', (d) => (d as HTMLDetailsElement).open))) await page.click('#advanced summary');
}

/** Sets the options (an engine, or a format under "Advanced options"), timestamp 0. */
async function options(page: Page, o: { engine?: string; format?: string; ggufType?: string; destination?: string; kernels?: string }): Promise<void> {
  await page.selectOption('#engine', o.engine ?? 'format');
  await openAdvanced(page);
  if (o.format) await page.selectOption('#format', o.format);
  if (o.ggufType) await page.selectOption('#gguf-type', o.ggufType);
  if (o.kernels) await page.selectOption('#kernels', o.kernels);
  await page.selectOption('#destination', o.destination ?? 'download');
  await page.fill('#timestamp', '0');
}

async function finished(page: Page): Promise<void> {
  await page.waitForSelector('#result:not([hidden]), #error:not([hidden])', { timeout: 120_000 });
}

const errorText = async (page: Page) => (await page.textContent('#error-text')) ?? '';

/** Clicks "Download all", saves the .zip, unpacks it with Info-ZIP's unzip; returns the one folder it holds, named as the output. */
async function downloadZip(page: Page, name: string): Promise<string> {
  const [d] = await Promise.all([page.waitForEvent('download'), page.click('#download-all')]);
  const zip = join(tmp, `${name}.zip`);
  await d.saveAs(zip);
  assert.match(d.suggestedFilename(), /\.zip$/);
  const out = join(tmp, `${name}-unzipped`);
  mkdirSync(out, { recursive: true });
  assert.match(execFileSync('unzip', ['-t', zip], { encoding: 'utf8' }), /No errors detected/);
  execFileSync('unzip', ['-q', zip, '-d', out]);
  const top = readdirSync(out);
  assert.equal(top, [d.suggestedFilename().replace(/\.zip$/, '')], 'one folder, named as the output (the run command names it)');
  return join(out, top[0]!);
}

function sameFiles(cliDir: string, pageDir: string): void {
  const want = readdirSync(cliDir).sort();
  assert.equal(readdirSync(pageDir).sort(), want, 'the same files');
  for (const f of want) assert.ok(readFileSync(join(cliDir, f)).equals(readFileSync(join(pageDir, f))), `${f}: byte-identical to the CLI's`);
}

/** What the page left in OPFS: the runs in its folder, and anything else at the root (its probe files once piled up there). */
async function opfsRuns(page: Page): Promise<string[]> {
  return (await page.evaluate(`(async () => {
    const root = await navigator.storage.getDirectory();
    const names = [];
    for await (const name of root.keys()) if (name !== 'bitnet-converter' && name !== 'picked-by-user') names.push(name);
    const runs = await root.getDirectoryHandle('bitnet-converter', { create: true });
    for await (const name of runs.keys()) names.push('bitnet-converter/' + name);
    return names;
  })()`)) as string[];
}

test('a parent folder picked: the model folder inside is found and names the output; the .zip unpacks to the CLI\'s files', async () => {
  const parent = join(tmp, 'downloads');
  cpSync(TINY, join(parent, 'tiny-model'), { recursive: true });
  const want = cliOut('parent', TINY, '--format', 'hf-packed');
  await withPage(async (page) => {
    await page.setInputFiles('#folder', parent);
    assert.match((await page.textContent('#picked')) ?? '', /^the model folder downloads\/tiny-model inside the picked one: 5 files, 1 \.safetensors, /);
    assert.is(await page.inputValue('#model-name'), 'tiny-model');
    await options(page, { format: 'hf-packed' });
    await page.click('#convert');
    await finished(page);
    assert.is(await page.isHidden('#error'), true, await errorText(page));
    assert.match((await page.textContent('#result-state')) ?? '', /^Done: tiny-model-hf-packed$/);
    sameFiles(want, await downloadZip(page, 'parent'));
  });
});

test('a folder holding two models: the page names both and asks for one; nothing can be converted', async () => {
  const two = join(tmp, 'two');
  cpSync(TINY, join(two, 'a'), { recursive: true });
  cpSync(TINY, join(two, 'b'), { recursive: true });
  await withPage(async (page) => {
    await page.setInputFiles('#folder', two);
    assert.match(await errorText(page), /^two: no config\.json here, and several subfolders hold a model \(two\/a, two\/b\); pick one of them$/, await errorText(page));
    assert.is(await page.isDisabled('#convert'), true);
  });
});

test('files handed over one by one: named from config.json\'s Hub id where it has one, else the page asks for the name before converting', async () => {
  const loose = readdirSync(TINY).map((f) => join(TINY, f));
  await withPage(async (page) => {
    await page.setInputFiles('#files', loose);
    await page.waitForFunction(() => /type it under Model name\.$/.test(document.getElementById('picked')!.textContent ?? ''));
    assert.match((await page.textContent('#picked')) ?? '', /^the chosen files: 5 files, 1 \.safetensors, .*\. These files came without their folder's name: type it under Model name\.$/);
    assert.is(await page.inputValue('#model-name'), '');
    assert.is(await page.$eval('#model-name', (e) => (e as HTMLInputElement).required), true);
    await options(page, { format: 'hf-packed' });
    await page.click('#convert');
    assert.match(await errorText(page), /^"Model name": the chosen files came without their folder's name; type it/);
    assert.is(await page.evaluate(() => document.activeElement?.id), 'model-name', 'the keyboard is taken to the field');
    assert.is(await page.isHidden('#progress-box'), true, 'nothing ran');
    await page.fill('#model-name', 'tiny-model');
    await page.click('#convert');
    await finished(page);
    assert.is(await page.isHidden('#error'), true, await errorText(page));
    assert.match((await page.textContent('#result-state')) ?? '', /^Done: tiny-model-hf-packed$/);
    sameFiles(cliOut('loose', TINY, '--format', 'hf-packed'), await downloadZip(page, 'loose'));
  });
  // a config.json saved from a Hub model names it (the folder a download makes has that name)
  const named = join(tmp, 'named', 'bitnet-b1.58-2B-4T');
  cpSync(TINY, named, { recursive: true });
  const config = JSON.parse(readFileSync(join(named, 'config.json'), 'utf8'));
  writeFileSync(join(named, 'config.json'), JSON.stringify({ ...config, _name_or_path: 'microsoft/bitnet-b1.58-2B-4T' }));
  await withPage(async (page) => {
    await page.setInputFiles('#files', readdirSync(named).map((f) => join(named, f)));
    await page.waitForFunction(() => (document.getElementById('model-name') as HTMLInputElement).value !== '');
    assert.is(await page.inputValue('#model-name'), 'bitnet-b1.58-2B-4T');
    assert.match((await page.textContent('#picked')) ?? '', /\(named bitnet-b1\.58-2B-4T from config\.json; change it under Model name if the folder is named otherwise\)\.$/);
    await options(page, { format: 'gguf', ggufType: 'f16' }); // general.name inside the file is the name
    await page.click('#convert');
    await finished(page);
    assert.is(await page.isHidden('#error'), true, await errorText(page));
    const want = cliOut('named', named, '--format', 'gguf', '--gguf-type', 'f16');
    const gguf = readdirSync(want).find((f) => f.endsWith('.gguf'))!;
    const [d] = await Promise.all([page.waitForEvent('download'), page.click('#download-all')]);
    assert.is(d.suggestedFilename(), gguf, 'the one file, named as the CLI names it');
    await d.saveAs(join(tmp, 'named.gguf'));
    assert.ok(readFileSync(join(tmp, 'named.gguf')).equals(readFileSync(join(want, gguf))), 'the CLI\'s bytes (general.name among them)');
  });
});

// a model whose conversion takes a few seconds in the page, to watch and to cancel
const BIG = join(tmp, 'big-model');
function bigModel(): string {
  if (!readdirSync(tmp).includes('big-model')) {
    generateCheckpoint({ outDir: BIG, layout: 'hf-bitnet', seed: 3, shape: { hidden_size: 1024, intermediate_size: 2816, num_hidden_layers: 6, num_attention_heads: 8, num_key_value_heads: 8, vocab_size: 8192 } });
  }
  return BIG;
}

/** Every text #status shows, recorded in the page as it changes. */
async function recordStatus(page: Page): Promise<() => Promise<string[]>> {
  await page.evaluate(`(() => {
    window.__status = [];
    new MutationObserver(() => window.__status.push(document.getElementById('status').textContent)).observe(document.getElementById('status'), { childList: true, characterData: true, subtree: true });
  })()`);
  return async () => (await page.evaluate('window.__status')) as string[];
}

test('progress: in the units of the folder\'s size, tensors counted from their first read, elapsed time and what is left', async () => {
  const input = bigModel();
  const weights = statSync(join(input, 'model.safetensors')).size;
  const mib = `${(weights / 2 ** 20).toFixed(1)} MiB`;
  await withPage(async (page) => {
    await page.setInputFiles('#folder', input);
    assert.match((await page.textContent('#picked')) ?? '', new RegExp(`, ${mib} of weights$`));
    await options(page, { format: 'bitnet-rs', kernels: 'scalar' });
    const statuses = await recordStatus(page);
    await page.click('#convert');
    await finished(page);
    assert.is(await page.isHidden('#error'), true, await errorText(page));
    const seen = (await statuses()).filter((s) => s.includes('tensor'));
    assert.ok(seen.length >= 2, `progress was shown: ${seen.join(' | ')}`);
    const shape = /^([\d.]+) MiB of ([\d.]+) MiB \((\d+)%\), tensor (\d+) of (\d+) \((\d+) done\), (\d+:\d\d) elapsed(, about \d+:\d\d left)?, /;
    for (const s of seen) {
      const m = shape.exec(s);
      assert.ok(m, `status in words: ${s}`);
      assert.is(`${m![2]} MiB`, mib, 'in the units of the folder the page named');
      assert.ok(Number(m![1]) <= Number(m![2]));
    }
    // the first report already counts the tensors being read, though none is done yet
    const first = shape.exec(seen[0])!;
    assert.ok(Number(first[4]) >= 1, `tensors counted from the start: ${seen[0]}`);
    assert.ok(seen.some((s) => /about \d+:\d\d left/.test(s)), 'an estimate of the time left');
    assert.match((await page.textContent('#status')) ?? '', /^Finished in \d+:\d\d\.$/);
  });
});

test('Cancel mid-run: the options are locked while it runs, the workers stop, nothing is left in OPFS, the next run works', async () => {
  const input = bigModel();
  await withPage(async (page) => {
    await page.setInputFiles('#folder', input);
    await options(page, { format: 'bitnet-rs', kernels: 'scalar' });
    assert.is(await page.isDisabled('#cancel'), true, 'nothing to cancel yet');
    await page.click('#convert');
    await page.waitForFunction(() => /tensor [1-9]/.test(document.getElementById('status')!.textContent ?? ''), undefined, { timeout: 60_000 });
    for (const id of ['#engine', '#format', '#kernels', '#timestamp', '#destination', '#pick-folder', '#model-name', '#convert']) assert.is(await page.isDisabled(id), true, `${id} locked during the run`);
    assert.ok((await opfsRuns(page)).length > 0, 'the run writes into OPFS');
    await page.click('#cancel');
    await page.waitForSelector('#error:not([hidden])', { timeout: 30_000 });
    assert.is(await errorText(page), 'Cancelled: the workers were stopped and nothing was kept.');
    assert.is(await page.$eval('#error', (e) => e.classList.contains('notice')), true, 'a cancel the user asked for is not shown as a failure');
    assert.equal(await opfsRuns(page), [], 'nothing left in OPFS');
    assert.is(await page.isHidden('#result'), true);
    assert.is(await page.isDisabled('#engine'), false, 'unlocked after');
    // the page still converts (the CLI's bytes) after a cancel
    await page.setInputFiles('#folder', TINY);
    await page.click('#convert');
    await finished(page);
    assert.is(await page.isHidden('#error'), true, await errorText(page));
    sameFiles(cliOut('after-cancel', TINY, '--format', 'bitnet-rs'), await downloadZip(page, 'after-cancel'));
  });
});

test('the API cancelled through its AbortSignal (convertFiles): an AbortError, the workers stopped, nothing left in OPFS', async () => {
  const input = bigModel();
  await withPage(async (page) => {
    await page.setInputFiles('#folder', input);
    const got = (await page.evaluate(`(async () => {
      const web = await import('/js/web/index.js');
      const stop = new AbortController();
      let seen = 0;
      const run = web.convertFiles([...document.getElementById('folder').files], { format: 'bitnet-rs', kernels: 'scalar', signal: stop.signal,
        onProgress: (p) => { seen = p.tensorsDone; if (p.tensorsDone >= 1) stop.abort(); } });
      const error = await run.then(() => 'finished', (e) => e.name + ': ' + e.message);
      return { error, seen };
    })()`)) as { error: string; seen: number };
    assert.is(got.error, 'AbortError: the conversion was cancelled');
    assert.ok(got.seen >= 1, 'cancelled while converting');
    assert.equal(await opfsRuns(page), [], 'nothing left in OPFS');
  });
});

/** Makes showDirectoryPicker hand out an OPFS folder (what a user would pick), or fail with `error`. */
async function fakePicker(page: Page, error?: string): Promise<void> {
  await page.evaluate(`(() => {
    window.showDirectoryPicker = async () => {
      ${error ? `throw new DOMException('the picker failed on purpose', ${JSON.stringify(error)});` : ''}
      const root = await navigator.storage.getDirectory();
      return root.getDirectoryHandle('picked-by-user', { create: true });
    };
  })()`);
}

async function pickedHashes(page: Page, name: string): Promise<Record<string, string>> {
  return (await page.evaluate(`(async () => {
    const root = await navigator.storage.getDirectory();
    const dir = await (await root.getDirectoryHandle('picked-by-user')).getDirectoryHandle(${JSON.stringify(name)});
    const out = {};
    for await (const [n, h] of dir.entries()) {
      const b = await (await h.getFile()).arrayBuffer();
      out[n] = [...new Uint8Array(await crypto.subtle.digest('SHA-256', b))].map((x) => x.toString(16).padStart(2, '0')).join('');
    }
    return out;
  })()`)) as Record<string, string>;
}

test('saving into a picked folder that holds the output: "Replace it" replaces it without asking again; the Replace box does it up front', async () => {
  const want = cliOut('replace', TINY, '--format', 'bitnet-rs-safetensors');
  const hashesOf = (dir: string) => Object.fromEntries(readdirSync(dir).map((f) => [f, createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')]));
  const hashes = hashesOf(want);
  const second = hashesOf(cliOut('replace-1', TINY, '--format', 'bitnet-rs-safetensors', '--timestamp', '1'));
  assert.not.equal(second, hashes, 'a timestamp of its own tells the runs apart');
  await withPage(async (page) => {
    await fakePicker(page);
    await page.setInputFiles('#folder', TINY);
    await options(page, { format: 'bitnet-rs-safetensors', destination: 'folder' });
    assert.is(await page.isVisible('#replace'), true);
    await page.click('#convert');
    await finished(page);
    assert.is(await page.isHidden('#error'), true, await errorText(page));
    await page.click('#convert');
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await errorText(page), /tiny-model-bitnet-rs-safetensors: the output folder already exists in the chosen folder; pick another folder, or replace it$/, await errorText(page));
    assert.is(await page.isVisible('#replace-existing'), true);
    // the replacing run has a timestamp of its own (manifest.json records it): a folder left alone would keep the first run's
    await page.fill('#timestamp', '1');
    await page.click('#replace-existing');
    await page.waitForSelector('#result:not([hidden])');
    assert.equal(await pickedHashes(page, 'tiny-model-bitnet-rs-safetensors'), second);
    await page.fill('#timestamp', '0');
    await page.check('#replace');
    // the last result stays shown until the picker answers: wait for this run's own
    await page.$eval('#result-state', (e) => (e.textContent = ''));
    await page.click('#convert');
    await page.waitForFunction(() => document.getElementById('result-state')!.textContent !== '' || !document.getElementById('error')!.hidden);
    assert.is(await page.isHidden('#error'), true, await errorText(page));
    assert.equal(await pickedHashes(page, 'tiny-model-bitnet-rs-safetensors'), hashes);
  });
});

test('a directory picker that fails is shown in words; one the user closes is not an error', async () => {
  await withPage(async (page) => {
    await page.setInputFiles('#folder', TINY);
    await options(page, { format: 'bitnet-rs', destination: 'folder' });
    await fakePicker(page, 'SecurityError');
    await page.click('#convert');
    await page.waitForSelector('#error:not([hidden])');
    assert.is(await errorText(page), 'The folder picker failed: the picker failed on purpose. Pick another folder, or choose "Save to: downloads".');
    await page.setInputFiles('#folder', TINY); // a new pick clears the error
    assert.is(await page.isHidden('#error'), true);
    await fakePicker(page, 'AbortError');
    await page.click('#convert');
    await page.waitForTimeout(300);
    assert.is(await page.isHidden('#error'), true, `closing the picker is no error: ${await errorText(page)}`);
    assert.is(await page.isHidden('#progress-box'), true);
  });
});

test('refusals name the alternative in the page\'s words: GGUF type auto on a small model, an engine that does not compute the model', async () => {
  await withPage(async (page) => {
    await page.setInputFiles('#folder', TINY);
    await options(page, { format: 'gguf' });
    await page.click('#convert');
    await finished(page);
    assert.match(await errorText(page), /^The conversion failed: tensor blk\.0\.attn_q\.weight: unsupported: expected rows of a multiple of 128 values for i2_s .*; "GGUF type" f16 \(Advanced options\) holds them$/, await errorText(page));
    assert.is(await page.$eval('#error', (e) => e.classList.contains('notice')), false, 'a failure is shown as one');
    await page.selectOption('#engine', 'bitnet.cpp'); // which fixes the GGUF type at i2_s
    await page.click('#convert');
    await finished(page);
    assert.match(await errorText(page), /"GGUF type" f16 \(Advanced options\) holds them\. To set it, choose "Run it in: a format I choose" first\.$/, await errorText(page));
    await page.selectOption('#engine', 'llama.cpp');
    await page.click('#convert');
    await finished(page);
    assert.match(await errorText(page), /^The conversion failed: unsupported: expected a model llama\.cpp computes \(GGUF arch bitnet or llama\), found one that needs arch bitnet-b1\.58 \(hidden_act relu2 with sub-norms\); run it in bitnet\.cpp \(microsoft\/BitNet\)$/, await errorText(page));
  });
});

test('engine first: "Microsoft\'s GPU kernels" sets the prefill weights (shown, locked) and writes the CLI\'s --engine ms-gpu bytes, both files, with the command that makes them .pt', async () => {
  const want = cliOut('engine-gpu', TINY, '--engine', 'ms-gpu');
  assert.ok(readdirSync(want).includes('model_state_fp16.safetensors'));
  await withPage(async (page) => {
    await page.setInputFiles('#folder', TINY);
    await page.selectOption('#engine', 'ms-gpu');
    assert.match((await page.textContent('#engine-about')) ?? '', /^Writes ms-gpu \(prefill weights bf16\)\./);
    await openAdvanced(page);
    assert.is(await page.inputValue('#ms-gpu-prefill'), 'bf16');
    assert.is(await page.isDisabled('#ms-gpu-prefill'), true, 'the engine sets it');
    await page.selectOption('#destination', 'download');
    await page.fill('#timestamp', '0');
    await page.click('#convert');
    await finished(page);
    assert.is(await page.isHidden('#error'), true, await errorText(page));
    sameFiles(want, await downloadZip(page, 'engine-gpu'));
    assert.match((await page.textContent('#run-command')) ?? '', /load_file\(f'tiny-model-ms-gpu\/model_state_\{k\}\.safetensors'\).* for k in \('int2', 'fp16'\)\]", then in gpu\/: python3 generate\.py tiny-model-ms-gpu\//);
    // back to a format of one's own: the option is the user's again, with the value it had (the default)
    await page.selectOption('#engine', 'format');
    assert.is(await page.isDisabled('#ms-gpu-prefill'), false);
    assert.is(await page.inputValue('#ms-gpu-prefill'), 'none', 'the engine\'s value does not stay');
  });
});

test('engine first: "transformers" writes the CLI\'s --engine transformers bytes, shows the command to run it and the inspect summary the CLI\'s inspect reads back', async () => {
  const want = cliOut('engine', TINY, '--engine', 'transformers');
  const inspected = JSON.parse(cli('inspect', '--json', want)) as { tensors: { ternary?: { rows: number; cols: number; fractions: { minus: number; zero: number; plus: number } } }[] };
  const ternary = inspected.tensors.flatMap((t) => (t.ternary ? [t.ternary] : []));
  const values = ternary.reduce((s, t) => s + t.rows * t.cols, 0);
  const share = (k: 'minus' | 'zero' | 'plus') => `${((ternary.reduce((s, t) => s + t.fractions[k] * t.rows * t.cols, 0) / values) * 100).toFixed(1)}%`;
  await withPage(async (page) => {
    await page.setInputFiles('#folder', TINY);
    await page.selectOption('#engine', 'transformers');
    assert.match((await page.textContent('#engine-about')) ?? '', /^Writes hf-packed\./);
    await openAdvanced(page);
    assert.is(await page.inputValue('#format'), 'hf-packed');
    assert.is(await page.isDisabled('#format'), true, 'the engine sets the format');
    await page.selectOption('#destination', 'download');
    await page.fill('#timestamp', '0');
    await page.click('#convert');
    await finished(page);
    assert.is(await page.isHidden('#error'), true, await errorText(page));
    sameFiles(want, await downloadZip(page, 'engine'));
    assert.is(
      await page.textContent('#run-command'),
      'python -c \'from transformers import pipeline; print(pipeline("text-generation", model="tiny-model-hf-packed")("Hello", max_new_tokens=32))\'',
    );
    assert.is(
      await page.textContent('#ternary'),
      `Inspect: 2 layers, ${ternary.length} ternary tensors, ${values.toLocaleString('en')} values: -1 ${share('minus')}, 0 ${share('zero')}, +1 ${share('plus')}.`,
    );
  });
});

test('engine first, GGUF: llama.cpp on a SiLU model writes what the explicit flags (arch bitnet, Q2_0) write, with its command; bitnet.cpp refuses it, naming the engines that run it', async () => {
  const input = join(tmp, 'silu-model');
  generateCheckpoint({ outDir: input, layout: '1bitllm', seed: 7, shape: { hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 300 } });
  const want = cliOut('llama-engine', input, '--format', 'gguf', '--gguf-arch', 'bitnet', '--gguf-type', 'q2_0');
  await withPage(async (page) => {
    await page.setInputFiles('#folder', input);
    await page.selectOption('#engine', 'bitnet.cpp');
    await page.selectOption('#destination', 'download');
    await openAdvanced(page);
    await page.fill('#timestamp', '0');
    await page.click('#convert');
    await finished(page);
    assert.match(await errorText(page), /found one that needs arch bitnet \(hidden_act silu with sub-norms\); run it in llama\.cpp, LM Studio, ollama$/, await errorText(page));
    await page.selectOption('#engine', 'llama.cpp');
    await page.click('#convert');
    await page.waitForSelector('#result:not([hidden])');
    // a single-file format: the button downloads that file, not a .zip
    assert.match((await page.textContent('#download-all')) ?? '', /^Download silu-model-q2_0\.gguf \(\d+\.\d MiB\)$/);
    const [d] = await Promise.all([page.waitForEvent('download'), page.click('#download-all')]);
    assert.is(d.suggestedFilename(), 'silu-model-q2_0.gguf');
    const saved = join(tmp, 'llama-engine.gguf');
    await d.saveAs(saved);
    assert.ok(readFileSync(saved).equals(readFileSync(join(want, 'silu-model-q2_0.gguf'))), 'the .gguf downloaded is the CLI\'s');
    assert.is(await page.textContent('#run-command'), 'llama-cli -m ./silu-model-q2_0.gguf -p "Hello" -n 64 -ngl 99', 'the .gguf where it was downloaded, by itself');
  });
});

test('keyboard only: every control is reached with Tab and has a visible label; pick, choose, convert and download with keys', async () => {
  await withPage(async (page) => {
    // listening from the start: playwright intercepts file choosers only once a listener is set up
    const chooserOpened = page.waitForEvent('filechooser', { timeout: 60_000 });
    await page.selectOption('#engine', 'format');
    await openAdvanced(page);
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    const reached: string[] = [];
    for (let i = 0; i < 30; i++) {
      await page.keyboard.press('Tab');
      const id = await page.evaluate(() => {
        const a = document.activeElement as HTMLElement | null;
        return a?.id || (a?.tagName === 'SUMMARY' ? 'advanced-summary' : a?.tagName ?? '');
      });
      if (reached.includes(id)) break;
      reached.push(id);
    }
    for (const id of ['pick-folder', 'pick-files', 'model-name', 'engine', 'destination', 'replace', 'advanced-summary', 'format', 'kernels', 'rule', 'timestamp']) {
      assert.ok(reached.includes(id), `${id} reached by Tab (${reached.join(', ')})`);
    }
    // every enabled form control has a visible label naming it; every button says what it does
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('select, input:not([type=file]), button')]
        .filter((e) => (e as HTMLElement).offsetParent !== null)
        .filter((e) => (e.tagName === 'BUTTON' ? !(e.textContent ?? '').trim() : !(e as HTMLInputElement).labels?.[0] || (e as HTMLInputElement).labels![0]!.offsetParent === null))
        .map((e) => e.id),
    );
    assert.equal(unlabelled, []);
    await page.focus('#pick-folder');
    await page.keyboard.press('Enter');
    const chooser = await chooserOpened;
    await chooser.setFiles(TINY);
    await page.waitForFunction(() => (document.getElementById('picked')!.textContent ?? '').startsWith('tiny-model: '));
    await page.focus('#engine');
    await page.keyboard.type('trans');
    assert.is(await page.inputValue('#engine'), 'transformers');
    await page.focus('#destination');
    await page.keyboard.type('down');
    assert.is(await page.inputValue('#destination'), 'download');
    await page.focus('#timestamp');
    await page.keyboard.type('0');
    await page.focus('#convert');
    await page.keyboard.press('Enter');
    await finished(page);
    assert.is(await page.isHidden('#error'), true, await errorText(page));
    await page.focus('#download-all');
    const [d] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
    assert.is(d.suggestedFilename(), 'tiny-model-hf-packed.zip');
    // a new pick clears the last result
    await page.setInputFiles('#folder', bigModel());
    assert.is(await page.isHidden('#result'), true, 'the old result is gone');
    assert.is(await page.isHidden('#progress-box'), true);
  });
});

/** axe-core's WCAG 2 A/AA violations on the page as it is now (run in the page; test/tools pins axe-core). */
async function axeViolations(page: Page): Promise<string[]> {
  const source = readFileSync(join(TOOLS, 'node_modules/axe-core/axe.min.js'), 'utf8');
  await page.evaluate(source);
  const found = (await page.evaluate(`axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }).then((r) => r.violations.map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).join(', ')))`)) as string[];
  return found;
}

test('accessibility: axe-core finds no WCAG 2.1 A/AA violation on the page, before and after a conversion, advanced options open', async () => {
  await withPage(async (page) => {
    assert.equal(await axeViolations(page), [], 'the page as loaded');
    await page.setInputFiles('#folder', TINY);
    await options(page, { format: 'hf-packed' });
    await page.click('#convert');
    await finished(page);
    assert.is(await page.isHidden('#error'), true, await errorText(page));
    assert.equal(await axeViolations(page), [], 'the page with a result');
  });
});

test('the page logged nothing (no console messages, no page errors)', () => {
  assert.equal(noise, []);
});

test.run();

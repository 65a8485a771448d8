// The command line as a user meets it: help, the demo path, one-line errors and exit codes,
// --force, the lock, and a run killed with SIGKILL halfway.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTmpDir } from './helpers/safetensors-file.js';
import { ENGINE_SHAPE } from './helpers/engine.js';
import { generateCheckpoint } from '../build/js/synth/generate.js';
import { parseGguf } from '../build/js/formats/gguf.js';
import { pageForEndpoint } from '../build/js/cli/serve.js';

const CLI = new URL('../build/js/cli/main.js', import.meta.url).pathname;
const GOLDEN = new URL('./fixtures/golden-tiny/', import.meta.url).pathname;
const root = makeTmpDir('bitnet-cli-');

function cli(args: string[], cwd = root) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function errorLines(err: string): string[] {
  return err.split('\n').filter((l) => l.startsWith('error:'));
}

test('serve --hf-endpoint: the page may connect to that origin and is told the address; a bad address refused in one line', () => {
  const html = readFileSync(new URL('../build/js/web/page/index.html', import.meta.url), 'utf8');
  const page = pageForEndpoint(html, 'http://127.0.0.1:1234/mirror/');
  assert.match(page, /connect-src 'self' blob: http:\/\/127\.0\.0\.1:1234 https:\/\/huggingface\.co/);
  assert.ok(page.includes('<meta name="bitnet-converter-hub" content="http://127.0.0.1:1234/mirror">'));
  assert.is(page.replace(/<meta name="bitnet-converter-hub"[^>]*>\n/, '').replace(' http://127.0.0.1:1234', ''), html, 'nothing else changed');
  const { code, err } = cli(['serve', '--port', '0', '--hf-endpoint', 'ftp://mirror.example']);
  assert.is(code, 1);
  assert.is(err.trim(), 'error: --hf-endpoint: expected an http(s) address such as https://huggingface.co, found "ftp://mirror.example"');
});

test('--help explains every option', () => {
  const { code, out } = cli(['--help']);
  assert.is(code, 0);
  for (const opt of ['--input-dir', '--output-dir', '--force', '--threads', '--bincode', '--scale-granularity', '--timestamp', '--kernels', '--chunk-mib', '--quiet', '--verbose', '--log-dir', 'synth', 'demo']) {
    assert.match(out, opt);
  }
});

test('the default input missing: one line saying how to get the model or run the demo', () => {
  const cwd = join(root, 'empty');
  mkdirSync(cwd);
  const { code, err } = cli([], cwd);
  assert.is(code, 1);
  assert.is(errorLines(err).length, 1, err);
  assert.match(err, /models\/Original\/microsoft\/bitnet-b1\.58-2B-4T-bf16/);
  assert.match(err, /huggingface-cli download/);
  assert.match(err, /bitnet-converter demo/);
  assert.ok(readdirSync(join(cwd, 'logs'))[0].startsWith('bitnet-converter-'), 'log file written');
});

test('convert, then refuse an existing output without --force, replace it with --force', () => {
  const out = join(root, 'converted');
  const first = cli(['--input-dir', GOLDEN, '--output-dir', out, '--threads', '1']);
  assert.is(first.code, 0, first.err);
  assert.match(first.err, /done in .* peak memory \d+ MiB/);
  assert.match(first.err, / kernels, 1 thread(;|$)/m, 'one thread, singular');
  const before = readFileSync(join(out, 'manifest.json'), 'utf8');
  writeFileSync(join(out, 'marker'), 'mine');
  const refused = cli(['--input-dir', GOLDEN, '--output-dir', out]);
  assert.is(refused.code, 1);
  assert.equal(errorLines(refused.err), [`error: ${out}: the output folder already exists; pass --force to replace it (it is replaced only after a successful conversion)`]);
  assert.ok(existsSync(join(out, 'marker')), 'untouched');
  const forced = cli(['--input-dir', GOLDEN, '--output-dir', out, '--force', '--quiet']);
  assert.is(forced.code, 0, forced.err);
  assert.is(forced.err, '', '--quiet prints nothing');
  assert.not.ok(existsSync(join(out, 'marker')), 'replaced');
  assert.is(readFileSync(join(out, 'manifest.json'), 'utf8'), before, 'same bytes with the same SOURCE_DATE_EPOCH');
});

test('--json-summary writes the run\'s summary for scripts: times, bytes, memory, files with sha256', () => {
  const out = join(root, 'summary-out');
  const file = join(root, 'summary.json');
  const r = cli(['--input-dir', GOLDEN, '--output-dir', out, '--quiet', '--format', 'hf-packed', '--json-summary', file]);
  assert.is(r.code, 0, r.err);
  const s = JSON.parse(readFileSync(file, 'utf8'));
  assert.is(s.output.format, 'hf-packed');
  assert.is(s.input.layout, 'hf-bitnet');
  assert.ok(s.seconds > 0 && s.input_gb_per_second > 0 && s.peak_rss_bytes > 1e6);
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  const model = s.output.files.find((f: { name: string }) => f.name === 'model.safetensors');
  assert.is(model.sha256, manifest.files.find((f: { name: string }) => f.name === 'model.safetensors').sha256);
});

test('a failing conversion leaves an existing output intact, even with --force', () => {
  const bad = join(root, 'bad-input');
  cpSync(GOLDEN, bad, { recursive: true });
  const st = join(bad, 'model.safetensors');
  writeFileSync(st, readFileSync(st).subarray(0, 150_000)); // truncated download
  const out = join(root, 'kept');
  assert.is(cli(['--input-dir', GOLDEN, '--output-dir', out]).code, 0);
  const r = cli(['--input-dir', bad, '--output-dir', out, '--force']);
  assert.is(r.code, 1);
  assert.is(errorLines(r.err).length, 1, r.err);
  assert.match(r.err, /model\.safetensors/);
  assert.ok(existsSync(join(out, 'block_1.bin')));
  assert.equal(readdirSync(root).filter((f) => f.startsWith('.kept')), [], 'no temporary folder or lock left');
});

test('--verbose adds the stack; bad option values are refused', () => {
  const r = cli(['--input-dir', join(root, 'nowhere'), '--verbose']);
  assert.is(r.code, 1);
  assert.match(r.err, /\n\s+at /);
  const t = cli(['--threads', 'many']);
  assert.is(t.code, 1);
  assert.match(t.err, /--threads must be a whole number/);
  const b = cli(['--bincode', 'json']);
  assert.is(b.code, 1);
  assert.match(b.err, /standard, legacy/);
  const c = cli(['--chunk-mib', '4096']);
  assert.is(c.code, 1);
  assert.match(c.err, /--chunk-mib must be a whole number from 1 to 256/);
  writeFileSync(join(root, 'a-file'), 'x');
  const f = cli(['--input-dir', GOLDEN, '--output-dir', join(root, 'a-file', 'out')]);
  assert.is(f.code, 1);
  assert.equal(errorLines(f.err), [`error: ${join(root, 'a-file')}: the parent of the output folder is a file, not a folder`]);
});

test('a second run into an output being written is refused by the lock', () => {
  const out = join(root, 'locked');
  writeFileSync(join(root, '.locked.lock'), `${process.pid}\n`); // this test process is alive
  const r = cli(['--input-dir', GOLDEN, '--output-dir', out]);
  assert.is(r.code, 1);
  assert.match(r.err, /another conversion \(process \d+\) is writing this output/);
  // a lock left by a dead process is taken over
  writeFileSync(join(root, '.locked.lock'), '999999999\n');
  assert.is(cli(['--input-dir', GOLDEN, '--output-dir', out]).code, 0);
  assert.not.ok(existsSync(join(root, '.locked.lock')));
});

test('a malformed manifest.json: one typed line naming it and what was expected (verify, verify --against, inspect)', () => {
  const out = join(root, 'manifest-broken');
  assert.is(cli(['--input-dir', GOLDEN, '--output-dir', out, '--quiet']).code, 0);
  const good = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  const cases: [string, string][] = [
    ['{"format": "bitnet-rs", "files": [{"name": "bloc', 'expected valid JSON, found invalid JSON (Unterminated string'],
    ['', 'expected valid JSON, found invalid JSON'],
    ['null', 'expected a JSON object (the manifest a conversion writes), found null'],
    ['[1, 2]', 'expected a JSON object (the manifest a conversion writes), found [1, 2]'],
    [JSON.stringify({ ...good, files: 3 }), 'expected "files" to be a list of {name, bytes, sha256}, found 3'],
    [JSON.stringify({ ...good, files: undefined }), 'expected "files" to be a list of {name, bytes, sha256}, found nothing'],
    [JSON.stringify({ ...good, files: [null] }), 'expected files[0] to be an object {name, bytes, sha256}, found null'],
    [JSON.stringify({ ...good, files: [{ ...good.files[0], sha256: 'abc' }] }), 'expected files[0].sha256 to be 64 lower-case hex digits, found "abc"'],
    [JSON.stringify({ ...good, files: [{ ...good.files[0], bytes: -1 }] }), 'expected files[0].bytes to be a whole number of bytes, found -1'],
    [JSON.stringify({ ...good, files: [good.files[0], good.files[0]] }), 'expected files[1].name to be listed once, found "embedding.bin" again'],
    [JSON.stringify({ ...good, files: [{ ...good.files[0], name: 'manifest.json' }] }), 'expected files[0].name to be a file other than manifest.json'],
    [JSON.stringify({ ...good, format: 'onnx' }), 'expected "format" to be one of bitnet-rs, bitnet-rs-safetensors, hf-packed, ms-gpu, gguf, found "onnx"'],
    [JSON.stringify({ ...good, options: 'fast' }), 'expected "options" to be an object, found "fast"'],
    [JSON.stringify({ ...good, options: { ...good.options, rule: 7 } }), 'expected "options.rule" to be one of offline, online, found 7'],
    [JSON.stringify({ ...good, options: { ...good.options, bincode: 'json' } }), 'expected "options.bincode" to be one of standard, legacy, found "json"'],
    [JSON.stringify({ ...good, conversion_timestamp: 'now' }), 'expected "conversion_timestamp" to be a whole number of seconds, found "now"'],
    [' '.repeat(17 << 20), 'expected a manifest of at most 16777216 bytes, found 17825792 bytes'],
  ];
  const manifest = join(out, 'manifest.json');
  for (const [text, expected] of cases) {
    writeFileSync(manifest, text);
    for (const args of [['verify', out], ['verify', out, '--against', GOLDEN], ['inspect', out]]) {
      const r = cli(args);
      assert.is(r.code, 1, `${args[0]}: ${r.out}${r.err}`);
      assert.equal(errorLines(r.err), [`error: ${manifest}: corrupt file: ${errorLines(r.err)[0]?.split(': corrupt file: ')[1]}`], r.err);
      assert.ok(errorLines(r.err)[0].includes(expected), `${args.join(' ')}: ${r.err}`);
    }
  }
});

test('synth writes a sharded checkpoint that converts', () => {
  const m = join(root, 'synth');
  const s = cli(['synth', '--preset', 'odd', '--dtype', 'F16', '--shards', '2', '--out', m]);
  assert.is(s.code, 0, s.err);
  assert.ok(existsSync(join(m, 'model.safetensors.index.json')));
  assert.is(cli(['--input-dir', m, '--output-dir', join(root, 'synth-out')]).code, 0);
});

/** Starts a conversion of `model` over `out` and resolves once its temporary folder holds a file. */
async function startConversion(model: string, out: string) {
  const child = spawn(process.execPath, [CLI, '--input-dir', model, '--output-dir', out, '--force', '--threads', '1', '--chunk-mib', '1'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const prefix = `.${out.split('/').pop()}.partial-`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const tmp = readdirSync(root).find((f) => f.startsWith(prefix));
    if (tmp && readdirSync(join(root, tmp)).length > 0) break;
    if (Date.now() > deadline) throw new Error('the conversion never started writing');
    await new Promise((r) => setTimeout(r, 5));
  }
  return { child, exited, stderr: () => stderr };
}

let bigModel = '';
function big(): string {
  if (!bigModel) {
    bigModel = join(root, 'big');
    assert.is(cli(['synth', '--preset', 'small', '--out', bigModel]).code, 0);
  }
  return bigModel;
}

test('SIGKILL halfway leaves the previous output intact and the next run succeeds', async () => {
  const out = join(root, 'victim');
  assert.is(cli(['--input-dir', GOLDEN, '--output-dir', out]).code, 0);
  const before = readFileSync(join(out, 'manifest.json'));
  const run = await startConversion(big(), out);
  run.child.kill('SIGKILL');
  await run.exited;
  assert.ok(readFileSync(join(out, 'manifest.json')).equals(before), 'previous output intact');
  assert.ok(readdirSync(root).some((f) => f.startsWith('.victim.partial-')), 'the killed run left its temporary folder');
  const again = cli(['--input-dir', big(), '--output-dir', out, '--force']);
  assert.is(again.code, 0, again.err);
  assert.equal(readdirSync(root).filter((f) => f.startsWith('.victim')), [], 'stale temporary folder and lock removed');
  assert.ok(existsSync(join(out, 'block_3.bin')));
});

test('a run killed with SIGKILL and not yet reaped (a zombie) holds no lock: the next run takes it over', async () => {
  const out = join(root, 'zombie');
  // sh starts the conversion, then becomes `sleep`, which never reaps it: killed, it stays a zombie
  const parent = spawn('sh', ['-c', `"${process.execPath}" "${CLI}" --input-dir "${big()}" --output-dir "${out}" --threads 1 --chunk-mib 1 --quiet & echo $!; exec sleep 120`], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    const pid = Number(await new Promise<string>((r) => parent.stdout!.once('data', (d) => r(String(d)))));
    const state = () => {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.charAt(stat.lastIndexOf(')') + 2);
    };
    for (const deadline = Date.now() + 20_000; !readdirSync(root).some((f) => f.startsWith('.zombie.partial-')); ) {
      if (Date.now() > deadline) throw new Error('the conversion never started writing');
      await new Promise((r) => setTimeout(r, 5));
    }
    process.kill(pid, 'SIGKILL');
    for (const deadline = Date.now() + 5000; state() !== 'Z'; ) {
      if (Date.now() > deadline) throw new Error(`process ${pid} did not become a zombie`);
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.is(readFileSync(join(root, '.zombie.lock'), 'utf8').trim(), String(pid), 'the zombie left its lock');
    process.kill(pid, 0); // what the lock check used to trust: a zombie still takes signals
    const again = cli(['--input-dir', GOLDEN, '--output-dir', out]);
    assert.is(again.code, 0, again.err);
    assert.equal(readdirSync(root).filter((f) => f.startsWith('.zombie')), [], 'lock and temporary folder taken over and removed');
  } finally {
    parent.kill('SIGKILL');
  }
});

const hasStrace = spawnSync('strace', ['-V']).status === 0;

test('a kill at the second rename of a --force replace: both outputs complete, named by verify and inspect, the previous one put back by the next run', () => {
  assert.ok(hasStrace, 'strace is not installed: node scripts/install-engines.mjs installs it as root (apt-get install strace)');
  const out = join(root, 'swap');
  assert.is(cli(['--input-dir', GOLDEN, '--output-dir', out, '--quiet']).code, 0);
  const before = readFileSync(join(out, 'manifest.json'));
  // strace delivers SIGKILL as the converter enters its second rename(2) (x86-64 uses rename, arm64 renameat)
  const renames = 'rename,renameat,renameat2';
  const killed = spawnSync('strace', ['-f', '-qq', '-o', '/dev/null', '-e', `trace=${renames}`, '-e', `inject=${renames}:signal=SIGKILL:when=2`,
    process.execPath, CLI, '--input-dir', GOLDEN, '--output-dir', out, '--force', '--format', 'hf-packed', '--threads', '1', '--quiet'], { cwd: root, encoding: 'utf8' });
  assert.is(killed.signal, 'SIGKILL', killed.stderr);
  // the one window README "The output folder" documents: no output path, both outputs complete beside it
  assert.not.ok(existsSync(out), 'killed between the two renames');
  const left = readdirSync(root).filter((f) => f.startsWith('.swap.')).sort();
  const old = left.find((f) => f.startsWith('.swap.old-'))!;
  const partial = left.find((f) => f.startsWith('.swap.partial-'))!;
  assert.ok(old && partial, left.join(', '));
  assert.ok(readFileSync(join(root, old, 'manifest.json')).equals(before), 'the previous output, complete');
  const fresh = cli(['verify', join(root, partial)]);
  assert.is(fresh.code, 0, fresh.out + fresh.err);
  assert.match(fresh.out, /^verified: .*: 2 files/, 'the new output, complete');
  const pid = old.slice('.swap.old-'.length);
  const named = `error: ${out}: no output folder: process ${pid} ended between the two renames of a --force replace; the previous output is complete at ${join(root, old)} and the new one at ${join(root, partial)}; the next conversion into ${out} puts the previous one back (or move it back yourself: mv ${join(root, old)} ${out})`;
  for (const args of [['verify', out], ['verify', out, '--against', GOLDEN], ['inspect', out]]) {
    const r = cli(args);
    assert.is(r.code, 1, args.join(' '));
    assert.equal(errorLines(r.err), [named], r.err);
  }
  // the next run puts the previous output back and says so, then refuses it without --force
  const next = cli(['--input-dir', GOLDEN, '--output-dir', out]);
  assert.is(next.code, 1, next.err);
  assert.match(next.err, `warning: ${out}: put the previous output back from ${join(root, old)}: process ${pid} ended between the two renames of its replace`);
  assert.match(next.err, 'the output folder already exists; pass --force');
  assert.ok(readFileSync(join(out, 'manifest.json')).equals(before), 'the previous output is back');
  assert.equal(readdirSync(root).filter((f) => f.startsWith('.swap')), [], 'nothing left beside it');
});

test('Ctrl-C (SIGINT) and SIGTERM remove the temporary folder at once and keep the previous output', async () => {
  const out = join(root, 'interrupted');
  assert.is(cli(['--input-dir', GOLDEN, '--output-dir', out]).code, 0);
  const before = readFileSync(join(out, 'manifest.json'));
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    const run = await startConversion(big(), out);
    run.child.kill(signal);
    assert.is(await run.exited, code, run.stderr());
    assert.match(run.stderr(), `interrupted by ${signal}`);
    assert.ok(readFileSync(join(out, 'manifest.json')).equals(before), 'previous output intact');
    assert.equal(readdirSync(root).filter((f) => f.startsWith('.interrupted')), [], 'no temporary folder or lock left');
  }
});

test('--engine picks the format, type and arch from the model, refuses an engine that cannot compute it, and prints the command that runs the output', () => {
  const silu = join(root, 'engine-silu');
  const relu2 = join(root, 'engine-relu2');
  generateCheckpoint({ outDir: silu, layout: '1bitllm', shape: ENGINE_SHAPE, seed: 5 });
  generateCheckpoint({ outDir: relu2, layout: 'hf-bitnet', shape: ENGINE_SHAPE, seed: 6 });
  const convertFor = (engine: string, input: string, name: string) => {
    const out = join(root, name);
    const r = cli(['--input-dir', input, '--output-dir', out, '--engine', engine]);
    return { ...r, out, manifest: r.code === 0 ? JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) : undefined };
  };
  const ggufOf = (out: string) => {
    const name = readdirSync(out).find((f) => f.endsWith('.gguf'))!;
    const head = parseGguf(new Uint8Array(readFileSync(join(out, name))), name);
    return { path: join(out, name), arch: head.kvs.get('general.architecture')!.value, types: new Set(head.tensors.map((t) => t.type)) };
  };
  // llama.cpp: a 1bitLLM-style model (SiLU with sub-norms) is arch bitnet, written as Q2_0 (its GPU type)
  const llama = convertFor('llama.cpp', silu, 'engine-llama');
  assert.is(llama.code, 0, llama.err);
  const g = ggufOf(llama.out);
  assert.is(g.arch, 'bitnet');
  assert.ok(g.types.has('Q2_0'), [...g.types].join());
  assert.match(llama.err, `run it in llama.cpp: llama-cli -m ${g.path} -p "Hello" -n 64 -ngl 99`);
  const ollama = convertFor('ollama', silu, 'engine-ollama');
  assert.is(ollama.code, 0, ollama.err);
  assert.match(ollama.err, `echo 'FROM ${ggufOf(ollama.out).path}' > Modelfile && ollama create engine-ollama -f Modelfile`);
  // bitnet.cpp: a 2B-4T style (relu2, sub-norms) model as I2_S, arch bitnet-b1.58
  const bitnet = convertFor('bitnet.cpp', relu2, 'engine-bitnet');
  assert.is(bitnet.code, 0, bitnet.err);
  assert.is(ggufOf(bitnet.out).arch, 'bitnet-b1.58');
  assert.ok(ggufOf(bitnet.out).types.has('I2_S'));
  // llama.cpp does not compute relu2: refused in one line naming the engine that does, nothing written
  const refused = convertFor('llama.cpp', relu2, 'engine-refused');
  assert.is(refused.code, 1);
  assert.is(errorLines(refused.err).length, 1, refused.err);
  assert.match(refused.err, /needs arch bitnet-b1\.58 \(hidden_act relu2 with sub-norms\); run it in bitnet\.cpp/);
  assert.not.ok(existsSync(refused.out));
  const tf = convertFor('transformers', relu2, 'engine-tf');
  assert.is(tf.code, 0, tf.err);
  assert.is(tf.manifest.format, 'hf-packed');
  assert.match(tf.err, `model="${tf.out}"`);
  // Microsoft's GPU kernels: generate.py loads the int2 file and the BF16 prefill file; the run text makes both .pt
  const gpu = convertFor('ms-gpu', relu2, 'engine-gpu');
  assert.is(gpu.code, 0, gpu.err);
  assert.is(gpu.manifest.format, 'ms-gpu');
  assert.is(gpu.manifest.options.ms_gpu_prefill, 'bf16');
  assert.equal(gpu.manifest.files.map((f: { name: string }) => f.name).filter((n: string) => n.startsWith('model_state')).sort(), ['model_state_fp16.safetensors', 'model_state_int2.safetensors']);
  assert.match(gpu.err, `torch.save(s.load_file(f'${gpu.out}/model_state_{k}.safetensors'), f'${gpu.out}/model_state_{k}.pt') for k in ('int2', 'fp16')]`);
  // an option the engine sets, given otherwise, is refused in one line, nothing written (auto leaves the choice to the engine)
  const against = cli(['--input-dir', relu2, '--output-dir', join(root, 'engine-gpu-none'), '--engine', 'ms-gpu', '--ms-gpu-prefill', 'none']);
  assert.is(against.code, 1);
  assert.is(errorLines(against.err).length, 1, against.err);
  assert.match(against.err, '--engine ms-gpu sets --ms-gpu-prefill bf16, not none: drop --ms-gpu-prefill, or convert with --format ms-gpu instead of --engine');
  assert.not.ok(existsSync(join(root, 'engine-gpu-none')));
  const typed = cli(['--input-dir', relu2, '--output-dir', join(root, 'engine-typed'), '--engine', 'bitnet.cpp', '--gguf-type', 'tq2_0']);
  assert.is(typed.code, 1);
  assert.match(typed.err, '--engine bitnet.cpp sets --gguf-type i2_s, not tq2_0');
  const auto = cli(['--input-dir', relu2, '--output-dir', join(root, 'engine-auto'), '--engine', 'bitnet.cpp', '--gguf-type', 'auto']);
  assert.is(auto.code, 0, auto.err);
  const plain = cli(['--input-dir', relu2, '--output-dir', join(root, 'format-gpu'), '--format', 'ms-gpu']);
  assert.is(plain.code, 0, plain.err);
  assert.not.ok(existsSync(join(root, 'format-gpu', 'model_state_fp16.safetensors')), 'the format alone writes the int2 file only (--ms-gpu-prefill none)');
  const both = cli(['--input-dir', silu, '--output-dir', join(root, 'engine-both'), '--engine', 'ollama', '--format', 'gguf']);
  assert.is(both.code, 1);
  assert.match(both.err, "option '--engine <engine>' cannot be used with option '--format <format>'");
});

test.after(() => rmSync(root, { recursive: true, force: true }));
test.run();

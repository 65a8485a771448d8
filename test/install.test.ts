// The package as users get it: `npm pack`, published with its runtime dependencies to a local
// registry (verdaccio from test/tools, no uplinks, so nothing can come from anywhere else), then, in
// clean temporary folders with empty caches and no access to this repository's node_modules:
//   npx --yes bitnet-converter@VERSION --help / synth / convert (hf-packed and the default bitnet-rs),
//   `npm install` of it and an import of every entry of package.json `exports` (.wasm ones validated),
//   deno run npm:bitnet-converter@VERSION (Deno from test/tools) converting the same model, from the
//   folder and as hf:ORG/NAME from the local stand-in for the Hub (test/helpers/hub-server.ts): every
//   output file byte-identical to Node's.
// Needs test/tools installed (`npm test`'s pretest runs node scripts/install-engines.mjs); without
// it this test FAILS, it does not skip. Every command runs under a timeout and a failure names its
// step with the command's stderr; verdaccio is killed and the temporary folders removed in any case.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHubServer } from './helpers/hub-server.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const TOOLS = join(REPO, 'test/tools');
const PKG = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
const NAME: string = PKG.name;
const VERSION: string = PKG.version;
const SPEC = `${NAME}@${VERSION}`;
const INSTALL_HINT = 'run node scripts/install-engines.mjs (npm test runs it as pretest; CI does)';
const STEP_TIMEOUT_MS = 90_000;

const root = mkdtempSync(join(tmpdir(), 'bitnet-install-'));
const dir = (name: string) => {
  const d = join(root, name);
  mkdirSync(d, { recursive: true });
  return d;
};
let registry: ChildProcess | undefined;
let registryUrl = '';
let setupError = '';
const timings: string[] = [];

function cleanup(): void {
  if (registry && registry.exitCode === null && registry.signalCode === null) {
    try {
      registry.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(root, { recursive: true, force: true });
}
process.on('exit', cleanup); // also when uvu or a test dies halfway

/**
 * The environment of a user's shell: no npm_* variables inherited from `npm test`, no NODE_OPTIONS or
 * NODE_PATH, a HOME of its own; npm's cache, user config and registry point into the temporary folder.
 */
function userEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|node_options$|node_path$|init_cwd$|deno_|force_color$)/i.test(k)) continue; // FORCE_COLOR=0 (scripts/test.mjs) makes Deno colour
    env[k] = v;
  }
  return {
    ...env,
    HOME: home,
    NO_COLOR: '1',
    npm_config_userconfig: join(home, '.npmrc'),
    npm_config_cache: join(home, '.npm-cache'),
    npm_config_update_notifier: 'false',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    ...extra,
  };
}

interface Ran {
  stdout: string;
  stderr: string;
  ms: number;
}

const tail = (s: string, n = 4000) => {
  const plain = s.replace(/\x1b\[[0-9;]*m/g, '');
  return plain.length > n ? `...${plain.slice(-n)}` : plain;
};

/** Runs a command (in its own process group, killed whole on timeout); throws naming the step, with stderr. */
function run(step: string, cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Ran> {
  const t0 = Date.now();
  const timeoutMs = opts.timeoutMs ?? STEP_TIMEOUT_MS;
  const line = [cmd, ...args].map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    const fail = (why: string) =>
      reject(new Error(`${step} failed: \`${line}\` (in ${opts.cwd}) ${why}\n--- stderr ---\n${tail(stderr) || '(empty)'}\n--- stdout ---\n${tail(stdout, 1500) || '(empty)'}`));
    child.on('error', (e) => {
      clearTimeout(timer);
      fail(`could not start: ${e.message}`);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = Date.now() - t0;
      if (timedOut) fail(`timed out after ${timeoutMs / 1000} s and was killed`);
      else if (code !== 0) fail(`exited with ${code ?? signal}`);
      else resolve({ stdout, stderr, ms });
    });
  });
}

function installedVersion(name: string): string | undefined {
  try {
    return JSON.parse(readFileSync(join(TOOLS, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

/** The Deno binary of the npm package `deno` (its platform package, e.g. @deno/linux-x64-glibc). */
function denoBinary(): string | undefined {
  const scope = join(TOOLS, 'node_modules/@deno');
  if (existsSync(scope)) {
    for (const p of readdirSync(scope)) {
      for (const exe of ['deno', 'deno.exe']) if (existsSync(join(scope, p, exe))) return join(scope, p, exe);
    }
  }
  const bin = join(TOOLS, 'node_modules/.bin/deno');
  return existsSync(bin) ? bin : undefined;
}

function toolsProblem(): string | undefined {
  const pinned: Record<string, string> = JSON.parse(readFileSync(join(TOOLS, 'package.json'), 'utf8')).dependencies;
  for (const name of ['verdaccio', 'deno']) {
    const found = installedVersion(name);
    if (found !== pinned[name]) return `${name} ${pinned[name]} is not installed in test/tools (found ${found ?? 'nothing'})`;
  }
  if (!denoBinary()) return 'the deno package in test/tools has no binary for this platform';
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Every path (relative, '/'-separated) of the files below a folder. */
function filesBelow(base: string, sub = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(base, sub), { withFileTypes: true })) {
    const rel = sub ? `${sub}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...filesBelow(base, rel));
    else out.push(rel);
  }
  return out.sort();
}

/** The runtime dependency closure of the package, resolved to the folders npm installed in node_modules. */
function runtimeDependencies(): Map<string, string> {
  const found = new Map<string, string>(); // name@version -> folder
  const visit = (fromDir: string, deps: Record<string, string>, optional: Set<string>) => {
    for (const name of Object.keys(deps)) {
      // node resolution: the nearest node_modules/<name> from the requiring package upwards
      let folder: string | undefined;
      for (let d = resolve(fromDir); ; d = dirname(d)) {
        const candidate = join(d, 'node_modules', name);
        if (existsSync(join(candidate, 'package.json'))) {
          folder = candidate;
          break;
        }
        if (d === resolve(REPO) || d === dirname(d)) break;
      }
      if (!folder) {
        if (optional.has(name)) continue;
        throw new Error(`runtime dependency ${name} (needed by ${relative(REPO, fromDir) || NAME}) is not in node_modules: run npm ci`);
      }
      const pkg = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'));
      const key = `${pkg.name}@${pkg.version}`;
      if (found.has(key)) continue;
      found.set(key, folder);
      const peersMeta = pkg.peerDependenciesMeta ?? {};
      const peers = Object.fromEntries(Object.entries(pkg.peerDependencies ?? {}).filter(([n]) => !peersMeta[n]?.optional));
      visit(folder, { ...pkg.dependencies, ...peers, ...pkg.optionalDependencies }, new Set(Object.keys(pkg.optionalDependencies ?? {})));
    }
  };
  visit(REPO, { ...PKG.dependencies, ...PKG.optionalDependencies }, new Set(Object.keys(PKG.optionalDependencies ?? {})));
  return found;
}

/** The file targets named by an exports value (a string, or nested conditions). */
function exportTargets(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(exportTargets);
  if (value && typeof value === 'object') return Object.values(value).flatMap(exportTargets);
  return [];
}

/** package.json `exports` as a map of subpaths ('.', './kernels', ...). */
function exportsMap(exp: unknown): Record<string, unknown> {
  if (typeof exp === 'string' || Array.isArray(exp)) return { '.': exp };
  const obj = (exp ?? {}) as Record<string, unknown>;
  return Object.keys(obj).some((k) => k.startsWith('.')) ? obj : { '.': obj };
}

const home = dir('home'); // the user's HOME for npm and npx: .npmrc (registry, token), npm cache
let tarball = '';
let packedFiles: string[] = [];

test('the test-only tools are installed (test/tools: verdaccio, deno)', () => {
  const p = toolsProblem();
  if (p) {
    setupError = `test/tools is not installed: ${p}`;
    assert.unreachable(`${setupError}; ${INSTALL_HINT}`);
  }
});

test('npm pack: a tarball with the built package, every export and the bin, no tests or sources', async () => {
  const packDir = dir('pack');
  try {
    // build/ was built by pretest: --ignore-scripts skips `prepare` (a second build)
    const r = await run('npm pack', 'npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], { cwd: REPO, env: userEnv(home) });
    const info = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')))[0];
    tarball = join(packDir, info.filename);
    packedFiles = info.files.map((f: { path: string }) => f.path).sort();
    timings.push(`npm pack ${(r.ms / 1000).toFixed(1)} s: ${(info.size / 1024).toFixed(0)} KiB packed, ${(info.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${info.entryCount} files`);
  } catch (e) {
    setupError ||= 'npm pack failed';
    throw e;
  }
  assert.ok(existsSync(tarball), tarball);
  const has = new Set(packedFiles);
  for (const f of ['package.json', 'README.md']) assert.ok(has.has(f), `${f} in the tarball`);
  const needed = [...Object.values(exportsMap(PKG.exports)).flatMap(exportTargets), ...(typeof PKG.bin === 'string' ? [PKG.bin] : Object.values(PKG.bin ?? {}))] as string[];
  for (const t of needed) {
    if (t.includes('*')) continue; // a pattern export is checked by importing it
    assert.ok(has.has(t.replace(/^\.\//, '')), `${t} (named by package.json) is in the tarball`);
  }
  const unwanted = packedFiles.filter((f) => /^(test|src|assembly|scripts|models|logs|node_modules|docs|\.ci)\//.test(f) || f.endsWith('.tgz') || (f.endsWith('.ts') && !f.endsWith('.d.ts')));
  assert.equal(unwanted, [], 'no tests, sources, models or tarballs in the tarball');
  // `files` ships build/ whole: a module whose source is gone (a stale build) would ship too
  // (build/js/vendor/ is not built from src/: scripts/vendor-hub.mjs copies @huggingface/hub's browser build there for the page)
  const stale = packedFiles.filter((f) => f.startsWith('build/js/') && !f.startsWith('build/js/vendor/') && f.endsWith('.js') && !existsSync(join(REPO, 'src', f.slice('build/js/'.length).replace(/\.js$/, '.ts'))));
  assert.equal(stale, [], 'every built module in the tarball has its source in src/ (rebuild from a clean build/)');
});

test('a local registry (verdaccio, no uplinks) serves the package and its runtime dependencies', async () => {
  if (setupError) assert.unreachable(`not run: ${setupError}`);
  try {
    const t0 = Date.now();
    const port = await freePort();
    registryUrl = `http://127.0.0.1:${port}/`;
    const regDir = dir('registry');
    const config = join(regDir, 'config.yaml');
    writeFileSync(
      config,
      [
        `storage: ${JSON.stringify(join(regDir, 'storage'))}`,
        'uplinks: {}', // nothing is proxied: what is not published here does not exist
        'packages:',
        "  '**':",
        '    access: $all',
        '    publish: $anonymous $all', // npm's fake token below is not a verdaccio user: anonymous
        'web:',
        '  enable: false',
        'log: { type: stdout, format: pretty, level: warn }',
        '',
      ].join('\n'),
    );
    // npm refuses to publish without a token for the registry; verdaccio lets anonymous users publish
    writeFileSync(join(home, '.npmrc'), `registry=${registryUrl}\n//127.0.0.1:${port}/:_authToken=fake-token-for-local-verdaccio\n`);
    const logPath = join(regDir, 'verdaccio.log');
    const logFd = openSync(logPath, 'w');
    registry = spawn(process.execPath, [join(TOOLS, 'node_modules/verdaccio/bin/verdaccio'), '--config', config, '--listen', `127.0.0.1:${port}`], {
      cwd: regDir,
      env: userEnv(dir('registry-home')),
      stdio: ['ignore', logFd, logFd],
    });
    closeSync(logFd);
    const log = () => tail(readFileSync(logPath, 'utf8'));
    for (let up = false; !up; ) {
      if (registry.exitCode !== null) throw new Error(`verdaccio exited with ${registry.exitCode} before answering:\n${log()}`);
      if (Date.now() - t0 > 30_000) throw new Error(`verdaccio did not answer ${registryUrl}-/ping within 30 s:\n${log()}`);
      up = await fetch(`${registryUrl}-/ping`).then((r) => r.ok, () => false);
      if (!up) await new Promise((r) => setTimeout(r, 100));
    }
    timings.push(`verdaccio up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const t1 = Date.now();
    const deps = runtimeDependencies();
    const tarballs = [tarball];
    if (deps.size) {
      const r = await run('npm pack of the runtime dependencies', 'npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir('pack-deps'), ...deps.values()], { cwd: root, env: userEnv(home) });
      for (const p of JSON.parse(r.stdout.slice(r.stdout.indexOf('[')))) tarballs.push(join(root, 'pack-deps', p.filename));
    }
    // in parallel: each npm publish is mostly npm's start-up
    await Promise.all(
      tarballs.map((t) => run(`npm publish ${relative(root, t)} to verdaccio`, 'npm', ['publish', t, '--ignore-scripts', '--tag', 'latest', '--registry', registryUrl], { cwd: root, env: userEnv(home) })),
    );
    for (const key of [SPEC, ...deps.keys()]) {
      const at = key.lastIndexOf('@');
      const meta = await fetch(registryUrl + key.slice(0, at).replace('/', '%2f')).then((r) => (r.ok ? r.json() : undefined));
      assert.ok(meta?.versions?.[key.slice(at + 1)], `${key} is served by verdaccio`);
    }
    timings.push(`published ${SPEC} and ${[...deps.keys()].join(', ')} in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  } catch (e) {
    setupError = 'the local registry could not be set up';
    throw e;
  }
});

const npxDir = dir('npx');
const model = join(npxDir, 'tiny');
const nodeOutputs: Record<string, string> = {
  'hf-packed': join(npxDir, 'out-hf-packed'),
  'bitnet-rs': join(npxDir, 'out-bitnet-rs'),
};
const CONVERSIONS: Record<string, string[]> = {
  'hf-packed': ['--format', 'hf-packed', '--timestamp', '0'],
  'bitnet-rs': ['--timestamp', '0'],
};

test('npx --yes bitnet-converter@VERSION: --help, synth --preset tiny, convert to hf-packed and bitnet-rs', async () => {
  if (setupError) assert.unreachable(`not run: ${setupError}`);
  const env = userEnv(home, { npm_config_registry: registryUrl });
  const npx = (step: string, args: string[]) => run(step, 'npx', ['--yes', SPEC, ...args], { cwd: npxDir, env });
  const help = await npx('npx --help (installs from the registry into an empty cache)', ['--help']);
  assert.match(help.stdout, /Usage: bitnet-converter/);
  assert.match(help.stdout, /synth/);
  const synth = await npx('npx synth', ['synth', '--out', model, '--preset', 'tiny']);
  assert.ok(existsSync(join(model, 'model.safetensors')), 'synth wrote model.safetensors');
  const times = [`npx: --help ${(help.ms / 1000).toFixed(1)} s (with the install), synth ${(synth.ms / 1000).toFixed(1)} s`];
  for (const [format, args] of Object.entries(CONVERSIONS)) {
    const r = await npx(`npx convert (${format})`, ['--input-dir', model, '--output-dir', nodeOutputs[format], ...args]);
    assert.ok(existsSync(join(nodeOutputs[format], 'manifest.json')), `${format}: manifest.json written`);
    times.push(`${format} ${(r.ms / 1000).toFixed(1)} s`);
  }
  timings.push(times.join(', '));
});

test('npm install bitnet-converter@VERSION: every entry of package.json exports imports (wasm validates)', async () => {
  if (setupError) assert.unreachable(`not run: ${setupError}`);
  const app = dir('app');
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  const env = userEnv(home, { npm_config_registry: registryUrl });
  const inst = await run('npm install of the package in an empty project', 'npm', ['install', SPEC], { cwd: app, env });
  // Written from package.json at run time, so that a new export is covered without editing this test.
  writeFileSync(
    join(app, 'check-exports.mjs'),
    `import { readFileSync } from 'node:fs';
const name = process.argv[2];
const pkg = JSON.parse(readFileSync(new URL('./node_modules/' + name + '/package.json', import.meta.url), 'utf8'));
let exp = pkg.exports;
if (typeof exp === 'string' || Array.isArray(exp) || !Object.keys(exp).some((k) => k.startsWith('.'))) exp = { '.': exp };
const results = [];
for (const key of Object.keys(exp)) {
  const spec = key === '.' ? name : name + key.slice(1);
  try {
    if (key.includes('*')) throw new Error('a pattern export: list its files in test/install.test.ts');
    const url = import.meta.resolve(spec);
    if (url.endsWith('.wasm')) {
      const bytes = readFileSync(new URL(url));
      if (!WebAssembly.validate(bytes)) throw new Error('WebAssembly.validate is false for ' + url);
      results.push({ key, ok: true, detail: 'wasm, ' + bytes.length + ' bytes' });
    } else {
      const mod = await import(spec);
      const names = Object.keys(mod);
      if (names.length === 0) throw new Error('imports, but exports nothing');
      results.push({ key, ok: true, detail: names.length + ' exports' });
    }
  } catch (e) {
    results.push({ key, ok: false, detail: String(e && e.stack || e) });
  }
}
console.log(JSON.stringify(results));
`,
  );
  const r = await run('importing every export', process.execPath, ['check-exports.mjs', NAME], { cwd: app, env });
  const results: { key: string; ok: boolean; detail: string }[] = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(results.map((x) => x.key), Object.keys(exportsMap(PKG.exports)), 'every export of package.json was checked');
  const failed = results.filter((x) => !x.ok).map((x) => `${x.key}: ${x.detail}`);
  assert.equal(failed, [], `exports that fail in an npm-installed copy:\n${failed.join('\n')}`);
  timings.push(`npm install ${(inst.ms / 1000).toFixed(1)} s; exports ${results.map((x) => `${x.key} (${x.detail})`).join(', ')}`);
});

test('deno run npm:bitnet-converter@VERSION from the registry: the same output bytes as Node', async () => {
  if (setupError) assert.unreachable(`not run: ${setupError}`);
  const deno = denoBinary()!;
  const cwd = dir('deno');
  // Deno reads only the upper-case NPM_CONFIG_REGISTRY (its HOME has no .npmrc); a fresh DENO_DIR.
  const env = userEnv(dir('deno-home'), { NPM_CONFIG_REGISTRY: registryUrl, DENO_DIR: dir('deno-dir'), DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1' });
  // the permissions the README documents; versions published < 24 h ago need the age check off
  const denoRun = (step: string, args: string[], more: { flags?: string[]; env?: Record<string, string> } = {}) =>
    run(step, deno, ['run', '--minimum-dependency-age=0', '--allow-read', '--allow-write', '--allow-env', ...(more.flags ?? []), `npm:${SPEC}`, ...args], { cwd, env: { ...env, ...more.env }, timeoutMs: 60_000 });
  const help = await denoRun('deno run --help (fetches from the registry into an empty DENO_DIR)', ['--help']);
  assert.match(help.stdout, /Usage: bitnet-converter/);
  const denoModel = join(cwd, 'tiny');
  await denoRun('deno run synth', ['synth', '--out', denoModel, '--preset', 'tiny']);
  assert.equal(filesBelow(denoModel), filesBelow(model), 'synth: the same files under Deno');
  for (const f of filesBelow(model)) assert.ok(readFileSync(join(denoModel, f)).equals(readFileSync(join(model, f))), `synth: ${f} differs between Deno and Node`);
  const times = [`deno: --help ${(help.ms / 1000).toFixed(1)} s (with the fetch)`];
  for (const [format, args] of Object.entries(CONVERSIONS)) {
    const out = join(cwd, `out-${format}`);
    const r = await denoRun(`deno run convert (${format})`, ['--input-dir', model, '--output-dir', out, ...args]);
    const files = filesBelow(out);
    assert.equal(files, filesBelow(nodeOutputs[format]), `${format}: the same files under Deno and Node`);
    for (const f of files) {
      const a = readFileSync(join(out, f));
      const b = readFileSync(join(nodeOutputs[format], f));
      assert.ok(a.equals(b), `${format}: ${f} differs between Deno (${a.length} bytes) and Node (${b.length} bytes)`);
    }
    times.push(`${format} ${(r.ms / 1000).toFixed(1)} s, ${files.length} files identical`);
  }
  // the same model as hf:org/tiny (its folder's name: the manifest names the model), with network access
  const hub = await startHubServer({ 'org/tiny': { dir: model } });
  try {
    for (const threads of ['2', '0']) {
      const out = join(cwd, `out-hub-${threads}`);
      const r = await denoRun(`deno run convert hf:org/tiny --threads ${threads}`, ['--input-dir', 'hf:org/tiny', '--output-dir', out, '--threads', threads, ...CONVERSIONS['bitnet-rs']], {
        flags: ['--allow-net'],
        env: { HF_ENDPOINT: hub.url },
      });
      assert.match(r.stderr, /fetched from the Hub/);
      const want = nodeOutputs['bitnet-rs'];
      assert.equal(filesBelow(out), filesBelow(want), `hf: --threads ${threads}: the same files under Deno as Node's from the folder`);
      for (const f of filesBelow(want)) assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(want, f))), `hf: --threads ${threads}: ${f} differs between Deno and Node`);
      times.push(`hf: --threads ${threads} ${(r.ms / 1000).toFixed(1)} s, identical`);
    }
  } finally {
    await hub.close();
  }
  timings.push(times.join(', '));
});

test.after(async () => {
  if (registry && registry.exitCode === null && registry.signalCode === null) {
    const exited = new Promise((r) => registry!.once('exit', r));
    registry.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  }
  cleanup();
  for (const t of timings) console.log(`install: ${t}`);
});

test.run();

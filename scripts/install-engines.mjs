// Installs the test-only tools, before `npm test` (pretest; .ci/run runs npm test):
//   test/engines  the inference engine node-llama-cpp, pinned exactly, with only its linux-x64 CPU prebuilt
//   test/tools    verdaccio (a local registry), deno, playwright-core (Chromium), puppeteer-core
//                 (Firefox over WebDriver BiDi) and selenium-webdriver (WebKitWebDriver),
//                 axe-core and @huggingface/tokenizers (the vocabulary tests), pinned exactly
//   chromium      Debian's chromium package (for the browser tests, driven by playwright-core), when
//                 /usr/bin/chromium is missing: `apt-get install chromium`, as root only
//   firefox-esr, webkit2gtk-driver, xvfb
//                 Debian's Firefox ESR, WebKitGTK's WebDriver with its MiniBrowser, and xvfb-run (MiniBrowser
//                 needs a display), for test/browsers.test.ts, when missing: apt-get, as root only;
//                 python3-gi, python3-gi-cairo (its screenshots) and gir1.2-webkit2-4.1 for test/helpers/webkit-host.py (WebKit with kept storage)
//   strace        Debian's strace (test/cli.test.ts kills the converter inside a system call with its
//                 fault injection), when there is no strace: `apt-get install strace`, as root only
// None is a dependency of the package. Idempotent per folder: nothing happens when the pinned
// versions are already installed from the same lock (a stamp in node_modules holds the lock's hash).
// Chromium and strace cannot always be installed (not root, no apt-get, no network): then one line says
// why and the script carries on; the tests that need them fail, naming what is missing, and the other
// tests still run.
//
//   node scripts/install-engines.mjs           install what is needed
//   node scripts/install-engines.mjs --check   exit 0 when all are installed, 1 when not (installs nothing)
//
// How the engines' ~730 MB of CUDA/Vulkan/other-platform prebuilts are avoided: they are optional
// dependencies of node-llama-cpp, so `npm ci --omit=optional` skips them, while
// @node-llama-cpp/linux-x64 is a direct (non-optional) dependency of test/engines/package.json.
// Nothing is downloaded or built after the install: --ignore-scripts skips node-llama-cpp's
// postinstall, and NODE_LLAMA_CPP_SKIP_DOWNLOAD=true would make it a no-op anyway.
// The tools need no install script either: deno's postinstall only links its platform binary
// (@deno/<platform>, an optional dependency npm picks for this machine) over the bin.cjs launcher.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM } from '../test/helpers/chromium.mjs';
import { FIREFOX, MINIBROWSER, WEBKIT_DRIVER, WEBKIT_GIR, XVFB_RUN } from '../test/helpers/engines-web.mjs';

const FOLDERS = [
  {
    name: 'engines',
    dir: fileURLToPath(new URL('../test/engines/', import.meta.url)),
    what: (pinned) => `node-llama-cpp ${pinned['node-llama-cpp']} (linux-x64 CPU prebuilt only)`,
    linuxX64Only: true,
    args: ['--omit=optional', '--ignore-scripts'],
    env: { NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true', NODE_LLAMA_CPP_POSTINSTALL: 'skip' },
    required: ['node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/llama-addon.node'],
  },
  {
    name: 'tools',
    dir: fileURLToPath(new URL('../test/tools/', import.meta.url)),
    what: (pinned) => Object.entries(pinned).map(([n, v]) => `${n} ${v}`).join(', '),
    linuxX64Only: false,
    args: ['--ignore-scripts'],
    env: {},
    required: ['node_modules/verdaccio/bin/verdaccio'],
  },
];

const lockHash = (f) => createHash('sha256').update(readFileSync(join(f.dir, 'package-lock.json'))).digest('hex');
const stampPath = (f) => join(f.dir, 'node_modules', `.bitnet-${f.name}-stamp`);
const pinnedOf = (f) => JSON.parse(readFileSync(join(f.dir, 'package.json'), 'utf8')).dependencies;

function installedVersion(f, name) {
  try {
    return JSON.parse(readFileSync(join(f.dir, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

/** Why the folder's install is not usable, or undefined when it is. */
function problem(f) {
  for (const [name, version] of Object.entries(pinnedOf(f))) {
    const found = installedVersion(f, name);
    if (found !== version) return `${name}: expected ${version}, found ${found ?? 'nothing'}`;
  }
  for (const r of f.required) if (!existsSync(join(f.dir, r))) return `${r} is missing`;
  let stamp;
  try {
    stamp = readFileSync(stampPath(f), 'utf8').trim();
  } catch {
    return 'not installed by this script';
  }
  if (stamp !== lockHash(f)) return `test/${f.name}/package-lock.json changed since the install`;
  return undefined;
}

function sizeOf(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const e of readdirSync(path)) total += sizeOf(join(path, e));
  return total;
}

/** Installs one folder when needed; returns false on failure. */
function ensure(f, check) {
  const what = f.what(pinnedOf(f));
  const before = problem(f);
  if (!before) {
    console.log(`${f.name}: ${what} already installed in test/${f.name}`);
    return true;
  }
  if (check) {
    console.log(`${f.name}: not installed (${before}); run node scripts/install-engines.mjs`);
    return false;
  }
  if (f.linuxX64Only && (process.platform !== 'linux' || process.arch !== 'x64')) {
    console.log(`${f.name}: only linux-x64 is provided (this is ${process.platform}-${process.arch}); its tests will be skipped`);
    return true;
  }
  const t0 = Date.now();
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const res = spawnSync(npm, ['ci', ...f.args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: f.dir,
    stdio: 'inherit',
    env: { ...process.env, ...f.env },
  });
  if (res.status !== 0) {
    console.error(`${f.name}: npm ci in test/${f.name} failed (${res.error?.message ?? `exit status ${res.status}`})`);
    return false;
  }
  writeFileSync(stampPath(f), lockHash(f) + '\n');
  const after = problem(f);
  if (after) {
    console.error(`${f.name}: installed, but ${after}`);
    return false;
  }
  const mb = (sizeOf(join(f.dir, 'node_modules')) / 1e6).toFixed(0);
  console.log(`${f.name}: ${what} installed in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${mb} MB in test/${f.name}/node_modules`);
  return true;
}

const quiet = (cmd, args, env = {}) =>
  spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });

/** Why Debian's chromium cannot be installed here, or undefined when it was installed. */
function installChromium() {
  if (process.env.CHROMIUM_PATH) return `CHROMIUM_PATH is set to ${CHROMIUM}, which does not exist`;
  if (process.platform !== 'linux') return `${process.platform} is not Debian; install Chromium and set CHROMIUM_PATH`;
  if (quiet('apt-get', ['--version']).status !== 0) return 'no apt-get here; install Chromium and set CHROMIUM_PATH';
  if (process.getuid?.() !== 0) return 'not root; as root: apt-get install -y chromium';
  return aptInstall('chromium') ?? (existsSync(CHROMIUM) ? undefined : `apt-get installed chromium, but there is no ${CHROMIUM}`);
}

/** apt-get update, then apt-get install -y `pkg` (as root): why it failed, or undefined. */
function aptInstall(pkg) {
  console.log(`${pkg}: installing Debian's ${pkg} (apt-get update && apt-get install -y ${pkg})`);
  // wait for another apt run to finish rather than fail on its lock
  const opts = ['-qq', '-o', 'DPkg::Lock::Timeout=300'];
  for (const args of [['update', ...opts], ['install', '-y', ...opts, pkg]]) {
    const res = quiet('apt-get', args, { DEBIAN_FRONTEND: 'noninteractive' });
    if (res.status !== 0) {
      const last = `${res.stderr ?? ''}`.trim().split('\n').pop() || res.error?.message || `exit status ${res.status}`;
      return `apt-get ${args[0]} failed: ${last}`;
    }
  }
  return undefined;
}

/** strace for the test that kills the converter between the two renames of a replace. Never fails the install. */
function ensureStrace(check) {
  const version = () => quiet('strace', ['-V']).stdout?.split('\n')[0]?.trim();
  if (version()) {
    console.log(`strace: already installed (${version()})`);
    return true;
  }
  if (check) {
    console.log('strace: not installed; run node scripts/install-engines.mjs as root (it runs apt-get install strace)');
    return false;
  }
  const why =
    process.platform !== 'linux' ? `${process.platform} has no strace` :
    quiet('apt-get', ['--version']).status !== 0 ? 'no apt-get here; install strace' :
    process.getuid?.() !== 0 ? 'not root; as root: apt-get install -y strace' :
    aptInstall('strace') ?? (version() ? undefined : 'apt-get installed strace, but it does not run');
  console.log(why ? `strace: not installed (${why}); the kill test in test/cli.test.ts will fail` : `strace: ${version()} installed`);
  return true;
}

/** Debian's chromium for the browser tests. Never fails the install: only --check reports it missing. */
function ensureChromium(check) {
  const version = () => quiet('dpkg-query', ['-W', '-f=${Version}', 'chromium']).stdout?.trim() || 'unknown version';
  if (existsSync(CHROMIUM)) {
    console.log(`chromium: ${CHROMIUM} already installed${process.env.CHROMIUM_PATH ? '' : ` (Debian's chromium ${version()})`}`);
    return true;
  }
  if (check) {
    console.log(`chromium: no ${CHROMIUM}; run node scripts/install-engines.mjs as root (it runs apt-get install chromium)`);
    return false;
  }
  const t0 = Date.now();
  const why = installChromium();
  if (why) console.log(`chromium: not installed (${why}); the browser tests will fail`);
  else console.log(`chromium: Debian's chromium ${version()} installed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return true;
}

/** Debian packages the Firefox and WebKit tests drive, by a file each installs. Never fails the install: only --check reports one missing. */
const OTHER_BROWSERS = [
  { pkg: 'firefox-esr', file: FIREFOX, env: 'FIREFOX_PATH' },
  { pkg: 'webkit2gtk-driver', file: WEBKIT_DRIVER },
  { pkg: 'webkit2gtk-driver', file: MINIBROWSER },
  { pkg: 'xvfb', file: XVFB_RUN },
  { pkg: 'python3-gi', file: '/usr/lib/python3/dist-packages/gi/__init__.py' },
  { pkg: 'python3-gi-cairo', file: '/usr/lib/python3/dist-packages/gi/_gi_cairo.cpython-311-x86_64-linux-gnu.so' },
  { pkg: 'gir1.2-webkit2-4.1', file: WEBKIT_GIR },
];

function ensureOtherBrowsers(check) {
  let ok = true;
  for (const { pkg, file, env } of OTHER_BROWSERS) {
    if (existsSync(file)) {
      console.log(`${pkg}: ${file} already installed`);
      continue;
    }
    if (check) {
      console.log(`${pkg}: no ${file}; run node scripts/install-engines.mjs as root (it runs apt-get install ${pkg})`);
      ok = false;
      continue;
    }
    const why =
      env && process.env[env] ? `${env} is set to ${file}, which does not exist` :
      process.platform !== 'linux' ? `${process.platform} is not Debian; install ${pkg}` :
      quiet('apt-get', ['--version']).status !== 0 ? `no apt-get here; install ${pkg}` :
      process.getuid?.() !== 0 ? `not root; as root: apt-get install -y ${pkg}` :
      aptInstall(pkg) ?? (existsSync(file) ? undefined : `apt-get installed ${pkg}, but there is no ${file}`);
    console.log(why ? `${pkg}: not installed (${why}); test/browsers.test.ts will fail, naming it` : `${pkg}: Debian's ${pkg} installed`);
  }
  return ok;
}

const check = process.argv.includes('--check');
let ok = true;
for (const f of FOLDERS) ok = ensure(f, check) && ok;
ok = ensureChromium(check) && ok;
ok = ensureOtherBrowsers(check) && ok;
ok = ensureStrace(check) && ok;
process.exit(ok ? 0 : 1);

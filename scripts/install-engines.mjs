// Installs the test-only folders from the npm registry, before `npm test` (pretest; .ci/run calls it):
//   test/engines  the inference engine node-llama-cpp, pinned exactly, with only its linux-x64 CPU prebuilt
//   test/tools    verdaccio (a local registry), deno and playwright-core, pinned exactly
// Neither is a dependency of the package. Idempotent per folder: nothing happens when the pinned
// versions are already installed from the same lock (a stamp in node_modules holds the lock's hash).
//
//   node scripts/install-engines.mjs           install what is needed
//   node scripts/install-engines.mjs --check   exit 0 when both are installed, 1 when not (installs nothing)
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

const check = process.argv.includes('--check');
let ok = true;
for (const f of FOLDERS) ok = ensure(f, check) && ok;
process.exit(ok ? 0 : 1);

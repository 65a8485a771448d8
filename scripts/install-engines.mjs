// Installs the test-only inference engines of test/engines (node-llama-cpp, pinned exactly, with
// only its linux-x64 CPU prebuilt) from the npm registry, before `npm test` (.ci/run calls it).
// Idempotent: nothing happens when the pinned versions are already installed from the same lock.
//
//   node scripts/install-engines.mjs           install when needed
//   node scripts/install-engines.mjs --check   exit 0 when installed, 1 when not (installs nothing)
//
// How the ~730 MB of CUDA/Vulkan/other-platform prebuilts are avoided: they are optional
// dependencies of node-llama-cpp, so `npm ci --omit=optional` skips them, while
// @node-llama-cpp/linux-x64 is a direct (non-optional) dependency of test/engines/package.json.
// Nothing is downloaded or built after the install: --ignore-scripts skips node-llama-cpp's
// postinstall, and NODE_LLAMA_CPP_SKIP_DOWNLOAD=true would make it a no-op anyway.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../test/engines/', import.meta.url));
const STAMP = join(dir, 'node_modules', '.bitnet-engines-stamp');
const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
const pinned = pkg.dependencies;

function lockHash() {
  return createHash('sha256').update(readFileSync(join(dir, 'package-lock.json'))).digest('hex');
}

function installedVersion(name) {
  try {
    return JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

/** Why the install is not usable, or undefined when it is. */
function problem() {
  for (const [name, version] of Object.entries(pinned)) {
    const found = installedVersion(name);
    if (found !== version) return `${name}: expected ${version}, found ${found ?? 'nothing'}`;
  }
  if (!existsSync(join(dir, 'node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/llama-addon.node'))) return 'the linux-x64 prebuilt binary is missing';
  let stamp;
  try {
    stamp = readFileSync(STAMP, 'utf8').trim();
  } catch {
    return 'not installed by this script';
  }
  if (stamp !== lockHash()) return 'test/engines/package-lock.json changed since the install';
  return undefined;
}

function sizeOf(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const e of readdirSync(path)) total += sizeOf(join(path, e));
  return total;
}

const check = process.argv.includes('--check');
const before = problem();
if (!before) {
  console.log(`engines: node-llama-cpp ${pinned['node-llama-cpp']} already installed in test/engines`);
  process.exit(0);
}
if (check) {
  console.log(`engines: not installed (${before}); run node scripts/install-engines.mjs`);
  process.exit(1);
}
if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.log(`engines: only linux-x64 is provided (this is ${process.platform}-${process.arch}); the engine tests will be skipped`);
  process.exit(0);
}

const t0 = Date.now();
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const res = spawnSync(npm, ['ci', '--omit=optional', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
  cwd: dir,
  stdio: 'inherit',
  env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true', NODE_LLAMA_CPP_POSTINSTALL: 'skip' },
});
if (res.status !== 0) {
  console.error(`engines: npm ci in test/engines failed (${res.error?.message ?? `exit status ${res.status}`})`);
  process.exit(1);
}
writeFileSync(STAMP, lockHash() + '\n');
const after = problem();
if (after) {
  console.error(`engines: installed, but ${after}`);
  process.exit(1);
}
const mb = (sizeOf(join(dir, 'node_modules')) / 1e6).toFixed(0);
console.log(`engines: node-llama-cpp ${pinned['node-llama-cpp']} (linux-x64 CPU prebuilt only) installed in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${mb} MB in test/engines/node_modules`);

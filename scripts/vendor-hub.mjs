// Copies the browser builds of @huggingface/hub (and the modules it imports) and of client-zip into build/js/vendor/, so
// that the page (src/web/page/index.html, whose import map names them) loads them from its own origin
// from any static host. Only the ES modules are copied (no .d.ts, no maps, no CommonJS).
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'build/js/vendor');
/** package -> its folder of ES modules (where the import map points) */
const PACKAGES = {
  '@huggingface/hub': 'dist/browser',
  '@huggingface/xetchunk-wasm': 'dist/esm',
  'gearhash-jit': 'dist/esm',
  '@huggingface/blake3-jit': 'dist/esm',
  'client-zip': '.', // the page's "download all" archive (src/formats/zip.ts)
};

/** The package's folder, found the way Node finds it from here (hoisted or nested). */
function folderOf(name) {
  for (let dir = root; ; dir = dirname(dir)) {
    const p = join(dir, 'node_modules', name);
    if (existsSync(join(p, 'package.json'))) return p;
    if (dirname(dir) === dir) throw new Error(`${name} is not installed: run npm ci`);
  }
}

rmSync(out, { recursive: true, force: true });
for (const [name, sub] of Object.entries(PACKAGES)) {
  const from = join(folderOf(name), sub);
  const to = join(out, name);
  cpSync(from, to, { recursive: true, filter: (src) => !/\.(d\.ts|map|cjs)$|\.d\.ts\.map$/.test(src) });
  if (!readdirSync(to).length) throw new Error(`${name}: nothing copied from ${from}`);
}

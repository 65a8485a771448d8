// Everything that plans, quantizes, packs and encodes is platform neutral: no static `node:` import
// is reachable from those modules, and none of them reaches the Node-only folders (io/, run/, cli/,
// synth/). Checked on the built import graph, so a new import anywhere below is caught. (The kernel
// loader reads a file: URL through a dynamic import of node:fs/promises, which a browser, loading
// the wasm over http, never evaluates.)

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../build/js/version.js';

const BUILD = fileURLToPath(new URL('../build/js/', import.meta.url));
const NEUTRAL_ENTRIES = ['web/index.js', 'web/worker.js', 'web/page/app.js', 'pipeline/conversion.js', 'model/checkpoint.js', 'formats/sha256.js', 'report/html.js', 'report/histogram.js', 'report/layers.js', 'report/gather.js', 'inspect/inspection.js', 'inspect/stream.js', 'outputs/index.js', 'layouts/index.js', 'stream/weights.js', 'kernels/index.js', 'model/plan.js', 'formats/gguf.js', 'formats/safetensors.js', 'formats/sentencepiece.js', 'quant/rule.js', 'version.js', 'defaults.js'];
const NODE_ONLY = ['io/', 'run/', 'cli/', 'synth/'];

/** The static imports and re-exports of a built module. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|^import\s+['"]([^'"]+)['"]/gm)].map((m) => m[1] ?? m[2]);
}

test('no node: import is reachable from the platform-neutral modules', () => {
  const seen = new Set<string>();
  const problems: string[] = [];
  const queue = NEUTRAL_ENTRIES.map((e) => join(BUILD, e));
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const rel = relative(BUILD, file);
    if (NODE_ONLY.some((d) => rel.startsWith(d))) problems.push(`reaches ${rel}`);
    for (const spec of importsOf(file)) {
      if (spec.startsWith('node:')) problems.push(`${rel} imports ${spec}`);
      else if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec));
    }
  }
  assert.equal(problems, []);
  assert.ok(seen.size > 30, `walked ${seen.size} modules`);
});

test('the conversion worker\'s modules start no worker and import no bare name (Firefox hung on workers started by workers; the page\'s import map does not reach workers)', () => {
  const seen = new Set<string>();
  const problems: string[] = [];
  const queue = [join(BUILD, 'web/worker.js')];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const rel = relative(BUILD, file);
    if (/new Worker\(/.test(readFileSync(file, 'utf8'))) problems.push(`${rel} starts a worker`);
    for (const spec of importsOf(file)) {
      if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec));
      else problems.push(`${rel} imports ${spec}`);
    }
  }
  assert.equal(problems, []);
  assert.ok(seen.size > 20, `walked ${seen.size} modules`);
});

test('VERSION is package.json\'s version', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.is(VERSION, pkg.version);
});

test.run();

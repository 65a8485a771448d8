// Seeded, bounded fuzzing of manifest.json: verify, inspect and verify --against on outputs whose manifest
// was mutated (wrong types, names out of the folder or naming a FIFO, a symlink to /dev/zero or a folder,
// broken JSON, invalid UTF-8, sizes and hashes off). Every case must end in a verdict or a typed one-line
// error, within SLOW_CASE_MS. The cases run in a child process (helpers/manifest-fuzz.ts) with a deadline,
// so a hang fails this test, naming its case, instead of stalling the suite.
// FUZZ_SEED and FUZZ_CASES override the defaults for longer local runs.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTmpDir, removeTmpDir } from './helpers/safetensors-file.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 0x3a41f357);
const COUNT = Number(process.env['FUZZ_CASES'] ?? 2000);
const DEADLINE_MS = 240_000 + 100 * COUNT;
const RUNNER = fileURLToPath(new URL('./helpers/manifest-fuzz.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

test(`fuzz: ${COUNT} mutated manifest.json files (seed ${SEED}): a verdict or a typed error, never a hang`, () => {
  const tmp = makeTmpDir('bitnet-manifest-fuzz-');
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', RUNNER, String(SEED), String(COUNT), join(tmp, 'work')], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: DEADLINE_MS,
      killSignal: 'SIGKILL',
      maxBuffer: 1 << 26,
    });
    const last = r.stderr.trim().split('\n').filter((l) => l.startsWith('case ')).pop();
    assert.is(r.signal, null, `killed after ${DEADLINE_MS} ms, at: ${last}`);
    assert.is(r.status, 0, r.stderr.split('\n').filter((l) => !l.startsWith('case ')).join('\n'));
    const { counts, failures, slowest } = JSON.parse(r.stdout) as { counts: Record<string, number>; failures: string[]; slowest: number };
    assert.equal(failures, [], failures.slice(0, 10).join('\n'));
    assert.is(counts.verified + counts.problems + counts.typed, COUNT);
    // the three outcomes all occur: the mutations reach the checks behind the parse
    assert.ok(counts.verified > 0 && counts.problems > 0 && counts.typed > 0, JSON.stringify(counts));
    console.log(`  manifest fuzz: ${JSON.stringify(counts)}, slowest case ${slowest.toFixed(0)} ms`);
  } finally {
    removeTmpDir(tmp);
  }
});

test.run();

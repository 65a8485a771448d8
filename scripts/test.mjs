// Runs the uvu suites (through scripts/uvu-run.mjs, which reports a file or suite that cannot start as
// failed, with its reason) and ends with the one line CI reads: "N passed, N failed".
// uvu's own summary (Total/Passed/Skipped) is parsed, not trusted to be read.
// The run gets a temporary folder of its own (TMPDIR), removed at its end: the tests' folders, the
// browsers' profiles and what WebKitGTK's writable streams leave behind (a copy of every file written,
// docs/architecture.md) go there, and none of it outlives the run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pattern = process.argv[2] ?? '\\.test\\.ts$';
const tmp = mkdtempSync(join(tmpdir(), 'bitnet-test-'));
const res = spawnSync(
  process.execPath,
  ['--import', 'tsx', 'scripts/uvu-run.mjs', pattern],
  { cwd: root, encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, FORCE_COLOR: '0', TMPDIR: tmp, TMP: tmp, TEMP: tmp } },
);
rmSync(tmp, { recursive: true, force: true });
process.stdout.write(res.stdout ?? '');
process.stderr.write(res.stderr ?? '');
const num = (label) => Number((res.stdout ?? '').match(new RegExp(`${label}:\\s+(\\d+)`))?.[1] ?? NaN);
const total = num('Total');
const passed = num('Passed');
const skipped = num('Skipped') || 0;
// uvu's Total counts the tests that ran: skipped ones (test.skip) are not in it
let failed = total - passed;
if (!Number.isFinite(failed) || (res.status !== 0 && failed === 0)) failed = Math.max(1, Number.isFinite(failed) ? failed : 1);
// the browser tests' screenshots (build/ is not committed): named in the output, so a run's log says where they are
const shots = join(root, 'build/screenshots');
if (existsSync(shots)) {
  const listed = readdirSync(shots).filter((f) => f.endsWith('.png')).map((f) => `${f} (${Math.round(statSync(join(shots, f)).size / 1024)} KiB)`);
  if (listed.length) console.log(`screenshots in build/screenshots/: ${listed.join(', ')}`);
}
const ok = Number.isFinite(passed) ? passed : 0;
console.log(`${ok} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed === 0 && res.status === 0 ? 0 : 1);

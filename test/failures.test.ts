// Failures while writing: the write fails halfway (no space / file-size limit), permission
// denied. Each must end in one clear line, a non-zero exit, no temporary folder or lock left,
// and an existing output intact.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { makeTmpDir } from './helpers/safetensors-file.js';
import { outputError } from '../build/js/io/file-sink.js';
import { OutputError } from '../build/js/errors.js';

const CLI = new URL('../build/js/cli/main.js', import.meta.url).pathname;
const GOLDEN = new URL('./fixtures/golden-tiny/', import.meta.url).pathname;
const root = makeTmpDir('bitnet-fail-');

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: root });
  return { code: r.status, err: r.stderr };
}

function convertedOnce(name: string): string {
  const out = join(root, name);
  assert.is(run(process.execPath, [CLI, '--input-dir', GOLDEN, '--output-dir', out, '--quiet']).code, 0);
  return out;
}

const errorLines = (err: string) => err.split('\n').filter((l) => l.startsWith('error:'));

test('errno messages: no space left, quota, file size limit', () => {
  for (const [code, text] of [
    ['ENOSPC', 'no space left on the device'],
    ['EDQUOT', 'disk quota exceeded'],
    ['EFBIG', 'file too large'],
    ['EACCES', 'permission denied'],
  ]) {
    const e = outputError('/out/block_3.bin', 'write', Object.assign(new Error('x'), { code }));
    assert.ok(e instanceof OutputError);
    assert.match(e.message, `/out/block_3.bin: cannot write: ${text}`);
    assert.match(e.message, `(${code})`);
  }
});

// A real full disk without root: a 180 KiB tmpfs mounted inside a user + mount namespace.
const canMountTmpfs = spawnSync('unshare', ['-rm', 'sh', '-c', `mount -t tmpfs -o size=4k none ${root}`]).status === 0;

(canMountTmpfs ? test : test.skip)('no space left on the device: one line, the previous output intact, nothing left behind', () => {
  const mnt = join(root, 'small-disk');
  mkdirSync(mnt);
  const script = [
    'set -e',
    `mount -t tmpfs -o size=180k none "$MNT"`,
    `node "$CLI" --input-dir "$IN" --output-dir "$MNT/out" --quiet --log-dir "$LOGS"`,
    'before=$(sha256sum < "$MNT/out/manifest.json")',
    'set +e',
    'node "$CLI" --input-dir "$IN" --output-dir "$MNT/out" --force --log-dir "$LOGS"',
    'echo "rc=$?"',
    '[ "$before" = "$(sha256sum < "$MNT/out/manifest.json")" ] && echo intact',
    'echo "left: $(ls -A "$MNT")"',
  ].join('\n');
  const r = spawnSync('unshare', ['-rm', 'sh', '-c', script], {
    encoding: 'utf8',
    env: { ...process.env, MNT: mnt, CLI, IN: GOLDEN, LOGS: join(root, 'logs'), PATH: `${dirname(process.execPath)}:${process.env.PATH}` },
  });
  assert.match(r.stdout, /rc=1\n/, r.stdout + r.stderr);
  assert.equal(errorLines(r.stderr).length, 1, r.stderr);
  assert.match(r.stderr, /cannot (write|create).*no space left on the device \(ENOSPC\)/);
  assert.match(r.stdout, /intact/);
  assert.match(r.stdout, /left: out\n/, 'no temporary folder or lock left');
});

test('a write that fails halfway (file-size limit) ends cleanly and keeps the previous output', () => {
  const out = convertedOnce('full-disk');
  const before = readFileSync(join(out, 'manifest.json'));
  // prlimit caps the size of any file the converter writes: writes past it fail like a full disk.
  for (const threads of ['0', '2']) {
    const r = run('prlimit', ['--fsize=30000', process.execPath, CLI, '--input-dir', GOLDEN, '--output-dir', out, '--force', '--threads', threads]);
    assert.is(r.code, 1, r.err);
    assert.equal(errorLines(r.err).length, 1, r.err);
    assert.match(r.err, /embedding\.bin: cannot write: file too large.*\(EFBIG\)/);
    assert.ok(readFileSync(join(out, 'manifest.json')).equals(before), 'previous output intact');
    assert.equal(readdirSync(root).filter((f) => f.startsWith('.full-disk')), [], 'no temporary folder or lock left');
  }
});

const hasStrace = spawnSync('strace', ['-V']).status === 0;

test('an fsync that fails (EIO) ends cleanly and keeps the previous output', () => {
  assert.ok(hasStrace, 'strace is not installed: node scripts/install-engines.mjs installs it as root (apt-get install strace)');
  const out = convertedOnce('bad-disk');
  const before = readFileSync(join(out, 'manifest.json'));
  // a job's own file (bitnet-rs) is fsynced by the main thread after the job, while the workers go on:
  // the first fsync of the run fails, as a failing disk makes it
  for (const threads of ['0', '2']) {
    const r = run('strace', ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=fsync', '-e', 'inject=fsync:error=EIO:when=1', process.execPath, CLI, '--input-dir', GOLDEN, '--output-dir', out, '--force', '--threads', threads]);
    assert.is(r.code, 1, r.err);
    assert.equal(errorLines(r.err).length, 1, r.err);
    assert.match(r.err, /\.bin: cannot fsync: .*\(EIO\)/);
    assert.ok(readFileSync(join(out, 'manifest.json')).equals(before), 'previous output intact');
    assert.equal(readdirSync(root).filter((f) => f.startsWith('.bad-disk')), [], 'no temporary folder or lock left');
  }
});

test('permission denied on the output folder', () => {
  const parent = join(root, 'readonly');
  mkdirSync(parent);
  const out = join(parent, 'model');
  chmodSync(parent, 0o555);
  // root ignores permission bits: drop the capabilities that let it (the files stay readable)
  const r =
    process.getuid?.() === 0
      ? run('setpriv', ['--bounding-set', '-dac_override,-dac_read_search', process.execPath, CLI, '--input-dir', GOLDEN, '--output-dir', out])
      : run(process.execPath, [CLI, '--input-dir', GOLDEN, '--output-dir', out]);
  assert.is(r.code, 1, r.err);
  assert.equal(errorLines(r.err).length, 1, r.err);
  assert.match(r.err, /readonly.*permission denied \(EACCES\)/);
  assert.not.ok(existsSync(out));
  chmodSync(parent, 0o755);
});

test.after(() => rmSync(root, { recursive: true, force: true }));
test.run();

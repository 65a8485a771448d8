// The page's "download all" archive (src/formats/zip.ts, client-zip underneath): read back by independent
// readers, Info-ZIP's unzip and Python's zipfile, small and past 4 GiB (zip64); the same bytes every time.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { zipSize, zipStream, type ZipEntry, type ZipSource } from '../src/formats/zip.js';

const tmp = mkdtempSync(join(tmpdir(), 'bitnet-zip-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function random(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

const FILES: [string, Uint8Array][] = [
  ['model.safetensors', random(300_001, 1)],
  ['empty.txt', new Uint8Array(0)],
  ['sub/block_0.bin', random(70_000, 2)],
  ['tokenizer_é.json', random(17, 3)],
];

const PY_LIST = `import zipfile, sys, hashlib, json
z = zipfile.ZipFile(sys.argv[1])
print(json.dumps([[i.filename, i.compress_type, i.file_size, i.external_attr >> 16, i.date_time, hashlib.sha256(z.read(i)).hexdigest() if i.file_size < 1 << 24 else None] for i in z.infolist()]))`;

async function archive(): Promise<Uint8Array> {
  const entries: ZipEntry[] = FILES.map(([name, bytes]) => ({ name, data: new Blob([bytes]) }));
  const bytes = new Uint8Array(await new Response(zipStream(entries)).arrayBuffer());
  assert.is(bytes.length, zipSize(entries), 'zipSize foretells the length');
  return bytes;
}

test('a STORE archive: unzip -t passes, unzip and Python\'s zipfile extract the same bytes, as plain files rw-r--r-- of 1980-01-01', async () => {
  const file = join(tmp, 'a.zip');
  writeFileSync(file, await archive());
  assert.match(execFileSync('unzip', ['-t', file], { encoding: 'utf8' }), /No errors detected/);
  const out = join(tmp, 'x');
  mkdirSync(out);
  execFileSync('unzip', ['-q', file, '-d', out]);
  for (const [name, bytes] of FILES) assert.ok(readFileSync(join(out, name)).equals(bytes), `${name} extracted by unzip`);
  const listed = JSON.parse(execFileSync('python3', ['-c', PY_LIST, file], { encoding: 'utf8' }));
  const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
  assert.equal(listed, FILES.map(([n, b]) => [n, 0, b.length, 0o100644, [1980, 1, 1, 0, 0, 0], sha(b)]));
});

test('the bytes do not depend on the clock or the time zone (a fixed date, no other timestamp)', async () => {
  const first = Buffer.from(await archive());
  await new Promise((r) => setTimeout(r, 2100)); // past a DOS time step (2 s)
  assert.ok(first.equals(Buffer.from(await archive())), 'the same bytes a moment later');
  // another time zone, in a process of its own, the same small archive
  const script = join(tmp, 'tz.mts');
  writeFileSync(script, `import { zipStream } from ${JSON.stringify(new URL('../src/formats/zip.ts', import.meta.url).href)};
    import { createHash } from 'node:crypto';
    const entries = [{ name: 'a.txt', data: new Blob(['hello']) }, { name: 'sub/b.bin', data: new Blob([new Uint8Array(256).map((_, i) => i)]) }];
    console.log(createHash('sha256').update(new Uint8Array(await new Response(zipStream(entries)).arrayBuffer())).digest('hex'));`);
  const inZone = (tz: string) => execFileSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', env: { ...process.env, TZ: tz } }).trim();
  const utc = inZone('UTC');
  assert.match(utc, /^[0-9a-f]{64}$/);
  for (const tz of ['Pacific/Kiritimati', 'America/Adak']) assert.is(inZone(tz), utc, `TZ=${tz}: the bytes of TZ=UTC`);
});

test('past 4 GiB (zip64): an entry of 4 GiB + 1 MiB and one after it; unzip -t passes, Python\'s zipfile reads the sizes and the last entry', async () => {
  const MiB = 1 << 20;
  const block = random(MiB, 7);
  const big: ZipSource = {
    size: 4 * 1024 * MiB + MiB,
    stream: () => Readable.toWeb(Readable.from((function* () {
      for (let i = 0; i < 4 * 1024 + 1; i++) yield block;
    })())) as ReadableStream<Uint8Array>,
  };
  const tail = random(1000, 8);
  const entries: ZipEntry[] = [{ name: 'huge.bin', data: big }, { name: 'after.bin', data: new Blob([tail]) }];
  const file = join(tmp, 'huge.zip');
  await pipeline(Readable.fromWeb(zipStream(entries) as import('node:stream/web').ReadableStream), createWriteStream(file));
  try {
    assert.is(statSync(file).size, zipSize(entries), 'zipSize foretells the length');
    assert.match(execFileSync('unzip', ['-t', file], { encoding: 'utf8', maxBuffer: 1 << 20 }), /No errors detected/);
    const listed = JSON.parse(execFileSync('python3', ['-c', PY_LIST, file], { encoding: 'utf8' })) as unknown[][];
    assert.equal(listed.map((l) => l.slice(0, 3)), [['huge.bin', 0, big.size], ['after.bin', 0, tail.length]]);
    assert.is(listed[1]![5], createHash('sha256').update(tail).digest('hex'), 'the entry past 4 GiB (a zip64 offset) reads back');
  } finally {
    rmSync(file, { force: true });
  }
});

test.run();

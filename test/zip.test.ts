// The page's "download all" archive (src/formats/zip.ts): read back by independent readers, Info-ZIP's
// unzip and Python's zipfile, with and without zip64 records; CRC-32 against zlib's.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { crc32, zipSize, zipStream, type ZipEntry } from '../src/formats/zip.js';

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

async function archive(zip64: boolean): Promise<Uint8Array> {
  const entries: ZipEntry[] = FILES.map(([name, bytes]) => ({ name, data: new Blob([bytes]) }));
  const bytes = new Uint8Array(await new Response(zipStream(entries, { zip64 })).arrayBuffer());
  assert.is(bytes.length, zipSize(entries, { zip64 }), 'zipSize foretells the length');
  return bytes;
}

test('crc32 equals zlib\'s, whole and continued, at every alignment', () => {
  const b = random(1000, 9);
  for (const n of [0, 1, 7, 8, 9, 63, 1000]) assert.is(crc32(b.subarray(0, n)), zlibCrc32(b.subarray(0, n)), `${n} bytes`);
  assert.is(crc32(b.subarray(13), crc32(b.subarray(0, 13))), zlibCrc32(b));
});

for (const zip64 of [false, true]) {
  test(`a STORE archive${zip64 ? ' with zip64 records' : ''}: unzip -t passes, unzip and Python's zipfile extract the same bytes`, async () => {
    const file = join(tmp, `a${zip64 ? '64' : ''}.zip`);
    writeFileSync(file, await archive(zip64));
    assert.match(execFileSync('unzip', ['-t', file], { encoding: 'utf8' }), /No errors detected/);
    const out = join(tmp, `x${zip64 ? '64' : ''}`);
    mkdirSync(out);
    execFileSync('unzip', ['-q', file, '-d', out]);
    for (const [name, bytes] of FILES) assert.ok(readFileSync(join(out, name)).equals(bytes), `${name} extracted by unzip`);
    const py = `import zipfile, sys, hashlib, json
z = zipfile.ZipFile(sys.argv[1])
print(json.dumps([[i.filename, i.compress_type, i.file_size, hashlib.sha256(z.read(i)).hexdigest()] for i in z.infolist()]))`;
    const listed = JSON.parse(execFileSync('python3', ['-c', py, file], { encoding: 'utf8' }));
    const { createHash } = await import('node:crypto');
    assert.equal(listed, FILES.map(([n, b]) => [n, 0, b.length, createHash('sha256').update(b).digest('hex')]));
  });
}

test('the bytes do not depend on the clock (a fixed DOS date), and a source that lies about its size is refused', async () => {
  assert.ok(Buffer.from(await archive(false)).equals(Buffer.from(await archive(false))));
  const liar: ZipEntry = { name: 'x', data: { size: 5, stream: () => new Blob([new Uint8Array(3)]).stream() } };
  const refused = await new Response(zipStream([liar])).arrayBuffer().then(() => '', (e: Error) => e.message);
  assert.match(refused, /x: expected 5 bytes, read 3/);
});

test.run();

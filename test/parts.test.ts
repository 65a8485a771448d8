// Containers written in parts (src/web/parts.ts: where a browser's synchronous handles are exclusive, each
// job writes its regions into a file of its own). Checked against the container built directly, byte by
// byte, and against node:crypto's SHA-256 of it: the parts' layout, the hash that reads them in order (in
// steps, as the page's follower does), and the Blob delivered in the container's place.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { RegionHandle, hashPieces, headName, joined, layOut, partName } from '../build/js/web/parts.js';
import { Sha256 } from '../build/js/formats/sha256.js';

/** An in-memory synchronous handle: a file that grows where it is written, zeros where it is not. */
class MemHandle {
  bytes = new Uint8Array(0);
  opened = 0;
  closed = 0;
  write(b: Uint8Array, o?: { at?: number }): number {
    const at = o?.at ?? 0;
    if (at + b.length > this.bytes.length) this.truncate(at + b.length);
    this.bytes.set(b, at);
    return b.length;
  }
  read(b: Uint8Array, o?: { at?: number }): number {
    const got = this.bytes.subarray(o?.at ?? 0, (o?.at ?? 0) + b.length);
    b.set(got);
    return got.length;
  }
  truncate(size: number): void {
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, size));
    this.bytes = next;
  }
  getSize(): number {
    return this.bytes.length;
  }
  flush(): void {}
  close(): void {
    this.closed++;
  }
}

// A container of 1010 bytes: a head, then regions of three jobs, gaps of padding (zeros) after the head,
// between two regions and at the end, one job's regions out of the container's order. The head is a file
// of its own.
const SIZE = 1010;
const HEAD = 90;
const jobs = [
  [{ offset: 600, bytes: 150 }, { offset: 100, bytes: 200 }],
  [{ offset: 300, bytes: 100 }, { offset: 400, bytes: 150 }],
  [{ offset: 750, bytes: 250 }],
];
const want = new Uint8Array(SIZE);
want.set(randomBytes(HEAD), 0);
for (const r of jobs.flat()) want.set(randomBytes(r.bytes), r.offset);

function written() {
  const head = new MemHandle();
  head.write(want.subarray(0, HEAD), { at: 0 });
  const parts = new Map<string, MemHandle>();
  jobs.forEach((regions, i) => {
    const part = new MemHandle();
    parts.set(partName(i), part);
    const h = new RegionHandle(part, layOut(regions, partName(i)), 'model.gguf');
    // in odd pieces; the second job's two regions (adjacent in the container) in one write across both
    if (i === 1) h.write(want.subarray(300, 550), { at: 300 });
    else for (const r of regions) for (let at = r.offset; at < r.offset + r.bytes; at += 7) h.write(want.subarray(at, Math.min(at + 7, r.offset + r.bytes)), { at });
  });
  const pieces = jobs.flatMap((regions, i) => layOut(regions, partName(i)));
  return { head, parts, pieces };
}

test('a job\'s regions lie back to back in its part file, in the job\'s order', () => {
  const { parts } = written();
  const first = parts.get(partName(0))!.bytes;
  assert.is(first.length, 350);
  assert.equal(first.subarray(0, 150), want.subarray(600, 750));
  assert.equal(first.subarray(150), want.subarray(100, 300));
  assert.equal(parts.get(partName(1))!.bytes, want.subarray(300, 550));
});

test('a write outside the job\'s regions is refused, naming the container and the offset', () => {
  const h = new RegionHandle(new MemHandle(), layOut(jobs[0]!, partName(0)), 'model.gguf');
  assert.throws(() => h.write(new Uint8Array(10), { at: 295 }), (e: Error) => /model\.gguf/.test(e.message) && /offset 300/.test(e.message));
  assert.throws(() => h.write(new Uint8Array(1), { at: 50 }), /offset 50/);
});

test('the hash read from the parts in steps equals the SHA-256 of the container', async () => {
  const { head, parts, pieces } = written();
  const open = async (name: string) => {
    const p = parts.get(name)!;
    p.opened++;
    return p;
  };
  const buf = new Uint8Array(64);
  for (const steps of [[0, SIZE], [0, 95, 100, 350, 575, 1005, SIZE], [0, 1, 299, 300, 999, 1000, SIZE]]) {
    for (const p of parts.values()) p.opened = p.closed = 0;
    let state;
    for (let i = 0; i + 1 < steps.length; i++) {
      const hash = state ? Sha256.resume(state) : new Sha256();
      await hashPieces(head, 'model.gguf', pieces, open, hash, steps[i]!, steps[i + 1]!, buf);
      state = hash.save();
    }
    assert.is(Sha256.resume(state!).hex(), createHash('sha256').update(want).digest('hex'), `steps ${steps.join(', ')}`);
    for (const [name, p] of parts) assert.is(p.closed, p.opened, `${name}: every open closed`);
    if (steps.length === 2) for (const [name, p] of parts) assert.is(p.opened, 1, `${name}: opened once by one task, however many pieces it holds`);
  }
});

test('the container delivered as a File of its head, the parts\' slices and zeros between is the container', async () => {
  const { head, parts, pieces } = written();
  const files = new Map([...parts].map(([name, p]) => [name, new Blob([p.bytes])]));
  files.set(headName('model.gguf'), new Blob([head.bytes]));
  const file = await joined('model.gguf', { pieces, size: SIZE, head: headName('model.gguf') }, async (name) => files.get(name)!);
  assert.is(file.name, 'model.gguf');
  assert.is(file.size, SIZE);
  assert.equal(new Uint8Array(await file.arrayBuffer()), want);
});

test.run();

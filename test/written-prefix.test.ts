// How far a container is written from its start (src/pipeline/written-prefix.ts): its hash, on Node and in
// the page, goes only that far while the jobs fill its regions in any order.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PrefixFollower, WrittenPrefix } from '../build/js/pipeline/written-prefix.js';

test('the head counts as written; a region after a gap waits for the gap; regions in any order', () => {
  const p = new WrittenPrefix(100);
  assert.is(p.ready, 100);
  assert.is(p.add(300, 50), 100, 'a gap at 100..300');
  assert.is(p.add(200, 100), 100, 'still a gap at 100..200');
  assert.is(p.add(100, 100), 350, 'the gap filled: on to the end of the last region');
  assert.is(p.add(350, 0), 350, 'an empty region');
  assert.is(p.add(400, 10), 350);
  assert.is(p.add(350, 50), 410);
});

test('any order of the same regions ends at the same place', () => {
  const regions = Array.from({ length: 40 }, (_, i) => ({ offset: 64 + i * 10, bytes: 10 }));
  for (let seed = 1; seed < 20; seed++) {
    const shuffled = [...regions].sort((a, b) => ((a.offset * seed) % 37) - ((b.offset * seed) % 37));
    const p = new WrittenPrefix(64);
    let last = 64;
    for (const r of shuffled) {
      const now = p.add(r.offset, r.bytes);
      assert.ok(now >= last, 'never goes back');
      last = now;
    }
    assert.is(last, 464);
  }
});


test('PrefixFollower: steps over the written prefix one at a time, each at least minStep bytes; settle gives where they reached, or a failed step\'s error', async () => {
  const steps: [number, number][] = [];
  const f = new PrefixFollower(10, async (from, to) => void steps.push([from, to]), 20);
  f.written(30, 10); // a gap at 10..30: nothing to step over
  f.written(10, 5); // 15 written: less than minStep
  assert.is(await f.settle(), 0);
  f.written(15, 15); // the gap filled: on to 40
  assert.is(await f.settle(), 40);
  f.written(40, 5); // 5 more: less than minStep, left for the caller
  assert.is(await f.settle(), 40);
  assert.equal(steps, [[0, 40]]);
  const failing = new PrefixFollower(0, async () => {
    throw new Error('read failed');
  });
  failing.written(0, 8);
  await failing.settle().then(
    () => assert.unreachable('a failed step is thrown'),
    (e: Error) => assert.is(e.message, 'read failed'),
  );
});

test.run();

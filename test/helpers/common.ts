// Small helpers shared by the test suites.

import * as assert from 'uvu/assert';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ConversionError } from '../../build/js/errors.js';
import { outputFolder, verifyManifest } from '../../build/js/io/converted.js';
import { readBitnetRsModel } from '../../build/js/outputs/bitnet-rs/read.js';
import type { ModelRecord } from '../../build/js/outputs/bitnet-rs/records.js';

/** Asserts fn throws an instance of cls with a one-line message containing every part. */
export function throwsTyped(fn: () => unknown, cls: abstract new (...args: never[]) => ConversionError, parts: string[]): ConversionError {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof cls)) {
      assert.unreachable(`expected ${cls.name}, got ${e instanceof Error ? e.stack : String(e)}`);
      throw e;
    }
    for (const p of parts) assert.ok(e.message.includes(p), `message ${JSON.stringify(e.message)} should include ${JSON.stringify(p)}`);
    assert.not.ok(e.message.includes('\n'), 'one-line message');
    return e;
  }
  assert.unreachable(`expected ${cls.name}`);
  throw new Error('unreachable');
}

/** A bitnet-rs output folder decoded into one ModelRecord after checking its manifest (errors name the file's path). */
export function readConvertedModel(dir: string): ModelRecord {
  verifyManifest(dir);
  return readBitnetRsModel(outputFolder(dir), (name) => join(dir, name));
}

export type Rng = () => number;

/** Draws from a seeded Rng: the fuzzers' shared vocabulary. */
export class Draws {
  constructor(readonly next: Rng) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** mulberry32: a small, fast, seeded PRNG returning numbers in [0, 1). */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Runs a conversion that must fail with an error of `cls` whose one-line message matches every
 * pattern, and checks nothing was written: no output folder, and no temporary folder or lock in `root`.
 */
export async function conversionFails(run: () => Promise<unknown>, out: string, root: string, cls: abstract new (...a: never[]) => ConversionError, patterns: RegExp[]): Promise<string> {
  let caught: unknown;
  try {
    await run();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof cls, `expected ${cls.name}, got ${caught}`);
  const msg = (caught as Error).message;
  assert.not.match(msg, /\n/, 'one line');
  for (const p of patterns) assert.match(msg, p);
  assert.not.ok(existsSync(out), 'no output folder');
  assert.equal(readdirSync(root).filter((f) => f.includes('.partial-') || f.endsWith('.lock')), [], 'no temporary folder or lock left');
  return msg;
}

// Plans a format's jobs on a short-lived worker thread. A plan can need large transient data (a GGUF
// head holds the whole vocabulary: 128k tokens and 280k merges parsed from an 8 MB tokenizer.json);
// built here, all of it goes when the thread ends, instead of staying in the main thread's heap
// while the conversion workers run (the peak memory would add up otherwise).

import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { readFullySync } from '../io/read.js';
import { join } from 'node:path';
import type { ModelPlan } from '../model/plan.js';
import { formatById, type FormatOptions } from '../outputs/index.js';
import type { FormatPlan, InputFolder } from '../outputs/types.js';
import { answer, inThread } from './thread.js';

interface PlanRequest {
  task: 'plan';
  format: string;
  model: ModelPlan;
  options: FormatOptions;
  inputDir: string;
  /** The side files when they are not on disk (a Hub input reads them ahead). */
  side?: [string, Uint8Array][];
}

/** The input folder's side files (tokenizer, generation config) through Node file access. */
export function inputFolder(dir: string): InputFolder {
  return {
    readSide: (name) => {
      const p = join(dir, name);
      if (!existsSync(p) || !statSync(p).isFile()) return undefined;
      const b = readFileSync(p);
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength); // a view: a copy would hold a 16 MiB tokenizer twice
    },
    sideSize: (name) => {
      const p = join(dir, name);
      return existsSync(p) && statSync(p).isFile() ? statSync(p).size : undefined;
    },
    readSideAt: (name, offset, length) => {
      const fd = openSync(join(dir, name), 'r');
      try {
        const dst = new Uint8Array(length);
        readFullySync(fd, join(dir, name), dst, offset);
        return dst;
      } finally {
        closeSync(fd);
      }
    },
  };
}

/** Side files held in memory. */
function sideFolder(side: Map<string, Uint8Array>): InputFolder {
  return { readSide: (name) => side.get(name), sideSize: (name) => side.get(name)?.length };
}

export function planInWorker(request: Omit<PlanRequest, 'task'>): Promise<FormatPlan> {
  // A young generation of 8 MiB (default up to 48): parsing a vocabulary makes short-lived garbage by
  // the million, which a large young generation holds as resident memory (measured: 30 MiB less peak on
  // the largest vocabularies, no slower).
  return inThread<FormatPlan>(new URL(import.meta.url), { task: 'plan', ...request }, 'planning', { maxYoungGenerationSizeMb: 8 });
}

await answer<PlanRequest, FormatPlan>(
  'plan',
  (r) => formatById(r.format).plan(r.model, r.options, r.side ? sideFolder(new Map(r.side)) : inputFolder(r.inputDir)),
  (plan) => plan.containers.map((c) => c.head.buffer as ArrayBuffer),
);

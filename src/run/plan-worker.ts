// Plans a format's jobs, and makes its small files, on short-lived worker threads. A plan can need
// large transient data (a GGUF head holds the whole vocabulary: 128k tokens and 280k merges parsed from
// an 8 MB tokenizer.json); built here, all of it goes when the thread ends, instead of staying in the
// main thread's heap while the conversion workers run (the peak memory would add up otherwise). The
// small files are made while the jobs run: a tokenizer.json rebuilt from a GGUF's vocabulary took the
// main thread 0.45 s after the jobs (docs/performance.md).

import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { readFullySync } from '../io/read.js';
import { join } from 'node:path';
import type { ModelPlan } from '../model/plan.js';
import { formatById, type FormatOptions } from '../outputs/index.js';
import type { FormatPlan, InputFolder, SmallFile } from '../outputs/types.js';
import { ggufSideFiles } from '../outputs/side-files.js';
import { sideFromData, type SideData } from '../model/read-ahead.js';
import { answer, inThread } from './thread.js';

interface PlanRequest {
  task: 'plan' | 'finish';
  format: string;
  model: ModelPlan;
  options: FormatOptions;
  inputDir: string;
  /** The side files when they are not on disk (a Hub input reads them ahead, and a .gguf's head). */
  side?: SideData;
  /** A .gguf source: its file name in inputDir (its vocabulary rebuilt as tokenizer files where none sit beside it). */
  gguf?: string;
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

// A young generation of 8 MiB (default up to 48): parsing a vocabulary makes short-lived garbage by
// the million, which a large young generation holds as resident memory (measured: 30 MiB less peak on
// the largest vocabularies, no slower).
const LIMITS = { maxYoungGenerationSizeMb: 8 };

export function planInWorker(request: Omit<PlanRequest, 'task'>): Promise<FormatPlan> {
  return inThread<FormatPlan>(new URL(import.meta.url), { task: 'plan', ...request }, 'planning', LIMITS);
}

/** The format's small files (format.finish), made on a thread of their own. */
export function finishInWorker(request: Omit<PlanRequest, 'task'>): Promise<SmallFile[]> {
  return inThread<SmallFile[]>(new URL(import.meta.url), { task: 'finish', ...request }, 'small files', LIMITS);
}

/** The input's side files; `rebuilt`: a .gguf source's vocabulary as tokenizer files (a plan reads the GGUF's own arrays instead). */
function folder(r: PlanRequest, rebuilt = false): InputFolder {
  const base = r.side ? sideFromData(r.side) : inputFolder(r.inputDir);
  return rebuilt && r.gguf ? ggufSideFiles(base, r.gguf) : base;
}

await answer<PlanRequest, FormatPlan>(
  'plan',
  (r) => formatById(r.format).plan(r.model, r.options, folder(r)),
  (plan) => plan.containers.map((c) => c.head.buffer as ArrayBuffer),
);
await answer<PlanRequest, SmallFile[]>(
  'finish',
  (r) => formatById(r.format).finish(r.model, r.options, folder(r, true)),
  (files) => [...new Set(files.map((f) => f.bytes.buffer as ArrayBuffer))],
);

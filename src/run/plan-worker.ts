// Plans a format's jobs on a short-lived worker thread. A plan can need large transient data (a GGUF
// head holds the whole vocabulary: 128k tokens and 280k merges parsed from an 8 MB tokenizer.json);
// built here, all of it goes when the thread ends, instead of staying in the main thread's heap
// while the conversion workers run (the peak memory would add up otherwise).

import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelPlan } from '../model/plan.js';
import { formatById, type FormatOptions } from '../outputs/index.js';
import type { FormatPlan, InputFolder } from '../outputs/types.js';
import { reviveError, serializeError, type SerializedError } from '../errors.js';

interface PlanRequest {
  format: string;
  model: ModelPlan;
  options: FormatOptions;
  inputDir: string;
}

type PlanReply = { ok: FormatPlan } | { error: SerializedError };

/** The input folder's side files (tokenizer, generation config) through Node file access. */
export function inputFolder(dir: string): InputFolder {
  return {
    readSide: (name) => {
      const p = join(dir, name);
      return existsSync(p) && statSync(p).isFile() ? new Uint8Array(readFileSync(p)) : undefined;
    },
  };
}

export function planInWorker(request: PlanRequest): Promise<FormatPlan> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: request });
    worker.once('message', (reply: PlanReply) => ('error' in reply ? reject(reviveError(reply.error)) : resolve(reply.ok)));
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`the planning thread exited with ${code}`)));
  });
}

if (!isMainThread && parentPort && (workerData as PlanRequest | undefined)?.format) {
  const r = workerData as PlanRequest;
  let reply: PlanReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const plan = formatById(r.format).plan(r.model, r.options, inputFolder(r.inputDir));
    transfer = plan.containers.map((c) => c.head.buffer as ArrayBuffer);
    reply = { ok: plan };
  } catch (e) {
    reply = { error: serializeError(e) };
  }
  parentPort.postMessage(reply, transfer);
}

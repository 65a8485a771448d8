// tinypool worker: instantiates the kernels once from the module compiled by the main
// thread, then runs part jobs. Errors come back as data so their class survives.

import { workerData } from 'node:worker_threads';
import { instantiateKernels, type Kernels } from '../kernels/index.js';
import { serializeError, type SerializedError } from '../errors.js';
import { runPart, type PartJob, type PartResult } from './run-part.js';

export type WorkerReply = { ok: PartResult } | { error: SerializedError };

export interface PoolData {
  module: WebAssembly.Module;
}

let kernels: Promise<Kernels> | undefined;

export default async function runJob(job: PartJob): Promise<WorkerReply> {
  try {
    // tinypool passes [privateData, ourData] as the thread's workerData.
    kernels ??= instantiateKernels((workerData as [unknown, PoolData])[1].module);
    return { ok: runPart(await kernels, job) };
  } catch (e) {
    return { error: serializeError(e) };
  }
}

// tinypool worker: instantiates the kernels once from the module compiled by the main
// thread, then runs jobs. Errors come back as data so their class survives.

import { workerData } from 'node:worker_threads';
import { instantiateKernels, type Kernels } from '../kernels/index.js';
import { serializeError, type SerializedError } from '../errors.js';
import { runJob, type JobResult, type RunnableJob } from './run-job.js';
import { hubSource } from '../io/hub-reader.js';

export type WorkerReply = { ok: JobResult } | { error: SerializedError };

export interface PoolData {
  module: WebAssembly.Module;
}

let kernels: Promise<Kernels> | undefined;

export default async function run(job: RunnableJob): Promise<WorkerReply> {
  try {
    // tinypool passes [privateData, ourData] as the thread's workerData.
    kernels ??= instantiateKernels((workerData as [unknown, PoolData])[1].module);
    return { ok: runJob(await kernels, job, job.hub && (await hubSource(job.hub))) };
  } catch (e) {
    return { error: serializeError(e) };
  }
}

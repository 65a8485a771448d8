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

// instantiated as the thread starts (tinypool loads this module then), before its first job;
// tinypool passes [privateData, ourData] as the thread's workerData
const kernels: Promise<Kernels> = instantiateKernels((workerData as [unknown, PoolData])[1].module);
kernels.catch(() => undefined); // a failure is reported by the first job

export default async function run(job: RunnableJob): Promise<WorkerReply> {
  try {
    return { ok: runJob(await kernels, job, job.hub && (await hubSource(job.hub))) };
  } catch (e) {
    return { error: serializeError(e) };
  }
}

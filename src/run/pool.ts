// Runs jobs on worker threads (tinypool) in jobOrder's order (pipeline/conversion.ts), or inline when threads = 0.
// Each worker reads its own input ranges and writes its own output: no large buffers cross threads.

import { Tinypool } from 'tinypool';
import { instantiateKernels } from '../kernels/index.js';
import { reviveError } from '../errors.js';
import { runJob, type JobResult, type RunnableJob } from './run-job.js';
import { hubSource } from '../io/hub-reader.js';
import { planOrder } from '../pipeline/conversion.js';
import type { PoolData, WorkerReply } from './worker.js';

export interface PoolOptions {
  threads: number;
  module: WebAssembly.Module;
  /** A pool already started (startPool) with this module; it is destroyed when the jobs end. */
  pool?: Tinypool;
  /** Called on the main thread as each job finishes (with its index in `jobs`). */
  onDone?: (index: number) => void;
}

/** Pools running now, so that a signal handler can stop their workers before cleaning up. */
const activePools = new Set<Tinypool>();

/** Terminates the workers of every running pool. */
export async function stopWorkers(): Promise<void> {
  await Promise.all([...activePools].map((p) => p.destroy()));
}

/** Results in the order of `jobs`. The first failure stops the pool and is thrown. */
export async function runJobs(jobs: RunnableJob[], opts: PoolOptions): Promise<JobResult[]> {
  const order = planOrder(jobs.map((j) => j.job));
  const results: JobResult[] = new Array(jobs.length);
  if (opts.threads === 0) {
    const kernels = await instantiateKernels(opts.module);
    for (const i of order) {
      const hub = jobs[i].hub;
      results[i] = runJob(kernels, jobs[i], hub && (await hubSource(hub)));
      opts.onDone?.(i);
      await new Promise((r) => setImmediate(r)); // lets a signal handler run between files
    }
    return results;
  }
  const pool = opts.pool ?? startPool(Math.min(opts.threads, jobs.length), opts.module);
  // One job in flight per thread: after a failure no new job starts, and the ones running finish (or fail)
  // before the pool is destroyed. Terminating a worker inside a failing synchronous fs call aborts the whole
  // process in Node ("FATAL ERROR: v8::FromJust"), which a full disk made happen.
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    while (!failure && next < order.length) {
      const i = order[next++];
      try {
        const reply = (await pool.run(jobs[i])) as WorkerReply;
        if ('error' in reply) throw reviveError(reply.error);
        results[i] = reply.ok;
        opts.onDone?.(i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(opts.threads, jobs.length) }, lane));
    if (failure) throw failure.error;
    return results;
  } finally {
    await destroyPool(pool);
  }
}

/**
 * A pool of `threads` workers, started now: each loads its modules and instantiates the kernels while
 * the caller is still planning (about 0.15 s of a conversion on 2 threads otherwise spent after it).
 */
export function startPool(threads: number, module: WebAssembly.Module): Tinypool {
  const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
  const pool = new Tinypool({
    filename: new URL('./worker.js', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    workerData: { module } satisfies PoolData,
    useAtomics: !isDeno, // tinypool's atomics hang forever under Deno
  });
  activePools.add(pool);
  return pool;
}

export async function destroyPool(pool: Tinypool): Promise<void> {
  activePools.delete(pool);
  await pool.destroy();
}

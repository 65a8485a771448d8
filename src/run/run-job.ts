// Runs one job with Node file I/O: positioned reads in; out, either the job's own file (fsynced by the
// main thread once the job is done) or positioned writes into a container the main thread created.

import { join } from 'node:path';
import type { Kernels } from '../kernels/index.js';
import { FileSink, RegionSink, type WrittenFile } from '../io/file-sink.js';
import { PositionedReader } from '../io/read.js';
import type { HubReadSpec } from '../io/hub-reader.js';
import type { TensorSource } from '../stream/ports.js';
import { flushContainer } from '../io/container.js';
import { formatById, type FormatOptions, type Job } from '../outputs/index.js';
import { WeightStream } from '../stream/weights.js';
import type { TernaryStats } from '../inspect/stats.js';
import { ProgressCounter } from './progress-counter.js';

export interface RunnableJob {
  job: Job;
  /** The temporary output folder. */
  dir: string;
  options: FormatOptions;
  /** The buffer of a ProgressCounter shared with the main thread, or none. */
  progress?: SharedArrayBuffer;
  /** fdatasync the container regions written (false for a throw-away output, such as verify's re-derivation). */
  durable: boolean;
  /** A Hub input: tensors are read over HTTP by the thread's reader (io/hub-reader.ts), not from disk. */
  hub?: HubReadSpec;
}

/** What a job wrote: its own file (size and sha256), or regions of a container (hashed by the main thread). */
export interface JobResult {
  file: string;
  written?: WrittenFile;
  /** With options.stats: each ternary weight's statistics, by tensor name. */
  stats?: [string, TernaryStats][];
  /** With options.allowLossy: the stored scales rounded, by tensor name. */
  rounded?: [string, string][];
}

/** `hubSource`: the thread's source for a Hub input (r.hub), started by the caller, which can wait for it. */
export function runJob(kernels: Kernels, r: RunnableJob, hubSource?: TensorSource): JobResult {
  const counter = r.progress ? new ProgressCounter(r.progress) : undefined;
  const reader = new PositionedReader();
  const path = join(r.dir, r.job.file);
  let own: FileSink | undefined;
  const regions: RegionSink[] = [];
  const stats: [string, TernaryStats][] = [];
  const rounded: [string, string][] = [];
  try {
    const stream = new WeightStream({
      kernels,
      source: hubSource ?? reader,
      options: r.options,
      onBytesRead: (n) => counter?.addBytes(n),
      onTensorDone: () => counter?.addTensor(),
      onStats: (name, st) => stats.push([name, st]),
      onRounded: (name, what) => rounded.push([name, what]),
    });
    const out = {
      sink(offset?: number) {
        // not fsynced here: the main thread does it while this worker runs its next job (fsyncFile)
        if (offset === undefined) return (own ??= new FileSink(path, false));
        const s = new RegionSink(path, offset);
        regions.push(s);
        return s;
      },
    };
    formatById(r.job.format).write(r.job, stream, out, r.options);
    for (const s of regions) s.close();
    if (regions.length && r.durable) flushContainer(path); // in the workers, overlapping other jobs' work
    return { file: r.job.file, written: own?.close(), ...(r.options.stats && { stats }), ...(rounded.length > 0 && { rounded }) };
  } catch (e) {
    own?.abandon();
    for (const s of regions) s.abandon();
    throw e;
  } finally {
    reader.close();
  }
}

// Runs one part job with Node file I/O: positioned reads in, one fsynced file out.

import { join } from 'node:path';
import type { Kernels } from '../kernels/index.js';
import { FileSink, type WrittenFile } from '../io/file-sink.js';
import { PositionedReader } from '../io/read.js';
import { writePart, type PartOptions, type PartTask } from './parts.js';
import { ProgressCounter } from './progress-counter.js';

export interface PartJob {
  task: PartTask;
  /** The temporary output folder the file is created in. */
  dir: string;
  options: PartOptions;
  /** The buffer of a ProgressCounter shared with the main thread, or none. */
  progress?: SharedArrayBuffer;
}

export interface PartResult extends WrittenFile {
  file: string;
}

export function runPart(kernels: Kernels, job: PartJob): PartResult {
  const counter = job.progress ? new ProgressCounter(job.progress) : undefined;
  const reader = new PositionedReader();
  const sink = new FileSink(join(job.dir, job.task.file));
  try {
    writePart(
      {
        kernels,
        source: reader,
        options: job.options,
        onBytesRead: (n) => counter?.addBytes(n),
        onTensorDone: () => counter?.addTensor(),
      },
      job.task,
      sink,
    );
    return { file: job.task.file, ...sink.close() };
  } catch (e) {
    sink.abandon();
    throw e;
  } finally {
    reader.close();
  }
}

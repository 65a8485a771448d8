// Ternary statistics of an output's tensors for `inspect`, on worker threads: each thread opens the
// output with its format's reader, decodes its share of the ternary tensors (balanced by values) a
// row range at a time and returns their statistics; nothing large crosses threads.

import { basename, dirname } from 'node:path';
import { outputFolder } from '../io/converted.js';
import { formatById, type LazyTensor } from '../outputs/index.js';
import { TernaryCounter, type TernaryStats } from '../inspect/stats.js';
import { answer, inThread } from './thread.js';

/** An output to read: a folder (`file` unset) or one .gguf file of it. */
export interface OutputRef {
  format: string;
  dir: string;
  file?: string;
}

interface OutputStatsRequest {
  task: 'output-stats';
  output: OutputRef;
  /** Indices, in the reader's order, of the tensors to count. */
  items: number[];
}

/** The reader's tensors of `o`, lazily, in its order. */
export function outputTensors(o: OutputRef): Iterable<LazyTensor> {
  const folder = outputFolder(o.dir);
  return formatById(o.format).tensors(o.file === undefined ? folder : { ...folder, list: () => [o.file!] });
}

/** One ternary tensor's statistics, decoded a row range at a time. */
export function ternaryStats(t: LazyTensor): TernaryStats {
  const { rows, cols, rowsPerChunk, rowScales } = t.ternary!;
  const c = new TernaryCounter(rows, cols);
  for (let r = 0; r < rows; r += rowsPerChunk) {
    const n = Math.min(rowsPerChunk, rows - r);
    c.add(t.ternary!.decode(r, n), n, rowScales.subarray(r, r + n));
  }
  return c.result();
}

function statsOf(o: OutputRef, items: number[]): TernaryStats[] {
  const want = new Map(items.map((i, k) => [i, k]));
  const out: TernaryStats[] = new Array(items.length);
  let i = 0;
  for (const t of outputTensors(o)) {
    const k = want.get(i++);
    if (k !== undefined) out[k] = ternaryStats(t);
  }
  return out;
}

/** Statistics of the ternary tensors at `items` (reader order, with their value counts), by index; threads = 0 counts on this thread. */
export async function outputStatsOf(o: OutputRef, items: { index: number; values: number }[], threads: number): Promise<Map<number, TernaryStats>> {
  const byIndex = new Map<number, TernaryStats>();
  if (threads === 0 || items.length < 2) {
    statsOf(o, items.map((t) => t.index)).forEach((st, k) => byIndex.set(items[k].index, st));
    return byIndex;
  }
  // largest first onto the least loaded thread
  const shares = Array.from({ length: Math.min(threads, items.length) }, () => ({ values: 0, items: [] as number[] }));
  for (const t of [...items].sort((a, b) => b.values - a.values)) {
    const s = shares.reduce((a, b) => (b.values < a.values ? b : a));
    s.items.push(t.index);
    s.values += t.values;
  }
  await Promise.all(
    shares.map(async (s) => {
      const request: OutputStatsRequest = { task: 'output-stats', output: o, items: s.items };
      const stats = await inThread<TernaryStats[]>(new URL(import.meta.url), request, 'statistics');
      stats.forEach((st, k) => byIndex.set(s.items[k], st));
    }),
  );
  return byIndex;
}

export const ggufRef = (file: string): OutputRef => ({ format: 'gguf', dir: dirname(file), file: basename(file) });

await answer<OutputStatsRequest, TernaryStats[]>('output-stats', (r) => statsOf(r.output, r.items));

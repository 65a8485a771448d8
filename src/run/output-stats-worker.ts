// Ternary statistics of an output's tensors for `inspect`, on worker threads: each thread opens the
// output with its format's reader, decodes its share of the ternary tensors (whole files, or tensors of
// a single file; balanced by values) a row range at a time and returns their statistics; nothing large
// crosses threads.

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
  /** The tensors to count, by file and name. */
  items: TensorRef[];
  /** Only these files are opened (a share of whole files: each file's index is built once). */
  files?: string[];
}

interface TensorRef {
  file: string;
  name: string;
}

const key = (t: TensorRef) => `${t.file}\0${t.name}`;

/** The reader's tensors of `o`, lazily, in its order. */
export function outputTensors(o: OutputRef, only?: (file: string) => boolean): Iterable<LazyTensor> {
  const folder = outputFolder(o.dir);
  return formatById(o.format).tensors(o.file === undefined ? folder : { ...folder, list: () => [o.file!] }, only);
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

function statsOf(o: OutputRef, items: TensorRef[], files?: string[]): TernaryStats[] {
  const want = new Map(items.map((t, k) => [key(t), k]));
  const out: TernaryStats[] = new Array(items.length);
  const only = files && new Set(files);
  for (const t of outputTensors(o, only && ((f) => only.has(f)))) {
    const k = want.get(key(t));
    if (k !== undefined) out[k] = ternaryStats(t);
  }
  if (Array.from(out).some((st) => st === undefined)) throw new Error('internal: a tensor listed for inspect was not read again'); // a name twice in a file
  return out;
}

/** Statistics of the ternary tensors `items` (with their value counts), in their order; threads = 0 counts on this thread. */
export async function outputStatsOf(o: OutputRef, items: (TensorRef & { values: number })[], threads: number): Promise<TernaryStats[]> {
  if (threads === 0 || items.length < 2) return statsOf(o, items);
  // whole files to a thread where there are enough (a reader indexes a whole file: bitnet-rs scans its varints), else tensors
  const byFile = new Map<string, number[]>();
  items.forEach((t, i) => byFile.set(t.file, [...(byFile.get(t.file) ?? []), i]));
  const wholeFiles = byFile.size >= threads;
  const units = wholeFiles ? [...byFile.values()] : items.map((_, i) => [i]);
  const values = (u: number[]) => u.reduce((n, i) => n + items[i].values, 0);
  // largest first onto the least loaded thread
  const shares = Array.from({ length: Math.min(threads, units.length) }, () => ({ values: 0, items: [] as number[] }));
  for (const u of units.sort((a, b) => values(b) - values(a))) {
    const s = shares.reduce((a, b) => (b.values < a.values ? b : a));
    s.items.push(...u);
    s.values += values(u);
  }
  const out: TernaryStats[] = new Array(items.length);
  await Promise.all(
    shares.map(async (s) => {
      const refs = s.items.map((i) => ({ file: items[i].file, name: items[i].name }));
      const files = wholeFiles ? [...new Set(refs.map((r) => r.file))] : undefined;
      const request: OutputStatsRequest = { task: 'output-stats', output: o, items: refs, files };
      // a small young generation: the decoded chunks are short-lived, and two threads' default nurseries took inspect past 256 MiB
      const stats = await inThread<TernaryStats[]>(new URL(import.meta.url), request, 'statistics', { maxYoungGenerationSizeMb: 8 });
      stats.forEach((st, k) => (out[s.items[k]] = st));
    }),
  );
  return out;
}

await answer<OutputStatsRequest, TernaryStats[]>('output-stats', (r) => statsOf(r.output, r.items, r.files));

// --report FILE.html for convert, inspect and verify on Node: the report's data is gathered by
// src/report/gather.ts through this host (src/io/'s checkpoint folder, output folder and positioned
// reads; inspect on worker threads), rendered by src/report/html.ts, and written here atomically.

import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { diskFolder, openCheckpoint } from '../io/checkpoint.js';
import { outputFolder, readManifest } from '../io/converted.js';
import { PositionedReader, statOrUndefined } from '../io/read.js';
import { inspect } from '../run/inspect.js';
import { renderReport } from '../report/html.js';
import type { ReportHost } from '../report/gather.js';
import type { ReportData } from '../report/types.js';

/** Writes the page beside its final name, then renames it into place (never a half-written report). */
export function writeReport(file: string, data: ReportData): void {
  const dir = dirname(resolve(file));
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, renderReport(data));
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** The report's host on Node: files through src/io/, inspect's statistics on worker threads. */
export const NODE_REPORT_HOST: ReportHost = {
  absolute: (path) => resolve(path),
  baseName: (path) => basename(path),
  entry(path) {
    const st = statOrUndefined(path);
    return st?.isDirectory() ? { kind: 'folder' } : st?.isFile() ? { kind: 'file', bytes: st.size } : undefined;
  },
  checkpoint: openCheckpoint,
  folder: diskFolder,
  output: outputFolder,
  manifest: readManifest,
  tensorSource: () => new PositionedReader(),
  inspect: (path, o) => inspect(path, o),
  peakMemory: () => process.resourceUsage().maxRSS * 1024,
};

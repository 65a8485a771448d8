// --report FILE.html for convert, inspect and verify on Node: the report's data is gathered by
// src/report/gather.ts through this host (src/io/'s checkpoint folder, output folder and positioned
// reads; inspect on worker threads), rendered by src/report/html.ts, and written here atomically.
// A Hugging Face input (hf:ORG/NAME[@REV]) is read as a conversion reads it (headers read ahead,
// tensors by range requests) and named as the repository, never with the access token.

import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { diskFolder, openCheckpoint } from '../io/checkpoint.js';
import { openCheckpointFolder } from '../model/checkpoint.js';
import { hubModelName, isHubInput, openHubInput, parseHubRef, type HubOptions } from '../hub/repo.js';
import { hubSource, stopHubReaders } from '../io/hub-reader.js';
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

/**
 * The report's host for a command whose source may be on the Hub (`source`: the input, inspect's path or
 * verify's --against; `hub`: the token and the Hub's address). `open`: read the repository's listing and
 * headers now (false for a failure report, which only names the source).
 */
export async function nodeReportHost(source: string | undefined, hub: HubOptions, open = true): Promise<ReportHost> {
  if (source === undefined || !isHubInput(source)) return NODE_REPORT_HOST;
  const ref = parseHubRef(source);
  const input = open ? await openHubInput(ref, hub) : undefined;
  const opened = () => {
    if (!input) throw new Error(`${source}: not read (the conversion failed first)`);
    return input;
  };
  const mine = (path: string) => path === source;
  return {
    ...NODE_REPORT_HOST,
    absolute: (path) => (mine(path) ? source : resolve(path)),
    baseName: (path) => (mine(path) ? hubModelName(ref) : basename(path)),
    entry: (path) => (mine(path) ? { kind: 'folder' } : NODE_REPORT_HOST.entry(path)),
    checkpoint: (path) => (mine(path) ? openCheckpointFolder(opened().folder) : openCheckpoint(path)),
    folder: (path) => (mine(path) ? opened().folder : diskFolder(path)),
    // the histogram's source is the Hub input: its tensors through a reader thread (io/hub-reader.ts)
    async tensorSource() {
      const key = `report-${opened().repo.sha}-${Date.now()}-${Math.random()}`;
      const s = await hubSource({ ...opened().reads, key });
      return { readExactly: (file, dst, position, end) => s.readExactly(file, dst, position, end), close: () => void stopHubReaders(key) };
    },
    inspect: (path, o) => inspect(path, { ...o, hub }),
  };
}

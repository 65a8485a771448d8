// `verify OUTPUT [--against SOURCE]`: proves an output folder right. Without a source: every file of
// manifest.json present with its size and sha256, every tensor decodable by the format's reader
// (codes in range, row padding zero), scales finite and above 0. With the source: the output is
// re-derived from it with the options manifest.json records, and every ternary tensor is compared value
// by value (the first difference named by file, tensor, index, expected and found), every file byte
// for byte.

import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isConversionError } from '../errors.js';
import { outputFolder, readManifest, type Manifest } from '../io/converted.js';
import { formatById, type ReadTensor } from '../outputs/index.js';
import { convert, type ConvertOptions } from './convert.js';

export interface Verdict {
  ok: boolean;
  /** One line per problem: file, tensor, index, expected, found. */
  problems: string[];
  /** What was checked, for the verdict line. */
  checked: { files: number; tensors: number; ternaryValues: number; against?: string };
}

export async function verify(output: string, against?: string, o: { threads?: number } = {}): Promise<Verdict> {
  const problems: string[] = [];
  const manifest = readManifest(output);
  for (const f of manifest.files) {
    const path = join(output, f.name);
    if (!existsSync(path)) {
      problems.push(`${f.name}: missing (manifest.json lists ${f.bytes} bytes)`);
      continue;
    }
    const bytes = readFileSync(path);
    if (bytes.length !== f.bytes) problems.push(`${f.name}: expected ${f.bytes} bytes (manifest.json), found ${bytes.length}`);
    else {
      const sha = createHash('sha256').update(bytes).digest('hex');
      if (sha !== f.sha256) problems.push(`${f.name}: expected sha256 ${f.sha256} (manifest.json), found ${sha}`);
    }
  }
  const tensors = readTensors(output, manifest.format, problems);
  let ternaryValues = 0;
  for (const t of tensors) {
    if (!t.ternary) continue;
    ternaryValues += t.ternary.q.length;
    const bad = t.ternary.rowScales.findIndex((s) => !Number.isFinite(s) || s <= 0);
    if (bad >= 0) problems.push(`${t.name}: row ${bad}: expected a finite scale above 0, found ${t.ternary.rowScales[bad]}`);
  }
  const checked: Verdict['checked'] = { files: manifest.files.length, tensors: tensors.length, ternaryValues };
  if (against !== undefined) {
    checked.against = against;
    const tmp = mkdtempSync(join(tmpdir(), 'bitnet-verify-'));
    try {
      const again = join(tmp, 'out');
      await convert({ inputDir: against, outputDir: again, threads: o.threads, ...optionsOf(manifest) });
      compare(readTensors(again, manifest.format, problems), tensors, problems);
      const want = readManifest(again);
      for (const f of want.files) {
        const found = manifest.files.find((x) => x.name === f.name);
        if (!found) problems.push(`${f.name}: expected in the output (re-derived from ${against}), found no such file in manifest.json`);
        else if (found.sha256 !== f.sha256 && f.name !== 'manifest.json') problems.push(`${f.name}: expected sha256 ${f.sha256} (re-derived from ${against}), found ${found.sha256}`);
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return { ok: problems.length === 0, problems, checked };
}

function readTensors(dir: string, format: string, problems: string[]): ReadTensor[] {
  try {
    return formatById(format).read(outputFolder(dir));
  } catch (e) {
    if (!isConversionError(e)) throw e;
    problems.push(e.message);
    return [];
  }
}

/** The conversion options an output was made with, from its manifest. */
function optionsOf(m: Manifest): Partial<ConvertOptions> {
  const o = m.options as Record<string, unknown>;
  return {
    format: m.format,
    timestamp: m.conversion_timestamp,
    rule: o.rule as ConvertOptions['rule'],
    granularity: o.scale_granularity as ConvertOptions['granularity'],
    bincode: o.bincode as ConvertOptions['bincode'],
    ggufType: o.gguf_type as ConvertOptions['ggufType'],
    ggufArch: o.gguf_arch as ConvertOptions['ggufArch'],
  };
}

/** Every ternary tensor of `found` against the re-derived `want`: values, then row scales. */
function compare(want: ReadTensor[], found: ReadTensor[], problems: string[]): void {
  const byName = new Map(found.map((t) => [t.name, t]));
  for (const w of want) {
    const f = byName.get(w.name);
    if (!f) {
      problems.push(`${w.name}: expected (re-derived from the source), found no such tensor`);
      continue;
    }
    if (!w.ternary || !f.ternary) continue;
    const cols = w.ternary.cols;
    const i = w.ternary.q.findIndex((v, k) => v !== f.ternary!.q[k]);
    if (i >= 0) problems.push(`${w.name}: value ${i} [${Math.floor(i / cols)}, ${i % cols}]: expected ${w.ternary.q[i]}, found ${f.ternary.q[i]}`);
    const r = w.ternary.rowScales.findIndex((v, k) => !Object.is(v, f.ternary!.rowScales[k]));
    if (r >= 0) problems.push(`${w.name}: scale of row ${r}: expected ${w.ternary.rowScales[r]}, found ${f.ternary.rowScales[r]}`);
  }
}

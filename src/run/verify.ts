// `verify OUTPUT [--against SOURCE]`: proves an output folder right. Without a source: manifest.json
// checked (src/io/converted.ts), every file it lists present, a regular file, with its size and sha256,
// no file it does not list, every tensor decodable by the format's reader (codes in range, row padding
// zero), scales finite and above 0, every tensor in the shape the output's own config implies
// (OutputFormat.expected: an engine refuses any other), none missing. Every problem line names the file
// first, then the tensor. With the source: the output is
// re-derived from it with the options manifest.json records, every file compared by its sha256, and in
// each file that differs every ternary tensor compared value by value (the first difference named by
// file, tensor, index, expected and found). A file equal to its re-derivation holds the same tensors
// (the conversion is deterministic), so it is not decoded twice.
// Memory stays bounded: files are hashed a chunk at a time and tensors decoded a row range at a time;
// the re-derivation runs on the worker pool while this thread hashes and checks the output.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { isConversionError } from '../errors.js';
import { checkFileAsync, listFolder, MANIFEST, outputFolder, readManifest, type FileFound, type Manifest } from '../io/converted.js';
import { formatById, type LazyTensor } from '../outputs/index.js';
import { shapeText, type ExpectedTensors } from '../outputs/expected.js';
import { convert, type ConvertOptions } from './convert.js';
import { optionsFromManifest } from '../pipeline/conversion.js';
import type { HubOptions } from '../hub/repo.js';

export interface Verdict {
  ok: boolean;
  /** One line per problem: file, tensor, index, expected, found. */
  problems: string[];
  /** What was checked, for the verdict line. */
  checked: { files: number; tensors: number; ternaryValues: number; against?: string };
}

/** `hub`: how a Hub source (against = hf:ORG/NAME[@REV]) is read: the token, the Hub's address (hub/repo.ts). */
export async function verify(output: string, against?: string, o: { threads?: number; hub?: HubOptions } = {}): Promise<Verdict> {
  const problems: string[] = [];
  const manifest = readManifest(output);
  const tmp = against === undefined ? undefined : mkdtempSync(join(tmpdir(), 'bitnet-verify-'));
  // started first: the pool converts while this thread reads the output, from when the jobs run (the
  // plan, with a parsed vocabulary, is gone by then: the two peaks do not add up)
  let jobsRunning = () => {};
  const running = new Promise<void>((resolve) => (jobsRunning = resolve));
  const again =
    tmp === undefined ? undefined : convert({ inputDir: against!, outputDir: join(tmp, 'out'), threads: o.threads, durable: false, ...(o.hub && { hub: o.hub }), onProgress: () => jobsRunning(), ...optionsOf(manifest) }).then((s) => s.outputDir);
  again?.catch(() => {}); // awaited below; a failure of the checks first must not leave it unhandled
  try {
    if (again !== undefined) await Promise.race([running, again.catch(() => {})]);
    const found = new Map<string, string>(); // the sha256 of each file as it is
    for (const f of manifest.files) {
      let is: FileFound | undefined;
      if (!(await guardAsync(problems, async () => void (is = await checkFileAsync(output, f))))) continue; // not a regular file
      if ('missing' in is!) {
        problems.push(`${f.name}: missing (manifest.json lists ${f.bytes} bytes)`);
        continue;
      }
      const { bytes, sha256 } = is!;
      if (sha256 !== undefined) found.set(f.name, sha256);
      if (bytes !== f.bytes) problems.push(`${f.name}: expected ${f.bytes} bytes (manifest.json), found ${bytes}`);
      else if (sha256 !== f.sha256) problems.push(`${f.name}: expected sha256 ${f.sha256} (manifest.json), found ${sha256}`);
    }
    // a file the manifest does not list was not written by the conversion (and an engine may load it)
    const listed = new Set([MANIFEST, ...manifest.files.map((f) => f.name)]);
    for (const name of listFolder(output).sort()) if (!listed.has(name)) problems.push(`${name}: expected only the files manifest.json lists, found this one too`);
    let tensors = 0;
    let ternaryValues = 0;
    let expected: ExpectedTensors | undefined;
    guard(problems, () => void (expected = formatById(manifest.format).expected(outputFolder(output))));
    const seen = new Set<string>();
    const read = { whole: true };
    for await (const t of lazily(output, manifest.format, problems, undefined, read)) {
      tensors++;
      seen.add(t.name);
      if (expected) shapeProblem(t, expected, manifest.format, problems);
      if (!t.ternary) continue;
      ternaryValues += t.ternary.rows * t.ternary.cols;
      const scales = t.ternary.rowScales;
      const bad = scales.findIndex((s) => !Number.isFinite(s) || s <= 0);
      if (bad >= 0) problems.push(`${t.file}: tensor ${t.name}: row ${bad}: expected a finite scale above 0, found ${scales[bad]}`);
      if (!guard(problems, () => t.ternary!.check())) {
        read.whole = false;
        break; // the reader stops at a corrupt tensor, as a whole read does
      }
    }
    // missing tensors only when the reader got through: a corrupt file already has its line
    if (expected && read.whole) {
      for (const [name, e] of expected.tensors) {
        if (!e.optional && !seen.has(name)) problems.push(`${e.file}: tensor ${name}: expected ${e.shapes.map(shapeText).join(' or ')} from ${expected.from}, found no such tensor`);
      }
    }
    const checked: Verdict['checked'] = { files: manifest.files.length, tensors, ternaryValues };
    if (again !== undefined) {
      checked.against = against;
      const dir = await again;
      const want = readManifest(dir);
      const differing = new Set<string>();
      for (const f of want.files) {
        const listed = manifest.files.find((x) => x.name === f.name);
        if (!listed) problems.push(`${f.name}: expected in the output (re-derived from ${against}), found no such file in manifest.json`);
        else if (listed.sha256 !== f.sha256 && f.name !== 'manifest.json') problems.push(`${f.name}: expected sha256 ${f.sha256} (re-derived from ${against}), found ${listed.sha256}`);
        if (f.name !== 'manifest.json' && found.get(f.name) !== f.sha256) differing.add(f.name);
      }
      if (differing.size > 0) await compare(dir, output, manifest.format, (file) => differing.has(file), problems);
    }
    const unique = [...new Set(problems)];
    return { ok: unique.length === 0, problems: unique, checked };
  } finally {
    if (tmp !== undefined) {
      await again?.catch(() => {});
      rmSync(tmp, { recursive: true, force: true });
    }
  }
}

/** Runs `fn`; a typed error becomes a problem line (false), any other is rethrown. */
function guard(problems: string[], fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (!isConversionError(e)) throw e;
    problems.push(e.message);
    return false;
  }
}

async function guardAsync(problems: string[], fn: () => Promise<void>): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (e) {
    if (!isConversionError(e)) throw e;
    problems.push(e.message);
    return false;
  }
}

/** The format's tensors of a folder one at a time (a corrupt file ends them with a problem line), yielding to the event loop between them. */
async function* lazily(dir: string, format: string, problems: string[], only?: (file: string) => boolean, read = { whole: true }): AsyncGenerator<LazyTensor> {
  let it: Iterator<LazyTensor> | undefined;
  for (;;) {
    let next: IteratorResult<LazyTensor> | undefined;
    if (!guard(problems, () => (next = (it ??= formatById(format).tensors(outputFolder(dir), only)[Symbol.iterator]()).next()))) {
      read.whole = false;
      return;
    }
    if (next!.done) return;
    yield next!.value;
    await yieldToEventLoop();
  }
}

/** A tensor the output's config has no place for, or holds in another shape: a problem line (an engine would refuse it). */
function shapeProblem(t: LazyTensor, expected: ExpectedTensors, format: string, problems: string[]): void {
  const e = expected.tensors.get(t.name);
  if (!e) problems.push(`${t.file}: tensor ${t.name}: expected only the tensors of a ${format} output of the model ${expected.from} describes, found this one too`);
  else if (!e.shapes.some((s) => s.length === t.shape.length && s.every((n, i) => n === t.shape[i]))) {
    problems.push(`${t.file}: tensor ${t.name}: invalid shape: expected ${e.shapes.map(shapeText).join(' or ')} from ${expected.from}, found ${shapeText(t.shape)}`);
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
    // a GGUF source's scales rounded with --allow-lossy are rounded again the same way
    ...(o.allow_lossy === true && { allowLossy: true }),
    ...optionsFromManifest(formatById(m.format), o),
  };
}

/**
 * Every ternary tensor of the files `only` accepts, of `output` against the re-derived `wantDir`: values
 * (a row range at a time), then row scales.
 */
async function compare(wantDir: string, output: string, format: string, only: (file: string) => boolean, problems: string[]): Promise<void> {
  const found = lazily(output, format, problems, only);
  const pending = new Map<string, LazyTensor>(); // read from the output ahead of the tensor looked for
  let foundDone = false;
  const lookup = async (name: string): Promise<LazyTensor | undefined> => {
    while (!pending.has(name) && !foundDone) {
      const r = await found.next();
      if (r.done) foundDone = true;
      else pending.set(r.value.name, r.value);
    }
    const t = pending.get(name);
    pending.delete(name);
    return t;
  };
  for await (const w of lazily(wantDir, format, problems, only)) {
    const f = await lookup(w.name);
    if (!f) {
      problems.push(`${w.file}: tensor ${w.name}: expected (re-derived from the source), found no such tensor`);
      continue;
    }
    if (!w.ternary || !f.ternary) continue;
    const [a, b] = [w.ternary, f.ternary];
    if (a.rows !== b.rows || a.cols !== b.cols) {
      problems.push(`${f.file}: tensor ${w.name}: expected [${a.rows}, ${a.cols}] values, found [${b.rows}, ${b.cols}]`);
      continue;
    }
    guard(problems, () => {
      for (let r = 0; r < a.rows; r += a.rowsPerChunk) {
        const n = Math.min(a.rowsPerChunk, a.rows - r);
        const x = a.decode(r, n);
        const y = b.decode(r, n);
        let k = 0;
        while (k < x.length && x[k] === y[k]) k++;
        if (k < x.length) {
          const i = r * a.cols + k;
          problems.push(`${f.file}: tensor ${w.name}: value ${i} [${Math.floor(i / a.cols)}, ${i % a.cols}]: expected ${x[k]}, found ${y[k]}`);
          break;
        }
      }
    });
    const s = a.rowScales.findIndex((v, k) => !Object.is(v, b.rowScales[k]));
    if (s >= 0) problems.push(`${f.file}: tensor ${w.name}: scale of row ${s}: expected ${a.rowScales[s]}, found ${b.rowScales[s]}`);
  }
}

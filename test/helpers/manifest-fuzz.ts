// The manifest.json fuzz cases, run in a child process by test/manifest-fuzz.test.ts (which kills it
// when it hangs): each case writes a mutated manifest.json into an output folder, then runs verify,
// inspect or verify --against on it. Every case must end in a verdict or a ConversionError with a
// one-line message. Prints "case <i> ..." on stderr before each case, and a JSON summary on stdout.
//
//   node --import tsx test/helpers/manifest-fuzz.ts SEED COUNT WORKDIR

import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ConversionError } from '../../build/js/errors.js';
import { convert } from '../../build/js/run/convert.js';
import { inspect } from '../../build/js/run/inspect.js';
import { verify } from '../../build/js/run/verify.js';
import { FORMAT_IDS } from '../../build/js/outputs/index.js';
import { mulberry32, type Rng } from './common.js';

const GOLDEN = new URL('../fixtures/golden-tiny/', import.meta.url).pathname;
const FORMATS = ['bitnet-rs', 'bitnet-rs-safetensors', 'hf-packed', 'ms-gpu'];
const SLOW_CASE_MS = 5000;

const [seed, count, work] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4]];

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];

/** Values a field can be replaced by: wrong types, edge numbers, names that leave the folder or are not files. */
const HOSTILE_NAMES = ['../../../dev/zero', '/dev/zero', '/etc/passwd', 'fifo', 'link', 'sub', 'manifest.json', 'a/b', 'sub/../config.json', '..', '.', '', 'nul\0', 'x\\y', 'config.json', '\u00e9\u{1F600}'];
function value(rng: Rng, depth = 0): unknown {
  switch (Math.floor(rng() * 14)) {
    case 0: return null;
    case 1: return rng() < 0.5;
    case 2: return pick(rng, [0, -1, 1.5, 2 ** 53, -(2 ** 63), 1e308, Number.MIN_VALUE, 7]);
    case 3: return pick(rng, HOSTILE_NAMES);
    case 4: return pick(rng, FORMAT_IDS);
    case 5: return pick(rng, ['offline', 'online', 'projection', 'row', 'standard', 'legacy', 'auto', 'f16', 'i2_s', 'bitnet']);
    case 6: return '0'.repeat(64);
    case 7: return 'f'.repeat(pick(rng, [63, 64, 65]));
    case 8: return depth > 2 ? [] : Array.from({ length: Math.floor(rng() * 4) }, () => value(rng, depth + 1));
    case 9: return depth > 2 ? {} : Object.fromEntries(Array.from({ length: Math.floor(rng() * 4) }, () => [pick(rng, ['name', 'bytes', 'sha256', 'x']), value(rng, depth + 1)]));
    case 10: return { name: pick(rng, HOSTILE_NAMES), bytes: pick(rng, [0, 1, 4096, -1]), sha256: '0'.repeat(64) };
    case 11: return '['.repeat(5000) + ']'.repeat(5000);
    case 12: return 'x'.repeat(Math.floor(rng() * 200));
    default: return Math.floor(rng() * 1e6);
  }
}

type Json = Record<string, unknown>;

/** One structural mutation of the manifest object (in place); returns what it did. `mild` ones keep it well-formed (a verdict, not an error). */
function mutate(m: Json, rng: Rng, mild: boolean): string {
  const files = Array.isArray(m.files) ? (m.files as unknown[]) : undefined;
  const entry = files && files.length ? Math.floor(rng() * files.length) : -1;
  const f = entry >= 0 && typeof files![entry] === 'object' && files![entry] !== null ? (files![entry] as Json) : undefined;
  const opts = typeof m.options === 'object' && m.options !== null ? (m.options as Json) : undefined;
  switch (mild ? pick(rng, [2, 5, 7, 8, 10]) : Math.floor(rng() * 10)) {
    case 0: {
      const key = pick(rng, ['format', 'options', 'files', 'conversion_timestamp', 'source', 'converter']);
      m[key] = value(rng);
      return `${key} = ${JSON.stringify(m[key])?.slice(0, 60)}`;
    }
    case 1: {
      const key = pick(rng, ['format', 'options', 'files', 'conversion_timestamp']);
      delete m[key];
      return `no ${key}`;
    }
    case 2:
      m.format = pick(rng, FORMAT_IDS);
      return `format ${m.format}`;
    case 3:
      if (!f) return 'nothing (no entry)';
      f.name = pick(rng, HOSTILE_NAMES);
      return `files[${entry}].name = ${JSON.stringify(f.name)}`;
    case 4: {
      if (!f) return 'nothing (no entry)';
      const key = pick(rng, ['name', 'bytes', 'sha256']);
      f[key] = value(rng);
      return `files[${entry}].${key} = ${JSON.stringify(f[key])?.slice(0, 60)}`;
    }
    case 5:
      if (!files) return 'nothing (no files)';
      if ((mild || rng() < 0.5) && entry >= 0) files.splice(entry, 1);
      else files.push(entry >= 0 && rng() < 0.5 ? files[entry] : value(rng));
      return `files: ${files.length} entries`;
    case 6: {
      if (!opts) return 'nothing (no options)';
      const key = pick(rng, ['rule', 'scale_granularity', 'bincode', 'gguf_type', 'gguf_arch', 'engine']);
      opts[key] = value(rng);
      return `options.${key} = ${JSON.stringify(opts[key])?.slice(0, 60)}`;
    }
    case 7:
      if (!f) return 'nothing (no entry)';
      f.bytes = (typeof f.bytes === 'number' ? f.bytes : 0) + pick(rng, [-1, 1, 1 << 20]);
      return `files[${entry}].bytes off by some`;
    case 8:
      files?.reverse();
      return 'files reversed';
    case 10:
      if (!f) return 'nothing (no entry)';
      f.sha256 = pick(rng, ['0'.repeat(64), 'f'.repeat(64)]);
      return `files[${entry}].sha256 changed`;
    default:
      m.conversion_timestamp = value(rng);
      return `conversion_timestamp = ${JSON.stringify(m.conversion_timestamp)?.slice(0, 40)}`;
  }
}

/** One text-level mutation: truncation, a byte changed, bytes inserted (invalid UTF-8 too), a span removed. */
function mutateText(text: Buffer, rng: Rng): [Buffer, string] {
  const at = Math.floor(rng() * (text.length + 1));
  switch (Math.floor(rng() * 4)) {
    case 0:
      return [text.subarray(0, at), `truncated at ${at}`];
    case 1: {
      const b = Buffer.from(text);
      if (b.length) b[Math.min(at, b.length - 1)] = pick(rng, [0x7b, 0x7d, 0x5b, 0x5d, 0x22, 0x2c, 0x3a, 0x30, 0x5c, 0x00, 0xff, 0x20]);
      return [b, `byte ${at} changed`];
    }
    case 2: {
      const junk = Buffer.from(Array.from({ length: 1 + Math.floor(rng() * 8) }, () => Math.floor(rng() * 256)));
      return [Buffer.concat([text.subarray(0, at), junk, text.subarray(at)]), `${junk.length} bytes inserted at ${at}`];
    }
    default: {
      const end = Math.min(text.length, at + 1 + Math.floor(rng() * 40));
      return [Buffer.concat([text.subarray(0, at), text.subarray(end)]), `bytes ${at}..${end} removed`];
    }
  }
}

async function main(): Promise<void> {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  // per format: a plain copy, and one that also holds what must never be opened (a FIFO, a symlink out, a folder)
  const dirs: { dir: string; manifest: Json }[] = [];
  for (const format of FORMATS) {
    const base = join(work, `${format}-base`);
    await convert({ inputDir: GOLDEN, outputDir: base, format, threads: 0, timestamp: 7 });
    for (const hostile of [false, true]) {
      const dir = join(work, `${format}${hostile ? '-hostile' : ''}`);
      cpSync(base, dir, { recursive: true });
      if (hostile) {
        spawnSync('mkfifo', [join(dir, 'fifo')]);
        symlinkSync('/dev/zero', join(dir, 'link'));
        mkdirSync(join(dir, 'sub'));
      }
      dirs.push({ dir, manifest: JSON.parse(readFileSync(join(base, 'manifest.json'), 'utf8')) });
    }
  }
  const counts: Record<string, number> = { verified: 0, problems: 0, typed: 0 };
  const failures: string[] = [];
  let slowest = 0;
  for (let i = 0; i < count; i++) {
    const rng = mulberry32((seed + i * 0x9e3779b1) >>> 0);
    const { dir, manifest } = pick(rng, dirs);
    const m = structuredClone(manifest);
    const done: string[] = [];
    const mild = rng() < 0.35;
    for (let k = 1 + Math.floor(rng() * 3); k > 0; k--) done.push(mutate(m, rng, mild));
    let text = Buffer.from(JSON.stringify(m, null, rng() < 0.5 ? 2 : 0));
    if (!mild && rng() < 0.3) {
      let what;
      [text, what] = mutateText(text, rng);
      done.push(what);
    }
    writeFileSync(join(dir, 'manifest.json'), text);
    const op = i % 40 === 0 ? 'verify --against' : pick(rng, ['verify', 'verify', 'verify', 'inspect']);
    const label = `case ${i} seed=${seed} ${op} ${dir.split('/').pop()}: ${done.join('; ')}`;
    process.stderr.write(label + '\n');
    const started = performance.now();
    try {
      if (op === 'inspect') {
        await inspect(dir, { threads: 0 });
        counts.verified++;
      } else {
        const v = await verify(dir, op === 'verify' ? undefined : GOLDEN, { threads: 0 });
        counts[v.ok ? 'verified' : 'problems']++;
        const bad = v.problems.find((p) => p.includes('\n'));
        if (bad !== undefined) failures.push(`PROBLEM LINE with a newline: ${label}: ${bad}`);
      }
    } catch (e) {
      if (!(e instanceof ConversionError)) failures.push(`UNTYPED ${label}\n    ${e instanceof Error ? e.stack : String(e)}`);
      else {
        counts.typed++;
        if (e.message.includes('\n')) failures.push(`MESSAGE with a newline: ${label}: ${e.message}`);
      }
    }
    const ms = performance.now() - started;
    slowest = Math.max(slowest, ms);
    if (ms > SLOW_CASE_MS) failures.push(`SLOW (${ms.toFixed(0)} ms) ${label}`);
  }
  rmSync(work, { recursive: true, force: true });
  process.stdout.write(JSON.stringify({ counts, failures, slowest }) + '\n');
}

await main();

#!/usr/bin/env node
// The command line: convert (the default command: a BitNet b1.58 checkpoint into any output format),
// synth (write a synthetic checkpoint), demo (synth + convert, no download needed), inspect, verify
// and serve (the browser page). Each format's own flags come from its option schema.

import { Command, InvalidArgumentError, Option } from 'commander';
import { existsSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { convert, type ConvertSummary } from '../run/convert.js';
import { generateCheckpoint, LAYOUTS, LAYOUT_ALIASES, layoutOf, type LayoutName, type SynthDType } from '../synth/generate.js';
import { TOKENIZER_STYLES, type TokenizerStyle } from '../synth/tokenizer.js';
import { PRESETS } from '../synth/presets.js';
import { generateGgufCheckpoint } from '../run/synth-gguf.js';
import { abortActiveTransactions, activeTransactionCount } from '../io/output-dir.js';
import { stopWorkers } from '../run/pool.js';
import { isConversionError, UsageError } from '../errors.js';
import { QUANT_RULES, SCALE_GRANULARITIES, type QuantRule } from '../quant/rule.js';
import { VERSION } from '../version.js';
import { DEFAULTS } from '../defaults.js';
import { FORMATS, FORMAT_IDS, FORMAT_OPTIONS, optionFlag } from '../outputs/index.js';
import { ENGINES, ENGINE_IDS, engineById, mainFile, runCommand } from '../outputs/engines.js';
import { LAYOUTS as INPUT_LAYOUTS } from '../layouts/index.js';
import { createProgress, gb } from './progress.js';
import { servePage } from './serve.js';
import { inspect } from '../run/inspect.js';
import { isHubInput, type HubOptions } from '../hub/repo.js';
import { roleName } from '../model/plan.js';
import { verify } from '../run/verify.js';
import { inspectionText } from './inspect-text.js';
import { RunLog } from './log.js';
import { convertReportData, inspectReportData, verifyReportData, type VerifyOutcome } from '../report/gather.js';
import { nodeReportHost, writeReport } from './report.js';

const MODEL = 'microsoft/bitnet-b1.58-2B-4T-bf16';
const DEFAULT_INPUT = `models/Original/${MODEL}`;
const DEFAULT_OUTPUT = `models/Converted/${MODEL}`;

interface ConvertFlags {
  inputDir: string;
  outputDir: string;
  format: string;
  layout?: string;
  force?: boolean;
  allowLossy?: boolean;
  threads?: number;
  scaleGranularity: 'projection' | 'row';
  rule: QuantRule;
  timestamp?: number;
  kernels: 'auto' | 'simd' | 'scalar';
  chunkMib: number;
  quiet?: boolean;
  verbose?: boolean;
  logDir: string;
  jsonSummary?: string;
  report?: string;
  reportTensor?: string;
  /** Every format's own options, by key (FORMAT_OPTIONS). */
  [formatOption: string]: unknown;
}

function wholeNumber(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a whole number ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}`);
    }
    return n;
  };
}

function addConvertOptions(cmd: Command, defaults: { input: string; output: string }): Command {
  cmd
    .option('--input-dir <dir>', 'model folder: config.json + model.safetensors, or sharded model-*.safetensors + model.safetensors.index.json; or a .gguf file (or a folder holding one); or a Hugging Face model as hf:ORG/NAME[@REVISION] (a .gguf in it: hf:ORG/NAME[@REVISION]/FILE.gguf), read over HTTP (nothing stored)', defaults.input)
    .option('--output-dir <dir>', 'where the converted files go (written to a temporary folder beside it, moved into place on success)', defaults.output)
    .addOption(new Option('--format <format>', Object.values(FORMATS).map((f) => `${f.id}: ${f.about}`).join('; ')).choices(FORMAT_IDS).default(DEFAULTS.format))
    .addOption(
      new Option('--engine <engine>', `the engine you will run the output in; picks --format and its options from the model (${ENGINES.map((e) => `${e.id}: ${e.format}`).join(', ')})`).choices(ENGINE_IDS).conflicts('format'),
    )
    // no choices here: synth's --layout (which also takes the older names) is parsed by this option too
    .option('--layout <layout>', `the input layout, when it cannot be detected (default: detected from config.json and the dtypes): ${INPUT_LAYOUTS.map((l) => l.id).join(', ')}; llama-latent (${INPUT_LAYOUTS.find((l) => l.id === 'llama-latent')!.about}) is read only when named`);
  // each format's own options, from its schema: --gguf-arch, --gguf-type, --bincode, ...
  for (const { format, option } of FORMAT_OPTIONS) {
    cmd.addOption(new Option(`--${optionFlag(option.key)} <value>`, `${format}: ${option.help}`).choices(option.values).default(option.default));
  }
  return cmd
    .option('-f, --force', 'replace an existing output folder (only after the new one is complete)')
    .option('--allow-lossy', 'write a scale the source stores exactly (a GGUF\'s) rounded to a narrower output dtype, instead of refusing; manifest.json lists each one rounded')
    .option('-t, --threads <n>', 'worker threads (default: the available parallelism; 0 = no workers)', wholeNumber('--threads', 0))
    .addOption(
      new Option('--scale-granularity <g>', 'projection: the reference absmean rule, one scale per q/k/v/o/gate/up/down; row: the seed\'s per-row mean|row| (does not match the reference)')
        .choices(SCALE_GRANULARITIES)
        .default(DEFAULTS.granularity),
    )
    .addOption(
      new Option('--rule <rule>', 'offline: the reference (microsoft/BitNet quant_weight_int8, arithmetic in the weights\' dtype); online: transformers\' WeightQuant (f32 arithmetic)')
        .choices(QUANT_RULES)
        .default(DEFAULTS.rule),
    )
    .option('--timestamp <seconds>', 'conversion_timestamp to record (default: $SOURCE_DATE_EPOCH, else now); makes the output reproducible', wholeNumber('--timestamp', 0))
    .addOption(new Option('--kernels <build>', 'wasm kernel build: simd, scalar, or auto (simd when the runtime supports it)').choices(['auto', 'simd', 'scalar']).default(DEFAULTS.kernels))
    .option('--chunk-mib <n>', 'input MiB read into wasm memory per step, 1 to 256 (memory per thread: about 2-3x this, plus up to 64 MiB to hold one projection)', wholeNumber('--chunk-mib', 1, 256), DEFAULTS.chunkBytes / 2 ** 20)
    .option(...HF_TOKEN_OPTION)
    .option('-q, --quiet', 'print only errors')
    .option('-v, --verbose', 'print stack traces with errors')
    .option('--log-dir <dir>', 'folder for the run log bitnet-converter-<timestamp>.txt', 'logs')
    .option('--json-summary <file>', 'also write the run\'s summary as JSON (wall time, bytes, GB/s, peak memory, files with sha256) for scripts and CI')
    .option(...REPORT_OPTION)
    .option(...REPORT_TENSOR_OPTION);
}

const REPORT_OPTION = ['--report <file.html>', 'also write a self-contained HTML report: model summary, per-layer scale and zero charts, a source histogram, timings and the verdict'] as const;
const REPORT_TENSOR_OPTION = ['--report-tensor <name>', 'the projection whose source |w|/mean|w| the report\'s histogram shows: a tensor name or a role such as blk.3.ffn_down (default blk.0.attn_q)'] as const;

const HF_TOKEN_OPTION = ['--hf-token <token>', 'an access token for a gated or private Hugging Face model (hf:ORG/NAME input; default: $HF_TOKEN); never logged or written'] as const;

/** How a Hub input is read: the token (flag, else HF_TOKEN), the Hub's address (HF_ENDPOINT, as Hugging Face's own tools take it). */
function hubOptions(token: string | undefined): HubOptions {
  const t = token ?? (process.env.HF_TOKEN || undefined);
  const endpoint = process.env.HF_ENDPOINT || undefined;
  return { ...(t !== undefined && { token: t }), ...(endpoint !== undefined && { endpoint }) };
}

/** The command line as the log records it: an access token is never written. */
function loggedArgs(args: string[]): string {
  return args.map((a, i) => (args[i - 1] === '--hf-token' ? '<token>' : a.startsWith('--hf-token=') ? '--hf-token=<token>' : a)).join(' ');
}

async function runConvert(flags: ConvertFlags, isDefaultInput: boolean): Promise<ConvertSummary> {
  const log = new RunLog(flags.logDir);
  log.line(`bitnet-converter ${VERSION}: ${loggedArgs(process.argv.slice(2))}`);
  const say = (m: string) => {
    log.line(m);
    if (!flags.quiet) process.stderr.write(m + '\n');
  };
  const started = performance.now();
  try {
    const hub = isHubInput(flags.inputDir);
    const hubOpts = hubOptions(flags.hfToken as string | undefined);
    if (!hub && !existsSync(flags.inputDir)) {
      const hint = isDefaultInput
        ? `download the model first (huggingface-cli download ${MODEL} --local-dir ${DEFAULT_INPUT}) or try the converter on a synthetic model: bitnet-converter demo`
        : 'pass --input-dir with a folder holding config.json and the safetensors files';
      throw new UsageError(`${resolve(flags.inputDir)}: input folder not found; ${hint}`);
    }
    say(`converting ${flags.inputDir} -> ${flags.outputDir}`);
    const progress = createProgress({ quiet: !!flags.quiet });
    let summary: ConvertSummary;
    try {
      summary = await convert({
        inputDir: flags.inputDir,
        outputDir: flags.outputDir,
        ...(hub && { hub: hubOpts }),
        ...Object.fromEntries(FORMAT_OPTIONS.map(({ option }) => [option.key, flags[option.key]])),
        ...(flags.engine === undefined ? { format: flags.format } : { engine: flags.engine as string }),
        layout: flags.layout,
        force: flags.force,
        threads: flags.threads,
        granularity: flags.scaleGranularity,
        rule: flags.rule,
        timestamp: flags.timestamp,
        kernels: flags.kernels,
        chunkBytes: flags.chunkMib * 2 ** 20,
        allowLossy: flags.allowLossy,
        stats: flags.report !== undefined, // the report's per-layer statistics, counted in the conversion pass
        onProgress: progress.update,
        onWarning: (m) => say(`warning: ${m}`),
      });
    } finally {
      progress.end();
    }
    const peak = process.resourceUsage().maxRSS * 1024;
    const written = summary.files.reduce((s, f) => s + f.bytes, 0);
    say(
      `done in ${summary.seconds.toFixed(2)} s: ${summary.files.length} files, ${gb(written)} GB written to ${summary.outputDir}; ` +
        `input ${gb(summary.inputBytes)} GB at ${gb(summary.inputBytes / summary.seconds)} GB/s` +
        `${summary.bytesFetched !== undefined ? ` (${gb(summary.bytesFetched)} GB fetched from the Hub)` : ''}; peak memory ${(peak / 2 ** 20).toFixed(0)} MiB; ` +
        `${summary.layout} -> ${summary.format}; ${summary.kernels} kernels, ${summary.threads} thread${summary.threads === 1 ? '' : 's'}${summary.tiedLmHead ? '; lm_head tied to the embedding' : ''}`,
    );
    for (const f of summary.files) log.line(`  ${f.name} ${f.bytes} bytes sha256 ${f.sha256}`);
    const engine = flags.engine === undefined ? undefined : engineById(flags.engine as string);
    if (engine) {
      const main = join(summary.outputDir, mainFile(summary.files.map((f) => f.name)));
      say(`run it in ${engine.label}: ${runCommand(engine, summary.outputDir, main, basename(summary.outputDir))}`);
    }
    const doc = {
      converter: { name: 'bitnet-converter', version: VERSION },
      input: { dir: hub ? flags.inputDir : resolve(flags.inputDir), layout: summary.layout, bytes: summary.inputBytes },
      output: { dir: summary.outputDir, format: summary.format, bytes: written, files: summary.files },
      seconds: summary.seconds,
      input_gb_per_second: summary.inputBytes / 1e9 / summary.seconds,
      bytes_read: summary.bytesRead,
      ...(summary.bytesFetched !== undefined && { bytes_fetched: summary.bytesFetched }),
      peak_rss_bytes: peak,
      threads: summary.threads,
      kernels: summary.kernels,
      warnings: summary.warnings,
    };
    if (flags.jsonSummary) writeFileSync(flags.jsonSummary, JSON.stringify(doc, null, 2) + '\n');
    if (flags.report) {
      writeReport(flags.report, await convertReportData(await nodeReportHost(flags.inputDir, hubOpts), reportOptions(flags), { summary, doc }));
      say(`report written to ${flags.report}`);
    }
    return summary;
  } catch (e) {
    log.line(`error: ${(e as Error).stack ?? e}`);
    if (flags.report && (isHubInput(flags.inputDir) || existsSync(flags.inputDir))) {
      try {
        const host = await nodeReportHost(flags.inputDir, {}, false); // names the source only
        writeReport(flags.report, await convertReportData(host, reportOptions(flags), { error: e, seconds: (performance.now() - started) / 1000 }));
      } catch (r) {
        log.line(`the failure report could not be written: ${(r as Error).message}`); // the conversion's error is the one to report
      }
    }
    throw e;
  }
}

/**
 * A subcommand's options. The program's own options (convert's, for the default command) are also
 * recognised after a subcommand and then land on the program: a subcommand option of the same name
 * (--rule, --report, --report-tensor) given on the command line is taken from there.
 */
function ownOptions<T>(cmd: Command): T {
  const own = { ...cmd.opts() };
  const parent = cmd.parent;
  for (const name of Object.keys(cmd.opts()).concat(cmd.options.map((x) => x.attributeName()))) {
    if (parent && cmd.getOptionValueSource(name) !== 'cli' && parent.getOptionValueSource(name) === 'cli') own[name] = parent.opts()[name];
  }
  return own as T;
}

function reportOptions(flags: ConvertFlags) {
  return { inputDir: flags.inputDir, outputDir: flags.outputDir, format: flags.format, rule: flags.rule, granularity: flags.scaleGranularity, tensor: flags.reportTensor };
}

export function buildProgram(): Command {
  const program = new Command('bitnet-converter')
    .description("Convert BitNet b1.58 checkpoints (Hugging Face master weights, packed U8, 1bitLLM, Llama-style packed) into the packed ternary files engines load: GGUF for bitnet.cpp and llama.cpp, transformers' packed checkpoint, Microsoft's GPU layout, bitnet-rs; bit-exact to the reference rule, streamed, on every core.")
    .version(VERSION)
    .showHelpAfterError();
  addConvertOptions(program, { input: DEFAULT_INPUT, output: DEFAULT_OUTPUT }).action(async (flags: ConvertFlags, cmd: Command) => {
    // with --engine, a format option left at its default is the engine's to set (one given is checked against it)
    if (flags.engine !== undefined) for (const { option } of FORMAT_OPTIONS) if (cmd.getOptionValueSource(option.key) === 'default') delete flags[option.key];
    await runConvert(flags, cmd.getOptionValueSource('inputDir') === 'default');
  });

  program
    .command('synth')
    .description('write a synthetic checkpoint in the real Hugging Face layout (for demos, tests and benchmarks)')
    .addOption(new Option('--preset <name>', Object.entries(PRESETS).map(([k, v]) => `${k}: ${v.about}`).join('; ')).choices(Object.keys(PRESETS)).default('tiny'))
    .addOption(
      new Option(
        '--layout <layout>',
        'checkpoint layout, by the input layout it is read as: hf-bitnet (2B-4T-bf16 master weights), hf-bitnet-packed (2B-4T U8 + weight_scale), 1bitllm (bitnet_b1_58 latent weights), llama-packed (HF1BitLLM Llama3-8B-1.58, Falcon3-1.58bit), llama-latent (Falcon-E prequantized: convert it with --layout llama-latent), gguf (an hf-bitnet checkpoint converted to one .gguf: I2_S where its rows fit, else F16); master and packed are older names of the first two',
      )
        .choices([...LAYOUTS, 'gguf', ...Object.keys(LAYOUT_ALIASES)])
        .default('hf-bitnet'),
    )
    .addOption(new Option('--dtype <dtype>', "float weights' dtype (default: the layout's: F32 for 1bitllm, else BF16)").choices(['BF16', 'F16', 'F32']))
    .option('--shards <n>', 'number of safetensors files (more than 1 writes model.safetensors.index.json)', wholeNumber('--shards', 1), 1)
    .option('--untied', 'write lm_head.weight (tie_word_embeddings false; the Falcon presets are untied without it)')
    .option('--seed <n>', 'random seed', wholeNumber('--seed', 0), 1)
    .addOption(
      new Option('--tokenizer <style>', "the vocabulary's files: the layout's own, or llama2-json (a Llama 2 style tokenizer.json with byte fallback alone, no tokenizer.model)")
        .choices([...TOKENIZER_STYLES])
        .default('layout'),
    )
    .requiredOption('-o, --out <dir>', 'folder to write')
    .action(async (_o: unknown, cmd: Command) => {
      const o = ownOptions<{ preset: string; layout: LayoutName | 'gguf'; dtype?: SynthDType; shards: number; untied?: boolean; seed: number; out: string; tokenizer: TokenizerStyle }>(cmd);
      if (o.layout === 'gguf') {
        const r = await generateGgufCheckpoint({ outDir: o.out, preset: o.preset, dtype: o.dtype, untied: o.untied, seed: o.seed, from: o.untied ? 'llama-latent' : 'hf-bitnet' });
        process.stderr.write(`wrote ${o.preset} gguf checkpoint to ${r.dir}: ${r.files.join(', ')} (${gb(r.bytes)} GB)\n`);
        return;
      }
      const r = generateCheckpoint({ outDir: o.out, preset: o.preset, layout: o.layout, dtype: o.dtype, shards: o.shards, untied: o.untied, seed: o.seed, tokenizer: o.tokenizer });
      process.stderr.write(`wrote ${o.preset} ${layoutOf(o.layout)} checkpoint to ${r.dir}: ${r.files.join(', ')} (${gb(r.bytes)} GB)\n`);
    });

  program
    .command('inspect')
    .description('what a model folder holds: an input checkpoint (layout, tensors, ternary statistics under --rule) or a converted output (format, tensors decoded by its reader), or a .gguf file')
    .argument('<path>', 'a model folder, an output folder, a .gguf file, or a Hugging Face model as hf:ORG/NAME[@REVISION][/FILE.gguf]')
    .option('--json', 'one JSON document instead of text')
    .option(...HF_TOKEN_OPTION)
    .addOption(new Option('--rule <rule>', 'the rule for master weights\' statistics').choices(QUANT_RULES).default(DEFAULTS.rule))
    .addOption(new Option('--layout <layout>', 'an input checkpoint\'s layout, as convert takes it (default: detected; llama-latent is read only when named)').choices(INPUT_LAYOUTS.map((l) => l.id)))
    .option(...REPORT_OPTION)
    .option(...REPORT_TENSOR_OPTION)
    .action(async (path: string, _o: unknown, cmd: Command) => {
      const o = ownOptions<{ json?: boolean; rule: QuantRule; layout?: string; report?: string; reportTensor?: string; hfToken?: string }>(cmd);
      const started = performance.now();
      const hub = hubOptions(o.hfToken);
      const result = await inspect(path, { rule: o.rule, layout: o.layout, hub });
      // --json spells roles as text (blk.3.attn_q), as --report-tensor takes them
      const json = () => JSON.stringify({ ...result, tensors: result.tensors.map((t) => (t.role === undefined ? t : { ...t, role: roleName(t.role) })) }, null, 2) + '\n';
      process.stdout.write(o.json ? json() : inspectionText(result));
      if (o.report) writeReport(o.report, await inspectReportData(await nodeReportHost(path, hub), path, result, { rule: o.rule, layout: o.layout, tensor: o.reportTensor, seconds: (performance.now() - started) / 1000 }));
    });

  program
    .command('verify')
    .description('prove an output folder right: manifest sizes and sha256, every tensor decodable with codes and scales in range; with --against, every value re-derived from the source')
    .argument('<output>', 'an output folder (with manifest.json)')
    .option('--against <source>', 'the model folder it was converted from (or hf:ORG/NAME[@REVISION]): re-derive it with the recorded options and compare')
    .option(...HF_TOKEN_OPTION)
    .option(...REPORT_OPTION)
    .option(...REPORT_TENSOR_OPTION)
    .action(async (output: string, _o: unknown, cmd: Command) => {
      const o = ownOptions<{ against?: string; report?: string; reportTensor?: string; hfToken?: string }>(cmd);
      const started = performance.now();
      const hub = hubOptions(o.hfToken);
      const report = async (v: VerifyOutcome) =>
        o.report && writeReport(o.report, await verifyReportData(await nodeReportHost(o.against, hub, !('error' in v)), output, o.against, v, { tensor: o.reportTensor, seconds: (performance.now() - started) / 1000 }));
      let v;
      try {
        v = await verify(output, o.against, { hub });
      } catch (e) {
        await report({ error: e });
        throw e;
      }
      await report(v);
      const what = `${v.checked.files} files, ${v.checked.tensors} tensors, ${v.checked.ternaryValues} ternary values${v.checked.against ? `, against ${v.checked.against}` : ''}`;
      process.stdout.write(`${v.ok ? 'verified' : `FAILED (${v.problems.length} problems)`}: ${output}: ${what}\n`);
      for (const p of v.problems) process.stdout.write(`  ${p}\n`);
      if (!v.ok) process.exitCode = 1;
    });

  program
    .command('serve')
    .description('serve the browser page that converts a model folder in the browser (nothing is uploaded) on http://127.0.0.1')
    .option('--port <n>', 'port (0: any free port)', wholeNumber('--port', 0, 65535), 8640)
    .option('--host <address>', 'address to listen on (the page needs no other machine)', '127.0.0.1')
    .option('--hf-endpoint <url>', 'the Hub address the page reads models from (a mirror); default: HF_ENDPOINT, else https://huggingface.co')
    .action(async (o: { port: number; host: string; hfEndpoint?: string }) => {
      const hubEndpoint = o.hfEndpoint ?? (process.env.HF_ENDPOINT || undefined);
      const { url } = await servePage(o.port, o.host, { hubEndpoint });
      process.stdout.write(`serving the bitnet-converter page at ${url}${hubEndpoint ? ` (models from ${hubEndpoint})` : ''} (Ctrl-C to stop)\n`);
    });

  const demo = program
    .command('demo')
    .description('generate a synthetic model (no download) and convert it: models/Synthetic/<preset> -> models/Converted/synthetic-<preset>')
    .addOption(new Option('--preset <name>', 'synthetic model shape').choices(Object.keys(PRESETS)).default('small'));
  demo.action(async (o: { preset: string }) => {
    const input = `models/Synthetic/${o.preset}-bf16`;
    if (!existsSync(`${input}/config.json`)) generateCheckpoint({ outDir: input, preset: o.preset });
    const parent = program.opts<ConvertFlags>();
    await runConvert({ ...parent, inputDir: input, outputDir: `models/Converted/synthetic-${o.preset}-bf16`, force: true }, false);
  });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  let interrupted = false;
  const onSignal = async (signal: NodeJS.Signals) => {
    interrupted = true;
    const writing = activeTransactionCount() > 0;
    // stop the workers first, so that nothing writes into the folder being removed
    await Promise.race([stopWorkers(), new Promise((r) => setTimeout(r, 2000))]);
    abortActiveTransactions();
    process.stderr.write(`\ninterrupted by ${signal}${writing ? ': the output folder was left as it was' : ''}\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0; // a command's own verdict (verify)
  } catch (e) {
    if (interrupted) return new Promise<number>(() => {}); // the signal handler reports and exits
    const verbose = argv.includes('--verbose') || argv.includes('-v');
    if (isConversionError(e) && !verbose) process.stderr.write(`error: ${e.message}\n`);
    else process.stderr.write(`error: ${verbose ? ((e as Error).stack ?? e) : ((e as Error).message ?? e)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv);

// Runs a GGUF file through a real engine (node-llama-cpp, installed test-only in test/engines by
// scripts/install-engines.mjs) in a child process, one model per process: a native abort on a bad
// file kills the child, not the test run, and its stderr says why.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pearson } from '../reference/forward-ref.js';

const ENGINES = fileURLToPath(new URL('../engines/', import.meta.url));
const SCRIPT = join(ENGINES, 'llama-logprobs.mjs');
const INSTALL = 'node scripts/install-engines.mjs';

/** The pinned versions (test/engines/package.json). */
export const PINNED: Record<string, string> = JSON.parse(readFileSync(join(ENGINES, 'package.json'), 'utf8')).dependencies;

function installedVersion(name: string): string | undefined {
  try {
    return JSON.parse(readFileSync(join(ENGINES, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

/** Why node-llama-cpp cannot run here, or undefined when it can. */
export function engineProblem(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `only linux-x64 is provided, this is ${process.platform}-${process.arch}`;
  for (const [name, version] of Object.entries(PINNED)) {
    const found = installedVersion(name);
    if (found !== version) return `${name} ${version} is not installed in test/engines (found ${found ?? 'nothing'}): run ${INSTALL}`;
  }
  if (!existsSync(join(ENGINES, 'node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/llama-addon.node'))) return `the linux-x64 prebuilt is incomplete: run ${INSTALL}`;
  return undefined;
}

export function engineAvailable(): boolean {
  return engineProblem() === undefined;
}

/**
 * Whether tests that need the engine should run: yes when it is installed, and also in CI
 * (CI=true), where .ci/run installs it, so that a missing install FAILS there instead of skipping.
 */
export function engineTestsEnabled(): boolean {
  return engineAvailable() || process.env.CI === 'true';
}

/** Throws with the reason when the engine is missing (for the first line of an engine test). */
export function requireEngine(): void {
  const p = engineProblem();
  if (p) throw new Error(`engine test needs node-llama-cpp: ${p}`);
}

export interface LlamaRun {
  vocabSize: number;
  tokens: number[];
  /** logprobs[i][t]: log p(next = t | tokens[0..i]); -Infinity where the engine's f32 probability underflowed to 0. */
  logprobs: Float64Array[];
  underflowed: number;
  /** The smallest finite log-probability seen. */
  minLogprob: number;
  /** GGUF key/values as node-llama-cpp parsed them (arrays over 16 items shortened to {length, first, last}). */
  metadata: Record<string, unknown>;
  tensors: Array<{ name: string; dims: number[]; type: number }>;
  model: { ggufVersion: number; trainContextSize: number; embeddingVectorSize: number; vocabularyType: string; bos: number | null; eos: number | null; fileSize: number };
  engine: { nodeLlamaCpp: string; llamaCppRelease: { repo: string; release: string }; gpu: string | false; buildType: string; cpuMathCores: number };
  timingsMs: Record<string, number>;
  /** Wall time of the child process. */
  wallMs: number;
  /** The child's stderr (llama.cpp's warnings). */
  stderr: string;
}

export class EngineError extends Error {
  constructor(
    message: string,
    readonly detail: { status: number | null; signal: string | null; stderr: string; stage?: string },
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

/**
 * The shape of the synthetic models the engine tests use: rows multiples of 256 (what TQ1_0/TQ2_0
 * blocks need), GQA (4 heads, 2 kv heads, head_dim 64), 2 layers, and a vocabulary large enough for
 * the 1bitllm layout's SentencePiece tokenizer to hold all 256 byte tokens (it needs
 * 5 specials + 256 bytes + 32 merges = 293 ids at least; llama.cpp aborts on an SPM vocabulary without them).
 */
export const ENGINE_SHAPE = {
  hidden_size: 256,
  intermediate_size: 512,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 300,
};

/** Sixteen token ids (BOS first) spread over that vocabulary. */
export const ENGINE_TOKENS: readonly number[] = [1, 40, 77, 290, 5, 100, 250, 12, 13, 99, 150, 280, 3, 60, 61, 62];

const tail = (s: string, n = 4000) => (s.length > n ? '...' + s.slice(-n) : s);

/**
 * Loads `ggufPath` in node-llama-cpp (CPU) in a child process and returns the log-probabilities of
 * the next token at every position of `tokens`. Rejects with an EngineError naming the cause: the
 * engine's own error (stage and message), a native crash (signal and the last of stderr, where
 * llama.cpp prints its GGML_ASSERT / abort reason), or the timeout (default 60 s).
 */
export async function runLlama(ggufPath: string, tokens: readonly number[], opts: { timeoutMs?: number; threads?: number } = {}): Promise<LlamaRun> {
  const args = [JSON.stringify(tokens), ...(opts.threads ? ['--threads', String(opts.threads)] : [])];
  const { result, wallMs, stderr } = await runEngineScript(SCRIPT, ggufPath, args, undefined, opts.timeoutMs);
  const logprobs = (result.logprobs as Array<Array<number | null>>).map((row) => Float64Array.from(row, (x) => (x === null ? -Infinity : x)));
  return { ...result, logprobs, wallMs, stderr };
}

/** What node-llama-cpp makes of each text with our GGUF's vocabulary (test/engines/llama-tokenize.mjs). */
export interface TokenizeRun {
  /** Special-token text parsed as the special token (as Hugging Face tokenizers do). */
  special: number[];
  /** Special-token text as plain text. */
  plain: number[];
  /** `plain` detokenized. */
  detokenized: string;
}

/** Tokenizes `texts` with only the vocabulary of `ggufPath` loaded, in a child process. */
export async function runTokenizer(ggufPath: string, texts: readonly string[], opts: { timeoutMs?: number } = {}): Promise<TokenizeRun[]> {
  const { result } = await runEngineScript(join(ENGINES, 'llama-tokenize.mjs'), ggufPath, [], JSON.stringify({ texts }), opts.timeoutMs);
  return result.results;
}

/** Runs one of test/engines' scripts on a model (its JSON result written to --out), as EngineErrors when it fails. */
function runEngineScript(script: string, ggufPath: string, args: string[], stdin: string | undefined, timeoutMs = 60_000): Promise<{ result: any; wallMs: number; stderr: string }> {
  const problem = engineProblem();
  if (problem) return Promise.reject(new EngineError(`node-llama-cpp is not available: ${problem}`, { status: null, signal: null, stderr: '' }));
  const dir = mkdtempSync(join(tmpdir(), 'bitnet-llama-'));
  const out = join(dir, 'result.json');
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ggufPath, ...args, '--out', out], { cwd: ENGINES, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (stdin !== undefined) child.stdin!.end(stdin);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      reject(new EngineError(`could not start ${script}: ${e.message}`, { status: null, signal: null, stderr }));
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      const wallMs = Date.now() - t0;
      let result: any;
      try {
        result = JSON.parse(readFileSync(out, 'utf8'));
      } catch {
        result = undefined;
      }
      rmSync(dir, { recursive: true, force: true });
      const detail = { status, signal, stderr, stage: result?.stage };
      const where = `node-llama-cpp on ${ggufPath}`;
      if (timedOut) return reject(new EngineError(`${where}: timed out after ${timeoutMs} ms; stderr: ${tail(stderr)}`, detail));
      if (result?.ok === false) return reject(new EngineError(`${where}: ${result.stage} failed: ${result.error}; stderr: ${tail(stderr)}`, detail));
      if (status !== 0 || !result) {
        const how = signal ? `was killed by ${signal} (a native abort)` : `exited with status ${status}`;
        return reject(new EngineError(`${where}: the engine process ${how} without a result; stderr: ${tail(stderr)}${stdout ? `; stdout: ${tail(stdout, 1000)}` : ''}`, detail));
      }
      resolve({ result, wallMs, stderr });
    });
  });
}

/** Per-position correlation of an engine run's log-probs with a reference, over the tokens whose engine probability did not underflow. */
export function correlations(engineRun: LlamaRun, reference: Float64Array[]): number[] {
  return engineRun.logprobs.map((row, i) => {
    const a: number[] = [];
    const b: number[] = [];
    row.forEach((x, t) => {
      if (Number.isFinite(x)) {
        a.push(x);
        b.push(reference[i][t]);
      }
    });
    return pearson(a, b);
  });
}

#!/usr/bin/env node
// A child-process program (one model per process: a native abort on a bad file kills the process,
// not the test run): loads a GGUF file with node-llama-cpp on the CPU (prebuilt binaries, no build,
// no download), evaluates the given tokens in one sequence and writes, per position, the
// log-probability of every vocabulary token being next, plus what the engine reports about the model.
//
//   node test/engines/llama-logprobs.mjs MODEL.gguf '[1, 2, 3]' [--out result.json] [--threads N]
//   echo '{"tokens": [1, 2, 3]}' | node test/engines/llama-logprobs.mjs MODEL.gguf [--out result.json]
//
// Output (stdout, or the --out file), JSON:
//   { ok: true, vocabSize, tokens, logprobs: (number | null)[][] (logprobs[i][t] = log p(token t
//     after tokens[0..i]); null where the engine's f32 probability underflowed to 0), underflowed,
//     minLogprob, metadata (the GGUF key/values as node-llama-cpp parsed them, long arrays shortened),
//     tensors [{name, dims, type}], model {...}, engine {...}, timingsMs {...} }
// or { ok: false, stage, error } with exit status 1 when loading or evaluating throws.
//
// node-llama-cpp has no raw-logits call: controlledEvaluate with generateNext.probabilities returns
// softmax(logits) over the whole vocabulary, computed in f32 by its addon (llama/addon/AddonContext.cpp:
// expf(logit - max) / sum, with the default temperature 0 no sampler changes the logits), so
// log p = logit - logsumexp(logits) up to f32 rounding, and p underflows to exactly 0 below about
// e^-103 (the smallest f32 subnormal), where log p is unknown: reported as null.

import { readFileSync, writeFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const flag = (name) => {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  argv.splice(i, 2);
  return v;
};
const outPath = flag('--out');
const threads = flag('--threads');
const [modelPath, tokensArg] = argv;

function finish(result, status) {
  const text = JSON.stringify(result);
  if (outPath) writeFileSync(outPath, text);
  else process.stdout.write(text + '\n');
  process.exit(status);
}

function fail(stage, e) {
  finish({ ok: false, stage, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }, 1);
}

if (!modelPath) fail('arguments', 'usage: llama-logprobs.mjs MODEL.gguf [TOKENS_JSON] [--out FILE] [--threads N]');

let tokens;
try {
  const raw = tokensArg ?? readFileSync(0, 'utf8');
  const parsed = JSON.parse(raw);
  tokens = Array.isArray(parsed) ? parsed : parsed.tokens;
  if (!Array.isArray(tokens) || tokens.length === 0 || !tokens.every((t) => Number.isInteger(t) && t >= 0)) {
    throw new Error(`expected a non-empty JSON array of token ids (or {"tokens": [...]}), found ${raw.slice(0, 200)}`);
  }
} catch (e) {
  fail('arguments', e);
}

/** JSON-safe copy of parsed GGUF metadata: bigints as numbers (or strings when unsafe), arrays over 16 items shortened. */
function summarize(v) {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Array.isArray(v)) {
    if (v.length <= 16) return v.map(summarize);
    return { length: v.length, first: v.slice(0, 8).map(summarize), last: v.slice(-4).map(summarize) };
  }
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, summarize(x)]));
  return v;
}

const timingsMs = {};
let t = Date.now();
const lap = (name) => {
  const now = Date.now();
  timingsMs[name] = now - t;
  t = now;
};

let stage = 'import';
try {
  const { cpuLlama } = await import('./cpu-llama.mjs');
  stage = 'getLlama';
  const llama = await cpuLlama();
  lap('getLlama');
  stage = 'loadModel';
  const model = await llama.loadModel({ modelPath, gpuLayers: 0, useMmap: false });
  lap('loadModel');
  stage = 'createContext';
  const n = tokens.length;
  const context = await model.createContext({
    contextSize: Math.max(n, 32),
    batchSize: Math.max(n, 32),
    sequences: 1,
    ...(threads ? { threads: Number(threads) } : {}),
  });
  const sequence = context.getSequence();
  lap('createContext');
  stage = 'evaluate';
  const outputs = await sequence.controlledEvaluate(tokens.map((id) => [id, { generateNext: { probabilities: true } }]));
  lap('evaluate');

  let vocabSize = -1;
  let underflowed = 0;
  let minLogprob = 0;
  const logprobs = outputs.map((o, i) => {
    const probs = o?.next?.probabilities;
    if (!probs) throw new Error(`no probabilities returned at position ${i}`);
    if (vocabSize < 0) vocabSize = probs.size;
    const row = new Array(probs.size).fill(undefined);
    for (const [id, p] of probs) {
      if (!(id >= 0 && id < row.length)) throw new Error(`position ${i}: token id ${id} outside 0..${row.length - 1}`);
      if (p > 0) {
        row[id] = Math.log(p);
        if (row[id] < minLogprob) minLogprob = row[id];
      } else {
        row[id] = null;
        underflowed++;
      }
    }
    const missing = row.indexOf(undefined);
    if (missing >= 0) throw new Error(`position ${i}: no probability for token ${missing}`);
    return row;
  });

  const info = model.fileInfo;
  const tensors = (info.fullTensorInfo ?? info.tensorInfo ?? []).map((x) => ({ name: x.name, dims: x.dimensions.map(Number), type: x.ggmlType }));
  finish(
    {
      ok: true,
      vocabSize,
      tokens,
      logprobs,
      underflowed,
      minLogprob,
      metadata: summarize(info.metadata),
      tensors,
      model: {
        ggufVersion: info.version,
        trainContextSize: model.trainContextSize,
        embeddingVectorSize: model.embeddingVectorSize,
        vocabularyType: model.vocabularyType,
        bos: model.tokens.bos,
        eos: model.tokens.eos,
        fileSize: model.size,
      },
      engine: {
        nodeLlamaCpp: JSON.parse(readFileSync(new URL('./node_modules/node-llama-cpp/package.json', import.meta.url), 'utf8')).version,
        llamaCppRelease: llama.llamaCppRelease,
        gpu: llama.gpu,
        buildType: llama.buildType,
        cpuMathCores: llama.cpuMathCores,
      },
      timingsMs,
    },
    0,
  );
} catch (e) {
  fail(stage, e);
}

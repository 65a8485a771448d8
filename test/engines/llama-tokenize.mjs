#!/usr/bin/env node
// A child-process program (as llama-logprobs.mjs: a native abort kills this process, not the test
// run): loads only the vocabulary of a GGUF file with node-llama-cpp and tokenizes texts, with and
// without special-token parsing, and detokenizes the ids back.
//
//   echo '{"texts": ["Hello world", ...]}' | node test/engines/llama-tokenize.mjs MODEL.gguf [--out FILE]
//
// Output (stdout, or the --out file), JSON:
//   { ok: true, results: [{ plain: number[], special: number[], detokenized: string }] } (plain: special
//   token text is plain text; special: it is the special token; detokenized: `plain` back to text)
// or { ok: false, stage, error } with exit status 1.

import { readFileSync, writeFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const outAt = argv.indexOf('--out');
const outPath = outAt >= 0 ? argv.splice(outAt, 2)[1] : undefined;
const [modelPath] = argv;

function finish(result, status) {
  const text = JSON.stringify(result);
  if (outPath) writeFileSync(outPath, text);
  else process.stdout.write(text + '\n');
  process.exit(status);
}

let stage = 'arguments';
try {
  const { texts } = JSON.parse(readFileSync(0, 'utf8'));
  if (!modelPath || !Array.isArray(texts)) throw new Error('usage: echo \'{"texts": [...]}\' | llama-tokenize.mjs MODEL.gguf');
  stage = 'import';
  const { cpuLlama } = await import('./cpu-llama.mjs');
  stage = 'getLlama';
  const llama = await cpuLlama();
  stage = 'loadModel';
  const model = await llama.loadModel({ modelPath, gpuLayers: 0, vocabOnly: true });
  stage = 'tokenize';
  const results = texts.map((t) => {
    const plain = [...model.tokenize(t, false)];
    const special = [...model.tokenize(t, true)];
    return { plain, special, detokenized: model.detokenize(plain, false) };
  });
  await model.dispose();
  await llama.dispose();
  finish({ ok: true, results }, 0);
} catch (e) {
  finish({ ok: false, stage, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }, 1);
}

// The Hugging Face config.json of a BitNet b1.58 model, checked and reduced to what the
// conversion needs. Unknown keys are kept in `raw` and copied to the output config.

import { InvalidConfigError } from '../errors.js';

export interface ModelConfig {
  architecture: string;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  tieWordEmbeddings: boolean;
  raw: Record<string, unknown>;
}

/** Architectures whose tensor names this converter knows (BitNetForCausalLM and 1bitLLM's spelling). */
export const SUPPORTED_ARCHITECTURES = ['BitNetForCausalLM', 'BitnetForCausalLM'];

export function parseModelConfig(raw: Record<string, unknown>, file: string): ModelConfig {
  const fail = (expected: string, found: unknown): never => {
    throw new InvalidConfigError({ file }, expected, JSON.stringify(found) ?? 'nothing');
  };
  const positiveInt = (key: string, fallback?: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) fail(`"${key}" to be a positive integer`, v);
    return v as number;
  };
  const archs = raw.architectures;
  const architecture = Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : undefined;
  if (architecture === undefined || !SUPPORTED_ARCHITECTURES.includes(architecture)) {
    fail(`"architectures" to name one of ${SUPPORTED_ARCHITECTURES.join(', ')}`, archs);
  }
  const hiddenSize = positiveInt('hidden_size');
  const numHeads = positiveInt('num_attention_heads');
  const numKvHeads = positiveInt('num_key_value_heads', numHeads);
  if (hiddenSize % numHeads !== 0) {
    fail(`hidden_size (${hiddenSize}) to be a multiple of num_attention_heads`, numHeads);
  }
  if (numHeads % numKvHeads !== 0) {
    fail(`num_attention_heads (${numHeads}) to be a multiple of num_key_value_heads`, numKvHeads);
  }
  const headDim = raw.head_dim === undefined ? hiddenSize / numHeads : positiveInt('head_dim');
  const tie = raw.tie_word_embeddings ?? true; // transformers' PretrainedConfig default
  if (typeof tie !== 'boolean') fail('"tie_word_embeddings" to be true or false', tie);
  return {
    architecture: architecture as string,
    hiddenSize,
    intermediateSize: positiveInt('intermediate_size'),
    numLayers: positiveInt('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    vocabSize: positiveInt('vocab_size'),
    tieWordEmbeddings: tie as boolean,
    raw,
  };
}

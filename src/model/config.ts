// The Hugging Face config.json of a BitNet b1.58 model, checked and reduced to what the
// conversion needs. Unknown keys are kept in `raw` and copied to the output config. Which
// architectures are accepted is the input layouts' business (src/layouts/).

import { InvalidConfigError } from '../errors.js';
import { isPlainObject } from '../formats/json-text.js';

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
  /** hidden_act: relu2 (2B-4T) or silu (1bitLLM, Llama-style); the layout fills in its family's default. */
  hiddenAct: string | undefined;
  rmsNormEps: number;
  ropeTheta: number;
  maxPositionEmbeddings: number;
  raw: Record<string, unknown>;
}

export function parseModelConfig(raw: Record<string, unknown>, file: string): ModelConfig {
  const fail = (expected: string, found: unknown): never => {
    throw new InvalidConfigError({ file }, expected, JSON.stringify(found) ?? 'nothing');
  };
  const positiveInt = (key: string, fallback?: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) fail(`"${key}" to be a positive integer`, v);
    return v as number;
  };
  const positiveNumber = (key: string, fallback: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(`"${key}" to be a positive number`, v);
    return v as number;
  };
  const archs = raw.architectures;
  const architecture = Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : '';
  const act = raw.hidden_act;
  if (act !== undefined && typeof act !== 'string') fail('"hidden_act" to be a string', act);
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
  // LlamaConfig and BitNetConfig (every family read here) default to an untied head, unlike PretrainedConfig.
  const tie = raw.tie_word_embeddings ?? false;
  if (typeof tie !== 'boolean') fail('"tie_word_embeddings" to be true or false', tie);
  return {
    architecture,
    hiddenSize,
    intermediateSize: positiveInt('intermediate_size'),
    numLayers: positiveInt('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    vocabSize: positiveInt('vocab_size'),
    tieWordEmbeddings: tie as boolean,
    hiddenAct: act as string | undefined,
    rmsNormEps: positiveNumber('rms_norm_eps', 1e-6),
    // transformers 5 keeps rope_theta inside rope_parameters
    ropeTheta: positiveNumber('rope_theta', isPlainObject(raw.rope_parameters) && typeof raw.rope_parameters.rope_theta === 'number' ? raw.rope_parameters.rope_theta : 10000),
    maxPositionEmbeddings: positiveInt('max_position_embeddings', 2048),
    raw,
  };
}

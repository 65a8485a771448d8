// What verify holds an output's tensors to: for each tensor, by the name its format's reader gives it,
// the shape a model of the output's own config has (its config.json; a .gguf's hyperparameter KVs).
// A reader decodes bytes in many shapes (a transposed [64, 16] holds the same bytes as [16, 64]); an
// engine loads a tensor only in the one its config implies.

import { CorruptFileError, InvalidConfigError } from '../errors.js';
import { describe, isPlainObject } from '../formats/json-text.js';
import { parseModelConfig, type ModelConfig } from '../model/config.js';
import { jsonFile } from './read-helpers.js';
import type { OutputFolder } from './types.js';

export interface ExpectedTensor {
  /** The file of the output folder it belongs in. */
  file: string;
  /** The shapes accepted: one, or for a norm copied as the source stored it, [n] and [1, n]. */
  shapes: number[][];
  /** May be absent (the sub-norms a Llama-style source has none of). */
  optional?: boolean;
}

export interface ExpectedTensors {
  /** Where the dimensions come from, for messages ("config.json"). */
  from: string;
  tensors: Map<string, ExpectedTensor>;
}

export const exactly = (file: string, ...shape: number[]): ExpectedTensor => ({ file, shapes: [shape] });

/** A 1-D tensor copied as the source stored it: [n] or [1, n] (`reversed`: GGUF's ne order, [n] or [n, 1]). */
export const vector = (file: string, n: number, o: { optional?: boolean; reversed?: boolean } = {}): ExpectedTensor => ({
  file,
  shapes: [[n], o.reversed ? [n, 1] : [1, n]],
  optional: o.optional,
});

/** More layers than any model has: the expectation is built eagerly, so a hostile count must not make it huge. */
const MAX_LAYERS = 1 << 16;

/** The model config an output's config.json describes (typed errors naming config.json). */
export function configOf(folder: OutputFolder, name = 'config.json'): ModelConfig {
  const raw = jsonFile<unknown>(folder, name);
  if (!isPlainObject(raw)) throw new CorruptFileError({ file: name }, 'a JSON object', describe(raw));
  return checkedLayers(parseModelConfig(raw, name), name);
}

export function checkedLayers<C extends { numLayers: number }>(c: C, file: string): C {
  if (c.numLayers > MAX_LAYERS) throw new InvalidConfigError({ file }, `num_hidden_layers of at most ${MAX_LAYERS}`, String(c.numLayers));
  return c;
}

export const shapeText = (s: number[]): string => `[${s.join(', ')}]`;

// config.json's quantization_config for pre-packed BitNet checkpoints (transformers BitNetQuantConfig):
// which way the stored weight_scale goes. AutoBitLinear multiplies by it; BitLinear (also what a
// config without linear_class means, e.g. HF1BitLLM/Llama3-8B-1.58) divides by it.

import { InvalidConfigError } from '../errors.js';
import { describe, isPlainObject } from '../formats/json-text.js';
import type { ScaleConvention } from '../model/plan.js';
import type { CheckpointView } from './types.js';

const CONVENTION: Record<string, ScaleConvention> = { autobitlinear: 'multiply', bitlinear: 'divide' };

/** Whether config.json says the weights are BitNet-quantized (quant_method "bitnet"). */
export function isBitnetQuantized(c: CheckpointView): boolean {
  const q = c.config.raw.quantization_config;
  return isPlainObject(q) && q.quant_method === 'bitnet';
}

/** The scale convention of a packed checkpoint; refuses a quantization_config that contradicts packed weights. */
export function packedConvention(c: CheckpointView): ScaleConvention {
  const q = c.config.raw.quantization_config;
  const fail = (expected: string, found: unknown): never => {
    throw new InvalidConfigError({ file: c.configPath }, expected, found === undefined ? 'nothing' : describe(found));
  };
  if (!isPlainObject(q)) return fail('"quantization_config" with quant_method "bitnet" for packed U8 projections', q);
  if (q.quant_method !== 'bitnet') fail('quantization_config.quant_method "bitnet" for packed U8 projections', q.quant_method);
  if (q.quantization_mode !== undefined && q.quantization_mode !== 'offline') {
    fail('quantization_config.quantization_mode "offline" (packed U8 projections are offline-quantized)', q.quantization_mode);
  }
  const linearClass = q.linear_class ?? 'bitlinear';
  if (typeof linearClass !== 'string' || !(linearClass in CONVENTION)) {
    fail(`quantization_config.linear_class ${Object.keys(CONVENTION).map((k) => `"${k}"`).join(' or ')}`, linearClass);
  }
  return CONVENTION[linearClass as string];
}

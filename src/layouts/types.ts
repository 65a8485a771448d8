// The contract of an input layout: one checkpoint family (llama.cpp's ModelBase.register).

import type { TensorInfo } from '../formats/safetensors.js';
import type { ModelConfig } from '../model/config.js';
import type { ModelPlan } from '../model/plan.js';
import type { GgufSource } from '../model/gguf-checkpoint.js';

export interface CheckpointView {
  config: ModelConfig;
  /** Every tensor by name. */
  tensors: Map<string, TensorInfo>;
  /** The safetensors files, for error messages. */
  files: string[];
  /** config.json's path, for error messages (a .gguf's own path). */
  configPath: string;
  /** Set for a .gguf input: only the gguf layout reads it. */
  gguf?: GgufSource;
}

export interface InputLayout<Id extends string = string> {
  id: Id;
  /** One line for `--help`, errors and the README. */
  about: string;
  /**
   * Read only when named (`--layout`), never detected: a checkpoint whose config.json and dtypes look
   * like another kind of model (float Llama weights that are latent BitNet weights).
   */
  named?: boolean;
  /** Whether this layout reads the checkpoint (config.json architectures, the dtype of the projections). */
  matches(c: CheckpointView): boolean;
  /** Checks every name, dtype and shape against the config and returns the plan, or throws a typed error. */
  plan(c: CheckpointView): ModelPlan;
}

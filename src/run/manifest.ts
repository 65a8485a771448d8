// manifest.json: what was written (every file with size and sha256), by which converter, how, from what.

import type { ModelPlan } from '../model/plan.js';
import type { FormatOptions, OutputFormat } from '../outputs/index.js';
import { describeRule } from '../quant/rule.js';
import { VERSION } from '../version.js';

export interface OutputFile {
  name: string;
  bytes: number;
  sha256: string;
}

export interface SourceDescription {
  /** The input folder's name (not its path, so the manifest does not depend on where it was). */
  folder: string;
  /** config.json, the index and the weight files, relative to the input folder. */
  files: string[];
  /** Size of the safetensors files. */
  bytes: number;
}

export function manifestOf(format: OutputFormat, model: ModelPlan, o: FormatOptions, files: OutputFile[], source: SourceDescription) {
  return {
    converter: { name: 'bitnet-converter', version: VERSION },
    format: format.id,
    conversion_timestamp: o.timestamp,
    options: { ...format.describe(model, o), scale_granularity: o.granularity, rule: o.rule },
    source: { folder: source.folder, layout: model.layout, files: source.files.map((name) => ({ name })), bytes: source.bytes },
    ternarization: describeRule(o.granularity, o.rule),
    lm_head: model.outputTied ? 'tied: model.embed_tokens.weight' : 'lm_head.weight',
    files,
  };
}

// The engines people run BitNet b1.58 models in, and what each reads: the format, and for GGUF the
// type and which architectures it computes (README "Run it in an engine", docs/gguf.md 1 and 6). The
// page's "Run it in" choice and `--engine` pick the format and its options from this table; the GGUF
// architecture still comes from the model through the format's own rules (gguf.resolve), and an
// engine that does not compute that architecture is refused, naming the engines that do.

import { UnsupportedError } from '../errors.js';
import type { ModelPlan } from '../model/plan.js';
import { gguf } from './gguf/index.js';
import type { FormatOptions } from './types.js';

export interface Engine {
  id: string;
  label: string;
  format: 'gguf' | 'hf-packed' | 'bitnet-rs-safetensors' | 'ms-gpu';
  /** GGUF: the type it reads best (auto: the architecture's default) and the architectures it computes. */
  gguf?: { type: 'auto' | 'i2_s'; archs: readonly ('bitnet' | 'bitnet-b1.58' | 'llama')[] };
  /** Other formats: the format's own options the engine needs. */
  options?: Readonly<Record<string, string>>;
  /**
   * How to run the output: `{dir}` is the output folder, `{file}` its main file (the .gguf), `{name}`
   * the output's name. A sentence where the engine has no one-line command.
   */
  run: string;
}

// llama.cpp and the apps built on it compute arch bitnet (SiLU with sub-norms) and llama, not relu2
const LLAMA_CPP = ['bitnet', 'llama'] as const;

export const ENGINES = [
  {
    id: 'bitnet.cpp',
    label: 'bitnet.cpp (microsoft/BitNet)',
    format: 'gguf',
    gguf: { type: 'i2_s', archs: ['bitnet-b1.58', 'llama'] },
    run: 'python run_inference.py -m {file} -p "Hello" -cnv   (in a bitnet.cpp checkout; or build/bin/llama-cli -m {file} -p "Hello" -n 64 -cnv)',
  },
  { id: 'llama.cpp', label: 'llama.cpp', format: 'gguf', gguf: { type: 'auto', archs: LLAMA_CPP }, run: 'llama-cli -m {file} -p "Hello" -n 64 -ngl 99' },
  { id: 'lm-studio', label: 'LM Studio', format: 'gguf', gguf: { type: 'auto', archs: LLAMA_CPP }, run: 'lms import {file}   (then load it in LM Studio)' },
  { id: 'ollama', label: 'ollama', format: 'gguf', gguf: { type: 'auto', archs: LLAMA_CPP }, run: "echo 'FROM {file}' > Modelfile && ollama create {name} -f Modelfile && ollama run {name}" },
  {
    id: 'transformers',
    label: 'transformers',
    format: 'hf-packed',
    run: 'python -c \'from transformers import pipeline; print(pipeline("text-generation", model="{dir}")("Hello", max_new_tokens=32))\'',
  },
  { id: 'bitnet.rs', label: 'bitnet.rs', format: 'bitnet-rs-safetensors', run: 'bitnet.rs loads {dir}/model.safetensors with {dir}/config.json and the tokenizer files beside it' },
  {
    id: 'ms-gpu',
    label: "Microsoft's GPU kernels (microsoft/BitNet gpu/)",
    format: 'ms-gpu',
    // gpu/generate.py torch.loads model_state_int2.pt (decode) and model_state_fp16.pt (prefill), with 2B-4T's shapes built in (docs/formats.md 5, "Running it")
    options: { msGpuPrefill: 'bf16' },
    run:
      "microsoft/BitNet's gpu/generate.py reads torch files: python -c \"import torch, safetensors.torch as s; [torch.save(s.load_file(f'{dir}/model_state_{k}.safetensors'), f'{dir}/model_state_{k}.pt') for k in ('int2', 'fp16')]\", then in gpu/: python3 generate.py {dir}/ --interactive --chat_format (2B-4T's shapes only)",
  },
] as const satisfies readonly Engine[];

export type EngineId = (typeof ENGINES)[number]['id'];
export const ENGINE_IDS = ENGINES.map((e) => e.id) as EngineId[];

export function engineById(id: string): Engine | undefined {
  return (ENGINES as readonly Engine[]).find((e) => e.id === id);
}

/**
 * The format's own options for this engine and model. GGUF: the architecture the model needs (the
 * format's rules), refused when the engine does not compute it, with the engines that do.
 */
export function engineOptions(engine: Engine, model: ModelPlan, o: FormatOptions): Record<string, string> {
  if (!engine.gguf) return { ...engine.options };
  type Arch = NonNullable<Engine['gguf']>['archs'][number];
  const ggufArch = gguf.resolve!(model, { ...o, ggufArch: 'auto', ggufType: 'auto', ggufEmbdType: 'f16' } as Parameters<typeof gguf.plan>[1]).ggufArch as Arch;
  if (!engine.gguf.archs.includes(ggufArch)) {
    const others = (ENGINES as readonly Engine[]).filter((e) => e.gguf?.archs.includes(ggufArch)).map((e) => e.label);
    throw new UnsupportedError(
      {},
      `a model ${engine.label} computes (GGUF arch ${engine.gguf.archs.join(' or ')})`,
      `one that needs arch ${ggufArch} (hidden_act ${model.config.hiddenAct ?? '?'}${model.hasSubNorms ? ' with' : ' without'} sub-norms); run it in ${others.join(', ')}`,
    );
  }
  return { ggufArch, ggufType: engine.gguf.type };
}

/** The file a command names: the .gguf of a GGUF output, else the first file. */
export function mainFile(names: readonly string[]): string {
  return names.find((n) => n.endsWith('.gguf')) ?? names[0] ?? '';
}

/**
 * The command that runs an output in the engine. `file` is the main file's path: a relative one is
 * given a leading ./ (ollama's FROM reads a bare name as a model to pull, not a file).
 */
export function runCommand(engine: Engine, dir: string, file: string, name: string): string {
  const path = file.startsWith('/') || file.startsWith('./') ? file : `./${file}`;
  return engine.run.replaceAll('{dir}', dir).replaceAll('{file}', path).replaceAll('{name}', name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-'));
}

// `synth --layout gguf`: a synthetic .gguf input, made the way users get one, by converting a synthetic
// Hugging Face checkpoint (hf-bitnet: arch bitnet-b1.58; llama-latent: arch llama) with --format gguf.
// The type is I2_S where every projection's rows fit its blocks of 128, else F16 master weights.

import { rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { generateCheckpoint, type SynthOptions, type SynthResult } from '../synth/generate.js';
import { PRESETS } from '../synth/presets.js';
import { convert } from './convert.js';

export async function generateGgufCheckpoint(o: Omit<SynthOptions, 'layout'> & { from?: 'hf-bitnet' | 'llama-latent'; ggufType?: string }): Promise<SynthResult> {
  const from = o.from ?? 'hf-bitnet';
  // the checkpoint in a folder of the same name (GGUF names its file and general.name after it)
  const tmp = join(dirname(o.outDir), `.synth-gguf-${process.pid}`);
  const hf = join(tmp, basename(o.outDir));
  try {
    generateCheckpoint({ ...o, outDir: hf, layout: from, dtype: o.dtype ?? 'F32' });
    const s = o.shape ?? PRESETS[o.preset ?? 'tiny'];
    const fits = s.hidden_size % 128 === 0 && s.intermediate_size % 128 === 0 && ((s.head_dim ?? s.hidden_size / s.num_attention_heads) * s.num_attention_heads) % 128 === 0;
    const r = await convert({
      inputDir: hf, outputDir: o.outDir, format: 'gguf', ggufType: (o.ggufType ?? (fits ? 'i2_s' : 'f16')) as 'i2_s', threads: 0, timestamp: 0, force: true,
      ...(from === 'llama-latent' && { layout: from }),
    });
    return { dir: o.outDir, files: r.files.map((f) => f.name), bytes: r.files.reduce((n, f) => n + f.bytes, 0) };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// The library API, for programs that convert without the CLI (Node and Deno).
// The wasm kernels alone, with no Node API, are the `bitnet-converter/kernels` export.

export { convert, type ConvertOptions, type ConvertSummary, type OutputFile, type Progress } from './run/convert.js';
export { LAYOUTS, LAYOUT_IDS, detectLayout, planCheckpoint, type InputLayout, type LayoutId } from './layouts/index.js';
export { FORMATS, FORMAT_IDS, type OutputFormat } from './outputs/index.js';
export { DEFAULTS } from './defaults.js';
export { readManifest, readOutput, outputFolder, verifyManifest, type Manifest } from './io/converted.js';
export { readBitnetRsModel } from './outputs/bitnet-rs/read.js';
export { openCheckpoint, type Checkpoint } from './io/checkpoint.js';
export { generateCheckpoint, type SynthOptions } from './synth/generate.js';
export { PRESETS } from './synth/presets.js';
export { absmeanScale, rowScale, QUANT_RULES, type FloatDType, type QuantRule, type ScaleGranularity } from './quant/rule.js';
export * from './outputs/bitnet-rs/records.js';
export { BincodeReader, BincodeWriter, type BincodeFlavor } from './formats/bincode.js';
export { parseHeader, readHeaderLength, encodeSafetensorsHeader, type TensorInfo, type DType } from './formats/safetensors.js';
export { parseGguf, layoutGguf, GGML_TYPES, kv as ggufKv, type GgufFile, type GgufKv, type GgufTensorInfo } from './formats/gguf.js';
export * from './errors.js';

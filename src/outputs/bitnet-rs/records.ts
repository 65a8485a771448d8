// The bitnet-rs engine records (docs/formats.md section 4). Field order is wire order.
// These whole-value encoders are used for small files and by the tests; the large
// vectors of real models are streamed by the pipeline with the same byte layout.

import { BincodeReader, BincodeWriter, type BincodeFlavor } from '../../formats/bincode.js';

export interface BitLinearRecord {
  packedWeights: Uint32Array;
  weightScales: Float32Array;
  inFeatures: number;
  outFeatures: number;
}

export interface RmsNormRecord {
  weight: Float32Array;
  shape: number[];
}

export interface EmbeddingRecord {
  weight: Float32Array;
  shape: number[];
}

export interface AttentionRecord {
  wqkv: BitLinearRecord;
  oProj: BitLinearRecord;
}

export interface FeedForwardRecord {
  w13: BitLinearRecord;
  w2: BitLinearRecord;
}

/**
 * The seed's four fields, then the two sub-norms appended at the end: a decoder of the
 * seed's struct reads the first four and ignores the trailing bytes.
 */
export interface TransformerBlockRecord {
  attention: AttentionRecord;
  feedForward: FeedForwardRecord;
  attentionNorm: RmsNormRecord;
  ffnNorm: RmsNormRecord;
  attnSubNorm?: RmsNormRecord;
  ffnSubNorm?: RmsNormRecord;
}

export interface ModelMetadata {
  numLayers: number;
  vocabSize: number;
  hiddenSize: number;
  conversionTimestamp: number;
}

/** The whole model as one value: what the per-file outputs reassemble into. */
export interface ModelRecord {
  embedding: EmbeddingRecord;
  blocks: TransformerBlockRecord[];
  norm: RmsNormRecord;
  lmHead: BitLinearRecord;
  metadata: ModelMetadata;
}

// ---- encoders -------------------------------------------------------------

export function writeBitLinear(w: BincodeWriter, r: BitLinearRecord): void {
  w.vecU32(r.packedWeights).vecF32(r.weightScales).usize(r.inFeatures).usize(r.outFeatures);
}

/** RmsNormRecord and EmbeddingRecord share one layout. */
export function writeWeightShape(w: BincodeWriter, r: RmsNormRecord | EmbeddingRecord): void {
  w.vecF32(r.weight).vecUsize(r.shape);
}

export function writeBlock(w: BincodeWriter, b: TransformerBlockRecord): void {
  writeBitLinear(w, b.attention.wqkv);
  writeBitLinear(w, b.attention.oProj);
  writeBitLinear(w, b.feedForward.w13);
  writeBitLinear(w, b.feedForward.w2);
  writeWeightShape(w, b.attentionNorm);
  writeWeightShape(w, b.ffnNorm);
  if (!b.attnSubNorm !== !b.ffnSubNorm) throw new Error('a block record has both sub-norms or neither');
  if (b.attnSubNorm && b.ffnSubNorm) {
    writeWeightShape(w, b.attnSubNorm);
    writeWeightShape(w, b.ffnSubNorm);
  }
}

export function writeMetadata(w: BincodeWriter, m: ModelMetadata): void {
  w.usize(m.numLayers).usize(m.vocabSize).usize(m.hiddenSize).u64(m.conversionTimestamp);
}

/** The full model record: embedding, blocks (a Vec), norm, lm_head, metadata. */
export function writeModel(w: BincodeWriter, m: ModelRecord): void {
  writeWeightShape(w, m.embedding);
  w.usize(m.blocks.length);
  for (const b of m.blocks) writeBlock(w, b);
  writeWeightShape(w, m.norm);
  writeBitLinear(w, m.lmHead);
  writeMetadata(w, m.metadata);
}

export function encode<T>(write: (w: BincodeWriter, v: T) => void, value: T, flavor: BincodeFlavor = 'standard'): Uint8Array {
  const w = new BincodeWriter(flavor);
  write(w, value);
  return w.bytes();
}

// ---- decoders -------------------------------------------------------------

export function readBitLinear(r: BincodeReader): BitLinearRecord {
  return {
    packedWeights: r.vecU32('packed_weights'),
    weightScales: r.vecF32('weight_scales'),
    inFeatures: r.usize('in_features'),
    outFeatures: r.usize('out_features'),
  };
}

export function readWeightShape(r: BincodeReader): RmsNormRecord {
  return { weight: r.vecF32('weight'), shape: r.vecUsize('shape') };
}

/**
 * Reads a block. In a block file the appended sub-norms are read when bytes are left for
 * them (an older converter's file has none); inside a full model record they always follow.
 */
export function readBlock(r: BincodeReader, subNorms: 'if-present' | 'always' = 'if-present'): TransformerBlockRecord {
  const wqkv = readBitLinear(r);
  const oProj = readBitLinear(r);
  const w13 = readBitLinear(r);
  const w2 = readBitLinear(r);
  const block: TransformerBlockRecord = {
    attention: { wqkv, oProj },
    feedForward: { w13, w2 },
    attentionNorm: readWeightShape(r),
    ffnNorm: readWeightShape(r),
  };
  if (subNorms === 'always' || r.remaining > 0) {
    block.attnSubNorm = readWeightShape(r);
    block.ffnSubNorm = readWeightShape(r);
  }
  return block;
}

export function readMetadata(r: BincodeReader): ModelMetadata {
  return {
    numLayers: r.usize('num_layers'),
    vocabSize: r.usize('vocab_size'),
    hiddenSize: r.usize('hidden_size'),
    conversionTimestamp: r.u64('conversion_timestamp'),
  };
}

export function readModel(r: BincodeReader): ModelRecord {
  const embedding = readWeightShape(r);
  const count = r.usize('blocks length');
  const blocks: TransformerBlockRecord[] = [];
  for (let i = 0; i < count; i++) blocks.push(readBlock(r, 'always'));
  return { embedding, blocks, norm: readWeightShape(r), lmHead: readBitLinear(r), metadata: readMetadata(r) };
}

export function decode<T>(read: (r: BincodeReader) => T, bytes: Uint8Array, flavor: BincodeFlavor = 'standard', file?: string): T {
  return read(new BincodeReader(bytes, flavor, file));
}

// The two ports between the platform-neutral streaming code and the platform's I/O: where tensor
// bytes come from and where output bytes go. Node implements them in src/io/; a browser with Blobs
// and file handles. Nothing below this module imports upward.

export interface TensorSource {
  /**
   * Fills `dst` with the bytes of `file` starting at `position`, or throws. `end` is where the tensor
   * being read ends: a source that reads ahead (a browser's, where each read is costly) stops there.
   */
  readExactly(file: string, dst: Uint8Array, position: number, end?: number): void;
}

export interface ByteSink {
  /** Consumes `bytes` before returning: the view points into wasm memory and is reused. */
  write(bytes: Uint8Array): void;
}

// A kernel instance plus a bump allocator over its linear memory.
import type { KernelExports } from './types.js';

const PAGE = 65536;
/** wasm32 memory cannot exceed 65536 pages (4 GiB). */
const MAX_BYTES = 65536 * PAGE;
/** Input bytes the wasm SHA-256 scratch holds (assembly/sha256.ts SCRATCH_BYTES). */
const SHA256_SCRATCH = 16384;

export class Kernels {
  readonly exports: KernelExports;
  /** First byte the host may use (everything below belongs to the module's static data). */
  readonly heapBase: number;
  private top: number;

  constructor(exports: KernelExports) {
    this.exports = exports;
    this.heapBase = exports.heapBase();
    this.top = this.heapBase;
  }

  get memory(): WebAssembly.Memory {
    return this.exports.memory;
  }

  /** Bytes handed out since the last reset (including alignment padding). */
  get used(): number {
    return this.top - this.heapBase;
  }

  /**
   * Reserves `bytes` bytes aligned to `align` (a power of two), growing memory when needed, and
   * returns the pointer. Growing detaches every typed-array view made before: make views after
   * the last alloc, or re-create them (u8/u32/f32/i8 always return fresh views).
   */
  alloc(bytes: number, align = 64): number {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`alloc: invalid byte count ${bytes}`);
    if (!Number.isSafeInteger(align) || align <= 0 || (align & (align - 1)) !== 0) {
      throw new RangeError(`alloc: alignment must be a power of two, got ${align}`);
    }
    const ptr = Math.ceil(this.top / align) * align;
    const end = ptr + bytes;
    if (end > MAX_BYTES) {
      throw new RangeError(`alloc: ${bytes} bytes at ${ptr} exceed the 4 GiB wasm32 memory limit`);
    }
    const have = this.exports.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      try {
        this.exports.memory.grow(pages);
      } catch (e) {
        throw new RangeError(`alloc: cannot grow wasm memory by ${pages} pages to ${end} bytes: ${(e as Error).message}`);
      }
    }
    this.top = end;
    return ptr;
  }

  /**
   * SHA-256 rounds over whole blocks (formats/sha256.ts's Sha256Rounds) in wasm: bytes in this memory are
   * hashed where they are, others through the module's static scratch (below heapBase, so no alloc or
   * reset touches it).
   */
  readonly sha256 = (state: Int32Array, blocks: Uint8Array): void => {
    const ex = this.exports;
    const s = ex.sha256Scratch();
    new Int32Array(ex.memory.buffer, s, 8).set(state);
    if (blocks.buffer === ex.memory.buffer) ex.sha256Blocks(s, blocks.byteOffset, blocks.length >>> 6);
    else {
      for (let i = 0; i < blocks.length; i += SHA256_SCRATCH) {
        const n = Math.min(SHA256_SCRATCH, blocks.length - i);
        new Uint8Array(ex.memory.buffer, s + 64, n).set(blocks.subarray(i, i + n));
        ex.sha256Blocks(s, s + 64, n >>> 6);
      }
    }
    state.set(new Int32Array(ex.memory.buffer, s, 8));
  };

  /** Frees everything allocated (memory is not shrunk; wasm memory never shrinks). */
  reset(): void {
    this.top = this.heapBase;
  }

  u8(ptr: number, len: number): Uint8Array {
    return new Uint8Array(this.exports.memory.buffer, ptr, len);
  }
  i8(ptr: number, len: number): Int8Array {
    return new Int8Array(this.exports.memory.buffer, ptr, len);
  }
  /** len u16 elements at ptr (2-byte aligned), e.g. to write bf16/f16 input. */
  u16(ptr: number, len: number): Uint16Array {
    return new Uint16Array(this.exports.memory.buffer, ptr, len);
  }
  /** len u32 elements at ptr (4-byte aligned). */
  u32(ptr: number, len: number): Uint32Array {
    return new Uint32Array(this.exports.memory.buffer, ptr, len);
  }
  /** len f32 elements at ptr (4-byte aligned). */
  f32(ptr: number, len: number): Float32Array {
    return new Float32Array(this.exports.memory.buffer, ptr, len);
  }
}

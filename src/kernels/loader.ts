// Finding, compiling and instantiating the kernel wasm. Platform neutral: no Node API at top
// level; file: URLs are read with a dynamic import of node:fs/promises (Node, Deno), other URLs
// with fetch (browsers).
import { Kernels } from './kernels.js';
import type { KernelExports, KernelFlavor } from './types.js';

// (module (func (result v128) i32.const 0 i8x16.splat i8x16.popcnt drop-free)): validates only with SIMD.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);
let simdCache: boolean | undefined;

/** Whether this runtime supports WebAssembly SIMD (fixed-width, 128-bit). */
export function simdSupported(): boolean {
  simdCache ??= WebAssembly.validate(SIMD_PROBE);
  return simdCache;
}

// Compiled layout: build/js/kernels/loader.js beside build/kernels.<flavor>.{wasm,js}. When this
// file runs from source (tsx, Deno: src/kernels/loader.ts) the build output is at <root>/build/.
const BUILD_DIR = import.meta.url.endsWith('.ts') ? '../../build/' : '../../';

/** URL of build/kernels.<flavor>.wasm, resolved relative to this module. */
export function kernelWasmUrl(flavor: KernelFlavor): URL {
  return new URL(`${BUILD_DIR}kernels.${flavor}.wasm`, import.meta.url);
}

/** URL of the compiler-generated bindings (identical for both flavors, which export the same API). */
export function bindingsUrl(): URL {
  return new URL(`${BUILD_DIR}kernels.simd.js`, import.meta.url);
}

async function readBytes(url: URL): Promise<Uint8Array<ArrayBuffer>> {
  if (url.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    return new Uint8Array(await readFile(url));
  }
  const res = await fetch(url).catch((e: Error) => {
    throw new Error(`cannot load ${url.href}: ${e.message} (is the server that served this page still running?)`);
  });
  if (!res.ok) throw new Error(`cannot load ${url.href}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** Compiles the kernel module once (pass the module to workers and instantiate it there). */
export async function compileKernels(
  flavor: KernelFlavor | 'auto' = 'auto',
): Promise<{ module: WebAssembly.Module; flavor: KernelFlavor }> {
  const chosen: KernelFlavor = flavor === 'auto' ? (simdSupported() ? 'simd' : 'scalar') : flavor;
  if (chosen === 'simd' && !simdSupported()) {
    throw new Error('this runtime has no WebAssembly SIMD: use the "scalar" or "auto" kernels');
  }
  const url = kernelWasmUrl(chosen);
  const module = await WebAssembly.compile(await readBytes(url));
  return { module, flavor: chosen };
}

/** Instantiates a compiled kernel module (either flavor) with its generated bindings. */
export async function instantiateKernels(module: WebAssembly.Module): Promise<Kernels> {
  const bindings = (await import(bindingsUrl().href)) as {
    instantiate(module: WebAssembly.Module, imports: object): Promise<KernelExports>;
  };
  return new Kernels(await bindings.instantiate(module, {}));
}

// What goes between the page's threads by moving rather than copying.
/**
 * The buffers under `views`, each once, to move with a message instead of copying it: a copy is also
 * serialized first, and the serialized bytes (18 MiB for a 9 MB tokenizer.json) stay in the page's
 * process until its next garbage collection (docs/performance.md). The sender must not use them again.
 */
export function moved(views: Iterable<Uint8Array>): ArrayBuffer[] {
  return [...new Set([...views].map((v) => v.buffer as ArrayBuffer))];
}

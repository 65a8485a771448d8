// What goes between the page's threads by moving rather than copying.

/**
 * The buffers under `views`, each once, to move with a message instead of copying it. A copy is
 * serialized first: with a 9 MB tokenizer.json copied, an 18 MiB block stayed in the page's process
 * through the jobs (docs/performance.md, "The page under 300 MiB"). The sender must not use them again.
 */
export function moved(views: Iterable<Uint8Array>): ArrayBuffer[] {
  return [...new Set([...views].map((v) => v.buffer as ArrayBuffer))];
}

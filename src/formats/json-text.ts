// Helpers for JSON read from files: a type guard, and short one-line renderings of values for
// error messages. Shared by the safetensors header parser and the checkpoint reader.

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A short one-line description of a JSON value for an error message; never throws. */
export function describe(v: unknown, depth = 0): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return clip(JSON.stringify(v), 60);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    if (depth > 0) return v.length === 0 ? '[]' : '[…]';
    const items = v.slice(0, 6).map((x) => describe(x, depth + 1));
    return `[${items.join(', ')}${v.length > 6 ? ', …' : ''}]`;
  }
  if (typeof v === 'object') {
    if (depth > 0) return '{…}';
    const keys = Object.keys(v as object);
    return keys.length === 0 ? '{}' : `an object with keys ${clip(keys.slice(0, 4).map((k) => JSON.stringify(k)).join(', '), 80)}${keys.length > 4 ? ', …' : ''}`;
  }
  return typeof v;
}

export function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** A JSON file's bytes: two-space indented, with a final newline. */
export function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value, null, 2) + '\n');
}

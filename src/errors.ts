// Typed errors. Every message names the file, the tensor (when there is one),
// what was expected and what was found, so the CLI can print it as one line.

export interface ErrorPlace {
  /** The file the problem is in (input or output path). */
  file?: string;
  /** The tensor the problem is about, when there is one. */
  tensor?: string;
}

export abstract class ConversionError extends Error {
  abstract readonly code: string;
  readonly file?: string;
  readonly tensor?: string;

  constructor(place: ErrorPlace, detail: string) {
    super(ConversionError.format(place, detail));
    this.name = new.target.name;
    this.file = place.file;
    this.tensor = place.tensor;
  }

  private static format(place: ErrorPlace, detail: string): string {
    const where = [place.file, place.tensor ? `tensor ${place.tensor}` : undefined]
      .filter((s) => s !== undefined)
      .join(': ');
    return (where ? `${where}: ` : '') + detail.replace(/\s*\n\s*/g, ' ');
  }
}

/** A tensor the model layout needs is absent from every input file. */
export class MissingTensorError extends ConversionError {
  readonly code = 'MissingTensor';
  constructor(tensor: string, searched: string[]) {
    super(
      { file: searched.length === 1 ? searched[0] : undefined, tensor },
      `missing: expected it in ${searched.length === 1 ? 'this file' : searched.join(', ')}, found no such tensor`,
    );
  }
}

/** An error stated as "<kind>: expected X, found Y"; each subclass names its kind. */
abstract class ExpectedFoundError extends ConversionError {
  protected static readonly kind: string;
  constructor(place: ErrorPlace, expected: string, found: string) {
    super(place, `${(new.target as unknown as typeof ExpectedFoundError).kind}: expected ${expected}, found ${found}`);
  }
}

/** A tensor's shape differs from what the config implies. */
export class InvalidShapeError extends ExpectedFoundError {
  protected static override readonly kind = 'invalid shape';
  readonly code = 'InvalidShape';
}

/** A tensor holds a different number of bytes than its dtype and shape say. */
export class InvalidWeightCountError extends ExpectedFoundError {
  protected static override readonly kind = 'invalid weight count';
  readonly code = 'InvalidWeightCount';
}

/** A weight that must be ternary (-1, 0, +1), or a finite number, is not. */
export class InvalidTernaryWeightError extends ExpectedFoundError {
  protected static override readonly kind = 'invalid weight';
  readonly code = 'InvalidTernaryWeight';
}

/** A file is truncated, malformed or internally inconsistent. */
export class CorruptFileError extends ExpectedFoundError {
  protected static override readonly kind = 'corrupt file';
  readonly code = 'CorruptFile';
}

/** A tensor dtype (or a config value) this converter does not handle. */
export class UnsupportedError extends ExpectedFoundError {
  protected static override readonly kind = 'unsupported';
  readonly code = 'Unsupported';
}

/** config.json is missing or inconsistent with itself or with the tensors. */
export class InvalidConfigError extends ExpectedFoundError {
  protected static override readonly kind = 'invalid config';
  readonly code = 'InvalidConfig';
}

/** The output folder cannot be written as asked (exists, locked, no space, no permission). */
export class OutputError extends ConversionError {
  readonly code = 'Output';
  constructor(place: ErrorPlace, detail: string) {
    super(place, detail);
  }
}

/**
 * The Hugging Face Hub has no such repository, revision or file, refuses access (gated or private,
 * HTTP 401/403), or cannot be reached after retries.
 */
export class HubError extends ConversionError {
  readonly code = 'Hub';
  constructor(place: ErrorPlace, detail: string) {
    super(place, detail);
  }
}

/** A usage error on the command line (bad option value). */
export class UsageError extends ConversionError {
  readonly code = 'Usage';
  constructor(detail: string) {
    super({}, detail);
  }
}

export function isConversionError(e: unknown): e is ConversionError {
  return e instanceof ConversionError;
}

/** An error as plain data, to cross a worker boundary (structured clone drops classes). */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  file?: string;
  tensor?: string;
  stack?: string;
}

const ERROR_CLASSES: Record<string, abstract new (...args: never[]) => ConversionError> = {
  MissingTensorError,
  InvalidShapeError,
  InvalidWeightCountError,
  InvalidTernaryWeightError,
  CorruptFileError,
  UnsupportedError,
  InvalidConfigError,
  OutputError,
  HubError,
  UsageError,
};

export function serializeError(e: unknown): SerializedError {
  if (e instanceof Error) {
    const c = e as Partial<ConversionError>;
    return { name: e.name, message: e.message, code: c.code, file: c.file, tensor: c.tensor, stack: e.stack };
  }
  return { name: 'Error', message: String(e) };
}

/** Rebuilds an error of the same class (a plain Error for anything unexpected). */
export function reviveError(s: SerializedError): Error {
  const cls = ERROR_CLASSES[s.name];
  const e: Error = cls ? Object.create(cls.prototype) : new Error(s.message);
  Object.assign(e, { message: s.message, name: s.name, code: s.code, file: s.file, tensor: s.tensor, stack: s.stack });
  return e;
}

// The run log: logs/bitnet-converter-<timestamp>.txt, as the seed converter writes it.
// A log that cannot be written never stops a conversion: it is reported once and skipped.

import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export class RunLog {
  readonly path: string;
  private broken = false;

  constructor(dir: string) {
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
    this.path = join(dir, `bitnet-converter-${stamp}.txt`);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      this.fail(e);
    }
  }

  line(text: string): void {
    if (this.broken) return;
    try {
      appendFileSync(this.path, `${new Date().toISOString()} ${text}\n`);
    } catch (e) {
      this.fail(e);
    }
  }

  private fail(e: unknown): void {
    this.broken = true;
    process.stderr.write(`warning: no run log: cannot write ${this.path}: ${(e as NodeJS.ErrnoException).code ?? e}\n`);
  }
}

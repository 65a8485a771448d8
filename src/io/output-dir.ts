// Crash-safe output folder. Files are written into a temporary folder beside the target,
// fsynced, and the folder is renamed into place only after success. An existing target is
// replaced only with `force`, and is moved aside (not deleted) until the new one is in place.
// A lock file beside the target keeps two runs from writing the same output at once.
// Leftovers of a killed run (its temporary folder, its lock) are recognised by their dead
// process id and removed by the next run.

import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { OutputError } from '../errors.js';
import { guard, outputError } from './file-sink.js';
import { statOrUndefined } from './read.js';

const PARTIAL = '.partial-';
const OLD = '.old-';

/** Transactions in flight, so a signal handler can remove their temporary folders. */
const active = new Set<OutputTransaction>();

/** How many transactions are in flight (an output is being written). */
export function activeTransactionCount(): number {
  return active.size;
}

/** Aborts every transaction in flight (for SIGINT/SIGTERM handlers). */
export function abortActiveTransactions(): void {
  for (const t of [...active]) t.abort();
}

export class OutputTransaction {
  private done = false;

  private constructor(
    readonly target: string,
    readonly tempDir: string,
    private readonly lockPath: string,
    private readonly replace: boolean,
  ) {}

  /**
   * Checks the target, takes the lock and creates the temporary folder; refuses an existing
   * target without `force` before any conversion work is done.
   */
  static begin(target: string, force: boolean): OutputTransaction {
    target = resolve(target);
    const parent = dirname(target);
    const name = basename(target);
    const parentSt = statOrUndefined(parent);
    if (parentSt && !parentSt.isDirectory()) throw new OutputError({ file: parent }, 'the parent of the output folder is a file, not a folder');
    guard(parent, 'create the parent folder', () => mkdirSync(parent, { recursive: true }));
    const lockPath = join(parent, `.${name}.lock`);
    takeLock(lockPath, target);
    try {
      removeStale(parent, name);
      const replace = existsSync(target);
      if (replace && !statSync(target).isDirectory()) {
        throw new OutputError({ file: target }, 'the output path exists and is not a folder');
      }
      if (replace && !force) {
        throw new OutputError(
          { file: target },
          'the output folder already exists; pass --force to replace it (it is replaced only after a successful conversion)',
        );
      }
      const tempDir = join(parent, `.${name}${PARTIAL}${process.pid}-${Date.now().toString(36)}`);
      guard(tempDir, 'create the temporary output folder', () => mkdirSync(tempDir));
      const t = new OutputTransaction(target, tempDir, lockPath, replace);
      active.add(t);
      return t;
    } catch (e) {
      rmSync(lockPath, { force: true });
      throw e;
    }
  }

  /** fsyncs the folder and moves it into place; the previous output is removed last. */
  commit(): void {
    fsyncDir(this.tempDir);
    const old = join(dirname(this.target), `.${basename(this.target)}${OLD}${process.pid}`);
    if (this.replace) guard(this.target, 'move the previous output aside', () => renameSync(this.target, old));
    try {
      guard(this.target, 'move the new output into place', () => renameSync(this.tempDir, this.target));
    } catch (e) {
      if (this.replace) renameSync(old, this.target); // put the previous output back
      throw e;
    }
    fsyncDir(dirname(this.target));
    this.done = true;
    if (this.replace) rmSync(old, { recursive: true, force: true });
    this.releaseLock();
  }

  /** Removes the temporary folder and the lock; the target is untouched. Safe to call twice. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    try {
      // retries: a worker that has not stopped yet may still be creating a file in it
      rmSync(this.tempDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
    } finally {
      this.releaseLock();
    }
  }

  private releaseLock(): void {
    active.delete(this);
    rmSync(this.lockPath, { force: true });
  }
}

/** Whether a process runs. A zombie (killed, not yet reaped by its parent) does not, though kill(pid, 0) succeeds on it. */
function isAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (process.platform !== 'linux') return true;
  try {
    // proc(5): "pid (comm) S ...", comm may hold ')' itself: the state follows the last one
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state !== 'Z' && state !== 'X';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ENOENT'; // gone since kill(); unreadable /proc (hidepid): trust kill()
  }
}

function takeLock(lockPath: string, target: string): void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw outputError(lockPath, 'create the lock file', e);
    }
    let holder: number;
    try {
      holder = Number(readFileSync(lockPath, 'utf8').trim());
    } catch {
      continue; // released between our two calls: try again
    }
    if (isAlive(holder) && holder !== process.pid) {
      throw new OutputError({ file: target }, `another conversion (process ${holder}) is writing this output; wait for it or remove ${lockPath} if that process is gone`);
    }
    rmSync(lockPath, { force: true }); // stale: its process is gone
  }
  throw new OutputError({ file: lockPath }, 'could not take the lock file: another run keeps taking it');
}


/**
 * Cleans up after runs whose process is gone: their temporary folders are removed; a previous
 * output they had moved aside is put back if nothing took its place, else removed.
 */
function removeStale(parent: string, name: string): void {
  const target = join(parent, name);
  for (const entry of readdirSync(parent)) {
    for (const marker of [PARTIAL, OLD]) {
      const prefix = `.${name}${marker}`;
      if (!entry.startsWith(prefix)) continue;
      const pid = Number(entry.slice(prefix.length).split('-')[0]);
      if (isAlive(pid)) continue;
      if (marker === OLD && !existsSync(target)) renameSync(join(parent, entry), target);
      else rmSync(join(parent, entry), { recursive: true, force: true });
    }
  }
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

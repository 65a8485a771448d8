// Crash-safe output folder. Files are written into a temporary folder beside the target,
// fsynced, and the folder is renamed into place only after success. An existing target is
// replaced only with `force`, and is moved aside (not deleted) until the new one is in place.
// A lock file beside the target keeps two runs from writing the same output at once.
// Leftovers of a killed run (its temporary folder, its lock) are recognised by their dead
// process id and removed by the next run.
//
// A replace is two renames back to back (target -> .<name>.old-<pid>, temporary folder -> target); between
// the two system calls the target does not exist (docs/architecture.md 2, step 4). An atomic swap needs
// renameat2(RENAME_EXCHANGE), which Node lacks; a target that is a symlink to a versioned folder would
// stop being a folder for `cp -r`, `tar` and `rm -rf`. So a run killed in that window is repaired instead:
// the next run puts the previous output back, and verify and inspect name both folders.

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
  static begin(target: string, force: boolean, warn: (message: string) => void = () => {}): OutputTransaction {
    target = resolve(target);
    const parent = dirname(target);
    const name = basename(target);
    const parentSt = statOrUndefined(parent);
    if (parentSt && !parentSt.isDirectory()) throw new OutputError({ file: parent }, 'the parent of the output folder is a file, not a folder');
    guard(parent, 'create the parent folder', () => mkdirSync(parent, { recursive: true }));
    const lockPath = join(parent, `.${name}.lock`);
    takeLock(lockPath, target);
    try {
      removeStale(parent, name, warn);
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
      // the window (see the top): killed before this rename, the target is missing until removeStale puts the old one back
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
 * output they had moved aside is put back if nothing took its place (a kill between the two renames
 * of a replace), else removed.
 */
function removeStale(parent: string, name: string, warn: (message: string) => void): void {
  const target = join(parent, name);
  // the moved-aside output first: its process's temporary folder is still there to name
  for (const entry of leftovers(parent, name, OLD)) {
    if (isAlive(entry.pid)) continue;
    if (!existsSync(target)) {
      renameSync(entry.path, target);
      warn(`${target}: put the previous output back from ${entry.path}: process ${entry.pid} ended between the two renames of its replace`);
    } else rmSync(entry.path, { recursive: true, force: true });
  }
  for (const entry of leftovers(parent, name, PARTIAL)) if (!isAlive(entry.pid)) rmSync(entry.path, { recursive: true, force: true });
}

/** The folders beside `name` a run left with `marker` (.old-, .partial-), with the process id in their name. */
function leftovers(parent: string, name: string, marker: string): { path: string; pid: number }[] {
  const prefix = `.${name}${marker}`;
  return readdirSync(parent)
    .filter((entry) => entry.startsWith(prefix))
    .map((entry) => ({ path: join(parent, entry), pid: Number(entry.slice(prefix.length).split('-')[0]) }));
}

/**
 * For a target that does not exist: throws an OutputError when a replace of it was interrupted (or is in
 * its two renames right now), naming the previous output moved aside and the new one; returns otherwise.
 */
export function interruptedReplace(target: string): void {
  target = resolve(target);
  const parent = dirname(target);
  const name = basename(target);
  let old: { path: string; pid: number } | undefined;
  try {
    old = leftovers(parent, name, OLD)[0];
  } catch {
    return; // no parent folder: nothing was interrupted here
  }
  if (!old) return;
  if (isAlive(old.pid)) throw new OutputError({ file: target }, `process ${old.pid} is replacing this output right now (the previous one is at ${old.path}); try again`);
  const partial = leftovers(parent, name, PARTIAL).find((p) => p.pid === old.pid && existsSync(join(p.path, 'manifest.json')));
  throw new OutputError(
    { file: target },
    `no output folder: process ${old.pid} ended between the two renames of a --force replace; the previous output is complete at ${old.path}` +
      (partial ? ` and the new one at ${partial.path}` : '') +
      `; the next conversion into ${target} puts the previous one back (or move it back yourself: mv ${old.path} ${target})`,
  );
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

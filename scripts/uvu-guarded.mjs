// The 'uvu' that test files get when scripts/uvu-run.mjs runs them (scripts/uvu-hooks.mjs points the
// specifier here): uvu itself, with every suite's hooks guarded, because uvu's runner swallows a hook's
// error (it returns from a `finally`) and reports the suite as "(0 / N)" with no reason.
//   - A before hook that throws: the suite's remaining before hooks are not run and each of its tests
//     fails with that error (the first one with its stack), so they count as failed, with the reason.
//   - An after hook that throws: the error is kept in afterHookErrors; the runner reports it as one
//     more failed test of that suite.
import * as uvu from 'uvu';

/** Errors thrown by after hooks, taken (and emptied) by the runner after each suite. */
export const afterHookErrors = [];

function guard(t, name) {
  const label = name ? `suite "${name}"` : 'the suite';
  const { before, after, run } = t;
  const beforeEach = before.each;
  const afterEach = after.each;
  // One record per run(): the default `test` is one object that every file registers into and runs.
  let current;
  const record = () => {
    if (!current) {
      const r = { error: undefined, reported: false };
      current = r;
      beforeEach(() => failIfSetupFailed(r));
    }
    return current;
  };
  const failIfSetupFailed = (r) => {
    if (r.error === undefined) return;
    const e = r.error;
    const failure = new Error(`${label} could not start: its before hook threw ${String(e)}`);
    failure.stack = r.reported || !(e instanceof Error) || !e.stack
      ? `Error: ${failure.message}`
      : `Error: ${failure.message}${e.stack.slice(e.stack.indexOf('\n'))}`;
    r.reported = true;
    throw failure;
  };
  t.before = (fn) => {
    const r = record();
    before(async (state) => {
      if (r.error !== undefined) return;
      try {
        await fn(state);
      } catch (e) {
        r.error = e;
      }
    });
  };
  t.before.each = (fn) => {
    const r = record();
    beforeEach(async (state) => {
      failIfSetupFailed(r);
      await fn(state);
    });
  };
  t.after = (fn) => {
    after(async (state) => {
      try {
        await fn(state);
      } catch (e) {
        afterHookErrors.push({ suite: name, error: e });
      }
    });
  };
  t.after.each = afterEach;
  t.run = () => {
    current = undefined;
    run();
  };
  return t;
}

export const test = guard(uvu.test, '');
export const suite = (name = '', state = {}) => guard(uvu.suite(name, state), name);
export const exec = uvu.exec;

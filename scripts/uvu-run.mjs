// Runs the uvu suites of test/ whose path matches a pattern, as uvu's own CLI does, except that a test
// file or a suite that cannot start says why and counts as failed (scripts/test.mjs starts it under tsx):
//   - a file that throws while it is imported is one failed test with that error (uvu's CLI would stop
//     the whole run there);
//   - a suite whose before or after hook throws: see scripts/uvu-guarded.mjs;
//   - a suite that ends with tests neither passed nor failed says how many did not run.
// The summary is uvu's (Total, Passed, Skipped), so Total - Passed counts all of these as failed.
//
//   node --import tsx scripts/uvu-run.mjs [pattern]     the *.test.* files whose path under test/ matches the regex
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { parse } from 'uvu/parse';

register('./uvu-hooks.mjs', import.meta.url);
globalThis.UVU_DEFER = 1; // uvu queues the suites for exec() instead of running them on its own
const { exec, afterHookErrors } = await import('./uvu-guarded.mjs');
const queue = globalThis.UVU_QUEUE;

const indent = (text) => text.replace(/\n/g, '\n    ');
const fail = (suite, name, error) => {
  const text = error instanceof Error ? error.stack || `${error.name}: ${error.message}` : String(error);
  return `   FAIL ${suite ? ` ${suite} ` : ''} "${name}"\n    ${indent(text)}\n`;
};

/** A queue entry that reports one failed test without running anything. */
const failedEntry = (suite, name, error) => async () => {
  process.stdout.write('✘   (0 / 1)\n');
  return [fail(suite, name, error), 0, 0, 1];
};

/** Wraps a suite's entry: adds its after hooks' errors and its tests that did not run. */
const checked = (entry) => async () => {
  const [errs, ran, skipped, total] = await entry();
  let out = errs === true ? '' : errs;
  let count = total;
  const add = (text) => {
    out += (out ? '\n' : '') + text;
  };
  if (!out && ran < total) {
    add(fail('', 'tests that did not run', new Error(`${total - ran} of ${total} tests neither passed nor failed, with no error shown`)));
  }
  for (const { suite, error } of afterHookErrors.splice(0)) {
    add(fail(suite, 'after hook', error));
    count++;
  }
  return [out || true, ran, skipped, count];
};

const suites = (await parse('test', process.argv[2] ?? '\\.test\\.ts$')).suites.filter((s) => /\.test\.[mc]?[jt]s$/.test(s.name));
for (const [i, { name, file }] of suites.entries()) {
  globalThis.UVU_INDEX = i;
  queue.push([name]);
  try {
    await import(pathToFileURL(file).href);
  } catch (e) {
    queue[i].push(failedEntry('', `${name} could not be loaded`, e));
  }
  for (let k = 1; k < queue[i].length; k++) queue[i][k] = checked(queue[i][k]);
}
await exec();

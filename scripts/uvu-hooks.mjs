// Module resolve hook registered by scripts/uvu-run.mjs: `import ... from 'uvu'` in a test file gets
// scripts/uvu-guarded.mjs (uvu with its suites' hooks guarded); that module itself gets the real uvu.
const GUARDED = new URL('./uvu-guarded.mjs', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'uvu' && context.parentURL !== GUARDED) return { url: GUARDED, shortCircuit: true };
  return nextResolve(specifier, context);
}

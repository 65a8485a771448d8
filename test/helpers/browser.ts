// Headless Chromium for the page and report tests (chromium.mjs: which browser, which driver, which flags).

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CHROMIUM, LAUNCH, TOOLS, playwrightChromium } from './chromium.mjs';

export { CHROMIUM };

/** Why the browser tests cannot run here, or undefined when they can. npm test's pretest installs both (scripts/install-engines.mjs; Chromium only as root). */
export function browserMissing(): string | undefined {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (as root: apt-get install -y chromium; npm test does it when run as root)`;
  if (!existsSync(join(TOOLS, 'node_modules/playwright-core/package.json'))) return 'playwright-core is not installed in test/tools (node scripts/install-engines.mjs)';
  return undefined;
}

type Playwright = typeof import('playwright-core');
export type Browser = Awaited<ReturnType<Playwright['chromium']['launch']>>;
export type Page = Awaited<ReturnType<Browser['newPage']>>;

/** Launches headless Chromium (playwright gives it a fresh temporary profile); `args`: flags beside the usual ones. */
export async function launchBrowser(args: string[] = []): Promise<Browser> {
  const missing = browserMissing();
  if (missing) throw new Error(`cannot run the browser tests: ${missing}`);
  return (playwrightChromium() as Playwright['chromium']).launch({ ...LAUNCH, args: [...LAUNCH.args, ...args] });
}

/** The CLI of this build, run synchronously (its stdout back), and its output of `input` into `<tmp>/<name>-cli` with timestamp 0. */
export function cliRunner(tmp: string): { cli: (...args: string[]) => string; cliOut: (name: string, input: string, ...args: string[]) => string } {
  const CLI = new URL('../../build/js/cli/main.js', import.meta.url).pathname;
  const cli = (...args: string[]) => execFileSync(process.execPath, [CLI, ...args], { stdio: 'pipe', encoding: 'utf8' });
  const cliOut = (name: string, input: string, ...args: string[]) => {
    const out = join(tmp, `${name}-cli`);
    cli('--input-dir', input, '--output-dir', out, '--timestamp', '0', '-q', '--log-dir', join(tmp, 'logs'), ...args);
    return out;
  };
  return { cli, cliOut };
}

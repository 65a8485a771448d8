// Headless Chromium for the page and report tests (chromium.mjs: which browser, which driver, which flags).

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

/** Launches headless Chromium (playwright gives it a fresh temporary profile). */
export async function launchBrowser(): Promise<Browser> {
  const missing = browserMissing();
  if (missing) throw new Error(`cannot run the browser tests: ${missing}`);
  return (playwrightChromium() as Playwright['chromium']).launch(LAUNCH);
}

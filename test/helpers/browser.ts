// Headless Chromium for the page and report tests: Debian's /usr/bin/chromium driven by the
// playwright-core of test/tools (installed by scripts/install-engines.mjs; never a browser download).
// The flags keep Chromium off the network this machine does not have.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TOOLS = fileURLToPath(new URL('../tools/', import.meta.url));
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or undefined when they can. CI installs both (.ci/run). */
export function browserMissing(): string | undefined {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (apt-get install -y chromium)`;
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
  const require = createRequire(join(TOOLS, 'package.json'));
  const { chromium } = require('playwright-core') as Playwright;
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

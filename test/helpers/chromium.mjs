// Debian's /usr/bin/chromium and the playwright-core of test/tools (installed by
// scripts/install-engines.mjs; never a browser download), for the browser tests and
// scripts/bench-browser.mjs alike. The flags keep Chromium off the network this machine does not have.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const TOOLS = fileURLToPath(new URL('../tools/', import.meta.url));
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Options for playwright's chromium.launch() or launchPersistentContext(). */
export const LAUNCH = {
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
};

/** playwright-core's chromium, from test/tools. */
export function playwrightChromium() {
  return createRequire(new URL('package.json', `file://${TOOLS}`))('playwright-core').chromium;
}

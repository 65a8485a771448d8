// Firefox and WebKit for the browser tests, from Debian (scripts/install-engines.mjs installs them as
// root): Firefox ESR driven by puppeteer-core over WebDriver BiDi (playwright's firefox needs its own
// patched build), WebKitGTK's MiniBrowser driven by WebKitWebDriver through selenium-webdriver, under
// xvfb-run (MiniBrowser needs a display). Never a browser download.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { TOOLS } from './chromium.mjs';

export const FIREFOX = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';
export const WEBKIT_DRIVER = '/usr/bin/WebKitWebDriver';
export const MINIBROWSER = '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
export const XVFB_RUN = '/usr/bin/xvfb-run';
/**
 * WebKitGTK ships these off (Safari turns them on): the File System API (OPFS), its writable streams,
 * the Storage API (navigator.storage) and byte streams (BYOB readers); shared memory is a JSC option.
 */
export const WEBKIT_FEATURES = '+FileSystem,+FileSystemWritableStream,+StorageAPI,+StorageAPIEstimate,+ReadableByteStreamAPI';

const tool = (name) => createRequire(join(TOOLS, 'package.json'))(name);
const hasTool = (name) => existsSync(join(TOOLS, 'node_modules', name, 'package.json'));

/** Why Firefox cannot be driven here, or undefined. */
export function firefoxMissing() {
  if (!existsSync(FIREFOX)) return `no Firefox at ${FIREFOX} (as root: apt-get install -y firefox-esr; npm test does it when run as root)`;
  if (!hasTool('puppeteer-core')) return 'puppeteer-core is not installed in test/tools (node scripts/install-engines.mjs)';
  return undefined;
}

/** Why WebKit cannot be driven here, or undefined. */
export function webkitMissing() {
  for (const [path, pkg] of [[WEBKIT_DRIVER, 'webkit2gtk-driver'], [MINIBROWSER, 'webkit2gtk-driver'], [XVFB_RUN, 'xvfb']]) {
    if (!existsSync(path)) return `no ${path} (as root: apt-get install -y ${pkg}; npm test does it when run as root)`;
  }
  if (!hasTool('selenium-webdriver')) return 'selenium-webdriver is not installed in test/tools (node scripts/install-engines.mjs)';
  return undefined;
}

/** Headless Firefox ESR with a fresh profile (puppeteer makes one), over WebDriver BiDi. */
export async function launchFirefox() {
  const missing = firefoxMissing();
  if (missing) throw new Error(`cannot run the Firefox tests: ${missing}`);
  return tool('puppeteer-core').launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    protocol: 'webDriverBiDi',
    // no updates, telemetry or remote settings: this machine has no network beyond the local server
    extraPrefsFirefox: { 'app.update.enabled': false, 'datareporting.policy.dataSubmissionEnabled': false, 'network.dns.disableIPv6': true },
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * WebKitGTK's MiniBrowser under WebKitWebDriver and xvfb-run, its web features as Safari has them
 * (WEBKIT_FEATURES, shared memory on). Returns the selenium driver and a stop() that ends the driver
 * process group it started.
 */
export async function launchWebKit() {
  const missing = webkitMissing();
  if (missing) throw new Error(`cannot run the WebKit tests: ${missing}`);
  const { Builder, Capabilities } = tool('selenium-webdriver');
  const port = await freePort();
  const child = spawn(XVFB_RUN, ['-a', WEBKIT_DRIVER, `--port=${port}`], { detached: true, stdio: 'ignore', env: { ...process.env, JSC_useSharedArrayBuffer: '1' } });
  const stop = () => {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  const caps = new Capabilities();
  caps.set('browserName', 'MiniBrowser');
  caps.set('webkitgtk:browserOptions', { binary: MINIBROWSER, args: ['--automation', `--features=${WEBKIT_FEATURES}`] });
  for (let i = 0; ; i++) {
    try {
      const driver = await new Builder().usingServer(`http://127.0.0.1:${port}`).withCapabilities(caps).build();
      return { driver, stop };
    } catch (e) {
      if (i >= 40) {
        stop();
        throw e;
      }
      await new Promise((r) => setTimeout(r, 250)); // the driver is still starting
    }
  }
}

/** The WebKitGTK version, for the record. */
export function webkitVersion() {
  return spawnSync('dpkg-query', ['-W', '-f=${Version}', 'webkit2gtk-driver'], { encoding: 'utf8' }).stdout?.trim() || 'unknown';
}

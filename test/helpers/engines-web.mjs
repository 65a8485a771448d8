// Firefox and WebKit for the browser tests, from Debian (scripts/install-engines.mjs installs them as
// root): Firefox ESR driven by puppeteer-core over WebDriver BiDi (playwright's firefox needs its own
// patched build), WebKitGTK's MiniBrowser driven by WebKitWebDriver through selenium-webdriver, under
// xvfb-run (MiniBrowser needs a display). Never a browser download.

import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
export const WEBKIT_FEATURES = '+FileSystem,+FileSystemWritableStream,+AccessHandle,+StorageAPI,+StorageAPIEstimate,+ReadableByteStreamAPI';
/** The WebKitGTK GObject bindings the persistent host (webkit-host.py) needs. */
export const WEBKIT_GIR = '/usr/lib/x86_64-linux-gnu/girepository-1.0/WebKit2-4.1.typelib';
const HOST = new URL('./webkit-host.py', import.meta.url).pathname;

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

/** Why the persistent WebKit host cannot run here, or undefined. */
export function webkitHostMissing() {
  if (!existsSync(WEBKIT_GIR)) return `no ${WEBKIT_GIR} (as root: apt-get install -y gir1.2-webkit2-4.1; npm test does it when run as root)`;
  if (spawnSync('/usr/bin/python3', ['-c', 'import gi'], { stdio: 'ignore' }).status !== 0) return 'no python3-gi (as root: apt-get install -y python3-gi)';
  if (spawnSync('/usr/bin/python3', ['-c', 'import gi; gi.require_foreign("cairo")'], { stdio: 'ignore' }).status !== 0) return 'no python3-gi-cairo (as root: apt-get install -y python3-gi-cairo)';
  if (!existsSync(XVFB_RUN)) return `no ${XVFB_RUN} (as root: apt-get install -y xvfb)`;
  return undefined;
}

/**
 * Loads `url` in WebKitGTK with website data kept in a folder of its own (so OPFS persists, unlike
 * MiniBrowser under WebDriver), runs `body` (an async function body) in the page, and resolves with what
 * it returned, or rejects with the host's reason. `files`: what the file choosers the page opens are
 * answered with, in turn (a list of paths each); `shot`: a PNG of the page saved at the end; `dataDir`: the
 * website data folder (default: a new one, removed after); `started`: called with the host's process id
 * (its web and network processes are its descendants); `quota`: the page's storage quota in bytes.
 */
export function inWebKitHost(url, body, timeoutSeconds = 60, { files = [], shot, dataDir, started, quota } = {}) {
  const missing = webkitHostMissing();
  if (missing) return Promise.reject(new Error(`cannot run the WebKit host: ${missing}`));
  const dir = mkdtempSync(`${tmpdir()}/bitnet-webkit-`);
  const script = `${dir}/script.js`;
  writeFileSync(script, body);
  return new Promise((resolve, reject) => {
    const env = { ...process.env, JSC_useSharedArrayBuffer: '1', WEBKIT_HOST_FILES: JSON.stringify(files), WEBKIT_HOST_SHOT: shot ?? '', WEBKIT_HOST_QUOTA_BYTES: quota ? String(quota) : '' };
    const child = execFile(XVFB_RUN, ['-a', '/usr/bin/python3', HOST, url, dataDir ?? `${dir}/data`, WEBKIT_FEATURES, script, String(timeoutSeconds)], { encoding: 'utf8', env, timeout: (timeoutSeconds + 30) * 1000, maxBuffer: 1 << 26 }, (err, stdout) => {
      rmSync(dir, { recursive: true, force: true });
      let out;
      try {
        out = JSON.parse(stdout.trim().split('\n').pop() ?? '');
      } catch {
        return reject(new Error(`the WebKit host printed no result (${err?.message ?? 'no error'})`));
      }
      // with WEBKIT_HOST_CONSOLE=1 the page's console came before the result: its end tells where it stood
      const console = stdout.trim().split('\n').slice(-21, -1).join('\n');
      if (out.error) reject(new Error(`WebKit host: ${out.error}${console ? `\n${console}` : ''}`));
      else resolve(out.value);
    });
    started?.(child.pid);
  });
}

/** The WebKitGTK version, for the record. */
export function webkitVersion() {
  return spawnSync('dpkg-query', ['-W', '-f=${Version}', 'webkit2gtk-driver'], { encoding: 'utf8' }).stdout?.trim() || 'unknown';
}

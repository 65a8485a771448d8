// Scripts run inside the page, the same in every engine (Chromium and Firefox evaluate them over their
// drivers, the WebKitGTK host runs them as its script): plain JavaScript text, since a function would be
// rewritten by the tests' TypeScript loader. Each is the body of an async function.

/** In-page helpers: waiting, setting a control as a user would, sha256 of Blobs, what is left in OPFS, picking and converting. */
export const PAGE_PRELUDE = `
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const $ = (id) => document.getElementById(id);
  const set = (id, v, ev = 'change') => { $(id).value = v; $(id).dispatchEvent(new Event(ev, { bubbles: true })); };
  const hex = async (blob) => [...new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()))].map((x) => x.toString(16).padStart(2, '0')).join('');
  /** What is left in OPFS: the runs in the page's folder, and anything else at the root (the page's probe files once piled up there). */
  const leftInOpfs = async () => {
    const root = await navigator.storage.getDirectory();
    const names = [];
    for await (const name of root.keys()) if (name !== 'bitnet-converter') names.push(name);
    const runs = await root.getDirectoryHandle('bitnet-converter', { create: true });
    for await (const name of runs.keys()) names.push('bitnet-converter/' + name);
    return names;
  };
  const ready = async () => {
    for (let i = 0; i < 300 && !document.body.dataset.ready && !document.body.dataset.unsupported; i++) await sleep(100);
    if (document.body.dataset.unsupported) throw new Error($('unsupported').textContent);
  };
  /**
   * Picks files (the WebKit host answers the chooser) and names the model, as a user would. Once per page and
   * first thing: a script's click opens a file chooser only while the user activation the script started
   * with lasts (a second pick some seconds later opened none).
   */
  const pick = async (name) => {
    // the page's module may still be loading: its init() writes the version first
    for (let i = 0; i < 1000 && !$('version').textContent; i++) await sleep(10);
    const changed = new Promise((r) => $('files').addEventListener('change', r, { once: true }));
    $('files').click();
    if (!(await Promise.race([changed.then(() => true), sleep(10000)]))) throw new Error('no file chooser opened');
    await sleep(0); // after the page's own change handler
    set('model-name', name, 'input');
  };
  /** A format under "Advanced options", or with \`engine\` that engine's choice ("Run it in"). */
  const choose = (format, ggufType, engine) => {
    set('engine', engine || 'format');
    $('advanced').open = true;
    if (!engine) set('format', format);
    if (ggufType) set('gguf-type', ggufType);
    set('timestamp', '0', 'input');
  };
  /** Each file the result offers for download, by name: the sha256 of the bytes its link gives. */
  const offered = async () => {
    const files = {};
    for (const a of document.querySelectorAll('#files-table a[download]')) files[a.download] = await hex(await (await fetch(a.href)).blob());
    return files;
  };
  /** Clicks Convert (once the last run has let go of it) and waits for the result; the error shown, or ''. */
  const convert = async () => {
    for (let i = 0; i < 500 && $('convert').disabled; i++) await sleep(10);
    if ($('convert').disabled) throw new Error('Convert is disabled: ' + [$('picked'), $('unsupported'), $('error-text')].map((e) => e.textContent).join(' | '));
    $('convert').click();
    for (let i = 0; i < 1200 && $('result').hidden && $('error').hidden; i++) await sleep(50);
    return $('error').hidden ? '' : $('error-text').textContent;
  };
`;

/** One cell of the matrix: a format, and GGUF's type where the model's rows need one; or an engine's choice (its format named too). */
export interface MatrixFormat {
  format: string;
  ggufType?: string;
  engine?: string;
}

/** What one conversion through the page gave: the error shown ('' for none), the result's heading and summary, each offered file's sha256. */
export interface PageCell {
  error: string;
  state: string;
  summary: string;
  files: Record<string, string>;
}

/** What one conversion through the API gave: its error, or each file's sha256 as it lists them and as its Blob hashes. */
export interface ApiCell {
  error?: string;
  listed?: Record<string, string>;
  blobs?: Record<string, string>;
}

/**
 * After PAGE_PRELUDE, with the input already chosen (files picked, or a repo typed): converts into each of
 * `formats` through the page's controls, then through the API (`convertFiles` of the picked files named
 * `name`, or `convertHub` of `hub.repo` at `hub.endpoint`) into Blobs. Returns `{ page, api }` as JSON, by
 * format.
 */
export function matrixScript(formats: MatrixFormat[], source: { files: { input: string; name: string } } | { hub: { repo: string; endpoint: string } }): string {
  return `
    const formats = ${JSON.stringify(formats)};
    const source = ${JSON.stringify(source)};
    if ($('destination')) set('destination', 'download');
    const page = {};
    for (const f of formats) {
      choose(f.format, f.ggufType, f.engine);
      const error = await convert();
      const files = error ? {} : await offered();
      page[f.format] = { error, state: $('result-state').textContent, summary: $('summary').textContent, files };
    }
    const web = await import('/js/web/index.js');
    const picked = source.files && [...$(source.files.input).files];
    const api = {};
    for (const f of formats) {
      const o = { ...(f.engine ? { engine: f.engine } : { format: f.format }), ...(f.ggufType && { ggufType: f.ggufType }), timestamp: 0, output: { kind: 'blobs' } };
      try {
        const r = source.files
          ? await web.convertFiles(picked, { ...o, folderName: source.files.name })
          : await web.convertHub(source.hub.repo, 'main', { ...o, hub: { endpoint: source.hub.endpoint } });
        const blobs = {};
        for (const x of r.outputs) blobs[x.name] = await hex(x.blob);
        api[f.format] = { listed: Object.fromEntries(r.files.map((x) => [x.name, x.sha256])), blobs };
      } catch (e) {
        api[f.format] = { error: String(e && e.message) };
      }
    }
    return JSON.stringify({ page, api });`;
}

/**
 * After PAGE_PRELUDE, on a page served for the Hub stand-in: a repo (and revision, token) typed into the
 * page's fields and converted into bitnet-rs, for each of `tries`; the error each shows ('' for none), and
 * the files of each that converted, by sha256.
 */
export function hubTriesScript(tries: { repo: string; revision?: string; token?: string }[]): string {
  return `
    const out = [];
    for (const t of ${JSON.stringify(tries)}) {
      set('hf-repo', t.repo, 'input');
      set('hf-revision', t.revision ?? '', 'input');
      set('hf-token', t.token ?? '', 'input');
      if ($('destination')) set('destination', 'download');
      choose('bitnet-rs');
      const error = await convert();
      const files = error ? {} : await offered();
      out.push({ error, files });
    }
    return JSON.stringify(out);`;
}

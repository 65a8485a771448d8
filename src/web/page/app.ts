// The page: pick or drop a model folder, say which engine the output is for (or choose the format under
// "Advanced options"), convert in workers, cancel at any time, then save into a picked folder or
// download the whole output as one .zip, with the command that runs it. States are shown in words;
// nothing is logged to the console. Every control is a native, labelled one, reachable by keyboard.

import {
  browserProblem, configModelName, convertFiles, convertHub, engineById, fileSet, mainFile, removeLeftovers, runCommand, warmUp,
  DEFAULTS, ENGINES, FORMAT_IDS, FORMATS, LAYOUTS, formatById, optionFlag, simdSupported,
  type FileSet, type Progress, type WebConvertResult, type WebOutput,
} from '../index.js';
import { HUB_META } from '../../hub/repo.js';
import { VERSION } from '../../version.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
/** The engine choice that leaves the format to the advanced options. */
const OWN_FORMAT = 'format';

/** Another Hub address, where the server gave one (bitnet-converter serve --hf-endpoint, or HF_ENDPOINT). */
const hubEndpoint = document.querySelector<HTMLMetaElement>(`meta[name="${HUB_META}"]`)?.content || undefined;
let files: File[] = [];
/** The model folder found in what was picked. */
let model: FileSet | undefined;
let running: AbortController | undefined;
/** The last result, kept in the browser's storage for its downloads; gone when a new folder is picked or converted. */
let previous: WebConvertResult | undefined;
/** The folder picked for the last run, to replace an existing output in without asking again. */
let lastDirectory: FileSystemDirectoryHandle | undefined;

type Picker = (o: object) => Promise<FileSystemDirectoryHandle>;
const directoryPicker = () => (window as unknown as { showDirectoryPicker?: Picker }).showDirectoryPicker;

/** A message in the error box; `notice`: not a failure (a cancel the user asked for), shown without the error's red. */
function showError(message: string, replaceable = false, notice = false): void {
  $('error').classList.toggle('notice', notice);
  $('error-text').textContent = message;
  $('replace-existing').hidden = !replaceable;
  $('error').hidden = false;
}

function clearResult(): void {
  void previous?.remove().catch(() => undefined);
  previous = undefined;
  $('result').hidden = true;
  $('progress-box').hidden = true;
  $('error').hidden = true;
  $('files-table').replaceChildren();
}

/**
 * The CLI's flags in a message, said as the page's controls: a format's option with its value when the
 * next word is one of its values (else the word stays as it was), the Hub's token and repo syntax, the layout.
 */
function inPageWords(message: string): string {
  let m = message;
  for (const f of Object.values(FORMATS)) {
    for (const opt of f.options) {
      m = m.replace(new RegExp(`--${optionFlag(opt.key)}( ([\\w.-]+))?`, 'g'), (_, next?: string, v?: string) =>
        v !== undefined && (opt.values as readonly string[]).includes(v) ? `"${opt.label}" ${v} (Advanced options)` : `"${opt.label}" (Advanced options)${next ?? ''}`,
      );
    }
  }
  return m
    .replace(/--format (\S+)/g, 'format $1')
    .replace(/--layout ([\w-]+)/g, '"Input layout" $1')
    .replace(/ \(--hf-token, or (the )?HF_TOKEN( environment variable)?\)/g, ' (the "Access token" field)')
    .replace(/hf:ORG\/NAME or hf:ORG\/NAME@REVISION \(a \.gguf in it: hf:ORG\/NAME\[@REVISION\]\/FILE\.gguf\)/, 'ORG/NAME, or ORG/NAME/FILE.gguf (the revision in its own field)')
    .replace(/, or convert with force to replace it/, ', or replace it');
}

function updateConvert(): void {
  $<HTMLButtonElement>('convert').disabled = !(model || hubRepo() !== '') || running !== undefined || !$('unsupported').hidden;
}

/** A new pick: the model folder inside it (the picked one, or the one subfolder that holds config.json). */
function setFiles(list: File[], name?: string): void {
  clearResult();
  files = list;
  model = undefined;
  if (list.length) {
    try {
      model = fileSet(list, name);
    } catch (e) {
      showError(e instanceof Error ? e.message : String(e));
    }
  }
  const nameBox = $<HTMLInputElement>('model-name');
  nameBox.value = model && !model.unnamed ? model.dir : '';
  nameBox.required = model?.unnamed === true;
  if (!model) {
    $('picked').textContent = list.length ? 'No model folder in what was picked.' : 'No folder chosen yet.';
  } else {
    const sets = [...model.files.values()];
    const kind = model.weights;
    const weights = sets.filter((f) => f.name.endsWith(kind));
    const where = model.inside ? `the model folder ${model.inside} inside the picked one` : files.every((f) => !f.webkitRelativePath) ? 'the chosen files' : model.dir;
    const count = (n: number, what: string) => `${n} ${what}${n === 1 || what.startsWith('.') ? '' : 's'}`;
    $('picked').textContent = `${where}: ${count(sets.length, 'file')}, ${count(weights.length, kind)}, ${mib(weights.reduce((s, f) => s + f.size, 0))} of weights`;
    if (model.unnamed) void nameUnnamed(model);
  }
  if (list.length) $<HTMLInputElement>('hf-repo').value = ''; // a picked folder replaces a repo named before
  updateConvert();
}

/**
 * Files handed over one by one carry no folder name, and the name goes into the output (its folder, a
 * GGUF's general.name, the manifest), as the folder's name does for the CLI: config.json's Hub id gives
 * it where it has one; else the page asks for it rather than calling every such model "model".
 */
async function nameUnnamed(set: FileSet): Promise<void> {
  const config = set.files.get('config.json');
  const found = config ? configModelName(await config.text().catch(() => '')) : undefined;
  const nameBox = $<HTMLInputElement>('model-name');
  if (set !== model || nameBox.value.trim() !== '') return; // picked again, or typed meanwhile
  if (found) {
    nameBox.value = found;
    $('picked').textContent += ` (named ${found} from config.json; change it under Model name if the folder is named otherwise).`;
    if (/^"Model name"/.test($('error-text').textContent ?? '')) $('error').hidden = true; // asked for before the name was found
  } else {
    $('picked').textContent += '. These files came without their folder\'s name: type it under Model name.';
  }
}

/** The Hugging Face repo named (ORG/NAME), if any: converted instead of a folder. */
function hubRepo(): string {
  return $<HTMLInputElement>('hf-repo').value.trim();
}

/** Files of a dropped folder and of its subfolders (two levels: a parent folder dropped by mistake), with their paths. */
async function droppedFiles(e: DragEvent): Promise<{ files: File[]; name?: string }> {
  const items = [...(e.dataTransfer?.items ?? [])];
  const entry = items[0]?.webkitGetAsEntry?.();
  if (!entry || !entry.isDirectory) return { files: [...(e.dataTransfer?.files ?? [])] };
  const out: File[] = [];
  async function walk(dir: FileSystemDirectoryEntry, path: string, depth: number): Promise<void> {
    const reader = dir.createReader();
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
      if (!batch.length) break;
      for (const x of batch) {
        if (x.isFile) {
          const f = await new Promise<File>((res, rej) => (x as FileSystemFileEntry).file(res, rej));
          // the path fileSet reads, as a picked folder gives it
          out.push(Object.defineProperty(f, 'webkitRelativePath', { value: `${path}/${x.name}` }));
        } else if (depth < 2) {
          await walk(x as FileSystemDirectoryEntry, `${path}/${x.name}`, depth + 1);
        }
      }
    }
  }
  await walk(entry as FileSystemDirectoryEntry, entry.name, 0);
  return { files: out };
}

/** The chosen format's own options (its schema): one labelled select each, id = the CLI flag's name. */
function showFormat(): void {
  const format = formatById($<HTMLSelectElement>('format').value);
  $('format-about').textContent = format.about;
  $('format-options').replaceChildren(
    ...format.options.map((opt) => {
      const div = document.createElement('div');
      const label = document.createElement('label');
      label.htmlFor = optionFlag(opt.key);
      label.textContent = opt.label;
      const select = document.createElement('select');
      select.id = optionFlag(opt.key);
      select.title = opt.help;
      for (const v of opt.values) select.append(new Option(v, v, v === opt.default, v === opt.default));
      div.append(label, select);
      return div;
    }),
  );
  showEngine();
}

/** The engine's choice, in words; with an engine, the format and its options are its (locked). */
function showEngine(): void {
  const engine = engineById($<HTMLSelectElement>('engine').value);
  const format = $<HTMLSelectElement>('format');
  if (engine && format.value !== engine.format) {
    format.value = engine.format;
    return showFormat();
  }
  format.disabled = engine !== undefined;
  for (const s of $('format-options').querySelectorAll('select')) s.disabled = engine !== undefined;
  // the options the engine sets, shown as set (ms-gpu's prefill weights); the user's own value back once another choice is made
  for (const s of $('format-options').querySelectorAll('select')) {
    if (s.dataset.mine !== undefined) s.value = s.dataset.mine;
    delete s.dataset.mine;
  }
  const set = Object.entries(engine?.options ?? {});
  for (const [key, v] of set) {
    const s = $<HTMLSelectElement>(optionFlag(key));
    s.dataset.mine = s.value;
    s.value = v;
  }
  const labels = set.map(([key, v]) => `${formatById(engine!.format).options.find((x) => x.key === key)!.label.toLowerCase()} ${v}`);
  $('engine-about').textContent = engine
    ? `Writes ${engine.format}${engine.gguf ? ` (type ${engine.gguf.type === 'auto' ? 'chosen from the model' : engine.gguf.type}; the architecture from the model: ${engine.gguf.archs.join(' or ')})` : ''}${labels.length ? ` (${labels.join(', ')})` : ''}. The format's own options are set by this choice.`
    : 'The format and its options are chosen under "Advanced options".';
}

/** The chosen format's own options, by API key (none with an engine: it picks them). */
function formatChoices(): Record<string, string> {
  if (engineById($<HTMLSelectElement>('engine').value)) return {};
  const format = formatById($<HTMLSelectElement>('format').value);
  return Object.fromEntries(format.options.map((opt) => [opt.key, $<HTMLSelectElement>(optionFlag(opt.key)).value]));
}

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function rate(bytes: number, seconds: number): string {
  return seconds > 0 ? `${(bytes / seconds / 1e9).toFixed(2)} GB/s` : '';
}

/** The one file of a single-file format's output (a .gguf; manifest.json aside): downloaded as itself, not in a .zip. */
function soleFile(r: WebConvertResult): { name: string; blob: Blob } | undefined {
  const files = r.outputs.filter((o) => o.name !== 'manifest.json');
  return files.length === 1 ? files[0] : undefined;
}

function showResult(r: WebConvertResult, destination: string, engineId: string): void {
  const sole = soleFile(r);
  $('result-state').textContent = `Done: ${r.outputName}`;
  $('summary').textContent =
    `${r.layout} → ${r.format}: ${r.files.length} files, ${mib(r.files.reduce((s, f) => s + f.bytes, 0))} written in ${r.seconds.toFixed(2)} s ` +
    `(${rate(r.bytesRead, r.seconds)} read${r.bytesFetched !== undefined ? `, ${mib(r.bytesFetched)} fetched from the Hub` : ''}; ${r.kernels} kernels, ${r.threads} workers, ${{ shared: 'reads through shared memory', FileReaderSync: 'reads with FileReaderSync', XMLHttpRequest: 'reads with synchronous XMLHttpRequest' }[r.reads]}${r.writes === 'streams' ? ', writes through writable streams' : ''}). ` +
    (destination === 'folder' ? 'Saved into the chosen folder.' : sole ? `Download ${sole.name}, or each file below.` : 'Download it all as one .zip, or each file below.');
  $('summary').dataset.phases = Object.entries(r.phases).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
  const t = r.ternary;
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  $('ternary').textContent = t
    ? `Inspect: ${t.layers} layers, ${t.tensors} ternary tensors, ${t.values.toLocaleString('en')} values: -1 ${pct(t.minus)}, 0 ${pct(t.zero)}, +1 ${pct(t.plus)}.`
    : '';
  const engine = engineById(engineId);
  const main = mainFile(r.files.map((f) => f.name));
  $('run-box').hidden = !engine;
  // where the file will be: in the output's folder (a picked folder, the .zip's), or by itself (a .gguf downloaded as itself)
  const file = destination === 'download' && sole ? main : `${r.outputName}/${main}`;
  $('run-command').textContent = engine ? runCommand(engine, r.outputName, file, r.outputName) : '';
  const all = $<HTMLButtonElement>('download-all');
  all.hidden = r.outputs.length === 0;
  all.textContent = sole ? `Download ${sole.name} (${mib(sole.blob.size)})` : `Download all (${r.outputName}.zip, ${mib(r.files.reduce((s, f) => s + f.bytes, 0))})`;
  const body = $('files-table');
  body.replaceChildren();
  for (const f of r.files) {
    const tr = document.createElement('tr');
    const blob = r.outputs.find((o) => o.name === f.name)?.blob;
    const cells = [f.name, f.bytes.toLocaleString('en'), f.sha256];
    cells.forEach((text, i) => {
      const td = document.createElement('td');
      td.textContent = text;
      if (i === 1) td.className = 'num';
      if (i === 2) td.className = 'hash';
      tr.append(td);
    });
    const td = document.createElement('td');
    if (blob) {
      const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(blob), download: f.name.replace(/\//g, '_'), textContent: 'download' });
      a.setAttribute('aria-label', `download ${f.name}`);
      td.append(a);
    }
    tr.append(td);
    body.append(tr);
  }
  $('warnings').textContent = r.warnings.length ? `Warnings: ${r.warnings.join(' · ')}` : '';
  $('result').hidden = false;
}

async function downloadAll(): Promise<void> {
  const r = previous;
  if (!r) return;
  const button = $<HTMLButtonElement>('download-all');
  const label = button.textContent;
  button.disabled = true;
  const sole = soleFile(r);
  if (!sole) button.textContent = 'Writing the .zip…';
  try {
    const blob: Blob = sole ? sole.blob : await r.zip();
    const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(blob), download: sole ? sole.name : (blob as File).name });
    document.body.append(a);
    a.click();
    a.remove();
  } catch (e) {
    showError(`The .zip could not be written: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}

async function convert(force = false): Promise<void> {
  const destination = $<HTMLSelectElement>('destination').value;
  let output: WebOutput = { kind: 'opfs' };
  if (destination === 'folder') {
    const pick = directoryPicker();
    if (!pick) return showError('This browser cannot write into a folder you pick; choose "Save to: downloads" instead.');
    if (!(force && lastDirectory)) {
      try {
        lastDirectory = await pick({ mode: 'readwrite' });
      } catch (e) {
        if ((e as Error)?.name === 'AbortError') return; // the user closed the picker
        clearResult();
        return showError(`The folder picker failed: ${e instanceof Error ? e.message : String(e)}. Pick another folder, or choose "Save to: downloads".`);
      }
    }
    output = { kind: 'directory', handle: lastDirectory! };
  }
  const stamp = $<HTMLInputElement>('timestamp').value.trim();
  if (stamp !== '' && !(Number.isSafeInteger(Number(stamp)) && Number(stamp) >= 0)) {
    clearResult();
    return showError(`"Timestamp" (Advanced options): expected whole seconds since 1970, 0 or more, or nothing for now; found ${JSON.stringify(stamp)}.`);
  }
  const name = $<HTMLInputElement>('model-name').value.trim();
  if (name === '' && model?.unnamed && hubRepo() === '') {
    clearResult();
    $('model-name').focus();
    return showError('"Model name": the chosen files came without their folder\'s name; type it (as the folder\'s name does for the command line, it names the output folder and is written into its files).');
  }
  if (/[\\/:*?"<>|]/.test(name) || name === '.' || name === '..') {
    clearResult();
    return showError(`"Model name" names the output folder: expected a name without / \\ : * ? " < > |, found ${JSON.stringify(name)}.`);
  }
  const engineId = $<HTMLSelectElement>('engine').value;
  const engine = engineById(engineId);
  running = new AbortController();
  $<HTMLFieldSetElement>('options').disabled = true;
  $<HTMLButtonElement>('cancel').disabled = false;
  $('cancel').focus(); // Convert is disabled now: the keyboard stays on the run
  updateConvert();
  clearResult();
  $('progress-box').hidden = false;
  const bar = $<HTMLProgressElement>('bar');
  bar.value = 0;
  $('progress-title').textContent = '3. Converting';
  $('status').textContent = 'Reading the headers…';
  const started = performance.now();
  // the weights as the picked line counts them: .safetensors, or a .gguf
  const weights = [...(model?.files.values() ?? [])].filter((f) => model !== undefined && f.name.endsWith(model.weights)).reduce((s, f) => s + f.size, 0);
  try {
    const repo = hubRepo();
    const token = $<HTMLInputElement>('hf-token').value.trim();
    const options = {
      ...(engine ? { engine: engine.id } : { format: $<HTMLSelectElement>('format').value }),
      ...formatChoices(),
      layout: $<HTMLSelectElement>('layout').value || undefined, // '' = detected
      kernels: $<HTMLSelectElement>('kernels').value as typeof DEFAULTS.kernels,
      rule: $<HTMLSelectElement>('rule').value as typeof DEFAULTS.rule,
      timestamp: stamp === '' ? undefined : Number(stamp),
      folderName: name || undefined,
      output,
      force: force || $<HTMLInputElement>('replace').checked,
      stats: $<HTMLInputElement>('stats').checked, // the inspect summary, counted as the values are written
      signal: running.signal,
      onProgress: (p: Progress) => {
        // in the folder's units: the share of the work done, as bytes of the weights (a projection too large to hold is read twice)
        const f = p.bytesTotal ? Math.min(1, p.bytesRead / p.bytesTotal) : 0;
        bar.value = f;
        const total = repo ? p.bytesTotal : weights; // a Hub input: no folder size to speak in
        const s = (performance.now() - started) / 1000;
        const left = f > 0.01 && f < 1 ? `, about ${clock((s * (1 - f)) / f)} left` : '';
        const tensor = Math.min(p.tensorsTotal, Math.max(p.tensorsDone, p.tensorsStarted ?? 0));
        $('status').textContent =
          `${mib(f * total)} of ${mib(total)}${repo ? ' from the Hub' : ''} (${Math.floor(f * 100)}%), tensor ${tensor} of ${p.tensorsTotal} (${p.tensorsDone} done), ` +
          `${clock(s)} elapsed${left}, ${rate(p.bytesRead, s)}`;
      },
    };
    const r = repo
      ? await convertHub(repo, $<HTMLInputElement>('hf-revision').value.trim() || undefined, { ...options, hub: { ...(token && { token }), ...(hubEndpoint && { endpoint: hubEndpoint }) } })
      : await convertFiles(files, options);
    previous = r;
    bar.value = 1;
    $('progress-title').textContent = '3. Converted';
    $('status').textContent = `Finished in ${clock((performance.now() - started) / 1000)}.`;
    showResult(r, destination, engineId);
    $('result-state').focus();
  } catch (e) {
    $('progress-box').hidden = true;
    if ((e as Error)?.name === 'AbortError') {
      $('status').textContent = '';
      showError('Cancelled: the workers were stopped and nothing was kept.', false, true);
    } else {
      const message = e instanceof Error ? e.message : String(e);
      const exists = /the output folder already exists/.test(message);
      const words = inPageWords(message);
      // an engine chosen fixes the format's options: say how to set one the message names
      const unlock = engine !== undefined && / \(Advanced options\)/.test(words);
      showError(`The conversion failed: ${unlock ? `${words.replace(/\.$/, '')}. To set it, choose "Run it in: a format I choose" first.` : words}`, exists && destination === 'folder');
      $('error-text').focus();
    }
  } finally {
    running = undefined;
    $<HTMLFieldSetElement>('options').disabled = false;
    $<HTMLButtonElement>('cancel').disabled = true;
    updateConvert();
  }
}

function init(): void {
  $('version').textContent = `${VERSION} · ${simdSupported() ? 'wasm SIMD' : 'wasm (no SIMD)'}`;
  const engines = $<HTMLSelectElement>('engine');
  for (const e of ENGINES) engines.append(new Option(e.label, e.id));
  engines.append(new Option('a format I choose (Advanced options)', OWN_FORMAT));
  engines.addEventListener('change', showEngine);
  const select = $<HTMLSelectElement>('format');
  for (const id of FORMAT_IDS) select.append(new Option(id, id, id === DEFAULTS.format, id === DEFAULTS.format));
  select.addEventListener('change', showFormat);
  showFormat();
  // the input layout, as --layout: detected by default; one never detected (llama-latent) only when chosen
  const layout = $<HTMLSelectElement>('layout');
  layout.append(new Option('detected', '', true, true));
  for (const l of LAYOUTS) layout.append(Object.assign(new Option(l.id, l.id), { title: l.about }));
  const showLayout = () => ($('layout-about').textContent = LAYOUTS.find((l) => l.id === layout.value)?.about ?? 'Detected from config.json and the tensors\' dtypes (without config.json: a .gguf).');
  layout.addEventListener('change', showLayout);
  showLayout();
  const destination = $<HTMLSelectElement>('destination');
  if (!directoryPicker()) {
    destination.value = 'download';
    destination.options[0]!.disabled = true;
    destination.options[0]!.textContent = 'a folder I pick (not in this browser)';
  }
  const showReplace = () => ($('replace-box').hidden = destination.value !== 'folder');
  destination.addEventListener('change', showReplace);
  showReplace();
  for (const [button, input] of [['pick-folder', 'folder'], ['pick-files', 'files']] as const) {
    $(button).addEventListener('click', () => $<HTMLInputElement>(input).click());
    $<HTMLInputElement>(input).addEventListener('change', (e) => setFiles([...((e.target as HTMLInputElement).files ?? [])]));
  }
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => (e.preventDefault(), drop.classList.add('over')));
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (running) return; // the options, the model among them, are locked during a run
    droppedFiles(e).then(
      (d) => setFiles(d.files, d.name),
      (err) => showError(`Cannot read the dropped folder: ${err instanceof Error ? err.message : String(err)}`),
    );
  });
  $('hub-input').addEventListener('submit', (e) => e.preventDefault()); // nothing to send anywhere
  // Enter in a Hub field converts, as Convert would (a form of three fields and no submit button submits nothing on Enter)
  for (const id of ['hf-repo', 'hf-revision', 'hf-token']) {
    $(id).addEventListener('keydown', (e) => {
      if (e.key !== 'Enter' || $<HTMLButtonElement>('convert').disabled) return;
      e.preventDefault();
      $('convert').click();
    });
  }
  $('hf-repo').addEventListener('input', () => {
    // a repo named replaces a folder picked before: its files, its name and its result
    if (hubRepo() !== '' && (files.length || previous)) {
      clearResult();
      files = [];
      model = undefined;
      $<HTMLInputElement>('model-name').value = '';
      $<HTMLInputElement>('model-name').required = false;
      $('picked').textContent = 'No folder chosen yet.';
    }
    updateConvert();
  });
  if (hubEndpoint) $('hf-repo').previousElementSibling!.textContent = `Or a repo on ${hubEndpoint} (ORG/NAME, or ORG/NAME/FILE.gguf)`;
  $('convert').addEventListener('click', () => void convert());
  $('cancel').addEventListener('click', () => running?.abort());
  $('replace-existing').addEventListener('click', () => void convert(true));
  $('download-all').addEventListener('click', () => void downloadAll());
  void browserProblem().catch((e: Error) => `The page could not start its converter: ${e.message}`).then((why) => {
    if (why) {
      $('unsupported').textContent = why;
      $('unsupported').hidden = false;
      document.body.dataset.unsupported = 'true';
      updateConvert();
      return;
    }
    // outputs of earlier visits are unreachable now (their download links died with the page): free the space
    void removeLeftovers().catch(() => undefined);
  });
  // fetch now what a conversion needs, so that it works offline from here on
  warmUp().then(
    () => (document.body.dataset.ready = 'offline'),
    (e) => showError(`The page could not load its converter: ${e instanceof Error ? e.message : String(e)}`),
  );
}

init();

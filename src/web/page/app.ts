// The page: pick or drop a model folder, choose the format, convert in workers, then save the output
// into a picked folder or download it. States are shown in words; nothing is logged to the console.

import { convertFiles, convertHub, removeLeftovers, warmUp, DEFAULTS, FORMAT_IDS, formatById, optionFlag, simdSupported, type Progress, type WebConvertResult, type WebOutput } from '../index.js';
import { VERSION } from '../../version.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

let files: File[] = [];
let folderName: string | undefined;
let busy = false;
/** The last result kept in the browser's storage for its download links; replaced by the next one. */
let previous: WebConvertResult | undefined;

function showError(message: string): void {
  const box = $('error');
  box.textContent = message;
  box.hidden = false;
}

function setFiles(list: File[], name?: string): void {
  files = list;
  folderName = name;
  const total = list.reduce((s, f) => s + f.size, 0);
  const weights = list.filter((f) => f.name.endsWith('.safetensors')).length;
  const first = list[0] as (File & { webkitRelativePath?: string }) | undefined;
  const shown = name ?? first?.webkitRelativePath?.split('/')[0] ?? 'files';
  $('picked').textContent = list.length
    ? `${shown}: ${list.length} files, ${weights} .safetensors, ${mib(total)}`
    : 'No folder chosen yet.';
  if (list.length) $<HTMLInputElement>('hf-repo').value = ''; // a picked folder replaces a repo named before
  $<HTMLButtonElement>('convert').disabled = !hasInput() || busy;
  $('error').hidden = true;
}

/** The Hugging Face repo named (ORG/NAME), if any: converted instead of a folder. */
function hubRepo(): string {
  return $<HTMLInputElement>('hf-repo').value.trim();
}

function hasInput(): boolean {
  return files.length > 0 || hubRepo() !== '';
}

/** The files of a dropped folder (top level; a checkpoint's files are all there). */
async function droppedFiles(e: DragEvent): Promise<{ files: File[]; name?: string }> {
  const items = [...(e.dataTransfer?.items ?? [])];
  const entry = items[0]?.webkitGetAsEntry?.();
  if (!entry || !entry.isDirectory) return { files: [...(e.dataTransfer?.files ?? [])] };
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  const entries: FileSystemEntry[] = [];
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
    if (!batch.length) break;
    entries.push(...batch);
  }
  const out = await Promise.all(
    entries.filter((x) => x.isFile).map((x) => new Promise<File>((res, rej) => (x as FileSystemFileEntry).file(res, rej))),
  );
  return { files: out, name: entry.name };
}

/** The chosen format's own options (its schema): one labelled select each, id = the CLI flag's name. */
function showFormat(): void {
  const format = formatById($<HTMLSelectElement>('format').value);
  $('format-about').textContent = format.about;
  const box = $('format-options');
  box.replaceChildren(
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
}

/** The chosen format's own options, by API key. */
function formatChoices(): Record<string, string> {
  const format = formatById($<HTMLSelectElement>('format').value);
  return Object.fromEntries(format.options.map((opt) => [opt.key, $<HTMLSelectElement>(optionFlag(opt.key)).value]));
}

function rate(bytes: number, seconds: number): string {
  return seconds > 0 ? `${(bytes / seconds / 1e9).toFixed(2)} GB/s` : '';
}

function showResult(r: WebConvertResult, destination: string): void {
  $('result-state').textContent = `Done: ${r.outputName}`;
  $('summary').textContent =
    `${r.layout} → ${r.format}: ${r.files.length} files, ${mib(r.files.reduce((s, f) => s + f.bytes, 0))} written in ${r.seconds.toFixed(2)} s ` +
    `(${rate(r.bytesRead, r.seconds)} read; ${r.kernels} kernels, ${r.threads} workers, ${r.reads === 'shared' ? 'reads through shared memory' : 'reads with FileReaderSync'}). ` +
    (destination === 'folder' ? 'Saved into the chosen folder.' : 'Download each file below.');
  $('summary').dataset.phases = Object.entries(r.phases).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
  const body = $('files');
  body.replaceChildren();
  for (const f of r.files) {
    const tr = document.createElement('tr');
    const blob = r.outputs.find((o) => o.name === f.name)?.blob;
    const link = blob ? Object.assign(document.createElement('a'), { href: URL.createObjectURL(blob), download: f.name.replace(/\//g, '_'), textContent: 'download' }) : '';
    const cells = [f.name, f.bytes.toLocaleString('en'), f.sha256];
    cells.forEach((text, i) => {
      const td = document.createElement('td');
      td.textContent = text;
      if (i === 1) td.className = 'num';
      if (i === 2) td.className = 'hash';
      tr.append(td);
    });
    const td = document.createElement('td');
    td.append(link);
    tr.append(td);
    body.append(tr);
  }
  $('warnings').textContent = r.warnings.length ? `Warnings: ${r.warnings.join(' · ')}` : '';
  $('result').hidden = false;
}

async function convert(): Promise<void> {
  const destination = $<HTMLSelectElement>('destination').value;
  let output: WebOutput = { kind: 'opfs' };
  if (destination === 'folder') {
    const pick = (window as unknown as { showDirectoryPicker?: (o: object) => Promise<FileSystemDirectoryHandle> }).showDirectoryPicker;
    if (!pick) return showError('This browser cannot write into a folder you pick; choose "downloads" instead.');
    try {
      output = { kind: 'directory', handle: await pick({ mode: 'readwrite' }) };
    } catch {
      return; // the user closed the picker
    }
  }
  busy = true;
  $<HTMLButtonElement>('convert').disabled = true;
  await previous?.remove();
  previous = undefined;
  $('error').hidden = true;
  $('result').hidden = true;
  $('progress-box').hidden = false;
  const bar = $<HTMLProgressElement>('bar');
  bar.value = 0;
  $('status').textContent = 'Reading the headers…';
  const started = performance.now();
  const stamp = $<HTMLInputElement>('timestamp').value;
  try {
    const repo = hubRepo();
    const token = $<HTMLInputElement>('hf-token').value.trim();
    const options = {
      format: $<HTMLSelectElement>('format').value,
      ...formatChoices(),
      kernels: $<HTMLSelectElement>('kernels').value as typeof DEFAULTS.kernels,
      timestamp: stamp === '' ? undefined : Number(stamp),
      output,
      onProgress: (p: Progress) => {
        bar.value = p.bytesTotal ? p.bytesRead / p.bytesTotal : 0;
        const s = (performance.now() - started) / 1000;
        $('status').textContent = `${mib(p.bytesRead)} of ${mib(p.bytesTotal)} read${repo ? ' from the Hub' : ''}, ${p.tensorsDone} of ${p.tensorsTotal} tensors, ${rate(p.bytesRead, s)}`;
      },
    };
    const r = repo
      ? await convertHub(repo, $<HTMLInputElement>('hf-revision').value.trim() || undefined, { ...options, hub: token ? { token } : {} })
      : await convertFiles(files, { ...options, folderName });
    previous = r;
    bar.value = 1;
    $('status').textContent = 'Finished.';
    showResult(r, destination);
  } catch (e) {
    $('progress-box').hidden = true;
    showError(`The conversion failed: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    busy = false;
    $<HTMLButtonElement>('convert').disabled = !hasInput();
  }
}

function init(): void {
  $('version').textContent = `${VERSION} · ${simdSupported() ? 'wasm SIMD' : 'wasm (no SIMD)'}`;
  const select = $<HTMLSelectElement>('format');
  for (const id of FORMAT_IDS) select.append(new Option(id, id, id === DEFAULTS.format, id === DEFAULTS.format));
  select.addEventListener('change', showFormat);
  showFormat();
  if (!('showDirectoryPicker' in window)) $<HTMLSelectElement>('destination').value = 'download';
  $<HTMLInputElement>('folder').addEventListener('change', (e) => setFiles([...((e.target as HTMLInputElement).files ?? [])]));
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => (e.preventDefault(), drop.classList.add('over')));
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    droppedFiles(e).then(
      (d) => setFiles(d.files, d.name),
      (err) => showError(`Cannot read the dropped folder: ${err instanceof Error ? err.message : String(err)}`),
    );
  });
  $('hub-input').addEventListener('submit', (e) => e.preventDefault()); // Enter in a field: nothing to send anywhere
  $('hf-repo').addEventListener('input', () => ($<HTMLButtonElement>('convert').disabled = !hasInput() || busy));
  $('convert').addEventListener('click', () => void convert());
  // outputs of earlier visits are unreachable now (their download links died with the page): free the space
  void removeLeftovers().catch(() => undefined);
  // fetch now what a conversion needs, so that it works offline from here on
  warmUp().then(
    () => (document.body.dataset.ready = 'offline'),
    (e) => showError(`The page could not load its converter: ${e instanceof Error ? e.message : String(e)}`),
  );
}

init();

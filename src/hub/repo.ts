// A model repository on the Hugging Face Hub as a conversion's input (docs/architecture.md 5): the
// revision resolved to its commit and the top-level files listed through @huggingface/hub (loaded
// only when a Hub input is used), then config.json, the index, the safetensors headers and the
// tokenizer files read ahead by range requests; tensor data is read later, by the workers, through
// range-reader.ts. Platform neutral: global fetch, on Node, Deno and in browsers.

import { HubError, UnsupportedError, UsageError } from '../errors.js';
import { CONFIG_FILE, type CheckpointFolder } from '../model/checkpoint.js';
import { GGUF_SPLIT, isFirstGguf } from '../model/gguf-checkpoint.js';
import { readAheadFolder, type AsyncFile, type SideData } from '../model/read-ahead.js';
import { SIDE_FILES } from '../outputs/side-files.js';
import type { InputFolder } from '../outputs/types.js';
import { accessText, RangeReader, retryAfterMs, retryPause, type HubFile, type HubFiles } from './range-reader.js';

export type { HubFile, HubFiles } from './range-reader.js';

/** How an input names a Hub repository: `hf:ORG/NAME` or `hf:ORG/NAME@REVISION`, and a .gguf in it as `hf:ORG/NAME[@REVISION]/FILE.gguf` (Hugging Face's `hf://` paths put the file there too). */
export const HUB_PREFIX = 'hf:';
export const DEFAULT_ENDPOINT = 'https://huggingface.co';
/** The name of the meta element by which `serve --hf-endpoint` gives the page another Hub address. */
export const HUB_META = 'bitnet-converter-hub';

/** Top-level entries a listing may hold (real model repositories have tens). */
const MAX_ENTRIES = 10_000;

export interface HubRef {
  /** ORG/NAME. */
  repo: string;
  /** A branch, tag or commit; default: the repository's default branch. */
  revision?: string;
  /** A top-level .gguf of the repository to read (a split set: its first part), where it has several or config.json beside it. */
  file?: string;
}

export interface HubOptions {
  /** An access token for gated or private repositories (never logged, never written). */
  token?: string;
  /** The Hub's address (default https://huggingface.co; the CLI takes HF_ENDPOINT, as Hugging Face's tools do). */
  endpoint?: string;
  /** Failed attempts in a row before a read gives up, and the first pause between them (range-reader.ts). */
  retries?: number;
  retryMs?: number;
}

export function isHubInput(input: string): boolean {
  return input.startsWith(HUB_PREFIX);
}

/** Parses `hf:ORG/NAME[@REVISION][/FILE.gguf]`; a malformed one is a UsageError. */
export function parseHubRef(input: string): HubRef {
  // a revision may hold slashes (refs/pr/1): only a last segment ending in .gguf is a file
  const m = /^hf:([A-Za-z0-9][\w.-]*\/[\w.-]+?)(?:@(.+?))?(?:\/([^/\s]+\.gguf))?$/.exec(input);
  if (!m || m[1].includes('..') || (m[2] !== undefined && /\s/.test(m[2]))) {
    throw new UsageError(`${JSON.stringify(input)}: expected a Hugging Face model as hf:ORG/NAME or hf:ORG/NAME@REVISION (a .gguf in it: hf:ORG/NAME[@REVISION]/FILE.gguf)`);
  }
  return { repo: m[1], ...(m[2] !== undefined && { revision: m[2] }), ...(m[3] !== undefined && { file: m[3] }) };
}

/** The input's name in messages and the folder name its files are under (a named .gguf is one of them). */
export function hubDir(ref: HubRef): string {
  return `${HUB_PREFIX}${ref.repo}${ref.revision !== undefined ? `@${ref.revision}` : ''}`;
}

/** The repository's name without its owner: the model's name in outputs and the manifest, as a downloaded folder of it is usually named. */
export function hubModelName(ref: HubRef): string {
  return ref.repo.slice(ref.repo.indexOf('/') + 1);
}

export interface HubRepo {
  ref: HubRef;
  dir: string;
  /** The commit the revision resolved to: every file is read at it. */
  sha: string;
  /** The top-level files by name. */
  files: Map<string, HubFile>;
}

function checkToken(token: string | undefined): void {
  if (token !== undefined && !/^hf_\S+$/.test(token)) {
    throw new UsageError('--hf-token: expected a Hugging Face access token (it starts with "hf_"), found something else');
  }
}

/**
 * fetch for the listing calls, retried as range reads are (range-reader.ts: a dropped connection, a 5xx,
 * a 429 after its Retry-After, a bounded number of times), keeping the Hub's error code and status of the
 * last response (the library's errors carry only the status).
 */
function watchedFetch(o: HubOptions): { fetch: typeof fetch; last: { status: number; code: string | null } } {
  const last = { status: 0, code: null as string | null };
  const retries = o.retries ?? 5;
  return {
    last,
    fetch: async (...a) => {
      for (let failures = 0; ; ) {
        let asked = 0;
        try {
          const r = await fetch(...a);
          last.status = r.status;
          last.code = r.headers.get('x-error-code');
          if ((r.status !== 429 && r.status < 500) || failures >= retries) return r;
          asked = retryAfterMs(r.headers);
          void r.body?.cancel().catch(() => undefined);
        } catch (e) {
          // a Hub never reached (a wrong address, offline) is said at once; a connection lost after it answered is retried
          if (!(e instanceof TypeError) || failures >= retries || last.status === 0) throw e;
        }
        await new Promise((r) => setTimeout(r, retryPause(++failures, o.retryMs ?? 250, asked)));
      }
    },
  };
}

/** Resolves the revision and lists the top-level files. Errors name the repository and say what to do. */
export async function openHubRepo(ref: HubRef, o: HubOptions = {}): Promise<HubRepo> {
  checkToken(o.token);
  const endpoint = (o.endpoint ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  const dir = hubDir(ref);
  const hub = await import('@huggingface/hub');
  const w = watchedFetch(o);
  const credentials = o.token !== undefined ? { accessToken: o.token } : {};
  const failed = (e: unknown): never => {
    if (e instanceof hub.HubApiError) {
      const { status, code } = w.last;
      const where = { file: dir };
      if (code === 'RevisionNotFound' || (status === 404 && code === null && ref.revision !== undefined && /rev/i.test(e.message))) {
        throw new HubError(where, `no revision ${JSON.stringify(ref.revision ?? 'main')} in the repository (HTTP ${status}): name a branch, tag or commit it has`);
      }
      if (code === 'RepoNotFound' || status === 404) {
        throw new HubError(where, `no such model repository on ${endpoint} (HTTP ${status})${o.token === undefined ? ', or a private one: pass an access token (--hf-token, or HF_TOKEN)' : ''}`);
      }
      if (code === 'GatedRepo' || status === 401 || status === 403) throw new HubError(where, accessText(status, o.token !== undefined));
      if (status === 429 || status >= 500) throw new HubError(where, `the Hub answered HTTP ${status} ${(o.retries ?? 5) + 1} times in a row; try again later`);
      throw new HubError(where, `the Hub answered HTTP ${status}: ${e.message.split('. URL:')[0]}`);
    }
    if (e instanceof TypeError) {
      const cause = e.cause instanceof Error ? ` (${e.cause.message})` : '';
      throw new HubError({ file: dir }, `cannot reach ${endpoint}: ${e.message}${cause}`);
    }
    throw e;
  };
  let sha: string;
  try {
    const info = await hub.modelInfo({ name: ref.repo, revision: ref.revision, hubUrl: endpoint, fetch: w.fetch, additionalFields: ['sha'], ...credentials });
    sha = (info as { sha?: unknown }).sha as string;
  } catch (e) {
    return failed(e);
  }
  if (typeof sha !== 'string' || !/^[0-9a-f]{40}$/.test(sha)) throw new HubError({ file: dir }, `a commit id for the revision, found ${JSON.stringify(sha)}`);
  const files = new Map<string, HubFile>();
  try {
    for await (const e of hub.listFiles({ repo: { type: 'model', name: ref.repo }, revision: sha, hubUrl: endpoint, fetch: w.fetch, ...credentials })) {
      if (files.size >= MAX_ENTRIES) throw new HubError({ file: dir }, `a repository of at most ${MAX_ENTRIES} top-level files, found more`);
      if (e.type !== 'file' || e.path.includes('/')) continue; // subfolders (original/, onnx/) are not part of the checkpoint
      const size = e.lfs?.size ?? e.size;
      const url = `${endpoint}/${ref.repo}/resolve/${sha}/${encodeURIComponent(e.path)}`;
      files.set(e.path, { path: `${dir}/${e.path}`, url, size });
    }
  } catch (e) {
    return failed(e);
  }
  return { ref, dir, sha, files };
}

/** What the read-ahead keeps besides config.json, the index and the headers: the files formats copy or read. */
export const HUB_SIDE_FILES: readonly string[] = [...SIDE_FILES, 'added_tokens.json'];
const SIDE = new Set(HUB_SIDE_FILES);

export interface HubInput {
  repo: HubRepo;
  folder: CheckpointFolder;
  side: InputFolder;
  /** The side files as plain data (the page plans on a worker). */
  sideData: SideData;
  /** What the workers' readers need (plain data: it crosses to their threads). */
  reads: HubFiles;
}

/**
 * The files of the repository the input reads: all of them for safetensors weights with config.json;
 * for a .gguf (the one named, or the only one where there is no config.json) that file, the other parts
 * of its split set and the side files, so that nothing of another .gguf is fetched (repositories of
 * GGUFs often hold one per type).
 */
function inputFiles(repo: HubRepo): HubFile[] {
  const names = [...repo.files.keys()];
  let gguf = repo.ref.file;
  if (gguf === undefined && !repo.files.has(CONFIG_FILE)) {
    const whole = names.filter(isFirstGguf).sort();
    if (whole.length > 1) {
      throw new UnsupportedError({ file: repo.dir }, `one .gguf in the repository, or one named as ${repo.dir}/FILE.gguf`, `${whole.length}: ${whole.join(', ')}`);
    }
    gguf = whole[0];
  }
  if (gguf === undefined) return [...repo.files.values()];
  if (!repo.files.has(gguf)) {
    const has = names.filter(isFirstGguf).sort();
    throw new HubError({ file: `${repo.dir}/${gguf}` }, `no such file in the repository at this revision (${has.length ? `its .gguf: ${has.join(', ')}` : 'it has no .gguf'})`);
  }
  // a split set's parts: the same prefix and count (model/gguf-checkpoint.ts checks each is there)
  const split = GGUF_SPLIT.exec(gguf);
  const part = (n: string) => split !== null && GGUF_SPLIT.exec(n)?.[2] === split[2] && n.replace(GGUF_SPLIT, '') === gguf.replace(GGUF_SPLIT, '');
  return names.filter((n) => n === gguf || part(n) || SIDE.has(n)).map((n) => repo.files.get(n)!);
}

/** Opens a Hub repository as a conversion input: listing, then everything the opener and the formats' small files need, read ahead. */
export async function openHubInput(ref: HubRef, o: HubOptions = {}): Promise<HubInput> {
  const repo = await openHubRepo(ref, o);
  const list = inputFiles(repo);
  const reads: HubFiles = { files: list, ...(o.token !== undefined && { token: o.token }), retries: o.retries, retryMs: o.retryMs };
  const reader = new RangeReader(reads);
  const files = new Map<string, AsyncFile>();
  list.forEach((f, i) => {
    const read = async (at: number, length: number) => {
      const bytes = new Uint8Array(length);
      await reader.read(i, at, bytes, at + length);
      return bytes;
    };
    files.set(f.path.slice(repo.dir.length + 1), { size: f.size, read, text: async () => new TextDecoder().decode(await read(0, f.size)) });
  });
  try {
    const { folder, side, sideData } = await readAheadFolder(repo.dir, files, (name) => `${repo.dir}/${name}`, (name) => SIDE.has(name));
    // the version of each file read ahead is the one every thread's reads must see (range-reader.ts)
    const pinned = list.map((f, i) => ({ ...f, ...(reader.etagOf(i) !== undefined && { etag: reader.etagOf(i) }) }));
    return { repo, folder, side, sideData, reads: { ...reads, files: pinned } };
  } finally {
    await reader.close();
  }
}

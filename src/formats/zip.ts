// The page's "download all" archive (docs/zip.md), written by client-zip: STORE only (the outputs are
// packed already; deflate would gain little for a pass of CPU over gigabytes), streamed as it is pulled,
// each entry read once, zip64 records where a size or an offset passes 4 GiB. What this module adds: the
// bytes do not depend on the clock (a fixed date) and the entries are plain files, rw-r--r--.

import { makeZip, predictLength } from 'client-zip';

/** An entry's bytes: a Blob, or anything with a size and a stream of exactly that many bytes. */
export interface ZipSource {
  readonly size: number;
  stream(): ReadableStream<Uint8Array>;
}

export interface ZipEntry {
  /** The path inside the archive, "/"-separated (UTF-8, flagged as such). */
  name: string;
  data: ZipSource;
}

/**
 * 1980-01-01 00:00, the earliest MS-DOS date, in local time: client-zip writes the local date and time and no
 * other timestamp, so the archive's bytes depend neither on the clock nor on the time zone.
 */
const fixedDate = () => new Date(1980, 0, 1);
/** rw-r--r-- (client-zip's default is rw-rw-r--). */
const FILE_MODE = 0o644;

const meta = (e: ZipEntry) => ({ name: e.name, size: e.data.size, lastModified: fixedDate(), mode: FILE_MODE });

/** The archive of `entries`, in order, as a stream; each entry's data is read once, as the stream is pulled. */
export function zipStream(entries: readonly ZipEntry[]): ReadableStream<Uint8Array> {
  // one entry at a time: an entry's stream is made (and starts reading) only when the archive reaches it
  function* inputs() {
    for (const e of entries) yield { ...meta(e), input: e.data instanceof Blob ? e.data : e.data.stream() };
  }
  return makeZip(inputs(), { buffersAreUTF8: true });
}

/** The size of the archive zipStream writes for these entries (for a progress bar or a Content-Length). */
export function zipSize(entries: readonly ZipEntry[]): number {
  return Number(predictLength(entries.map(meta)));
}

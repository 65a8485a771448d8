// A streaming zip writer, STORE only (the outputs are packed already; deflate would gain little and
// cost a pass of CPU): the page's "download all" (docs/zip.md). Sizes are known before the data (the
// entries are Blobs), the CRC-32 is not, so every entry is followed by a data descriptor (flag bit 3)
// and the central directory carries the real values. zip64 records are written where a size or an
// offset does not fit 32 bits (a 2B-4T bitnet-rs output is 1.2 GB, larger models pass 4 GiB).

/** An entry's bytes: a Blob, or anything with a size and a stream of them. */
export interface ZipSource {
  readonly size: number;
  stream(): ReadableStream<Uint8Array>;
}

export interface ZipEntry {
  /** The path inside the archive, "/"-separated (UTF-8, flag bit 11). */
  name: string;
  data: ZipSource;
}

const LIMIT = 0xffffffff;
/** 1980-01-01 00:00, the earliest MS-DOS date: the archive's bytes do not depend on the clock. */
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
/** "Made by" Unix: unzip then takes names as the UTF-8 bytes they are (as MS-DOS it reads them as CP437) and the mode below. */
const MADE_BY = 3 << 8;
/** A regular file, rw-r--r-- (the upper half of the external attributes, for a Unix "made by"). */
const FILE_MODE = (0o100644 << 16) >>> 0;

/** CRC-32 (ISO-HDLC, reflected 0xEDB88320), slicing by 8: eight tables of 256. */
const TABLES = (() => {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) for (let k = 1; k < 8; k++) t[k * 256 + n] = (t[(k - 1) * 256 + n]! >>> 8) ^ t[t[(k - 1) * 256 + n]! & 0xff]!;
  return t;
})();

/** Continues a CRC-32 (`crc` is the value so far, 0 to start) over `b`. */
export function crc32(b: Uint8Array, crc = 0): number {
  const t = TABLES;
  let c = ~crc >>> 0;
  let i = 0;
  for (const end = b.length - 8; i <= end; i += 8) {
    const lo = (c ^ (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24))) >>> 0;
    const hi = b[i + 4]! | (b[i + 5]! << 8) | (b[i + 6]! << 16) | (b[i + 7]! << 24);
    c =
      t[1792 + (lo & 0xff)]! ^ t[1536 + ((lo >>> 8) & 0xff)]! ^ t[1280 + ((lo >>> 16) & 0xff)]! ^ t[1024 + (lo >>> 24)]! ^
      t[768 + (hi & 0xff)]! ^ t[512 + ((hi >>> 8) & 0xff)]! ^ t[256 + ((hi >>> 16) & 0xff)]! ^ t[(hi >>> 24) & 0xff]!;
  }
  for (; i < b.length; i++) c = t[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** Little-endian fields, appended in order. */
class Fields {
  private readonly parts: number[][] = [];
  u16(v: number): this {
    this.parts.push([v & 0xff, (v >>> 8) & 0xff]);
    return this;
  }
  u32(v: number): this {
    this.parts.push([v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]);
    return this;
  }
  u64(v: number): this {
    return this.u32(v % 2 ** 32).u32(Math.floor(v / 2 ** 32));
  }
  bytes(b: Uint8Array): Uint8Array {
    const head = this.parts.flat();
    const out = new Uint8Array(head.length + b.length);
    out.set(head);
    out.set(b, head.length);
    return out;
  }
}

interface Placed {
  name: Uint8Array;
  size: number;
  offset: number;
  crc: number;
  zip64: boolean;
}

/** The size of the archive zipStream writes for these entries (for a progress bar or a Content-Length). */
export function zipSize(entries: readonly ZipEntry[], o: { zip64?: boolean } = {}): number {
  let at = 0;
  let central = 0;
  let any64 = entries.length >= 0xffff;
  for (const e of entries) {
    const n = new TextEncoder().encode(e.name).length;
    const z = o.zip64 === true || e.data.size >= LIMIT || at >= LIMIT;
    any64 ||= z;
    at += 30 + n + e.data.size + (z ? 24 : 16);
    central += 46 + n + (z ? 28 : 0);
  }
  any64 ||= o.zip64 === true || at >= LIMIT || central >= LIMIT;
  return at + central + (any64 ? 56 + 20 : 0) + 22;
}

/**
 * The zip archive of `entries`, in order, as a stream; each entry's data is read once, as the stream is
 * pulled. `zip64: true` writes the zip64 records for every entry even when they fit (tests use it).
 */
export function zipStream(entries: readonly ZipEntry[], o: { zip64?: boolean } = {}): ReadableStream<Uint8Array> {
  const placed: Placed[] = [];
  let at = 0;
  async function* parts(): AsyncGenerator<Uint8Array> {
    for (const e of entries) {
      const name = new TextEncoder().encode(e.name);
      const size = e.data.size;
      const zip64 = o.zip64 === true || size >= LIMIT || at >= LIMIT;
      const entry: Placed = { name, size, offset: at, crc: 0, zip64 };
      // local header: crc and sizes zero, the data descriptor after the data holds them (flag bit 3)
      const local = new Fields().u32(0x04034b50).u16(zip64 ? 45 : 20).u16(0x0808).u16(0).u16(DOS_TIME).u16(DOS_DATE).u32(0).u32(0).u32(0).u16(name.length).u16(0).bytes(name);
      yield local;
      let crc = 0;
      let seen = 0;
      const reader = e.data.stream().getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        crc = crc32(value, crc);
        seen += value.length;
        yield value;
      }
      if (seen !== size) throw new Error(`${e.name}: expected ${size} bytes, read ${seen} (was the file changed?)`);
      entry.crc = crc;
      const descriptor = new Fields().u32(0x08074b50).u32(crc);
      yield (zip64 ? descriptor.u64(size).u64(size) : descriptor.u32(size).u32(size)).bytes(new Uint8Array(0));
      at += local.length + size + (zip64 ? 24 : 16);
      placed.push(entry);
    }
    const start = at;
    let any64 = o.zip64 === true || placed.length >= 0xffff;
    for (const p of placed) {
      const extra = p.zip64 ? new Fields().u16(0x0001).u16(24).u64(p.size).u64(p.size).u64(p.offset).bytes(new Uint8Array(0)) : new Uint8Array(0);
      const small = (v: number) => (p.zip64 ? LIMIT : v);
      const head = new Fields()
        .u32(0x02014b50).u16(MADE_BY | (p.zip64 ? 45 : 20)).u16(p.zip64 ? 45 : 20).u16(0x0808).u16(0).u16(DOS_TIME).u16(DOS_DATE)
        .u32(p.crc).u32(small(p.size)).u32(small(p.size)).u16(p.name.length).u16(extra.length).u16(0).u16(0).u16(0).u32(FILE_MODE)
        .u32(small(p.offset))
        .bytes(p.name);
      const record = new Uint8Array(head.length + extra.length);
      record.set(head);
      record.set(extra, head.length);
      any64 ||= p.zip64;
      at += record.length;
      yield record;
    }
    const size = at - start;
    any64 ||= start >= LIMIT || size >= LIMIT;
    if (any64) {
      // zip64 end of central directory record, then its locator
      yield new Fields().u32(0x06064b50).u64(44).u16(45).u16(45).u32(0).u32(0).u64(placed.length).u64(placed.length).u64(size).u64(start).bytes(new Uint8Array(0));
      yield new Fields().u32(0x07064b50).u32(0).u64(at).u32(1).bytes(new Uint8Array(0));
    }
    const count = any64 ? 0xffff : placed.length;
    yield new Fields().u32(0x06054b50).u16(0).u16(0).u16(count).u16(count).u32(any64 ? LIMIT : size).u32(any64 ? LIMIT : start).u16(0).bytes(new Uint8Array(0));
  }
  const it = parts();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await it.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel() {
      await it.return(undefined);
    },
  });
}

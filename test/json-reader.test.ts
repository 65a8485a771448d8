// The pull reader's strings (string(), stringSpan()) against JSON.parse and TextEncoder, and ByteStrings
// against a Map: seeded random texts of every kind a vocabulary holds (ASCII, 2-, 3- and 4-byte UTF-8,
// a BOM, escapes of every form, surrogate pairs written as escapes), short and long.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { JsonReader } from '../build/js/formats/json-reader.js';
import { ByteStrings } from '../build/js/formats/byte-strings.js';
import { mulberry32 } from './helpers/common.js';

const fail = (expected: string, found: string): never => {
  throw new Error(`expected ${expected}, found ${found}`);
};
const enc = new TextEncoder();
const POOL = ['a', 'Z', ' ', '"', '\\', '/', '\n', '\t', '\b', '\f', '\r', '\u0001', '\u007f', 'é', 'Ġ', '\u2581', '\ufeff', '中', '😀', '\u{10ffff}'];

const SHORT_ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '/': '\\/', '\n': '\\n', '\t': '\\t', '\b': '\\b', '\f': '\\f', '\r': '\\r' };
const unicodeEscape = (ch: string) => Array.from({ length: ch.length }, (_, k) => `\\u${ch.charCodeAt(k).toString(16).padStart(4, '0')}`).join('');

/** A random text and a JSON literal of it that escapes some characters (each form) and writes others raw. */
function sample(r: () => number, maxLength: number): { text: string; json: string } {
  const n = Math.floor(r() * maxLength);
  let text = '';
  let json = '"';
  for (let i = 0; i < n; i++) {
    const ch = POOL[Math.floor(r() * POOL.length)]!;
    text += ch;
    const must = ch === '"' || ch === '\\' || ch < ' ';
    if (!must && r() >= 0.3) json += ch;
    else json += r() < 0.5 && SHORT_ESCAPES[ch] ? SHORT_ESCAPES[ch] : unicodeEscape(ch);
  }
  return { text, json: json + '"' };
}

test('string() and stringSpan() read every text as JSON.parse does (stringSpan as its UTF-8)', () => {
  const r = mulberry32(7);
  for (let i = 0; i < 4000; i++) {
    const { text, json } = sample(r, i % 2 ? 20 : 200);
    assert.is(JSON.parse(json), text, json); // the sample itself is right
    const bytes = enc.encode(`[${json}, ${json}]`);
    const reader = new JsonReader(bytes, fail);
    const got: unknown[] = [];
    reader.array((k) => {
      if (k === 0) got.push(reader.string());
      else {
        const s = reader.stringSpan();
        got.push([...s.bytes.subarray(s.from, s.to)]);
      }
    });
    reader.end();
    assert.is(got[0], text, json);
    assert.equal(got[1], [...enc.encode(text)], json);
  }
});

test('stringSpan refuses an unpaired surrogate escape, naming it; a pair written as escapes is one character', () => {
  const span = (json: string) => {
    const s = new JsonReader(enc.encode(json), fail).stringSpan();
    return [...s.bytes.subarray(s.from, s.to)];
  };
  assert.equal(span('"\\ud83d\\ude00"'), [...enc.encode('😀')]);
  for (const bad of ['"\\ud83d"', '"\\ude00"', '"a\\ud83dx"', '"\\ud83d\\u0041"', '"\\ude00\\ud83d"']) {
    assert.throws(() => span(bad), /surrogate escapes come in pairs.*found an unpaired \\ud[8-f][0-9a-f]{2} in the string at byte 0/, bad);
  }
  assert.is(new JsonReader(enc.encode('"\\ud83d"'), fail).string(), '\ud83d'); // string() stays JSON.parse's
});

test('ByteStrings finds what was indexed, as a Map of the texts would, through growth and rehashing', () => {
  const r = mulberry32(11);
  const s = new ByteStrings();
  const map = new Map<string, number>();
  for (let i = 0; i < 20000; i++) {
    const { text } = sample(r, 6);
    const b = enc.encode(text);
    const e = s.add(b, 0, b.length);
    assert.is(s.text(e), text);
    const kept = s.index(e);
    if (map.has(text)) assert.is(kept, map.get(text));
    else {
      assert.is(kept, e);
      map.set(text, e);
    }
  }
  for (const [text, e] of map) {
    const b = enc.encode(`x${text}y`);
    assert.is(s.find(b, 1, b.length - 1), e);
    assert.is(s.findText(text), e);
    const cut = Math.floor(b.length / 2);
    // a text found from two parts (a merge's join)
    const [p, q] = [{ bytes: b, from: 1, to: Math.max(1, cut) }, { bytes: b, from: Math.max(1, cut), to: b.length - 1 }];
    assert.is(s.findJoined(p, q), e);
  }
  assert.is(s.findText('not there at all'), -1);
  assert.is(s.findJoined({ bytes: enc.encode('ab'), from: 0, to: 1 }, { bytes: enc.encode('zz'), from: 0, to: 2 }), -1);
});

test('ByteStrings.extendLast joins a pair into one string; same() compares bytes', () => {
  const s = new ByteStrings();
  const a = enc.encode('Ġt');
  const b = enc.encode('he');
  s.add(a, 0, a.length);
  s.extendLast(0x20, b, 0, b.length);
  const c = s.addText('Ġt he');
  assert.is(s.count, 2);
  assert.is(s.text(0), 'Ġt he');
  assert.ok(s.same(0, c));
  assert.is(s.length(0), enc.encode('Ġt he').length);
});

test('ByteStrings sized for nothing grows from empty', () => {
  const s = new ByteStrings(0, 0);
  for (let i = 0; i < 3000; i++) assert.is(s.text(s.addText(`t${i}`)), `t${i}`);
  assert.is(s.count, 3000);
});

test.run();

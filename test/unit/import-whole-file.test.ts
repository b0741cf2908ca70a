import { describe, expect, it } from 'vitest';
import type { Detected } from '../../src/import/detect.js';
import { wholeFileCheck } from '../../src/import/source.js';

const utf8: Detected = { encoding: 'utf-8', bom: false, delimiter: ';' };
const cp1252: Detected = { encoding: 'windows-1252', bom: false, delimiter: ';' };

/** Feeds the chunks through the check, as the import streams them. */
function feed(chunks: Buffer[], detected: Detected = utf8, given = false): void {
  const check = wholeFileCheck(detected, given);
  for (const chunk of chunks) check(chunk);
  check(undefined);
}

describe('the whole-file encoding check', () => {
  it('accepts UTF-8 whose characters are split across chunks', () => {
    const text = Buffer.from('Nom;Ville\nÉlodie;Besançon\nZoë;Orléans — 😀\n');
    for (let cut = 1; cut < text.length; cut += 1) expect(() => feed([text.subarray(0, cut), text.subarray(cut)])).not.toThrow();
  });

  it('names the line and byte of a Windows-1252 byte far into a UTF-8 file', () => {
    const start = Buffer.from(`Nom;Ville\n${'Élodie;Lyon\n'.repeat(1000)}`);
    const bad = Buffer.concat([Buffer.from('Dupont;B'), Buffer.from([0xe9]), Buffer.from('ziers\n')]);
    expect(() => feed([start, bad])).toThrow(`line 1002 (byte ${start.length + 8}) is not UTF-8, though the file starts as UTF-8`);
  });

  it('refuses a UTF-8 character cut by the end of the file', () => {
    expect(() => feed([Buffer.from('Nom\nZo'), Buffer.from([0xc3])])).toThrow(/end of the file/);
  });

  it('reads the bytes as told when --encoding is given, and as Windows-1252 when so detected', () => {
    const mixed = [Buffer.from('Nom\nÉlodie\n'), Buffer.from([0x42, 0xe9, 0x0a])];
    expect(() => feed(mixed, utf8, true)).not.toThrow();
    expect(() => feed(mixed, cp1252)).not.toThrow();
  });

  it('refuses a NUL byte anywhere, naming its line', () => {
    const chunks = [Buffer.from('Nom\nA\nB\n'), Buffer.from([0x43, 0x00, 0x0a])];
    expect(() => feed(chunks, cp1252)).toThrow('line 4 (byte 9): a NUL byte');
    expect(() => feed(chunks)).toThrow('line 4 (byte 9): a NUL byte');
  });
});

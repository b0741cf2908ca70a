import { describe, expect, it } from 'vitest';
import { CsvReader } from '../../src/import/csv.js';
import { KeySet } from '../../src/import/key-set.js';
import { printable } from '../../src/import/printable.js';

type Read = Array<[line: number, cells: string[]]>;

/** Reads text cut into the given pieces, as the import feeds decoded chunks. */
function read(pieces: string[], delimiter = ';', max = 1024 * 1024): Read {
  const records: Read = [];
  const reader = new CsvReader(delimiter, (cells, line) => records.push([line, cells]), max);
  for (const piece of pieces) reader.push(piece);
  reader.end();
  return records;
}

/** The same records whatever the cut: whole, and split in two at every position. */
function readEveryCut(text: string, delimiter = ';'): Read {
  const whole = read([text], delimiter);
  for (let cut = 0; cut <= text.length; cut += 1) expect(read([text.slice(0, cut), text.slice(cut)], delimiter), `cut at ${cut}`).toEqual(whole);
  return whole;
}

describe('CsvReader', () => {
  it('reads LF, CRLF and CR line ends, with or without a last line break, a BOM dropped', () => {
    expect(readEveryCut('\uFEFFa;b\nc;d\r\ne;f\rg;h')).toEqual([[1, ['a', 'b']], [2, ['c', 'd']], [3, ['e', 'f']], [4, ['g', 'h']]]);
    expect(readEveryCut('a;b\r\n')).toEqual([[1, ['a', 'b']]]);
    expect(read([''])).toEqual([]);
  });

  it('keeps delimiters, doubled quotes and line breaks inside quoted cells, and counts their lines', () => {
    const text = 'Ref;Adresse;Nom\n"R1";"12, rue ""Les Tilleuls"";\nBâtiment B";Durand\nR2;"Lieu-dit\r\nLa Combe";Petit\r\nR3;"";"x"\n';
    expect(readEveryCut(text)).toEqual([
      [1, ['Ref', 'Adresse', 'Nom']],
      [2, ['R1', '12, rue "Les Tilleuls";\nBâtiment B', 'Durand']],
      [4, ['R2', 'Lieu-dit\r\nLa Combe', 'Petit']],
      [6, ['R3', '', 'x']],
    ]);
  });

  it('keeps a quote inside an unquoted cell, empty cells and rows of any length; blank lines are records', () => {
    expect(readEveryCut('a 5" pot;;\n\nb\t"c"\t\n', ';')).toEqual([[1, ['a 5" pot', '', '']], [2, ['']], [3, ['b\t"c"\t']]]);
    expect(readEveryCut('b\t"c"\t\n1\t2\t3\t4\n', '\t')).toEqual([[1, ['b', 'c', '']], [2, ['1', '2', '3', '4']]]);
  });

  it('refuses an unclosed quote, text after a closing quote, and a record over the size limit, naming the line', () => {
    expect(() => read(['Ref;Adresse\nX1;"12 rue\nX2;rue\n'])).toThrow('line 2: a quoted cell is never closed');
    expect(() => read(['a;b\nc;"d"\u0000e\n'])).toThrow('line 2: "\\x00" right after the closing quote of a cell');
    expect(() => read(['a;b\nc;d', 'x'.repeat(2000), '\n'], ';', 1000)).toThrow('(at line 2)');
    expect(() => read([`a;b\nc;"${'x'.repeat(2000)}"\n`], ';', 1000)).toThrow('(at line 2)');
  });
});

describe('printable', () => {
  it('writes control characters from a file as escapes, and leaves other text alone', () => {
    expect(printable('N\u0000o\u001b[31mm\tx\r\n\u0085')).toBe('N\\x00o\\x1b[31mm\\tx\\r\\n\\x85');
    expect(printable('Lœuvre, 5 € le m²')).toBe('Lœuvre, 5 € le m²');
  });
});

describe('KeySet', () => {
  it('says a key may repeat when it does, and not for 200,000 distinct keys (growing as it goes)', () => {
    const keys = new KeySet();
    for (let i = 0; i < 200_000; i += 1) expect(keys.add(`CLI-${String(i).padStart(7, '0')}`)).toBe(false);
    expect(keys.add('CLI-0000000')).toBe(true);
    expect(keys.add('CLI-0199999')).toBe(true);
    expect(keys.add('')).toBe(false);
    expect(keys.add('')).toBe(true);
  });
});

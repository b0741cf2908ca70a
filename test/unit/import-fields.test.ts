import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { detect, parseDelimiter } from '../../src/import/detect.js';
import { FieldProblem, date, email, luhn, phone, postalCode, siret } from '../../src/import/fields.js';
import { mapHeader, parseMapOverrides } from '../../src/import/headers.js';
import { reportCell } from '../../src/import/problems.js';
import { copyLine } from '../../src/import/rows.js';

describe('phone', () => {
  it.each([
    ['01 23 45 67 89', '+33123456789'],
    ['01.23.45.67.89', '+33123456789'],
    ['0123456789', '+33123456789'],
    ['+33 1 23 45 67 89', '+33123456789'],
    ['+33 (0)1 23 45 67 89', '+33123456789'],
    ['0033 6 12 34 56 78', '+33612345678'],
    ['612345678', '+33612345678'],
    ['06-12-34-56-78', '+33612345678'],
    ['+44 20 7946 0958', '+442079460958'],
  ])('%s -> %s', (input, expected) => expect(phone(input)).toBe(expected));

  it.each(['12 34', 'appeler le soir', '+33 1 23'])('rejects %s', (input) => expect(() => phone(input)).toThrow(FieldProblem));
});

describe('siret', () => {
  it('accepts a valid SIRET with the spaces Excel and French typography put in', () => {
    expect(siret('732 829 320 00074')).toBe('73282932000074');
    expect(siret('732\u00a0829\u00a0320\u202f00074')).toBe('73282932000074');
    expect(siret('73282932000074.0')).toBe('73282932000074');
  });
  it('accepts La Poste establishments, which do not follow Luhn', () => {
    expect(luhn('35600000049837')).toBe(false);
    expect(siret('35600000049837')).toBe('35600000049837');
  });
  it('rejects a wrong check digit, a wrong length and scientific notation', () => {
    expect(() => siret('73282932000075')).toThrow('check digit');
    expect(() => siret('7328293200007')).toThrow('14 digits');
    expect(() => siret('7,32829E+13')).toThrow(/scientific notation.*Text/);
  });
});

describe('dates, postal codes, emails', () => {
  it('reads dates day first, or ISO', () => {
    expect(date('03/04/2025')).toBe('2025-04-03');
    expect(date('3/4/2025')).toBe('2025-04-03');
    expect(date('2025-04-03')).toBe('2025-04-03');
    expect(() => date('12/31/2025')).toThrow('day first');
    expect(() => date('31/02/2025')).toThrow('calendar date');
    expect(() => date('03/04/25')).toThrow('dd/mm/yyyy');
  });
  it('keeps the leading zero of postal codes, and restores the one Excel dropped', () => {
    expect(postalCode('01000')).toBe('01000');
    expect(postalCode('1000')).toBe('01000');
    expect(postalCode('75 011')).toBe('75011');
    expect(() => postalCode('750')).toThrow('5 digits');
  });
  it('checks email syntax', () => {
    expect(email('Marie.Dupont@exemple.fr')).toBe('Marie.Dupont@exemple.fr');
    expect(() => email('marie.dupont@')).toThrow();
    expect(() => email('marie dupont@exemple.fr')).toThrow();
  });
});

describe('detect', () => {
  it('tells UTF-8, UTF-8 with BOM and Windows-1252 apart', () => {
    const text = 'Nom;Prénom;Note\nŒuvre;Zoé;coût 5 €, l’été\n';
    expect(detect(Buffer.from(text))).toEqual({ encoding: 'utf-8', bom: false, delimiter: ';' });
    expect(detect(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]))).toEqual({ encoding: 'utf-8', bom: true, delimiter: ';' });
    const cp1252 = iconv.encode(text, 'windows-1252');
    expect(cp1252.includes(0x80)).toBe(true); // €
    expect(detect(cp1252).encoding).toBe('windows-1252');
    expect(iconv.decode(cp1252, 'windows-1252')).toBe(text);
  });
  it('guesses the delimiter from the header, ignoring quoted ones', () => {
    expect(detect(Buffer.from('"Nom;complet",Ville,CP\n')).delimiter).toBe(',');
    expect(detect(Buffer.from('Nom\tVille\tCP\n')).delimiter).toBe('\t');
    expect(detect(Buffer.from('Nom|Ville|CP\n')).delimiter).toBe('|');
    expect(parseDelimiter('tab')).toBe('\t');
  });
  it('refuses empty, binary and workbook files', () => {
    expect(() => detect(Buffer.alloc(0))).toThrow('empty');
    expect(() => detect(Buffer.from([0x4e, 0x00, 0x6f, 0x6d]))).toThrow('binary');
    // Excel's "Texte Unicode": UTF-16 with a byte order mark, tab-separated.
    const unicode = 'Nom\tPrénom\tVille\r\nLœuvre\tZoé\tÉvry\r\n';
    expect(detect(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(unicode, 'utf16le')]))).toEqual({ encoding: 'utf-16le', bom: true, delimiter: '\t' });
    const be = Buffer.from(unicode, 'utf16le').swap16();
    expect(detect(Buffer.concat([Buffer.from([0xfe, 0xff]), be]))).toEqual({ encoding: 'utf-16be', bom: true, delimiter: '\t' });
    expect(detect(Buffer.from('Nom;Ville\r\n', 'utf16le'), { encoding: 'utf-16le' })).toEqual({ encoding: 'utf-16le', bom: false, delimiter: ';' });
    // Excel's delimiter directive names the delimiter and is not the header.
    expect(detect(Buffer.from('sep=,\r\nNom;Prénom,Ville\r\n'))).toEqual({ encoding: 'utf-8', bom: false, delimiter: ',', sepLine: true });
    expect(detect(Buffer.from('sep=;\nNom,Ville\n'), { delimiter: ',' })).toMatchObject({ delimiter: ',', sepLine: true });
    expect(() => detect(Buffer.from('sep=#\nNom#Ville\n'))).toThrow('asks for the delimiter "#"');
    expect(() => detect(Buffer.from('PK\x03\x04\x14\x00', 'latin1'))).toThrow('Excel workbook');
  });
});

describe('header mapping', () => {
  it('matches French and English headers whatever the case, accents and spacing', () => {
    const mapping = mapHeader('clients', ['  Référence ', 'NOM', 'Prenom', 'E-mail', 'Téléphone', 'Code  postal', 'Raison sociale', 'N° SIRET', 'Couleur préférée']);
    expect(mapping.fields).toEqual(['reference', 'nom', 'prenom', 'email', 'telephone', 'code_postal', 'raison_sociale', 'siret', undefined]);
    expect(mapping.unknown).toEqual(['Couleur préférée']);
  });
  it('applies --map and --mapping overrides, - ignoring a column', () => {
    const overrides = parseMapOverrides(['N° client=reference'], '{"Mobile": "-"}');
    const mapping = mapHeader('clients', ['N° client', 'Nom', 'Mobile'], overrides);
    expect(mapping.fields).toEqual(['reference', 'nom', undefined]);
    expect(mapping.unknown).toEqual([]);
  });
  it('names the missing required columns before any row is read', () => {
    expect(() => mapHeader('chantiers', ['Référence', 'Nom'])).toThrow(/missing required column.*client/);
    expect(() => parseMapOverrides(['Nom=surname'])).not.toThrow();
    expect(() => mapHeader('clients', ['Nom'], parseMapOverrides(['Nom=surname']))).toThrow('unknown field "surname"');
  });
});

describe('output encodings', () => {
  it('neutralises formulas in the report', () => {
    expect(reportCell('=HYPERLINK("http://x")')).toBe('"\'=HYPERLINK(""http://x"")"');
    expect(reportCell('+33 1')).toBe("'+33 1");
    expect(reportCell('-2')).toBe("'-2");
    expect(reportCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(reportCell('rue; bis')).toBe('"rue; bis"');
  });
  it('escapes COPY text', () => {
    expect(copyLine(7, ['a\tb', null, 'l1\nl2', 'c:\\x'])).toBe('7\ta\\tb\t\\N\tl1\\nl2\tc:\\\\x\n');
  });
});

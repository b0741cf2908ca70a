import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { DEFAULT_SOURCE_PATTERN, matchSourcePath, parseSourcePattern } from '../../src/archive/sync-layout.js';

describe('archive sync source layout', () => {
  const seed = parseSourcePattern(DEFAULT_SOURCE_PATTERN);

  it("reads type, id and the year/month folder from the seed's layout", () => {
    expect(matchSourcePath(seed, 'facture/2026/03/FA-2026-0042/facture.pdf')).toEqual({ type: 'facture', docId: 'FA-2026-0042', date: '2026-03-01' });
    expect(matchSourcePath(seed, 'devis/2025/12/DE-7/devis signé (v2).pdf')).toEqual({ type: 'devis', docId: 'DE-7', date: '2025-12-01' });
  });

  it('names why a path is outside the layout', () => {
    expect(matchSourcePath(seed, 'scan.pdf')).toEqual({ problem: `does not match ${DEFAULT_SOURCE_PATTERN}` });
    expect(matchSourcePath(seed, 'facture/2026/3/FA-1/f.pdf')).toEqual({ problem: `does not match ${DEFAULT_SOURCE_PATTERN}` });
    expect(matchSourcePath(seed, 'facture/2026/03/FA-1/sub/f.pdf')).toEqual({ problem: `does not match ${DEFAULT_SOURCE_PATTERN}` });
    expect(matchSourcePath(seed, 'facture/2026/13/FA-1/f.pdf')).toEqual({ problem: 'month 13 is not 01 to 12' });
    expect(matchSourcePath(seed, 'Factures/2026/03/FA-1/f.pdf')).toMatchObject({ problem: expect.stringContaining('type "Factures" is not a lowercase word') });
    expect(matchSourcePath(seed, 'facture/2026/03/FA 1/f.pdf')).toMatchObject({ problem: expect.stringContaining('document id "FA 1" may only contain') });
  });

  it('takes a pattern with a fixed type and no month folder (the sync date then picks it)', () => {
    const flat = parseSourcePattern('factures/{docId}.pdf', 'facture');
    expect(matchSourcePath(flat, 'factures/FA-2026-0001.pdf')).toEqual({ type: 'facture', docId: 'FA-2026-0001' });
    const noDate = parseSourcePattern('{type}/{docId}/{file}.pdf');
    expect(matchSourcePath(noDate, 'devis/DE-1/devis.pdf')).toEqual({ type: 'devis', docId: 'DE-1' });
    // Literal characters are matched as such, not as a regular expression.
    const literal = parseSourcePattern('{type}/{docId}.v1.pdf');
    expect(matchSourcePath(literal, 'devis/DE-1.v1.pdf')).toEqual({ type: 'devis', docId: 'DE-1' });
    expect(matchSourcePath(literal, 'devis/DE-1xv1.pdf')).toHaveProperty('problem');
  });

  it.each([
    ['{type}/{year}/{month}/{file}.pdf', undefined, 'needs {docId}'],
    ['{type}/{year}/{docId}.pdf', undefined, 'use {year} and {month} together'],
    ['{kind}/{docId}.pdf', undefined, 'unknown placeholder {kind}'],
    ['{type}/{docId}/{docId}.pdf', undefined, '{docId} appears twice'],
    ['{docId}.pdf', undefined, 'has no {type}: pass --type'],
    ['{type}/{docId}.pdf', 'facture', 'has {type}, so --type is not needed'],
    ['../{type}/{docId}.pdf', undefined, 'without ".."'],
  ])('refuses the pattern %s (exit 2)', (pattern, type, message) => {
    const error = (() => {
      try {
        parseSourcePattern(pattern, type);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toContain(message);
  });
});

import { describe, expect, it } from 'vitest';
import {
  businessDate,
  checkDate,
  checkDocId,
  checkDocType,
  docIdFromPath,
  docIdProblem,
  monthPrefix,
  objectKey,
  parseDocIdRule,
  safeFilename,
} from '../../src/archive/layout.js';
import { forEachLimit } from '../../src/parallel.js';
import { ExitCode } from '../../src/errors.js';

describe('archive layout', () => {
  it('builds {type}/{yyyy}/{mm}/{docId}/{filename}, later versions under v{N}', () => {
    expect(objectKey({ type: 'facture', docId: 'FA-2026-0042', date: '2026-03-31', version: 1, filename: 'FA.pdf' })).toBe('facture/2026/03/FA-2026-0042/FA.pdf');
    expect(objectKey({ type: 'facture', docId: 'FA-2026-0042', date: '2026-04-02', version: 3, filename: 'FA.pdf' })).toBe('facture/2026/04/FA-2026-0042/v3/FA.pdf');
    expect(monthPrefix('facture/2026/04/FA-2026-0042/v3/FA.pdf')).toBe('facture/2026/04/');
  });

  it('dates business days in Europe/Paris, not UTC', () => {
    expect(businessDate(new Date('2026-03-31T22:30:00Z'), 'Europe/Paris')).toBe('2026-04-01');
    expect(businessDate(new Date('2026-12-31T22:59:00Z'), 'Europe/Paris')).toBe('2026-12-31');
    expect(businessDate(new Date('2026-12-31T23:00:00Z'), 'Europe/Paris')).toBe('2027-01-01');
  });

  it.each(['', '..', '../etc', 'a/b', 'a\\b', 'x\ny', 'tab\there', '.hidden', 'a..b', 'é'])('refuses doc id %j', (id) => {
    expect(docIdProblem(id)).toBeDefined();
    expect(() => checkDocId(id)).toThrow(expect.objectContaining({ exitCode: ExitCode.usage }));
  });

  it('accepts ordinary doc ids and types', () => {
    expect(checkDocId('FA-2026-0042')).toBe('FA-2026-0042');
    expect(checkDocId('DE_2026.7')).toBe('DE_2026.7');
    expect(checkDocType('facture')).toBe('facture');
    for (const bad of ['', 'Facture', '../x', 'a/b', 'x y']) expect(() => checkDocType(bad)).toThrow(expect.objectContaining({ exitCode: ExitCode.usage }));
  });

  it('checks calendar dates', () => {
    expect(checkDate('2024-02-29')).toBe('2024-02-29');
    for (const bad of ['2026-02-30', '2026-13-01', '26-01-01', 'yesterday']) expect(() => checkDate(bad)).toThrow(expect.objectContaining({ exitCode: ExitCode.usage }));
  });

  it('normalises file names and keeps them readable', () => {
    expect(safeFilename('Facture été n°42 (copie).PDF')).toBe('Facture_ete_n_42_copie.pdf');
    expect(safeFilename('..\x01.pdf')).toBe('document.pdf');
    expect(safeFilename('.hidden.pdf')).toBe('hidden.pdf');
    expect(safeFilename('FA-2026-0042.pdf')).toBe('FA-2026-0042.pdf');
  });

  it('derives doc ids from paths with a rule', () => {
    expect(docIdFromPath('/x/FA-1/scan.pdf', parseDocIdRule('dir'))).toBe('FA-1');
    expect(docIdFromPath('/x/FA-1.pdf', parseDocIdRule('stem'))).toBe('FA-1');
    expect(docIdFromPath('/x/FA-2026-1_dupont.pdf', parseDocIdRule('regex:^(FA-\\d+-\\d+)'))).toBe('FA-2026-1');
    expect(docIdFromPath('/x/other.pdf', parseDocIdRule('regex:^(FA-\\d+)'))).toBeUndefined();
    expect(() => parseDocIdRule('basename')).toThrow(expect.objectContaining({ exitCode: ExitCode.usage }));
    expect(() => parseDocIdRule('regex:(')).toThrow(expect.objectContaining({ exitCode: ExitCode.usage }));
  });
});

describe('forEachLimit', () => {
  it('never runs more than the limit at once and gives each worker its index', async () => {
    let running = 0;
    let peak = 0;
    const workersSeen = new Set<number>();
    const done: number[] = [];
    await forEachLimit([...Array(50).keys()], 4, async (n, worker) => {
      running += 1;
      peak = Math.max(peak, running);
      workersSeen.add(worker);
      await new Promise((r) => setImmediate(r));
      done.push(n);
      running -= 1;
    });
    expect(peak).toBe(4);
    expect([...workersSeen].sort()).toEqual([0, 1, 2, 3]);
    expect(done.sort((a, b) => a - b)).toEqual([...Array(50).keys()]);
  });

  it('stops taking items once aborted', async () => {
    const abort = new AbortController();
    const seen: number[] = [];
    await forEachLimit([1, 2, 3, 4, 5], 1, async (n) => {
      seen.push(n);
      if (n === 2) abort.abort();
    }, abort.signal);
    expect(seen).toEqual([1, 2]);
  });
});

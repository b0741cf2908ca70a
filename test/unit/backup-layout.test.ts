import { describe, expect, it } from 'vitest';
import { backupKey, compressArgument, globalsKeyOf, manifestKeyOf } from '../../src/backup/layout.js';

describe('backup object layout', () => {
  it('files dumps by database and UTC day, with a millisecond stamp so runs in the same second differ', () => {
    const a = backupKey('artjardin', new Date('2026-11-24T02:00:01.512Z'), false);
    const b = backupKey('artjardin', new Date('2026-11-24T02:00:01.987Z'), true);
    expect(a).toBe('artjardin/2026/11/24/artjardin-20261124T020001.512Z.dump');
    expect(b).toBe('artjardin/2026/11/24/artjardin-20261124T020001.987Z.dump.age');
    expect(manifestKeyOf(b)).toBe('artjardin/2026/11/24/artjardin-20261124T020001.987Z.manifest.json');
    expect(globalsKeyOf(a)).toBe('artjardin/2026/11/24/artjardin-20261124T020001.512Z.globals.sql');
  });

  it('keeps odd database names inside the layout', () => {
    expect(backupKey('../prod db', new Date('2026-01-02T03:04:05.006Z'), false)).toBe('.._prod_db/2026/01/02/.._prod_db-20260102T030405.006Z.dump');
  });

  it('translates BACKUP_COMPRESS for PostgreSQL 15 pg_dump, and refuses what it cannot do', () => {
    expect(compressArgument('gzip:1', 15)).toBe('1');
    expect(compressArgument('none', 15)).toBe('0');
    expect(compressArgument('9', 15)).toBe('9');
    expect(compressArgument('zstd:3', 16)).toBe('zstd:3');
    expect(() => compressArgument('zstd:3', 15)).toThrow(/pg_dump 16/);
  });
});

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { compareExpected } from '../../src/backup/physical/drill.js';
import { parseBackupLabel, stopOfManifest } from '../../src/backup/physical/manifest.js';
import { restoreCommand } from '../../src/backup/physical/recovery.js';
import { obsoleteWal } from '../../src/backup/physical/retention.js';
import { TarWatch } from '../../src/backup/physical/tar-watch.js';
import { lsnValue, parseLsn, parseTargetTime, postgresTime } from '../../src/backup/physical/target.js';
import { UsageError } from '../../src/errors.js';
import type { ObjectInfo, ObjectStore } from '../../src/storage/store.js';
import { walKey } from '../../src/wal/layout.js';

describe('recovery target times', () => {
  it('reads a zone name, an offset, or a local time in AJ_TIMEZONE', () => {
    const at = (text: string, zone = 'Europe/Paris') => parseTargetTime(text, zone).toISOString();
    expect(at('2026-06-01 17:05 Europe/Paris')).toBe('2026-06-01T15:05:00.000Z');
    expect(at('2026-06-01 17:05')).toBe('2026-06-01T15:05:00.000Z');
    expect(at('2026-01-15 17:05')).toBe('2026-01-15T16:05:00.000Z');
    expect(at('2026-06-01 17:05', 'America/New_York')).toBe('2026-06-01T21:05:00.000Z');
    expect(at('2026-06-01T15:05:00Z')).toBe('2026-06-01T15:05:00.000Z');
    expect(at('2026-06-01 17:05:30.250+02:00')).toBe('2026-06-01T15:05:30.250Z');
    expect(at('2026-06-01 17:05:07.123 UTC')).toBe('2026-06-01T17:05:07.123Z');
    // Autumn's repeated hour and spring's missing one give one instant each.
    expect(at('2026-10-25 02:30 Europe/Paris')).toBe('2026-10-25T01:30:00.000Z');
    expect(at('2026-03-29 02:30 Europe/Paris')).toBe('2026-03-29T01:30:00.000Z');
    expect(postgresTime(new Date('2026-06-01T15:05:00.000Z'))).toBe('2026-06-01 15:05:00.000+00');
  });

  it('refuses what is not a time, with the forms it takes', () => {
    const refusal = (text: string) => {
      try {
        parseTargetTime(text, 'Europe/Paris');
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(refusal('yesterday')).toMatchObject(new UsageError('--to-time: "yesterday" is not a time', 'write it as "2026-06-01 17:05 Europe/Paris", "2026-06-01T15:05:00Z" or "2026-06-01 17:05" (in AJ_TIMEZONE)'));
    expect(refusal('2026-02-30 10:00')).toMatchObject({ message: '--to-time: "2026-02-30 10:00" is not a valid date and time', exitCode: 2 });
    expect(refusal('2026-06-01 17:05 Mars/Olympus')).toMatchObject({ message: '--to-time: unknown time zone "Mars/Olympus"', exitCode: 2 });
  });

  it('reads and orders WAL positions', () => {
    expect(parseLsn('0/3000148')).toBe('0/3000148');
    expect(() => parseLsn('3000148')).toThrow(UsageError);
    expect(lsnValue('1/0') > lsnValue('0/FFFFFFFF')).toBe(true);
  });
});

describe('restore_command', () => {
  it('runs this node and aj with the env file, shell-quoted when needed', () => {
    expect(restoreCommand('/etc/aj/aj.env', { node: '/usr/bin/node', bin: '/usr/local/bin/aj' })).toBe('/usr/bin/node -- /usr/local/bin/aj --env-file /etc/aj/aj.env wal fetch %f %p');
    expect(restoreCommand("/srv/l'équipe/aj.env", { node: '/usr/bin/node', bin: '/opt/aj/bin/aj' })).toBe("/usr/bin/node -- /opt/aj/bin/aj --env-file '/srv/l'\\''équipe/aj.env' wal fetch %f %p");
  });
});

describe('WAL retention', () => {
  const cluster = '7714713395472334141';
  const store = (names: string[]) => ({
    async *list(prefix?: string): AsyncIterable<ObjectInfo> {
      for (const name of names) {
        const key = walKey(cluster, name, false);
        if (!prefix || key.startsWith(prefix)) yield { key, size: 1, metadata: {} };
      }
    },
  }) as unknown as ObjectStore;

  it('deletes only what is before the oldest kept base backup, on its timeline or older, and never history files', async () => {
    const names = [
      '000000010000000000000003', '000000010000000000000004.00000028.backup', '000000010000000000000005', '000000010000000000000006',
      '00000002.history', '000000020000000000000004', '000000020000000000000007', '000000030000000000000002.partial',
    ];
    const obsolete = await obsoleteWal(store(names), cluster, '000000020000000000000005');
    expect(obsolete).toEqual([
      walKey(cluster, '000000010000000000000003', false), walKey(cluster, '000000010000000000000004.00000028.backup', false), walKey(cluster, '000000020000000000000004', false),
    ]);
  });
});

describe('drill expectations', () => {
  it('compares only the databases and tables the file names', () => {
    const databases = [{ database: 'shop', tables: 2, rows: 15, counts: { 'public.clients': 10, 'public.devis': 5 } }];
    expect(compareExpected({ shop: { 'public.clients': 10 } }, databases)).toEqual([]);
    expect(compareExpected({ shop: { 'public.devis': 6, 'public.factures': 1 }, gone: { 'public.x': 0 } }, databases)).toEqual([
      { database: 'shop', table: 'public.devis', expected: 6, actual: 5 },
      { database: 'shop', table: 'public.factures', expected: 1, actual: null },
      { database: 'gone', table: 'public.x', expected: 0, actual: null },
    ]);
  });
});

describe('TarWatch', () => {
  it('passes a tar through unchanged and keeps the members it watches, whatever the chunk boundaries', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aj-tarwatch-'));
    try {
      mkdirSync(join(dir, 'pg_wal'));
      writeFileSync(join(dir, 'backup_label'), 'START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nSTART TIMELINE: 1\n');
      writeFileSync(join(dir, 'pg_wal', '000000010000000000000002'), randomBytes(70_000));
      writeFileSync(join(dir, 'backup_manifest'), JSON.stringify({ 'WAL-Ranges': [{ Timeline: 1, 'Start-LSN': '0/2000028', 'End-LSN': '0/2000100' }] }));
      const tar = execFileSync('tar', ['--create', '--format=ustar', '--file=-', '--directory', dir, 'backup_label', 'pg_wal', 'backup_manifest']);
      for (const size of [1, 511, 512, 4096, tar.length]) {
        const watch = new TarWatch(new Set(['backup_label', 'backup_manifest']));
        const chunks = Array.from({ length: Math.ceil(tar.length / size) }, (_, i) => tar.subarray(i * size, (i + 1) * size));
        const out: Buffer[] = [];
        for await (const chunk of Readable.from(chunks).pipe(watch)) out.push(chunk as Buffer);
        expect(Buffer.concat(out).equals(tar), `chunks of ${size}`).toBe(true);
        expect(parseBackupLabel(watch.members.get('backup_label')!.toString())).toEqual({ startLsn: '0/2000028', startWal: '000000010000000000000002', timeline: 1 });
        expect(stopOfManifest(watch.members.get('backup_manifest')!.toString())).toEqual({ stopLsn: '0/2000100', timeline: 1 });
        expect([...watch.members.keys()].sort()).toEqual(['backup_label', 'backup_manifest']);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

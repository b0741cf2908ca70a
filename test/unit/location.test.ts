import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { assertSafeKey, localFallback, locationUrl, parseLocation } from '../../src/storage/location.js';

describe('parseLocation', () => {
  it('reads s3://bucket/prefix, a bare bucket name and file:///path', () => {
    expect(parseLocation('s3://aj-backups/prod/db', 'BACKUP_BUCKET')).toEqual({ kind: 's3', bucket: 'aj-backups', prefix: 'prod/db' });
    expect(parseLocation('s3://aj-backups', 'BACKUP_BUCKET')).toEqual({ kind: 's3', bucket: 'aj-backups', prefix: '' });
    expect(parseLocation('s3://aj-backups/prod/', 'BACKUP_BUCKET')).toEqual({ kind: 's3', bucket: 'aj-backups', prefix: 'prod' });
    expect(parseLocation('aj-archive', 'ARCHIVE_BUCKET')).toEqual({ kind: 's3', bucket: 'aj-archive', prefix: '' });
    expect(parseLocation('file:///var/backups/aj', 'BACKUP_BUCKET')).toEqual({ kind: 'file', path: '/var/backups/aj' });
    expect(parseLocation(' /srv/aj ', 'BACKUP_BUCKET')).toEqual({ kind: 'file', path: '/srv/aj' });
  });

  it('refuses what is none of these, naming the setting', () => {
    for (const bad of ['s3://Bad_Bucket/x', 's3:///prefix', 'relative/dir', 'http://example.fr/bucket', 'file://host/share']) {
      expect(() => parseLocation(bad, 'ARCHIVE_BUCKET')).toThrow(ConfigError);
      expect(() => parseLocation(bad, 'ARCHIVE_BUCKET')).toThrow(/ARCHIVE_BUCKET/);
    }
  });

  it('round-trips to a URL for messages', () => {
    expect(locationUrl(parseLocation('s3://aj-backups/prod', 'X'))).toBe('s3://aj-backups/prod');
    expect(locationUrl(parseLocation('aj-backups', 'X'))).toBe('s3://aj-backups');
    expect(locationUrl(parseLocation('file:///var/aj', 'X'))).toBe('file:///var/aj');
  });
});

describe('localFallback', () => {
  it('puts storage under the data directory, as an absolute path', () => {
    expect(localFallback('./aj-data', 'backups')).toEqual({ kind: 'file', path: resolve('aj-data/backups') });
  });
});

describe('assertSafeKey', () => {
  it('accepts layout keys', () => {
    for (const key of ['db/2026/01/15/aj-20260115T020000Z.dump', 'factures/2026/F-2026-001.pdf', 'a']) expect(() => assertSafeKey(key)).not.toThrow();
  });

  it('refuses keys that could escape the location', () => {
    for (const key of ['', '/etc/passwd', '../x', 'a/../b', 'a//b', 'a/./b', 'a/', 'a\\b', 'a\nb', 'a\x00b']) {
      expect(() => assertSafeKey(key), JSON.stringify(key)).toThrow(/unsafe object key/);
    }
  });
});

import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { redactConfig, redactUrl, scrubSecrets } from '../../src/config/redact.js';

const configOf = (env: Record<string, string>) => loadConfig({ env, envFile: join(tmpdir(), 'aj-no-such.env') }).config;

describe('redactUrl', () => {
  it('hides the password of URLs and keeps the rest readable', () => {
    expect(redactUrl('postgresql://app:s3cret@db.internal:5432/aj?schema=public')).toBe('postgresql://app:****@db.internal:5432/aj?schema=public');
    expect(redactUrl('smtp://contact%40aj.fr:p%40ss@smtp.example.fr:587')).toBe('smtp://contact%40aj.fr:****@smtp.example.fr:587');
    expect(redactUrl('connect to postgres://u:pw@h/db failed, retry smtps://x:y@m:465')).toBe('connect to postgres://u:****@h/db failed, retry smtps://x:****@m:465');
  });

  it('leaves URLs without a password alone', () => {
    for (const url of ['postgresql://app@db/aj', 'https://s3.fr-par.scw.cloud', 'http://127.0.0.1:9000/bucket', 'file:///var/backups']) {
      expect(redactUrl(url)).toBe(url);
    }
  });

  it('hides a password passed as a query parameter', () => {
    expect(redactUrl('postgresql://db/aj?user=app&password=s3cret&sslmode=require')).toBe('postgresql://db/aj?user=app&password=****&sslmode=require');
  });
});

describe('redactConfig', () => {
  const config = configOf({
    DATABASE_URL: 'postgresql://app:db-pass-123@db:5432/aj?schema=public&connection_limit=5',
    SMTP_URL: 'smtp://mailer:smtp-pass-456@smtp.example.fr:587',
    SMTP_PASS: 'plain-smtp-pass',
    AWS_ACCESS_KEY_ID: 'AKIAEXAMPLEKEY',
    AWS_SECRET_ACCESS_KEY: 'aws-secret-789',
    AWS_SESSION_TOKEN: 'session-token-000',
    BACKUP_BUCKET: 's3://aj-backups/prod',
    ALERT_WEBHOOK_URL: 'https://hooks.slack.com/services/T000/B000/XXXXwebhooksecret',
  });
  const redacted = redactConfig(config);
  const text = JSON.stringify(redacted);

  it('masks every secret, including URL passwords', () => {
    for (const secret of ['db-pass-123', 'smtp-pass-456', 'plain-smtp-pass', 'AKIAEXAMPLEKEY', 'aws-secret-789', 'session-token-000', 'webhooksecret', 'T000']) {
      expect(text).not.toContain(secret);
    }
    expect(redacted.databaseUrl).toBe('postgresql://app:****@db:5432/aj?schema=public&connection_limit=5');
    expect(redacted.smtpUrl).toBe('smtp://mailer:****@smtp.example.fr:587');
    expect(redacted.s3SecretAccessKey).toBe('****');
    // A webhook's token is its path: only the host stays, so the admin sees where alerts go.
    expect(redacted.alertWebhookUrl).toBe('https://hooks.slack.com/****');
  });

  it('keeps non-secret settings as they are', () => {
    expect(redacted.backupLocation).toBe('s3://aj-backups/prod');
    expect(redacted.backupRetentionDays).toBe(30);
    expect(redacted.reminderInvoiceDays).toEqual([30, 60]);
  });
});

describe('scrubSecrets', () => {
  it('removes known secret values and URL passwords from free text', () => {
    const config = configOf({ DATABASE_URL: 'postgresql://app:p%40ss-word@db/aj', AWS_SECRET_ACCESS_KEY: 'aws-secret-789' });
    const text = scrubSecrets('login failed for app with p@ss-word; key aws-secret-789; url postgresql://x:other@h/d', config);
    expect(text).not.toContain('p@ss-word');
    expect(text).not.toContain('aws-secret-789');
    expect(text).not.toContain('other');
  });

  it('works before any config could be loaded', () => {
    expect(scrubSecrets('postgres://u:pw@h/db', undefined)).toBe('postgres://u:****@h/db');
  });
});

describe('scrubSecrets with a query-parameter password', () => {
  it('removes it from free text too', () => {
    const config = configOf({ DATABASE_URL: 'postgresql://db/aj?user=app&password=query-pass-1' });
    expect(scrubSecrets('password authentication failed (query-pass-1)', config)).not.toContain('query-pass-1');
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

function scratch(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'aj-config-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('config precedence', () => {
  it('takes flags over environment over .env over the JSON file over defaults', () => {
    const dir = scratch({
      '.env': 'BACKUP_RETENTION_DAYS=20\nMAIL_FROM="From env file <a@example.fr>"\nAJ_DATA_DIR=/from/env-file\n',
      'aj.json': JSON.stringify({ BACKUP_RETENTION_DAYS: 10, MAIL_FROM: 'json <j@example.fr>', AJ_DATA_DIR: '/from/json', ALERT_EMAIL: 'alerts@example.fr' }),
    });
    const { config, origins } = loadConfig({
      flags: { backupRetentionDays: '40' },
      env: { BACKUP_RETENTION_DAYS: '30', MAIL_FROM: 'env <e@example.fr>' },
      envFile: join(dir, '.env'),
      configFile: join(dir, 'aj.json'),
    });
    expect(config.backupRetentionDays).toBe(40);
    expect(origins.backupRetentionDays).toBe('flag');
    expect(config.mailFrom).toBe('env <e@example.fr>');
    expect(origins.mailFrom).toBe('env');
    expect(config.dataDir).toBe('/from/env-file');
    expect(origins.dataDir).toBe('env-file');
    expect(config.alertEmail).toBe('alerts@example.fr');
    expect(origins.alertEmail).toBe('config-file');
    expect(config.backupKeepMin).toBe(7);
    expect(origins.backupKeepMin).toBe('default');
  });

  it('names what a bad value should be, in aj\'s words', () => {
    const load = (env: Record<string, string>) => () => loadConfig({ env, envFile: '/nonexistent/.env' });
    expect(load({ S3_FORCE_PATH_STYLE: 'yes' })).toThrow('S3_FORCE_PATH_STYLE: expected one of auto, true, false, got "yes"');
    expect(load({ BACKUP_RETENTION_DAYS: '0' })).toThrow('BACKUP_RETENTION_DAYS: expected a whole number of at least 1, got "0"');
  });

  it('has working defaults with an empty environment', () => {
    const { config } = loadConfig({ env: { HOME: '/home/jardin' }, envFile: join(scratch(), '.env') });
    expect(config).toMatchObject({
      dataDir: '/home/jardin/.local/share/aj',
      timezone: 'Europe/Paris',
      backupEnabled: true,
      autoSendEnabled: true,
      backupRetentionDays: 30,
      s3Region: 'us-east-1',
      s3PathStyle: 'auto',
      reminderInvoiceDays: [30, 60],
      autoMigrate: true,
    });
    expect(config.databaseUrl).toBeUndefined();
    expect(config.backupLocation).toBeUndefined();
  });

  it('honours the deployment names and the standard AWS_* variables', () => {
    const { config } = loadConfig({
      env: {
        DATABASE_URL: 'postgresql://app:pw@db:5432/aj',
        COMPANY_BCC_EMAIL: 'copie@art-et-jardin.fr',
        AUTO_SEND_ENABLED: 'false',
        BACKUP_ENABLED: '0',
        BACKUP_BUCKET: 's3://aj-backups/prod',
        BACKUP_RETENTION_DAYS: '90',
        ARCHIVE_BUCKET: 'aj-archive',
        AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'secret-key',
        AWS_REGION: 'eu-west-3',
        AWS_ENDPOINT_URL: 'https://s3.fr-par.scw.cloud',
      },
      envFile: join(scratch(), '.env'),
    });
    expect(config).toMatchObject({
      databaseUrl: 'postgresql://app:pw@db:5432/aj',
      companyBcc: 'copie@art-et-jardin.fr',
      autoSendEnabled: false,
      backupEnabled: false,
      backupLocation: 's3://aj-backups/prod',
      backupRetentionDays: 90,
      archiveLocation: 'aj-archive',
      s3AccessKeyId: 'AKIAEXAMPLE',
      s3SecretAccessKey: 'secret-key',
      s3Region: 'eu-west-3',
      s3Endpoint: 'https://s3.fr-par.scw.cloud',
    });
  });

  it('prefers the specific S3_* name over the AWS_* one, and ignores empty values', () => {
    const { config } = loadConfig({
      env: { S3_REGION: 'fr-par', AWS_REGION: 'eu-west-3', S3_ENDPOINT: '', AWS_ENDPOINT_URL: 'http://127.0.0.1:9000' },
      envFile: join(scratch(), '.env'),
    });
    expect(config.s3Region).toBe('fr-par');
    expect(config.s3Endpoint).toBe('http://127.0.0.1:9000');
  });

  it('reads ./.env from the working directory by default, and a missing one is fine', () => {
    const dir = scratch({ '.env': 'ALERT_EMAIL=ops@example.fr\n' });
    const cwd = process.cwd();
    try {
      process.chdir(dir);
      expect(loadConfig({ env: {} }).config.alertEmail).toBe('ops@example.fr');
      process.chdir(scratch());
      expect(loadConfig({ env: {} }).config.alertEmail).toBeUndefined();
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('config validation', () => {
  it('names every bad field in one error', () => {
    const error = configError(() =>
      loadConfig({
        env: {
          BACKUP_RETENTION_DAYS: 'thirty',
          AUTO_SEND_ENABLED: 'maybe',
          COMPANY_BCC_EMAIL: 'not-an-email',
          AJ_TIMEZONE: 'Mars/Olympus',
          S3_FORCE_PATH_STYLE: 'sometimes',
          REMINDER_INVOICE_DAYS: '30,soon',
          SMTP_PORT: '70000',
        },
        envFile: join(scratch(), '.env'),
      }),
    );
    for (const name of ['BACKUP_RETENTION_DAYS', 'AUTO_SEND_ENABLED', 'COMPANY_BCC_EMAIL', 'AJ_TIMEZONE', 'S3_FORCE_PATH_STYLE', 'REMINDER_INVOICE_DAYS', 'SMTP_PORT']) {
      expect(error.message).toContain(name);
    }
    expect(error.message).not.toContain('\n');
    expect(error.exitCode).toBe(3);
  });

  it('names the variable actually set, not only the first alias', () => {
    const error = configError(() => loadConfig({ env: { AWS_ENDPOINT_URL: 'not a url' }, envFile: join(scratch(), '.env') }));
    expect(error.message).toMatch(/^invalid configuration: AWS_ENDPOINT_URL: /);
  });

  it('refuses unknown keys and non-objects in the JSON config file', () => {
    const dir = scratch({ 'typo.json': JSON.stringify({ BACKUP_BUCKKET: 'x' }), 'list.json': '[]', 'broken.json': '{' });
    expect(configError(() => loadConfig({ env: {}, envFile: join(dir, '.env'), configFile: join(dir, 'typo.json') })).message).toContain('BACKUP_BUCKKET');
    expect(configError(() => loadConfig({ env: {}, envFile: join(dir, '.env'), configFile: join(dir, 'list.json') })).message).toContain('JSON object');
    expect(configError(() => loadConfig({ env: {}, envFile: join(dir, '.env'), configFile: join(dir, 'broken.json') })).message).toContain('cannot read config file');
  });

  it('fails when an explicit --env-file is missing', () => {
    const missing = join(scratch(), 'nope.env');
    expect(configError(() => loadConfig({ env: {}, envFile: missing, envFileExplicit: true })).message).toContain(missing);
  });

  it('sorts reminder levels and parses booleans loosely', () => {
    const { config } = loadConfig({ env: { REMINDER_INVOICE_DAYS: '60, 15,30', BACKUP_ENABLED: 'Yes', AJ_AUTO_MIGRATE: 'off' }, envFile: join(scratch(), '.env') });
    expect(config.reminderInvoiceDays).toEqual([15, 30, 60]);
    expect(config.backupEnabled).toBe(true);
    expect(config.autoMigrate).toBe(false);
  });
});

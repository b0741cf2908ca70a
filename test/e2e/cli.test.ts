import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { version } from '../../src/version.js';
import { aj, scratchDir } from '../helpers/cli.js';
import { type TestDatabase, createTestDatabase } from '../helpers/pg.js';

// Run `npm run build` first: these spawn the built bin/aj.

const SECRETS = {
  DATABASE_URL: 'postgresql://app:db-pass-123@127.0.0.1:1/aj?schema=public&connection_limit=5',
  SMTP_URL: 'smtp://mailer:smtp-pass-456@smtp.example.fr:587',
  AWS_ACCESS_KEY_ID: 'AKIAEXAMPLEKEY',
  AWS_SECRET_ACCESS_KEY: 'aws-secret-789',
};
const SECRET_VALUES = ['db-pass-123', 'smtp-pass-456', 'AKIAEXAMPLEKEY', 'aws-secret-789'];

describe('aj, usage', () => {
  it.each([[['--version']], [['-V']], [['--quiet', '--version']]])('prints its version and nothing else for %j', async (args) => {
    const result = await aj(args);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(version());
    expect(result.stderr).toBe('');
  });

  it('prints the short help on stdout when run alone, and `aj help <group> <verb>` is that verb\'s help', async () => {
    const alone = await aj([]);
    expect(alone.exitCode).toBe(0);
    expect(alone.stdout).toMatch(/^Usage: aj \[options\] \[command\]/);
    expect(alone.stderr).toBe('');
    const verb = await aj(['help', 'backup', 'run']);
    expect(verb.exitCode).toBe(0);
    expect(verb.stdout).toMatch(/^Usage: aj backup run \[options\]/);
  });

  it('lists every command group and the exit codes in --help', async () => {
    const result = await aj(['--help']);
    expect(result.exitCode).toBe(0);
    for (const group of ['backup', 'archive', 'mail', 'reminders', 'import', 'db', 'config', 'doctor']) expect(result.stdout).toMatch(new RegExp(`^\\s+${group}\\b`, 'm'));
    expect(result.stdout).toContain('75   another run of the same job holds the lock');
  });

  it.each([
    [['frobnicate'], "aj: unknown command 'frobnicate' (see --help)"],
    [['--frobnicate'], "aj: unknown option '--frobnicate' (see --help)"],
    [['config', 'show', '--frobnicate'], "aj: unknown option '--frobnicate' (see --help)"],
    [['db', 'migrate', '--yes-please'], "aj: unknown option '--yes-please' (see --help)"],
    [['--config'], "aj: option '--config <path>' argument missing (see --help)"],
    [['backup', 'rn'], "aj: unknown command 'rn': did you mean run? (see --help)"],
    [['archive', 'get', 'devis', 'DE-2026-0007', '--version', '1'], "aj: unknown option '--version' (--version is aj's own: `aj --version`; for a document version, --doc-version)"],
    [['backup', 'verify', '-V'], "aj: unknown option '-V' (--version is aj's own: `aj --version`; for a document version, --doc-version)"],
  ])('exits 2 for %j with one line on stderr and nothing on stdout', async (args, line) => {
    const result = await aj(args);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(line);
  });
});

describe('aj config show', () => {
  it('exits 3 naming every bad field in one line, stdout clean', async () => {
    const result = await aj(['config', 'show', '--json'], {
      env: { BACKUP_RETENTION_DAYS: 'thirty', AUTO_SEND_ENABLED: 'maybe', COMPANY_BCC_EMAIL: 'nobody', AJ_TIMEZONE: 'Paris' },
    });
    expect(result.exitCode).toBe(3);
    expect(result.stdout).toBe('');
    expect(result.stderr.split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^aj: invalid configuration: /);
    for (const name of ['BACKUP_RETENTION_DAYS', 'AUTO_SEND_ENABLED', 'COMPANY_BCC_EMAIL', 'AJ_TIMEZONE']) expect(result.stderr).toContain(name);
  });

  it('prints one JSON document with every secret redacted, URL passwords included', async () => {
    const result = await aj(['config', 'show', '--json'], { env: { ...SECRETS, BACKUP_BUCKET: 's3://aj-backups/prod' } });
    expect(result.exitCode).toBe(0);
    const shown = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(shown).toMatchObject({
      DATABASE_URL: { value: 'postgresql://app:****@127.0.0.1:1/aj?schema=public&connection_limit=5', from: 'env' },
      SMTP_URL: { value: 'smtp://mailer:****@smtp.example.fr:587', from: 'env' },
      S3_ACCESS_KEY_ID: { value: '****', from: 'env' },
      S3_SECRET_ACCESS_KEY: { value: '****', from: 'env' },
      BACKUP_BUCKET: { value: 's3://aj-backups/prod', from: 'env' },
      BACKUP_RETENTION_DAYS: { value: 30, from: 'default' },
      ALERT_EMAIL: { value: null, from: 'default' },
    });
    for (const secret of SECRET_VALUES) expect(result.stdout + result.stderr).not.toContain(secret);
  });

  it('reads ./.env, --env-file and --config in order, and shows where each value came from', async () => {
    const cwd = scratchDir();
    writeFileSync(join(cwd, '.env'), 'BACKUP_RETENTION_DAYS=20\nALERT_EMAIL=ops@art-et-jardin.fr\n');
    writeFileSync(join(cwd, 'other.env'), 'BACKUP_RETENTION_DAYS=25\n');
    writeFileSync(join(cwd, 'aj.json'), JSON.stringify({ BACKUP_KEEP_MIN: 3, BACKUP_RETENTION_DAYS: 99 }));
    const fromDotEnv = await aj(['config', 'show'], { cwd, env: { MAIL_FROM: 'Test <t@example.fr>' } });
    expect(fromDotEnv.exitCode).toBe(0);
    const rows = new Map(fromDotEnv.stdout.trim().split('\n').map((line) => {
      const [setting, value, origin] = line.split('\t');
      return [setting, { value, origin }];
    }));
    expect(rows.get('setting')).toEqual({ value: 'value', origin: 'from' });
    expect(rows.get('BACKUP_RETENTION_DAYS')).toEqual({ value: '20', origin: 'env-file' });
    expect(rows.get('ALERT_EMAIL')).toEqual({ value: 'ops@art-et-jardin.fr', origin: 'env-file' });
    expect(rows.get('MAIL_FROM')).toEqual({ value: 'Test <t@example.fr>', origin: 'env' });
    expect(rows.get('BACKUP_KEEP_MIN')).toEqual({ value: '7', origin: 'default' });

    const explicit = await aj(['--env-file', 'other.env', '--config', 'aj.json', 'config', 'show', '--json'], { cwd });
    expect(JSON.parse(explicit.stdout)).toMatchObject({ BACKUP_RETENTION_DAYS: { value: 25, from: 'env-file' }, BACKUP_KEEP_MIN: { value: 3, from: 'config-file' } });
    const viaEnv = await aj(['config', 'show', '--json'], { cwd, env: { AJ_CONFIG: 'aj.json', BACKUP_RETENTION_DAYS: '60' } });
    expect(JSON.parse(viaEnv.stdout)).toMatchObject({ BACKUP_RETENTION_DAYS: { value: 60, from: 'env' }, BACKUP_KEEP_MIN: { value: 3, from: 'config-file' } });
  });

  it('exits 3 when an explicit file is missing', async () => {
    for (const args of [['--env-file', 'missing.env'], ['--config', 'missing.json']]) {
      const result = await aj([...args, 'config', 'show']);
      expect(result.exitCode).toBe(3);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain('missing.');
    }
  });
});

describe('aj db', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('e2e_cli');
  });
  afterAll(() => database?.drop());

  it('status lists pending migrations, migrate applies them once, status then shows them applied', async () => {
    const env = { DATABASE_URL: `${database.url}?schema=public&connection_limit=5` };
    const before = await aj(['db', 'status', '--json'], { env });
    expect(before.exitCode).toBe(0);
    const pending = JSON.parse(before.stdout) as Array<{ version: number; state: string }>;
    expect(pending.length).toBeGreaterThan(0);
    expect(pending.every((m) => m.state === 'pending')).toBe(true);

    const migrated = await aj(['db', 'migrate', '--json'], { env });
    expect(migrated.exitCode).toBe(0);
    expect(JSON.parse(migrated.stdout).applied.map((m: { version: number }) => m.version)).toEqual(pending.map((m) => m.version));

    const again = await aj(['db', 'migrate'], { env });
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toBe('');
    expect(again.stderr).toBe('aj: database is up to date');

    const after = await aj(['db', 'status'], { env });
    expect(after.exitCode).toBe(0);
    const lines = after.stdout.trim().split('\n');
    expect(lines[0]).toBe('version\tname\tstate\tapplied at');
    expect(lines.slice(1).every((l) => l.split('\t')[2] === 'applied')).toBe(true);
  });

  it('fails with exit 1 and one line when PostgreSQL is unreachable, stdout clean and no password shown', async () => {
    const result = await aj(['db', 'status', '--json'], { env: { DATABASE_URL: SECRETS.DATABASE_URL } });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('aj: cannot reach PostgreSQL at 127.0.0.1:1/aj (ECONNREFUSED) (check DATABASE_URL and that the server is running)');
  });

  it('shows a stack trace only with --verbose, still without the password', async () => {
    const result = await aj(['--verbose', 'db', 'status'], { env: { DATABASE_URL: SECRETS.DATABASE_URL } });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/\n\s+at /);
    expect(result.stderr).not.toContain('db-pass-123');
  });
});

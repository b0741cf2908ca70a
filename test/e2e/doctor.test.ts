import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aj } from '../helpers/cli.js';
import { type TestDatabase, createTestDatabase } from '../helpers/pg.js';
import { type S3Server, startS3Server } from '../helpers/s3.js';
import { type SmtpTestServer, startSmtpServer } from '../helpers/smtp.js';
import { closedPort } from '../helpers/ports.js';

// Run `npm run build` first: these spawn the built bin/aj.

interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  hint?: string;
}

let database: TestDatabase;
let s3: S3Server;
let smtp: SmtpTestServer;
let goodEnv: Record<string, string>;


async function doctor(env: Record<string, string>) {
  const result = await aj(['doctor', '--json'], { env });
  const report = JSON.parse(result.stdout) as { ok: boolean; checks: Check[] };
  return { ...result, report, check: (name: string) => report.checks.find((c) => c.name === name) };
}

beforeAll(async () => {
  [database, s3, smtp] = await Promise.all([createTestDatabase('e2e_doctor'), startS3Server(), startSmtpServer()]);
  goodEnv = {
    ...s3.env('aj-backups', 'doctor'),
    ARCHIVE_BUCKET: 's3://aj-archive/doctor',
    DATABASE_URL: database.url,
    SMTP_URL: smtp.url,
    ALERT_EMAIL: 'admin@art-et-jardin.fr',
  };
  const migrated = await aj(['db', 'migrate'], { env: goodEnv });
  expect(migrated.exitCode).toBe(0);
});

afterAll(async () => {
  await Promise.all([database?.drop(), s3?.stop(), smtp?.stop()]);
});

describe('aj doctor', () => {
  it('passes on a good setup (PostgreSQL, S3 server, SMTP server)', async () => {
    const { exitCode, report, check, stderr } = await doctor(goodEnv);
    expect(exitCode).toBe(0);
    expect(stderr).toBe('');
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual(['node', 'config', 'database', 'migrations', 'business schema', 'wal archiving', 'pg_dump', 'pg_restore', 'backup storage', 'archive storage', 'mail', 'alerting', 'templates']);
    for (const name of ['config', 'database', 'migrations', 'business schema', 'pg_dump', 'pg_restore', 'backup storage', 'archive storage', 'mail', 'alerting', 'templates']) {
      expect(check(name), name).toMatchObject({ status: 'ok' });
    }
    expect(check('backup storage')!.detail).toBe('s3://aj-backups/doctor (writable)');
    expect(check('node')!.detail).toBe(`Node ${process.versions.node}`);
    expect(check('templates')!.detail).toBe('6 templates render');
    expect(check('alerting')!.detail).toBe('email to admin@art-et-jardin.fr (aj status --alert --test sends a test)');
    const silent = await doctor({ ...goodEnv, ALERT_EMAIL: '' });
    expect(silent.check('alerting')).toMatchObject({ status: 'warn', detail: 'no alert channel: failures reach nobody' });
  });

  it('prints a table (TSV in a pipe) of the same checks without --json', async () => {
    const result = await aj(['doctor'], { env: goodEnv });
    expect(result.exitCode).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toBe('check\tstatus\tdetail\tfix');
    expect(lines.find((l) => l.startsWith('database\t'))).toMatch(/^database\tok\t/);
  });

  it('warns, without failing, about local storage, the outbox and pending migrations', async () => {
    const fresh = await createTestDatabase('e2e_doctor_fresh');
    try {
      const dataDir = mkdtempSync(join(tmpdir(), 'aj-doctor-data-'));
      const { exitCode, check } = await doctor({ DATABASE_URL: fresh.url, AJ_DATA_DIR: dataDir });
      expect(exitCode).toBe(0);
      expect(check('migrations')).toMatchObject({ status: 'warn', detail: expect.stringMatching(/pending$/) });
      expect(check('business schema')).toMatchObject({ status: 'warn', detail: 'built-in standalone tables: not created yet', hint: 'run `aj db migrate`' });
      expect(check('backup storage')).toMatchObject({ status: 'warn', hint: expect.stringContaining('BACKUP_BUCKET') });
      expect(check('archive storage')).toMatchObject({ status: 'warn', hint: expect.stringContaining('ARCHIVE_BUCKET') });
      expect(check('mail')).toMatchObject({ status: 'warn', detail: `outbox ${join(dataDir, 'outbox')}` });
    } finally {
      await fresh.drop();
    }
  });

  it('fails naming each broken part: storage down, unknown bucket, SMTP down, pg tools missing', async () => {
    const deadPort = await closedPort();
    const { exitCode, report, check, stderr } = await doctor({
      ...goodEnv,
      S3_ENDPOINT: `http://127.0.0.1:${deadPort}`,
      ARCHIVE_BUCKET: 's3://aj-missing/doctor',
      SMTP_URL: `smtp://mailer:smtp-secret-42@127.0.0.1:${deadPort}`,
      PG_BIN_DIR: tmpdir(),
    });
    expect(exitCode).toBe(1);
    expect(report.ok).toBe(false);
    expect(check('database')!.status).toBe('ok');
    for (const name of ['backup storage', 'archive storage', 'mail', 'pg_dump', 'pg_restore']) expect(check(name), name).toMatchObject({ status: 'fail' });
    expect(check('backup storage')!.detail).toMatch(/storage unreachable \(ECONNREFUSED\)/);
    expect(check('pg_dump')!.detail).toContain('pg_dump not found in PG_BIN_DIR');
    expect(check('mail')!.detail).toMatch(/ECONNREFUSED/);
    expect(stderr).toBe('aj: 5 check(s) failed (see the fix column)');
    expect(JSON.stringify(report) + stderr).not.toContain('smtp-secret-42');
  });

  it('renders every template, overrides included, and fails naming each broken one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aj-doctor-templates-'));
    writeFileSync(join(dir, 'document.txt'), 'Objet: Votre {{document}} {{numero}}\n\nBonjour {{nom}},\n');
    const good = await doctor({ ...goodEnv, AJ_TEMPLATES_DIR: dir });
    expect(good.check('templates')).toEqual({ name: 'templates', status: 'ok', detail: `6 templates render, 1 from ${dir}` });

    writeFileSync(join(dir, 'facture-relance-1.txt'), 'Objet: {{numero}}\n\n{{#professionnel}}Pénalités.\n');
    writeFileSync(join(dir, 'chantier-fin.txt'), 'Objet: Fin\n\nBonjour {{nom}}\nTél. {{entreprise_telephone}}\n');
    const { exitCode, check } = await doctor({ ...goodEnv, AJ_TEMPLATES_DIR: dir });
    expect(exitCode).toBe(1);
    expect(check('templates')).toEqual({
      name: 'templates',
      status: 'fail',
      detail:
        'chantier-fin: template chantier-fin shows {{entreprise_telephone}}, but COMPANY_PHONE is not set (set COMPANY_PHONE, or pass --var entreprise_telephone=...); ' +
        `facture-relance-1: template override ${join(dir, 'facture-relance-1.txt')}: line 3: {{#professionnel}} is never closed (add {{/professionnel}}) (fix the file)`,
      hint: 'fix each template named (aj mail preview NAME renders one)',
    });
  });

  it('fails on an unknown bucket on a live server', async () => {
    const { exitCode, check } = await doctor({ ...goodEnv, ARCHIVE_BUCKET: 's3://aj-missing/doctor' });
    expect(exitCode).toBe(1);
    expect(check('archive storage')).toMatchObject({ status: 'fail', detail: expect.stringContaining('bucket aj-missing does not exist') });
  });

  it('fails on an unreachable database, and on an invalid config', async () => {
    const deadPort = await closedPort();
    const noDb = await doctor({ ...goodEnv, DATABASE_URL: `postgresql://app:db-secret-42@127.0.0.1:${deadPort}/aj` });
    expect(noDb.exitCode).toBe(1);
    expect(noDb.check('database')).toMatchObject({ status: 'fail', detail: expect.stringContaining('cannot reach PostgreSQL') });
    expect(noDb.stdout + noDb.stderr).not.toContain('db-secret-42');

    const badConfig = await doctor({ ...goodEnv, BACKUP_RETENTION_DAYS: 'soon' });
    expect(badConfig.exitCode).toBe(1);
    expect(badConfig.check('config')).toMatchObject({ status: 'fail', detail: expect.stringContaining('BACKUP_RETENTION_DAYS') });
  });
});

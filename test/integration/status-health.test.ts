import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Context } from '../../src/context.js';
import { IO } from '../../src/io.js';
import { raiseAlert } from '../../src/ops/alerts.js';
import { buildStatus } from '../../src/ops/status.js';
import { type TestDatabase, createTestDatabase } from '../helpers/pg.js';
import { type SmtpTestServer, startSmtpServer } from '../helpers/smtp.js';

let database: TestDatabase;
let smtp: SmtpTestServer;
let webhook: Server;
const hooks: unknown[] = [];
const contexts: Context[] = [];

/** A context whose clock reads `now`, as if aj ran at that moment. */
function contextAt(now: string, env: Record<string, string> = {}): Context {
  const sink = () => Object.assign(new PassThrough(), { isTTY: false });
  const io = new IO(sink(), sink(), false, {});
  const ctx = new Context(io, { DATABASE_URL: database.url, AJ_DATA_DIR: '/tmp/aj-status-test', ...env }, () => new Date(now));
  contexts.push(ctx);
  return ctx;
}

const check = async (ctx: Context, name: string) => (await buildStatus(ctx)).checks.find((c) => c.name === name)!;

beforeAll(async () => {
  database = await createTestDatabase('status');
  smtp = await startSmtpServer();
  webhook = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      hooks.push({ contentType: req.headers['content-type'], body: JSON.parse(body) });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
  await contextAt('2026-11-24T12:00:00Z').db();
});

afterAll(async () => {
  for (const ctx of contexts) await ctx.close();
  webhook?.close();
  await smtp?.stop();
  await database?.drop();
});

describe('aj status health rules with moved clocks', () => {
  it('backup: healthy up to STATUS_BACKUP_MAX_AGE_HOURS after the last successful backup', async () => {
    await database.query(`INSERT INTO backup_runs (status, database_name, storage_url, host, pid, started_at, finished_at, size_bytes, total_rows)
      VALUES ('succeeded', 'aj', 'file:///b', 'h', 1, '2026-11-24T02:00:00Z', '2026-11-24T02:05:00Z', 1000, 10)`);
    expect((await check(contextAt('2026-11-25T04:00:00Z'), 'backup')).ok).toBe(true);
    expect((await check(contextAt('2026-11-25T04:06:00Z'), 'backup')).ok).toBe(false);
    expect((await check(contextAt('2026-11-25T10:00:00Z', { STATUS_BACKUP_MAX_AGE_HOURS: '36' }), 'backup')).ok).toBe(true);
    expect((await check(contextAt('2026-12-30T00:00:00Z', { BACKUP_ENABLED: 'false' }), 'backup')).ok).toBe(true);
  });

  it('backup-proven: a verification or a restore drill within 8 days', async () => {
    expect((await check(contextAt('2026-11-24T12:00:00Z'), 'backup-proven')).ok).toBe(false);
    await database.query(`UPDATE backup_runs SET verified_at = '2026-11-22T03:30:00Z', verify_ok = true`);
    expect((await check(contextAt('2026-11-30T03:00:00Z'), 'backup-proven')).ok).toBe(true);
    expect((await check(contextAt('2026-11-30T04:00:00Z'), 'backup-proven')).ok).toBe(false);
    await database.query(`INSERT INTO job_runs (job, host, pid, status, exit_code, started_at, finished_at)
      VALUES ('restore-drill', 'h', 1, 'succeeded', 0, '2026-11-29T04:00:00Z', '2026-11-29T04:02:00Z')`);
    expect((await check(contextAt('2026-12-06T12:00:00Z'), 'backup-proven')).ok).toBe(true);
  });

  it('reminders: two weekdays, so a Friday run still counts on Monday morning', async () => {
    await database.query(`INSERT INTO job_runs (job, host, pid, status, exit_code, started_at, finished_at)
      VALUES ('reminders', 'h', 1, 'succeeded', 0, '2026-11-27T07:30:00Z', '2026-11-27T07:31:00Z')`);
    expect((await check(contextAt('2026-11-30T09:00:00Z'), 'reminders')).ok).toBe(true);
    expect((await check(contextAt('2026-12-01T12:00:00Z'), 'reminders')).ok).toBe(false);
    const status = await buildStatus(contextAt('2026-11-30T09:00:00Z'));
    expect(status.jobs.find((j) => j.job === 'reminders')).toMatchObject({ outcome: 'succeeded', nextExpected: new Date('2026-11-30T07:30:00Z') });
  });

  it('archive problems outstanding and failed emails not re-sent make it unhealthy', async () => {
    await database.query(`INSERT INTO archived_documents (doc_type, doc_id, version, storage_url, object_key, filename, original_filename, size_bytes, md5, sha256, content_type, last_verify_result)
      VALUES ('facture', 'F1', 1, 'file:///a', 'k1', 'f.pdf', 'f.pdf', 1, 'm', 's', 'application/pdf', 'checksum_mismatch')`);
    expect((await check(contextAt('2026-11-24T12:00:00Z'), 'archive')).detail).toContain('1 archived document(s)');
    await database.query(`UPDATE archived_documents SET last_verify_result = 'ok'`);
    expect((await check(contextAt('2026-11-24T12:00:00Z'), 'archive')).ok).toBe(true);

    const [failed] = await database.query<{ id: string }>(`INSERT INTO email_messages (status, from_address, to_addresses, subject, created_at)
      VALUES ('failed', 'a@b.fr', '{c@d.fr}', 'Facture', '2026-11-24T10:00:00Z') RETURNING id`);
    expect((await check(contextAt('2026-11-24T12:00:00Z'), 'mail')).ok).toBe(false);
    expect((await check(contextAt('2026-11-25T10:30:00Z'), 'mail')).ok).toBe(true);
    await database.query(`INSERT INTO email_messages (status, from_address, to_addresses, subject, retry_of, created_at)
      VALUES ('sent', 'a@b.fr', '{c@d.fr}', 'Facture', $1, '2026-11-24T11:00:00Z')`, [failed!.id]);
    expect((await check(contextAt('2026-11-24T12:00:00Z'), 'mail')).ok).toBe(true);
  });
});

describe('alerts', () => {
  it('go out once per cooldown per key, by email (history, no BCC) and webhook JSON', async () => {
    const env = {
      SMTP_URL: smtp.url, ALERT_EMAIL: 'admin@art-et-jardin.fr', COMPANY_BCC_EMAIL: 'copie@art-et-jardin.fr',
      ALERT_WEBHOOK_URL: `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook`,
    };
    const alert = { key: 'backup', job: 'backup', subject: 'aj backup run failed on test', lines: ['Error: disk full', 'Investigate: aj status'] };
    const first = contextAt('2026-11-24T02:00:00Z', env);
    expect(await raiseAlert(first, await first.db(), alert)).toMatchObject({ sent: true, webhook: 'HTTP 200' });
    const within = contextAt('2026-11-24T02:59:00Z', env);
    expect(await raiseAlert(within, await within.db(), alert)).toEqual({ sent: false, reason: 'cooldown' });
    const other = await raiseAlert(within, await within.db(), { ...alert, key: 'reminders' });
    expect(other.sent).toBe(true);
    const after = contextAt('2026-11-24T03:01:00Z', env);
    expect((await raiseAlert(after, await after.db(), alert)).sent).toBe(true);

    expect(smtp.messages).toHaveLength(3);
    expect(smtp.messages[0]!.to).toEqual(['admin@art-et-jardin.fr']);
    expect(smtp.messages[0]!.raw.toString()).toContain('disk full');
    const history = await database.query(`SELECT status, template, bcc_addresses FROM email_messages WHERE template = 'alerte'`);
    expect(history).toEqual(Array(3).fill({ status: 'sent', template: 'alerte', bcc_addresses: [] }));
    expect(hooks).toHaveLength(3);
    expect(hooks[0]).toMatchObject({ contentType: 'application/json', body: { source: 'aj', key: 'backup', job: 'backup', subject: alert.subject, lines: alert.lines } });
  });

  it('a webhook that cannot be reached is a warning, and the email still goes', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const ctx = contextAt('2026-11-26T00:00:00Z', { SMTP_URL: smtp.url, ALERT_EMAIL: 'admin@art-et-jardin.fr', ALERT_WEBHOOK_URL: `http://127.0.0.1:${port}/hook` });
    const outcome = await raiseAlert(ctx, await ctx.db(), { key: 'import', subject: 'aj import csv failed', lines: ['x'] });
    expect(outcome).toMatchObject({ sent: true, webhook: 'error: ECONNREFUSED' });
    expect(smtp.messages).toHaveLength(4);
  });
});

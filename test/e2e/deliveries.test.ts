import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { aj } from '../helpers/cli.js';
import { type TestDatabase, createTestDatabase } from '../helpers/pg.js';
import { type SmtpTestServer, startSmtpServer } from '../helpers/smtp.js';

/**
 * The delivery ledger end to end (issue 13, scenarios 1-5 and 7): real SMTP servers on loopback
 * with faults, the built binary, and what each client actually received counted per document.
 */
const COMPANY = 'copie@art-et-jardin.fr';
const ADMIN = 'admin@art-et-jardin.fr';
const AS_OF = '2026-06-15';
const DOWN = 'smtp://127.0.0.1:1';
let db: TestDatabase;
let smtp: SmtpTestServer;
let env: Record<string, string>;

beforeAll(async () => {
  [db, smtp] = await Promise.all([createTestDatabase('deliveries_e2e'), startSmtpServer()]);
  env = { DATABASE_URL: db.url, SMTP_URL: smtp.url, COMPANY_BCC_EMAIL: COMPANY };
  expect((await aj(['db', 'migrate'], { env })).exitCode).toBe(0);
});

afterAll(async () => {
  await Promise.all([db?.drop(), smtp?.stop()]);
});

beforeEach(async () => {
  await db.query('TRUNCATE reminder_log, email_messages, deliveries, ops_alerts, job_runs, factures, devis, clients RESTART IDENTITY CASCADE');
  smtp.messages.length = 0;
  smtp.rejectRecipients.clear();
  smtp.fault = undefined;
});

let seq = 0;
/** An unpaid invoice 40 days past due (a level-1 reminder) for a client of its own; returns the client's address. */
async function facture(numero: string): Promise<string> {
  seq += 1;
  const email = `client${seq}@exemple.fr`;
  const [client] = await db.query(`INSERT INTO clients (nom, email) VALUES ($1, $2) RETURNING id`, [`Client ${seq}`, email]);
  await db.query(
    `INSERT INTO factures (numero, client_id, statut, montant_ttc, date_emission, date_echeance) VALUES ($1, $2, 'envoyee', 900, $3::date - 70, $3::date - 40)`,
    [numero, client!.id, AS_OF],
  );
  return email;
}

const cli = (args: string[], extra: Record<string, string | undefined> = {}) => aj(args, { env: { ...env, ...extra } });
const remind = (extra: Record<string, string | undefined> = {}) => cli(['reminders', 'run', '--as-of', AS_OF, '--json'], extra);
/** Messages the client received (the company copy alone does not count). */
const receivedBy = (address: string) => smtp.messages.filter((m) => m.to.includes(address)).length;
const check = async (name: string) => {
  const status = await cli(['status', '--json']);
  return (JSON.parse(status.stdout).checks as Array<{ name: string; ok: boolean; detail: string }>).find((c) => c.name === name)!;
};
const deliveries = () => db.query<{ id: string; key: string; status: string; attempts: number; refused: string[] }>('SELECT id, key, status, attempts, refused FROM deliveries ORDER BY id');

describe('1. an SMTP outage, then retry and the next run', () => {
  it('mail retry --failed, then reminders run: every client gets one reminder', async () => {
    const clients = await Promise.all(['FA-1', 'FA-2', 'FA-3', 'FA-4'].map(facture));
    const outage = await remind({ SMTP_URL: DOWN });
    expect(outage.exitCode).toBe(1);
    expect(JSON.parse(outage.stdout)).toMatchObject({ sent: 0, failed: 4 });
    expect((await check('mail')).ok).toBe(false);

    const retry = await cli(['mail', 'retry', '--failed', '--json']);
    expect(retry.exitCode, retry.stderr).toBe(0);
    expect(JSON.parse(retry.stdout)).toMatchObject({ sent: 4, failed: 0 });
    const next = await remind();
    expect(next.exitCode, next.stderr).toBe(0);
    expect(JSON.parse(next.stdout)).toMatchObject({ sent: 0, failed: 0 });
    expect(clients.map(receivedBy)).toEqual([1, 1, 1, 1]);
    expect((await check('mail')).ok).toBe(true);

    const history = await cli(['mail', 'history', '--document', 'facture:FA-2', '--json']);
    const [delivery] = JSON.parse(history.stdout);
    expect(delivery).toMatchObject({ purpose: 'reminder', document: 'facture FA-2', attempts: 2, status: 'sent', key: expect.stringMatching(/^reminder:facture:\d+:relance-1$/) });
    const log = await cli(['reminders', 'list', '--document', 'facture:FA-2', '--json']);
    expect(JSON.parse(log.stdout)).toEqual([expect.objectContaining({ numero: 'FA-2', level: 'relance-1', status: 'sent', delivery: delivery.id })]);
  });

  it('reminders run, then mail retry --failed: every client gets one reminder', async () => {
    const clients = await Promise.all(['FB-1', 'FB-2', 'FB-3'].map(facture));
    expect((await remind({ SMTP_URL: DOWN })).exitCode).toBe(1);
    const next = await remind();
    expect(next.exitCode, next.stderr).toBe(0);
    expect(JSON.parse(next.stdout)).toMatchObject({ sent: 3 });
    const retry = await cli(['mail', 'retry', '--failed', '--json']);
    expect(retry.exitCode).toBe(0);
    expect(JSON.parse(retry.stdout)).toMatchObject({ sent: 0, attempts: [] });
    expect(clients.map(receivedBy)).toEqual([1, 1, 1]);
    expect((await check('mail')).ok).toBe(true);
  });
});

describe('2. the server refuses the client and accepts only the company copy', () => {
  it('is failed with the address named, exit 1, status unhealthy; retry delivers it once', async () => {
    const client = await facture('FC-1');
    smtp.rejectRecipients.add(client);
    const run = await remind();
    expect(run.exitCode).toBe(1);
    expect(JSON.parse(run.stdout).results).toEqual([expect.objectContaining({ numero: 'FC-1', status: 'failed', error: `the server refused ${client}` })]);
    expect(smtp.messages.map((m) => m.to)).toEqual([[COMPANY]]);
    const [delivery] = await deliveries();
    expect(delivery).toMatchObject({ status: 'failed', refused: [client] });
    const mail = await check('mail');
    expect(mail).toMatchObject({ ok: false, detail: expect.stringContaining('aj mail retry --failed') });

    smtp.rejectRecipients.clear();
    const retry = await cli(['mail', 'retry', delivery!.id]);
    expect(retry.exitCode, retry.stderr).toBe(0);
    expect(receivedBy(client)).toBe(1);
    expect((await check('mail')).ok).toBe(true);
  });
});

describe('3. two retries of one delivery at once', () => {
  it('aj mail retry ID and aj mail retry --failed together send one copy', async () => {
    const client = await facture('FD-1');
    await remind({ SMTP_URL: DOWN });
    const [delivery] = await deliveries();
    const [one, all] = await Promise.all([cli(['mail', 'retry', delivery!.id]), cli(['mail', 'retry', '--failed'])]);
    // The one that lost the claim says so: exit 0 if it saw the key taken, 2 if it found it already delivered.
    expect([one.exitCode, all.exitCode].sort()).toContain(0);
    for (const r of [one, all]) expect([0, 2], r.stderr).toContain(r.exitCode);
    expect(receivedBy(client)).toBe(1);
    expect((await deliveries())[0]).toMatchObject({ status: 'sent', attempts: 2 });
  });
});

describe('3b. a reminders run and a retry at once', () => {
  it('send each failed reminder once between them', async () => {
    const clients = await Promise.all(['FDD-1', 'FDD-2', 'FDD-3', 'FDD-4', 'FDD-5'].map(facture));
    await remind({ SMTP_URL: DOWN });
    const [run, retry] = await Promise.all([remind(), cli(['mail', 'retry', '--failed'])]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(retry.exitCode, retry.stderr).toBe(0);
    expect(clients.map(receivedBy)).toEqual([1, 1, 1, 1, 1]);
    expect((await deliveries()).map((d) => d.status)).toEqual(Array(5).fill('sent'));
  });
});

describe('4. one document with bad data', () => {
  it('is skipped and reported for itself; the other reminders go, quotes expire, exit 1 and the alert fires', async () => {
    const good = await facture('FE-1');
    await facture('FE-2\nBcc: pirate@exemple.com');
    const [client] = await db.query(`SELECT id FROM clients LIMIT 1`);
    await db.query(`INSERT INTO devis (numero, client_id, statut, date_envoi, date_validite) VALUES ('DE-1', $1, 'envoye', $2::date - 60, $2::date - 1)`, [client!.id, AS_OF]);

    const run = await remind({ ALERT_EMAIL: ADMIN });
    expect(run.exitCode).toBe(1);
    const summary = JSON.parse(run.stdout);
    expect(summary).toMatchObject({ sent: 1, failed: 0, expired: 1 });
    expect(summary.skipped).toEqual([expect.objectContaining({ numero: 'FE-2\nBcc: pirate@exemple.com', action: 'fix-data', reason: expect.stringContaining('line break') })]);
    expect(run.stderr).toContain('1 document(s) skipped for their data');
    expect(receivedBy(good)).toBe(1);
    expect(smtp.messages.some((m) => m.to.includes('pirate@exemple.com'))).toBe(false);
    expect(receivedBy(ADMIN)).toBe(1);
    expect((await db.query(`SELECT statut FROM devis`))[0]!.statut).toBe('expire');

    // Sent by hand, the same document is the data's failure (exit 1), not the operator's (exit 2).
    const [bad] = await db.query(`SELECT id FROM factures WHERE numero LIKE 'FE-2%'`);
    const send = await cli(['mail', 'send', '--document', `facture:${bad!.id}`]);
    expect(send.exitCode).toBe(1);
    expect(send.stderr).toContain('holds a line break');
  });
});

describe('5. the line drops around the final dot', () => {
  it('after the server stored it: unknown, never re-sent, status unhealthy until settled delivered', async () => {
    const client = await facture('FF-1');
    smtp.fault = 'drop-after-data';
    const cut = await remind();
    smtp.fault = undefined;
    expect(cut.exitCode).toBe(1);
    expect(JSON.parse(cut.stdout)).toMatchObject({ sent: 0, failed: 0, unknown: 1 });
    expect(receivedBy(client)).toBe(1);

    const next = await remind();
    expect(next.exitCode).toBe(1);
    expect(next.stderr).toContain('aj mail settle');
    expect(receivedBy(client)).toBe(1);
    const retry = await cli(['mail', 'retry', '--failed', '--json']);
    expect(JSON.parse(retry.stdout).attempts).toEqual([]);
    const [delivery] = await deliveries();
    expect((await check('mail-unknown')).detail).toContain(`aj mail settle ${delivery!.id} --delivered`);

    const settle = await cli(['mail', 'settle', delivery!.id, '--delivered']);
    expect(settle.exitCode, settle.stderr).toBe(0);
    expect((await check('mail-unknown')).ok).toBe(true);
    const after = await remind();
    expect(after.exitCode, after.stderr).toBe(0);
    expect(receivedBy(client)).toBe(1);
    expect((await db.query('SELECT status FROM reminder_log'))[0]!.status).toBe('sent');
  });

  it('before the final dot: failed, and the next run sends it', async () => {
    const client = await facture('FG-1');
    smtp.fault = 'drop-before-dot';
    const cut = await remind();
    smtp.fault = undefined;
    expect(cut.exitCode).toBe(1);
    expect(JSON.parse(cut.stdout)).toMatchObject({ failed: 1, unknown: 0 });
    expect(receivedBy(client)).toBe(0);
    const next = await remind();
    expect(next.exitCode, next.stderr).toBe(0);
    expect(receivedBy(client)).toBe(1);
  });
});

describe('7. a crash while sending', () => {
  it('leaves the claim; the next run exits 1 without re-sending, status names the settle command', async () => {
    const client = await facture('FH-1');
    smtp.fault = 'stall';
    const child = cli(['reminders', 'run', '--as-of', AS_OF]);
    while (smtp.countFor('FH-1') === 0) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    await child;
    smtp.fault = undefined;

    const next = await remind();
    expect(next.exitCode).toBe(1);
    expect(JSON.parse(next.stdout).stuck).toEqual([expect.objectContaining({ key: expect.stringMatching(/^reminder:facture:/), status: 'unknown' })]);
    expect(receivedBy(client)).toBe(1);
    const unknown = await check('mail-unknown');
    expect(unknown).toMatchObject({ ok: false, detail: expect.stringContaining('aj mail settle') });
    const history = await cli(['mail', 'history', '--status', 'unknown', '--json']);
    expect(JSON.parse(history.stdout)).toEqual([expect.objectContaining({ document: 'facture FH-1', status: 'unknown' })]);
  });
});

import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { aj, scratchDir } from '../helpers/cli.js';
import { type TestDatabase, createTestDatabase } from '../helpers/pg.js';
import { FaultProxy } from '../helpers/s3.js';
import { type SmtpTestServer, startSmtpServer } from '../helpers/smtp.js';

const COMPANY = 'copie@art-et-jardin.fr';
const AS_OF = '2026-06-15';
let db: TestDatabase;
let smtp: SmtpTestServer;
let env: Record<string, string>;

beforeAll(async () => {
  [db, smtp] = await Promise.all([createTestDatabase('reminders_e2e'), startSmtpServer()]);
  env = { DATABASE_URL: db.url, SMTP_URL: smtp.url, COMPANY_BCC_EMAIL: COMPANY };
  expect((await aj(['db', 'migrate'], { env })).exitCode).toBe(0);
});

afterAll(async () => {
  await Promise.all([db?.drop(), smtp?.stop()]);
});

// A test that fails half-way must not leave the next ones talking to a stalled server.
afterEach(() => {
  smtp.fault = undefined;
});

beforeEach(async () => {
  await db.query('TRUNCATE reminder_log, email_messages, deliveries, factures, devis, clients RESTART IDENTITY CASCADE');
  smtp.messages.length = 0;
});

let seq = 0;
async function client(fields: { email?: string | null; type?: string; paused?: boolean; nom?: string } = {}): Promise<number> {
  seq += 1;
  const email = fields.email === undefined ? `client${seq}@exemple.fr` : fields.email;
  const [row] = await db.query(`INSERT INTO clients (nom, email, type, reminders_paused) VALUES ($1, $2, $3, $4) RETURNING id`, [
    fields.nom ?? `Client ${seq}`, email, fields.type ?? 'particulier', fields.paused ?? false,
  ]);
  return Number(row!.id);
}

/** An invoice whose due date is `daysAgo` days before `asOf`. */
async function facture(clientId: number, numero: string, daysAgo: number, extra: { statut?: string; paid?: boolean; deleted?: boolean; asOf?: string } = {}): Promise<number> {
  const [row] = await db.query(
    `INSERT INTO factures (numero, client_id, statut, montant_ttc, date_emission, date_echeance, date_paiement, deleted_at)
     VALUES ($1, $2, $3, 1500, $4::date - $5::int - 30, $4::date - $5::int, CASE WHEN $6 THEN $4::date END, CASE WHEN $7 THEN now() END) RETURNING id`,
    [numero, clientId, extra.statut ?? 'envoyee', extra.asOf ?? AS_OF, daysAgo, extra.paid ?? false, extra.deleted ?? false],
  );
  return Number(row!.id);
}

async function devis(clientId: number, numero: string, sentDaysAgo: number, validDays: number): Promise<number> {
  const [row] = await db.query(
    `INSERT INTO devis (numero, client_id, statut, montant_ttc, date_emission, date_envoi, date_validite)
     VALUES ($1, $2, 'envoye', 800, $3::date - $4::int, $3::date - $4::int, $3::date + $5::int) RETURNING id`,
    [numero, clientId, AS_OF, sentDaysAgo, validDays],
  );
  return Number(row!.id);
}

const run = (args: string[] = [], extraEnv: Record<string, string> = {}) => aj(['reminders', 'run', '--as-of', AS_OF, '--json', ...args], { env: { ...env, ...extraEnv } });
const summaryOf = (r: { stdout: string }) => JSON.parse(r.stdout);
const sentLevels = async () => (await db.query(`SELECT f.numero, l.level FROM reminder_log l JOIN factures f ON f.id::text = l.document_id WHERE l.document_type = 'facture' AND l.status = 'sent' ORDER BY f.numero`)).map((r) => `${r.numero}:${r.level}`);

describe('invoice reminders', () => {
  it('sends the highest due level once, never for paid, cancelled, deleted invoices or paused clients', async () => {
    const pro = await client({ type: 'professionnel', nom: 'Paysages SARL' });
    const prive = await client();
    await facture(prive, 'F-29', 29);
    await facture(prive, 'F-30', 30);
    await facture(prive, 'F-59', 59);
    await facture(pro, 'F-60', 60);
    await facture(prive, 'F-75', 75);
    await facture(prive, 'F-PAYEE', 90, { statut: 'payee', paid: true });
    await facture(prive, 'F-REGLEE', 90, { paid: true });
    await facture(prive, 'F-ANNULEE', 90, { statut: 'annulee' });
    await facture(prive, 'F-SUPPR', 90, { deleted: true });
    await facture(await client({ paused: true }), 'F-PAUSE', 90);

    const r = await run();
    expect(r.exitCode, r.stderr).toBe(0);
    expect(summaryOf(r)).toMatchObject({ sent: 4, failed: 0, unknown: 0, skipped: [], stuck: [] });
    expect(await sentLevels()).toEqual(['F-30:relance-1', 'F-59:relance-1', 'F-60:relance-2', 'F-75:relance-2']);
    expect(smtp.messages).toHaveLength(4);
    for (const m of smtp.messages) expect(m.to).toContain(COMPANY);

    const mails = await Promise.all(smtp.messages.map((m) => simpleParser(m.raw)));
    const bySubject = (n: string) => mails.find((m) => m.subject?.includes(n))!;
    expect(bySubject('F-60').subject).toBe('Relance avant mise en demeure : facture n° F-60');
    expect(bySubject('F-60').text).toContain('indemnité forfaitaire pour frais de recouvrement de 40 EUR');
    expect(bySubject('F-75').text).not.toContain('40 EUR');
    expect(bySubject('F-75').text).toContain('75 jours de retard');
    expect(bySubject('F-30').subject).toContain('Rappel');
    expect(mails.every((m) => !m.headers.has('bcc'))).toBe(true);

    const second = await run();
    expect(summaryOf(second)).toMatchObject({ sent: 0, failed: 0 });
    expect(smtp.messages).toHaveLength(4);
  });

  it('stops level 2 when the payment is recorded between runs, and counts days across month ends', async () => {
    const c = await client();
    const id = await facture(c, 'F-45', 45);
    expect(summaryOf(await run())).toMatchObject({ sent: 1 });
    await db.query(`UPDATE factures SET statut = 'payee', date_paiement = $2 WHERE id = $1`, [id, AS_OF]);
    const later = await aj(['reminders', 'run', '--as-of', '2026-07-10', '--json'], { env });
    expect(summaryOf(later)).toMatchObject({ sent: 0 });

    // Due 31 January: +30 days is 2 March (February has 28 days), not 1 March or 28 February.
    await facture(c, 'F-JANV', 0, { asOf: '2026-01-31' });
    const before = await aj(['reminders', 'run', '--as-of', '2026-03-01', '--dry-run', '--json'], { env });
    expect(summaryOf(before).plan.reminders).toEqual([]);
    const on = await aj(['reminders', 'run', '--as-of', '2026-03-02', '--dry-run', '--json'], { env });
    expect(summaryOf(on).plan.reminders).toEqual([expect.objectContaining({ numero: 'F-JANV', level: 'relance-1', dueSince: '2026-03-02' })]);
  });

  it('plans without changing anything on --dry-run or REMINDERS_ENABLED=false; skips clients without an address (a letter or a call) and invalid ones (exit 1)', async () => {
    await facture(await client({ email: null }), 'F-SANS', 40);
    await facture(await client({ email: 'pas-une-adresse' }), 'F-INVALIDE', 40);
    await facture(await client(), 'F-OK', 40);
    const dry = await run(['--dry-run']);
    expect(dry.exitCode).toBe(0);
    expect(summaryOf(dry).plan.reminders.map((p: { numero: string }) => p.numero).sort()).toEqual(['F-INVALIDE', 'F-OK', 'F-SANS']);
    const off = await aj(['reminders', 'run', '--as-of', AS_OF], { env: { ...env, REMINDERS_ENABLED: 'false' } });
    expect(off.exitCode).toBe(0);
    expect(off.stderr).toContain('REMINDERS_ENABLED is false');
    expect(off.stdout).toContain('F-OK');
    expect(smtp.messages).toHaveLength(0);
    expect(await db.query('SELECT * FROM reminder_log')).toEqual([]);

    const real = await run();
    expect(real.exitCode).toBe(1);
    expect(real.stderr).toContain('1 document(s) skipped for their data');
    const summary = summaryOf(real);
    expect(summary.sent).toBe(1);
    expect(summary.skipped.map((s: { numero: string; reason: string; action: string }) => `${s.numero}: ${s.reason} (${s.action})`).sort()).toEqual([
      'F-INVALIDE: client email "pas-une-adresse" is not valid (fix-data)',
      'F-SANS: client has no email address (letter-or-call)',
    ]);
  });
});

describe('the company\'s letters', () => {
  it('uses the template overrides and company details, and skips only the document whose data leaves a variable empty', async () => {
    const templates = scratchDir('reminder-templates');
    writeFileSync(join(templates, 'facture-relance-1.txt'), 'Objet: Rappel {{numero}}\n\nBonjour {{nom}}, merci de régler {{montant}}.\n{{entreprise_signature}}\n');
    const withTemplates = { AJ_TEMPLATES_DIR: templates, COMPANY_SIGNATURE: 'Claire, Art et Jardin' };
    await facture(await client({ nom: 'Durand' }), 'F-OK', 40);
    // A client whose name is blank in the app: no letter can greet it, so that one reminder waits.
    await facture(await client({ nom: ' ' }), 'F-SANS-NOM', 40);
    const r = await run([], withTemplates);
    expect(r.exitCode).toBe(1);
    const summary = summaryOf(r);
    expect(summary.sent).toBe(1);
    expect(summary.skipped).toEqual([expect.objectContaining({ numero: 'F-SANS-NOM', action: 'fix-data', reason: expect.stringContaining('nom') })]);
    const mail = await simpleParser(smtp.messages[0]!.raw);
    expect(mail.subject).toBe('Rappel F-OK');
    expect(mail.text).toContain('Bonjour Durand, merci de régler');
    expect(mail.text).toContain('Claire, Art et Jardin');
  });
});

describe('quotes', () => {
  it('reminds an unsigned quote once while valid, and expires outdated ones without email', async () => {
    const c = await client();
    await devis(c, 'D-15', 15, 10);
    await devis(c, 'D-14', 14, 10);
    const expired = await devis(c, 'D-EXPIRE', 40, -1);
    const r = await run();
    expect(summaryOf(r)).toMatchObject({ sent: 1, expired: 1 });
    expect(smtp.messages).toHaveLength(1);
    const mail = await simpleParser(smtp.messages[0]!.raw);
    expect(mail.subject).toBe('Votre devis n° D-15 – Art et Jardin');
    expect(mail.text).toContain(`valable jusqu'au 25/06/2026`);
    expect((await db.query('SELECT statut FROM devis WHERE id = $1', [expired]))[0]!.statut).toBe('expire');
    expect(await db.query(`SELECT level, status FROM reminder_log WHERE document_id = $1`, [expired])).toEqual([{ level: 'expiration', status: 'done' }]);
    expect(summaryOf(await run())).toMatchObject({ sent: 0, expired: 0 });
    expect(smtp.messages).toHaveLength(1);
    const list = await aj(['reminders', 'list', '--type', 'devis', '--json'], { env });
    expect(JSON.parse(list.stdout).map((l: { numero: string; level: string }) => `${l.numero}:${l.level}`).sort()).toEqual(['D-15:relance', 'D-EXPIRE:expiration']);
  });
});

describe('exactly once under failures', () => {
  it('records failures when SMTP goes down mid-batch and sends only those on the next run; unknown ones wait to be settled', async () => {
    const c = await client();
    for (let i = 0; i < 12; i += 1) await facture(c, `F-${String(i).padStart(2, '0')}`, 40);
    const received: string[] = [];
    let proxy: FaultProxy | undefined;
    const server = new SMTPServer({
      authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
      onData(stream, _session, callback) {
        stream.resume();
        stream.on('end', () => {
          received.push('x');
          callback();
          if (received.length === 3) void proxy!.stop();
        });
      },
    });
    // A client killed or cut mid-conversation is expected here, not a test failure.
    server.on('error', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = await new FaultProxy((server.server.address() as AddressInfo).port).start();
    const first = await run([], { SMTP_URL: `smtp://127.0.0.1:${proxy.port}` });
    server.close();
    expect(first.exitCode).toBe(1);
    const s1 = summaryOf(first);
    expect(s1.sent + s1.failed + s1.unknown).toBe(12);
    expect(s1.failed).toBeGreaterThan(0);
    expect(await db.query(`SELECT * FROM reminder_log WHERE status = 'sending'`)).toEqual([]);

    // Cut after the whole message went out: maybe delivered, so not sent again until settled.
    const second = await run();
    expect(second.exitCode, second.stderr).toBe(s1.unknown > 0 ? 1 : 0);
    expect(summaryOf(second)).toMatchObject({ sent: s1.failed, failed: 0 });
    expect(await sentLevels()).toHaveLength(12 - s1.unknown);
    expect(summaryOf(await run())).toMatchObject({ sent: 0 });
  });

  it('reports a reminder left sending by a crash as unknown (exit 1), never re-sent until settled', async () => {
    await facture(await client(), 'F-CRASH', 40);
    smtp.fault = 'stall';
    const child = aj(['reminders', 'run', '--as-of', AS_OF], { env });
    while (smtp.countFor('F-CRASH') === 0) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    await child;
    smtp.fault = undefined;
    expect(await db.query('SELECT level, status FROM reminder_log')).toEqual([{ level: 'relance-1', status: 'sending' }]);

    const next = await aj(['reminders', 'run', '--as-of', AS_OF], { env });
    expect(next.exitCode).toBe(1);
    expect(next.stderr).toContain('not re-sent (aj mail settle');
    expect(smtp.countFor('F-CRASH')).toBe(1);
    expect(await db.query('SELECT level, status FROM reminder_log')).toEqual([{ level: 'relance-1', status: 'unknown' }]);
    const [delivery] = await db.query(`SELECT id FROM deliveries WHERE key LIKE 'reminder:facture:%'`);
    const resend = await aj(['mail', 'settle', String(delivery!.id), '--resend'], { env });
    expect(resend.exitCode, resend.stderr).toBe(0);
    expect(smtp.countFor('F-CRASH')).toBe(2);
    const after = await run();
    expect(after.exitCode, after.stderr).toBe(0);
    expect(summaryOf(after)).toMatchObject({ sent: 0, stuck: [] });
    expect(await sentLevels()).toEqual(['F-CRASH:relance-1']);
  });

  it('lets only one of two concurrent runs send', async () => {
    const c = await client();
    for (let i = 0; i < 8; i += 1) await facture(c, `F-C${i}`, 65);
    const results = await Promise.all([run(), run()]);
    for (const r of results) expect([0, 75], r.stderr).toContain(r.exitCode);
    expect(smtp.messages).toHaveLength(8);
    expect(new Set(smtp.messages.map((m) => m.raw.toString().match(/F-C\d/)![0])).size).toBe(8);
    expect(await sentLevels()).toHaveLength(8);
  });
});

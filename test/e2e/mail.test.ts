import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { aj, scratchDir } from '../helpers/cli.js';
import { type TestDatabase, createTestDatabase } from '../helpers/pg.js';
import { type SmtpTestServer, startSmtpServer } from '../helpers/smtp.js';

const COMPANY = 'copie@art-et-jardin.fr';
let db: TestDatabase;
let smtp: SmtpTestServer;
let env: Record<string, string>;
let dataDir: string;

beforeAll(async () => {
  [db, smtp] = await Promise.all([createTestDatabase('mail_e2e'), startSmtpServer()]);
  dataDir = scratchDir('mail-data');
  env = { DATABASE_URL: db.url, SMTP_URL: smtp.url, COMPANY_BCC_EMAIL: COMPANY, AJ_DATA_DIR: dataDir, ARCHIVE_BUCKET: `file://${join(dataDir, 'archive')}` };
});

afterAll(async () => {
  await Promise.all([db?.drop(), smtp?.stop()]);
});

// A test that fails half-way must not leave the next ones talking to a stalled server.
afterEach(() => {
  smtp.fault = undefined;
});

const lastMessage = () => smtp.messages[smtp.messages.length - 1]!;
const messageCount = async () => Number((await db.query('SELECT count(*) AS n FROM email_messages'))[0]!.n);

describe('aj mail send', () => {
  it('delivers to the recipient and the company copy, which is absent from the headers', async () => {
    const r = await aj(['mail', 'send', '--to', 'Jérôme Dupont <jerome@exemple.fr>', '--subject', 'Planning été', '--text', 'Bonjour', '--json'], { env });
    expect(r.exitCode, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ status: 'sent', bcc: [COMPANY] });
    expect(lastMessage().to).toEqual(['jerome@exemple.fr', COMPANY]);
    const parsed = await simpleParser(lastMessage().raw);
    expect(parsed.headers.has('bcc')).toBe(false);
    expect(lastMessage().raw.toString()).not.toContain(COMPANY);
    expect(parsed.subject).toBe('Planning été');
    expect(parsed.to).toMatchObject({ value: [{ name: 'Jérôme Dupont', address: 'jerome@exemple.fr' }] });
    const [row] = await db.query('SELECT status, bcc_addresses, accepted, message_id FROM email_messages WHERE delivery_id = $1', [result.id]);
    expect(row).toMatchObject({ status: 'sent', bcc_addresses: [COMPANY], accepted: ['jerome@exemple.fr', COMPANY] });
    expect(row!.message_id).toBe(parsed.messageId);
  });

  it('skips the company copy with --no-bcc', async () => {
    const r = await aj(['mail', 'send', '--to', 'equipe@art-et-jardin.fr', '--no-bcc', '--subject', 'Interne', '--text', 'note'], { env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(lastMessage().to).toEqual(['equipe@art-et-jardin.fr']);
  });

  it('keeps attachments byte for byte and refuses one over the size limit', async () => {
    const dir = scratchDir('mail-attach');
    const bytes = randomBytes(200_000);
    writeFileSync(join(dir, 'plan jardin.pdf'), bytes);
    const r = await aj(['mail', 'send', '--to', 'a@exemple.fr', '--subject', 'Plan', '--text', 'ci-joint', '--attach', 'plan jardin.pdf'], { env, cwd: dir });
    expect(r.exitCode, r.stderr).toBe(0);
    const parsed = await simpleParser(lastMessage().raw);
    expect(parsed.attachments).toHaveLength(1);
    expect(parsed.attachments[0]!.filename).toBe('plan jardin.pdf');
    expect(Buffer.compare(parsed.attachments[0]!.content, bytes)).toBe(0);

    writeFileSync(join(dir, 'big.bin'), Buffer.alloc(1024 * 1024 + 1));
    const before = await messageCount();
    const big = await aj(['mail', 'send', '--to', 'a@exemple.fr', '--subject', 'x', '--text', 'x', '--attach', 'big.bin'], { env: { ...env, MAIL_MAX_ATTACHMENT_MB: '1' }, cwd: dir });
    expect(big.exitCode).toBe(2);
    expect(big.stderr).toContain('--attach: big.bin');
    const missing = await aj(['mail', 'send', '--to', 'a@exemple.fr', '--subject', 'x', '--text', 'x', '--attach', 'nope.pdf'], { env, cwd: dir });
    expect(missing.exitCode).toBe(2);
    expect(await messageCount()).toBe(before);
  });

  it('renders a template with escaped variables in the HTML part', async () => {
    const r = await aj(['mail', 'send', '--to', 'a@exemple.fr', '--template', 'document', '--var', 'nom=Dupont <b>&</b>', '--var', 'document=devis', '--var', 'numero=D-1', '--var', 'montant=10 €'], { env });
    expect(r.exitCode, r.stderr).toBe(0);
    const parsed = await simpleParser(lastMessage().raw);
    expect(parsed.subject).toBe('Votre devis n° D-1 – Art et Jardin');
    expect(parsed.text).toContain('Bonjour Dupont <b>&</b>,');
    expect(parsed.html).toContain('Dupont &lt;b&gt;&amp;&lt;/b&gt;');
    const missing = await aj(['mail', 'send', '--to', 'a@exemple.fr', '--template', 'document', '--var', 'nom=x'], { env });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('needs the variable');
  });

  it('refuses header injection before anything is sent or recorded', async () => {
    const before = [await messageCount(), smtp.messages.length];
    for (const args of [
      ['--to', 'a@exemple.fr', '--subject', 'Bonjour\r\nBcc: pirate@exemple.com'],
      ['--to', 'a@exemple.fr\nBcc: pirate@exemple.com', '--subject', 's'],
      ['--to', 'a@exemple.fr', '--reply-to', 'b@exemple.fr\r\nX: y', '--subject', 's'],
    ]) {
      const r = await aj(['mail', 'send', ...args, '--text', 'x'], { env });
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/(--subject|--to|--reply-to) contains a line break/);
      expect(r.stdout).toBe('');
    }
    expect([await messageCount(), smtp.messages.length]).toEqual(before);
  });

  it('records a recipient the server refuses as failed (the company copy alone is not a delivery) and exits 1', async () => {
    smtp.rejectRecipients.add('refus@exemple.fr');
    const r = await aj(['mail', 'send', '--to', 'refus@exemple.fr', '--subject', 's', '--text', 'x', '--json'], { env });
    smtp.rejectRecipients.clear();
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('refused refus@exemple.fr');
    const { id } = JSON.parse(r.stdout);
    const [row] = await db.query('SELECT status, rejected, accepted FROM email_messages WHERE delivery_id = $1', [id]);
    expect(row).toEqual({ status: 'failed', rejected: ['refus@exemple.fr'], accepted: [COMPANY] });
    expect((await db.query('SELECT status, refused FROM deliveries WHERE id = $1', [id]))[0]).toEqual({ status: 'failed', refused: ['refus@exemple.fr'] });
  });

  it('sends a message under a key once: the same key again is refused (exit 2)', async () => {
    const args = ['mail', 'send', '--to', 'cle@exemple.fr', '--subject', 'Une fois', '--text', 'x', '--key', 'bienvenue:client:7'];
    expect((await aj(args, { env })).exitCode).toBe(0);
    const again = await aj(args, { env });
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toContain('already delivered');
    expect(smtp.messages.filter((m) => m.to.includes('cle@exemple.fr'))).toHaveLength(1);
  });
});

describe('failures, crashes and retries', () => {
  it('records a failed row when SMTP is down (exit 1), retries it once, never re-sends a sent one', async () => {
    const down = { ...env, SMTP_URL: 'smtp://127.0.0.1:1' };
    const r = await aj(['mail', 'send', '--to', 'panne@exemple.fr', '--subject', 'Panne', '--text', 'x', '--json'], { env: down });
    expect(r.exitCode).toBe(1);
    const { id, message } = JSON.parse(r.stdout);
    expect((await db.query('SELECT status, error FROM email_messages WHERE id = $1', [message]))[0]).toMatchObject({ status: 'failed', error: expect.stringContaining('ECONNREFUSED') });

    const retry = await aj(['mail', 'retry', '--failed', '--json'], { env });
    expect(retry.exitCode, retry.stderr).toBe(0);
    // Every failed delivery: this one, and the one refused earlier (the server accepts it now).
    const { attempts } = JSON.parse(retry.stdout);
    // The two retries go out concurrently: found by delivery and recipient, not by order of arrival.
    expect(attempts).toHaveLength(2);
    expect(attempts).toEqual(expect.arrayContaining([expect.objectContaining({ status: 'sent', key: expect.stringMatching(/^send:/) }), expect.objectContaining({ delivery: id, status: 'sent' })]));
    expect(smtp.messages.filter((m) => m.to.includes('panne@exemple.fr')).map((m) => m.to)).toEqual([['panne@exemple.fr', COMPANY]]);
    const retried = attempts.find((a: { delivery: number }) => a.delivery === id);
    expect((await db.query('SELECT retry_of, delivery_id FROM email_messages WHERE id = $1', [retried.attempt]))[0]).toEqual({ retry_of: String(message), delivery_id: String(id) });

    const again = await aj(['mail', 'retry', String(id)], { env });
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toContain('never re-sent');
  });

  it('leaves a crash between claim and outcome unknown: never retried, settled by the operator', async () => {
    smtp.fault = 'stall';
    const child = aj(['mail', 'send', '--to', 'crash@exemple.fr', '--subject', 'Crash', '--text', 'x'], { env });
    while (smtp.messages.filter((m) => m.to.includes('crash@exemple.fr')).length === 0) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    await child;
    smtp.fault = undefined;
    const [row] = await db.query(`SELECT d.id, d.status FROM deliveries d JOIN email_messages m ON m.delivery_id = d.id WHERE 'crash@exemple.fr' = ANY(m.to_addresses)`);
    expect(row!.status).toBe('sending');

    const history = await aj(['mail', 'history', '--status', 'unknown', '--json'], { env });
    expect(JSON.parse(history.stdout).map((m: { id: number }) => m.id)).toEqual([Number(row!.id)]);
    const before = smtp.messages.length;
    const failedOnly = await aj(['mail', 'retry', '--failed'], { env });
    expect(failedOnly.exitCode).toBe(0);
    const retry = await aj(['mail', 'retry', String(row!.id)], { env });
    expect(retry.exitCode).toBe(2);
    expect(retry.stderr).toContain(`aj mail settle ${row!.id}`);
    expect(smtp.messages.length).toBe(before);
    const settled = await aj(['mail', 'settle', String(row!.id), '--resend'], { env });
    expect(settled.exitCode, settled.stderr).toBe(0);
    expect(lastMessage().to).toEqual(['crash@exemple.fr', COMPANY]);
    expect((await db.query('SELECT status, settled, attempts FROM deliveries WHERE id = $1', [row!.id]))[0]).toEqual({ status: 'sent', settled: 'resent', attempts: 2 });
  });
});

describe('documents, outbox and history', () => {
  it('sends the archived PDF of a devis to its client, and exits 1 when none is archived', async () => {
    const [client] = await db.query(`INSERT INTO clients (nom, prenom, email) VALUES ('Martin', 'Élodie', 'elodie@exemple.fr') RETURNING id`);
    const [devis] = await db.query(`INSERT INTO devis (numero, client_id, statut, montant_ttc) VALUES ('D-2026-014', $1, 'envoye', 1234.5) RETURNING id`, [client!.id]);
    await db.query(`INSERT INTO devis (numero, client_id, statut) VALUES ('D-2026-015', $1, 'envoye')`, [client!.id]);
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(5000)]);
    const key = 'devis/2026/03/D-2026-014/D-2026-014.pdf';
    mkdirSync(join(dataDir, 'archive', 'devis/2026/03/D-2026-014'), { recursive: true });
    writeFileSync(join(dataDir, 'archive', key), pdf);
    await db.query(
      `INSERT INTO archived_documents (doc_type, doc_id, version, storage_url, object_key, filename, original_filename, size_bytes, md5, sha256, content_type)
       VALUES ('devis', 'D-2026-014', 1, $3, $1, 'D-2026-014.pdf', 'D-2026-014.pdf', $2, 'm', $4, 'application/pdf')`,
      [key, pdf.length, `file://${join(dataDir, 'archive')}`, createHash('sha256').update(pdf).digest('hex')],
    );
    const r = await aj(['mail', 'send', '--document', `devis:${devis!.id}`], { env });
    expect(r.exitCode, r.stderr).toBe(0);
    const parsed = await simpleParser(lastMessage().raw);
    expect(lastMessage().to).toEqual(['elodie@exemple.fr', COMPANY]);
    expect(parsed.subject).toBe('Votre devis n° D-2026-014 – Art et Jardin');
    expect(parsed.text).toContain('1\u00a0234,50\u00a0€');
    expect(Buffer.compare(parsed.attachments[0]!.content, pdf)).toBe(0);
    for (const ref of [`devis:${devis!.id}`, 'devis:D-2026-014']) {
      const byDoc = await aj(['mail', 'history', '--document', ref, '--json'], { env });
      expect(JSON.parse(byDoc.stdout)).toEqual([expect.objectContaining({ purpose: 'document', document: 'devis D-2026-014', status: 'sent', attempts: 1 })]);
    }

    const none = await aj(['mail', 'send', '--document', 'devis:D-2026-015'], { env });
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toContain('no archived PDF for devis D-2026-015');
  });

  it('writes to the outbox when no SMTP is configured, BCC still out of the headers', async () => {
    const outboxData = scratchDir('mail-outbox');
    const noSmtp = { ...env, SMTP_URL: undefined as never, AJ_DATA_DIR: outboxData };
    const r = await aj(['mail', 'send', '--to', 'a@exemple.fr', '--subject', 'Sans SMTP', '--text', 'x', '--json'], { env: noSmtp });
    expect(r.exitCode, r.stderr).toBe(0);
    const text = await aj(['mail', 'send', '--to', 'a@exemple.fr', '--subject', 'Sans SMTP', '--text', 'x'], { env: noSmtp });
    expect(text.stdout).toMatch(/^written to the outbox .*, not sent: delivery \d+ to a@exemple.fr/);
    expect(text.stdout).not.toMatch(/^sent/);
    const shown = await aj(['mail', 'history', String(JSON.parse(r.stdout).id)], { env: noSmtp });
    expect(shown.stdout).toMatch(/^outcome +written to the outbox$/m);
    const files = readdirSync(join(outboxData, 'outbox')).sort();
    expect(files).toHaveLength(2);
    const parsed = await simpleParser(readFileSync(join(outboxData, 'outbox', files[0]!)));
    expect(parsed.subject).toBe('Sans SMTP');
    expect(parsed.headers.has('bcc')).toBe(false);
    const [row] = await db.query('SELECT status, transport FROM email_messages WHERE delivery_id = $1', [JSON.parse(r.stdout).id]);
    expect(row).toMatchObject({ status: 'sent', transport: expect.stringContaining('outbox') });
  });

  it('filters the history and shows one message in full', async () => {
    const list = await aj(['mail', 'history', '--to', 'jerome@', '--status', 'sent', '--json'], { env });
    const rows = JSON.parse(list.stdout);
    expect(rows).toHaveLength(1);
    const one = await aj(['mail', 'history', String(rows[0].id)], { env });
    expect(one.stdout).toContain(`bcc (envelope)  ${COMPANY}`);
    expect(one.stdout).toContain('Bonjour');
    const bad = await aj(['mail', 'history', '--since', '2026-02-30'], { env });
    expect(bad.exitCode).toBe(2);
  });
});

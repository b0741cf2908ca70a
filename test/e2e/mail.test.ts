import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    const [row] = await db.query('SELECT status, bcc_addresses, accepted, message_id FROM email_messages WHERE id = $1', [result.id]);
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

  it('records a recipient the server refuses and exits 1', async () => {
    smtp.rejectRecipients.add('refus@exemple.fr');
    const r = await aj(['mail', 'send', '--to', 'refus@exemple.fr', '--subject', 's', '--text', 'x', '--json'], { env });
    smtp.rejectRecipients.clear();
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('refused refus@exemple.fr');
    const { id } = JSON.parse(r.stdout);
    const [row] = await db.query('SELECT status, rejected, accepted FROM email_messages WHERE id = $1', [id]);
    expect(row).toEqual({ status: 'sent', rejected: ['refus@exemple.fr'], accepted: [COMPANY] });
  });
});

describe('failures, crashes and retries', () => {
  it('records a failed row when SMTP is down (exit 1), retries it once, never re-sends a sent one', async () => {
    const down = { ...env, SMTP_URL: 'smtp://127.0.0.1:1' };
    const r = await aj(['mail', 'send', '--to', 'panne@exemple.fr', '--subject', 'Panne', '--text', 'x', '--json'], { env: down });
    expect(r.exitCode).toBe(1);
    const { id } = JSON.parse(r.stdout);
    expect((await db.query('SELECT status, error FROM email_messages WHERE id = $1', [id]))[0]).toMatchObject({ status: 'failed', error: expect.stringContaining('ECONNREFUSED') });

    const retry = await aj(['mail', 'retry', '--failed', '--json'], { env });
    expect(retry.exitCode, retry.stderr).toBe(0);
    const { attempts } = JSON.parse(retry.stdout);
    expect(attempts).toEqual([expect.objectContaining({ original: id, status: 'sent' })]);
    expect(lastMessage().to).toEqual(['panne@exemple.fr', COMPANY]);
    expect((await db.query('SELECT retry_of FROM email_messages WHERE id = $1', [attempts[0].attempt]))[0]!.retry_of).toBe(String(id));

    const again = await aj(['mail', 'retry', String(id)], { env });
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toContain('already retried');
    const sent = await aj(['mail', 'retry', String(attempts[0].attempt)], { env });
    expect(sent.exitCode).toBe(2);
    expect(sent.stderr).toContain('never re-sent');
  });

  it('leaves a crash between pending and sent as unknown, never re-sent without --force', async () => {
    const stalled: string[] = [];
    const server = new SMTPServer({ authOptional: true, disabledCommands: ['STARTTLS'], logger: false, onData: (stream) => stream.on('data', () => stalled.push('data')) });
    // A client killed or cut mid-conversation is expected here, not a test failure.
    server.on('error', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.server.address() as AddressInfo).port;
    const child = aj(['mail', 'send', '--to', 'crash@exemple.fr', '--subject', 'Crash', '--text', 'x'], { env: { ...env, SMTP_URL: `smtp://127.0.0.1:${port}` } });
    let row: Record<string, any> | undefined;
    while (!row || stalled.length === 0) {
      await new Promise((r) => setTimeout(r, 50));
      [row] = await db.query(`SELECT id, status FROM email_messages WHERE 'crash@exemple.fr' = ANY(to_addresses)`);
    }
    child.kill('SIGKILL');
    await child;
    server.close();
    expect(row.status).toBe('pending');
    await db.query(`UPDATE email_messages SET created_at = now() - interval '1 hour' WHERE id = $1`, [row.id]);

    const history = await aj(['mail', 'history', '--status', 'unknown', '--json'], { env });
    expect(JSON.parse(history.stdout).map((m: { id: number }) => m.id)).toEqual([Number(row.id)]);
    const before = smtp.messages.length;
    const failedOnly = await aj(['mail', 'retry', '--failed'], { env });
    expect(failedOnly.exitCode).toBe(0);
    const noForce = await aj(['mail', 'retry', String(row.id)], { env });
    expect(noForce.exitCode).toBe(2);
    expect(noForce.stderr).toContain('--force');
    expect(smtp.messages.length).toBe(before);
    const forced = await aj(['mail', 'retry', String(row.id), '--force'], { env });
    expect(forced.exitCode, forced.stderr).toBe(0);
    expect(lastMessage().to).toEqual(['crash@exemple.fr', COMPANY]);
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
    const byDoc = await aj(['mail', 'history', '--document', `devis:${devis!.id}`, '--json'], { env });
    expect(JSON.parse(byDoc.stdout)).toHaveLength(1);

    const none = await aj(['mail', 'send', '--document', 'devis:D-2026-015'], { env });
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toContain('no archived PDF for devis D-2026-015');
  });

  it('writes to the outbox when no SMTP is configured, BCC still out of the headers', async () => {
    const outboxData = scratchDir('mail-outbox');
    const r = await aj(['mail', 'send', '--to', 'a@exemple.fr', '--subject', 'Sans SMTP', '--text', 'x', '--json'], { env: { ...env, SMTP_URL: undefined as never, AJ_DATA_DIR: outboxData } });
    expect(r.exitCode, r.stderr).toBe(0);
    const files = readdirSync(join(outboxData, 'outbox'));
    expect(files).toHaveLength(1);
    const parsed = await simpleParser(readFileSync(join(outboxData, 'outbox', files[0]!)));
    expect(parsed.subject).toBe('Sans SMTP');
    expect(parsed.headers.has('bcc')).toBe(false);
    const [row] = await db.query('SELECT status, transport FROM email_messages WHERE id = $1', [JSON.parse(r.stdout).id]);
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

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MailWorld, archivePdf, flipByte, startMailWorld } from '../helpers/archived-pdf.js';
import { aj, scratchDir } from '../helpers/cli.js';
import type { TestDatabase } from '../helpers/pg.js';
import type { SmtpTestServer } from '../helpers/smtp.js';

// aj mail auto-send (FEAT-052) on aj's standalone tables: baseline, each (document, status) once,
// a PDF that is not archived yet, a damaged one, two runs at once.
const COMPANY = 'copie@art-et-jardin.fr';
let db: TestDatabase;
let smtp: SmtpTestServer;
let env: Record<string, string>;
let archiveDir: string;

const run = (args: string[] = [], extra: Record<string, string> = {}) => aj(['mail', 'auto-send', '--json', ...args], { env: { ...env, ...extra } });
const summaryOf = (r: { stdout: string }) => JSON.parse(r.stdout);

async function client(email: string | null): Promise<number> {
  const [row] = await db.query(`INSERT INTO clients (nom, prenom, email) VALUES ('Dupont', 'Jérôme', $1) RETURNING id`, [email]);
  return Number(row!.id);
}
const devis = async (numero: string, statut: string, email: string | null = `${numero.toLowerCase()}@exemple.fr`) =>
  db.query(`INSERT INTO devis (numero, client_id, statut, montant_ttc, date_envoi) VALUES ($1, $2, $3, 2400, CASE WHEN $3 <> 'brouillon' THEN current_date END)`, [numero, await client(email), statut]);
const facture = async (numero: string, statut: string) =>
  db.query(`INSERT INTO factures (numero, client_id, statut, montant_ttc) VALUES ($1, $2, $3, 980)`, [numero, await client(`${numero.toLowerCase()}@exemple.fr`), statut]);

const archive = (type: string, numero: string) => archivePdf(env, archiveDir, type, numero);

/** Messages the client of `numero` received (the company copy is the same message, in the envelope). */
const received = (numero: string) => smtp.messages.filter((m) => m.to.includes(`${numero.toLowerCase()}@exemple.fr`));

let world: MailWorld;

beforeAll(async () => {
  world = await startMailWorld('auto_send');
  ({ db, smtp, env, archiveDir } = world);
});

afterAll(async () => world?.stop());

describe('aj mail auto-send', () => {
  it('first run takes a baseline: what is already sent, signed or issued is recorded, not mailed; --since includes the recent ones', async () => {
    await devis('D-OLD-1', 'envoye');
    await db.query(`UPDATE devis SET date_envoi = '2026-01-10' WHERE numero = 'D-OLD-1'`);
    await devis('D-RECENT', 'envoye');
    await facture('FA-OLD-1', 'envoyee');
    await db.query(`UPDATE factures SET date_emission = '2026-01-12' WHERE numero = 'FA-OLD-1'`);
    await devis('D-BROUILLON', 'brouillon');
    for (const n of ['D-OLD-1', 'D-RECENT', 'D-BROUILLON']) await archive('devis', n);
    await archive('facture', 'FA-OLD-1');

    const dry = await run(['--dry-run', '--since', '2026-06-01']);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(summaryOf(dry).baseline).toEqual({ documents: 2, since: '2026-06-01' });
    expect(summaryOf(dry).toSend.map((d: { numero: string }) => d.numero)).toEqual(['D-RECENT']);
    expect(await db.query('SELECT * FROM auto_send_documents')).toEqual([]);

    const first = await run(['--since', '2026-06-01']);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(summaryOf(first)).toMatchObject({ baseline: { documents: 2 }, sent: 1, failed: 0 });
    expect(received('D-RECENT')).toHaveLength(1);
    expect(received('D-OLD-1')).toHaveLength(0);
    expect(received('FA-OLD-1')).toHaveLength(0);

    const again = await run();
    expect(again.exitCode, again.stderr).toBe(0);
    expect(summaryOf(again)).toMatchObject({ sent: 0, toSend: [] });
    expect(summaryOf(again).baseline).toBeUndefined();
    expect(smtp.messages).toHaveLength(1);
  });

  it('mails each (document, status) once, with its PDF, the right template and the company BCC', async () => {
    await devis('D-NEW', 'brouillon');
    await facture('FA-NEW', 'brouillon');
    const { content: devisPdf } = await archive('devis', 'D-NEW');
    const { content: facturePdf } = await archive('facture', 'FA-NEW');
    await db.query(`UPDATE devis SET statut = 'envoye', date_envoi = current_date WHERE numero = 'D-NEW'`);
    await db.query(`UPDATE factures SET statut = 'envoyee' WHERE numero = 'FA-NEW'`);

    const sent = await run();
    expect(sent.exitCode, sent.stderr).toBe(0);
    expect(summaryOf(sent).results.map((r: { numero: string; status: string; outcome: string }) => [r.numero, r.status, r.outcome]).sort()).toEqual([
      ['D-NEW', 'envoye', 'sent'],
      ['FA-NEW', 'envoyee', 'sent'],
    ]);
    const [quote] = received('D-NEW');
    expect(quote!.to).toContain(COMPANY);
    const parsedQuote = await simpleParser(quote!.raw);
    expect(parsedQuote.subject).toBe('Votre devis n° D-NEW – Art et Jardin');
    expect(parsedQuote.headers.get('bcc')).toBeUndefined();
    expect(Buffer.compare(parsedQuote.attachments[0]!.content, devisPdf)).toBe(0);
    const parsedInvoice = await simpleParser(received('FA-NEW')[0]!.raw);
    expect(Buffer.compare(parsedInvoice.attachments[0]!.content, facturePdf)).toBe(0);

    // Signed: the signed copy (a version archived after the signature) and a confirmation, once.
    await db.query(`UPDATE devis SET statut = 'signe', date_signature = current_date WHERE numero = 'D-NEW'`);
    const { content: signedPdf } = await archive('devis', 'D-NEW');
    for (let i = 0; i < 2; i++) {
      const r = await run();
      expect(r.exitCode, r.stderr).toBe(0);
    }
    expect(received('D-NEW')).toHaveLength(2);
    expect(received('FA-NEW')).toHaveLength(1);
    const confirmation = await simpleParser(received('D-NEW')[1]!.raw);
    expect(confirmation.subject).toBe('Votre devis n° D-NEW signé – Art et Jardin');
    expect(confirmation.text).toContain('Nous avons bien reçu votre devis n° D-NEW signé');
    expect(Buffer.compare(confirmation.attachments[0]!.content, signedPdf)).toBe(0);

    const [d] = await db.query(`SELECT id FROM devis WHERE numero = 'D-NEW'`);
    const [f] = await db.query(`SELECT id FROM factures WHERE numero = 'FA-NEW'`);
    const ledger = await db.query(
      `SELECT key, purpose, status, attempts FROM deliveries WHERE (document_type = 'devis' AND document_id = $1) OR (document_type = 'facture' AND document_id = $2) ORDER BY key`,
      [String(d!.id), String(f!.id)],
    );
    expect(ledger).toEqual([
      { key: `status:devis:${d!.id}:envoye`, purpose: 'document', status: 'sent', attempts: 1 },
      { key: `status:devis:${d!.id}:signe`, purpose: 'document', status: 'sent', attempts: 1 },
      { key: `status:facture:${f!.id}:envoyee`, purpose: 'document', status: 'sent', attempts: 1 },
    ]);
    const history = await aj(['mail', 'history', '--document', 'devis:D-NEW', '--json'], { env });
    expect(JSON.parse(history.stdout)).toHaveLength(2);
  });

  it('a document without an archived PDF waits (not recorded as sent), aj status names it after AUTO_SEND_PDF_WAIT_HOURS, then it goes once archived', async () => {
    await devis('D-WAIT', 'envoye');
    const waiting = await run();
    expect(waiting.exitCode, waiting.stderr).toBe(0);
    expect(summaryOf(waiting).waiting).toEqual([expect.objectContaining({ numero: 'D-WAIT', overdue: false })]);
    expect(received('D-WAIT')).toHaveLength(0);
    expect(await db.query(`SELECT 1 FROM deliveries WHERE key LIKE 'status:devis:' || (SELECT id FROM devis WHERE numero = 'D-WAIT') || ':%'`)).toEqual([]);

    const check = async () => {
      const status = await aj(['status', '--json'], { env: { ...env, AUTO_SEND_PDF_WAIT_HOURS: '2' } });
      return JSON.parse(status.stdout).checks.find((c: { name: string }) => c.name === 'auto-send');
    };
    expect((await check()).ok).toBe(true);
    await db.query(`UPDATE auto_send_documents SET first_seen = now() - interval '3 hours' WHERE numero = 'D-WAIT'`);
    const late = await check();
    expect(late.ok).toBe(false);
    expect(late.detail).toContain('devis D-WAIT (envoye)');

    const stillWaiting = await run([], { AUTO_SEND_PDF_WAIT_HOURS: '2' });
    expect(stillWaiting.exitCode, stillWaiting.stderr).toBe(0);
    expect(summaryOf(stillWaiting).waiting).toEqual([expect.objectContaining({ numero: 'D-WAIT', overdue: true })]);
    const text = await aj(['mail', 'auto-send'], { env: { ...env, AUTO_SEND_PDF_WAIT_HOURS: '2' } });
    expect(text.stderr).toMatch(/devis D-WAIT \(envoye\): no archived PDF yet, waiting since .* \(past AUTO_SEND_PDF_WAIT_HOURS/);

    await archive('devis', 'D-WAIT');
    for (let i = 0; i < 2; i++) expect((await run()).exitCode).toBe(0);
    expect(received('D-WAIT')).toHaveLength(1);
    expect((await check()).ok).toBe(true);
  });

  it('a damaged PDF is not sent: exit 4, an alert, the others go; sent once restored', async () => {
    const { stored } = await archive('facture', 'FA-BAD');
    await facture('FA-BAD', 'envoyee');
    await facture('FA-GOOD', 'envoyee');
    await archive('facture', 'FA-GOOD');
    const good = flipByte(stored);

    const r = await run([], { ALERT_EMAIL: 'admin@art-et-jardin.fr' });
    expect(r.exitCode, r.stderr).toBe(4);
    expect(r.stderr).toMatch(/archived PDF\(s\) damaged in storage, not sent: facture FA-BAD/);
    expect(summaryOf(r).damaged).toEqual([expect.objectContaining({ numero: 'FA-BAD', error: expect.stringMatching(/is damaged in storage: SHA-256/) })]);
    expect(received('FA-BAD')).toHaveLength(0);
    expect(received('FA-GOOD')).toHaveLength(1);
    expect(smtp.messages.filter((m) => m.to.includes('admin@art-et-jardin.fr'))).toHaveLength(1);
    const [job] = await db.query(`SELECT status, exit_code FROM job_runs WHERE job = 'auto-send' ORDER BY id DESC LIMIT 1`);
    expect(job).toEqual({ status: 'failed', exit_code: 4 });

    writeFileSync(stored, good);
    const restored = await run();
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect(received('FA-BAD')).toHaveLength(1);
  });

  it('two runs at once send each document once', async () => {
    const numeros = Array.from({ length: 6 }, (_, i) => `FA-PAIR-${i}`);
    for (const n of numeros) {
      await facture(n, 'brouillon');
      await archive('facture', n);
    }
    await db.query(`UPDATE factures SET statut = 'envoyee' WHERE numero LIKE 'FA-PAIR-%'`);
    const [a, b] = await Promise.all([run(), run()]);
    expect([a.exitCode, b.exitCode].sort(), `${a.stderr}\n${b.stderr}`).toSatisfy((codes: number[]) => codes[0] === 0 && [0, 75].includes(codes[1]!));
    const after = await run();
    expect(after.exitCode, after.stderr).toBe(0);
    for (const n of numeros) expect(received(n), n).toHaveLength(1);
  });

  it('a client without an address is reported (a letter or a call) without failing; AUTO_SEND_ENABLED=false sends nothing', async () => {
    await devis('D-NOMAIL', 'envoye', null);
    await archive('devis', 'D-NOMAIL');
    const r = await run();
    expect(r.exitCode, r.stderr).toBe(0);
    expect(summaryOf(r).skipped).toEqual([expect.objectContaining({ numero: 'D-NOMAIL', action: 'letter-or-call' })]);

    await devis('D-OFF', 'envoye');
    await archive('devis', 'D-OFF');
    const off = await aj(['mail', 'auto-send'], { env: { ...env, AUTO_SEND_ENABLED: 'false' } });
    expect(off.exitCode, off.stderr).toBe(0);
    expect(off.stderr).toContain('AUTO_SEND_ENABLED is false');
    expect(received('D-OFF')).toHaveLength(0);
    const [job] = await db.query(`SELECT status FROM job_runs WHERE job = 'auto-send' ORDER BY id DESC LIMIT 1`);
    expect(job!.status).toBe('skipped');
    expect((await run()).exitCode).toBe(0);
    expect(received('D-OFF')).toHaveLength(1);
  });
});

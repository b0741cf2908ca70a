import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MailWorld, archivePdf, flipByte, startMailWorld } from '../helpers/archived-pdf.js';
import { aj, scratchDir } from '../helpers/cli.js';
import type { TestDatabase } from '../helpers/pg.js';
import type { SmtpTestServer } from '../helpers/smtp.js';

// Invoice reminders attach the invoice's archived PDF when there is one, read through the checked read.
const AS_OF = '2026-06-15';
let db: TestDatabase;
let smtp: SmtpTestServer;
let env: Record<string, string>;
let archiveDir: string;

async function facture(numero: string): Promise<void> {
  const [client] = await db.query(`INSERT INTO clients (nom, email) VALUES ('Dupont', $1) RETURNING id`, [`${numero.toLowerCase()}@exemple.fr`]);
  await db.query(
    `INSERT INTO factures (numero, client_id, statut, montant_ttc, date_emission, date_echeance) VALUES ($1, $2, 'envoyee', 980, $3::date - 70, $3::date - 40)`,
    [numero, client!.id, AS_OF],
  );
}

const archive = (numero: string) => archivePdf(env, archiveDir, 'facture', numero);
const received = (numero: string) => smtp.messages.filter((m) => m.to.includes(`${numero.toLowerCase()}@exemple.fr`));
const run = (extra: Record<string, string> = {}) => aj(['reminders', 'run', '--as-of', AS_OF, '--only', 'invoices', '--json'], { env: { ...env, ...extra } });

let world: MailWorld;

beforeAll(async () => {
  world = await startMailWorld('reminders_attach');
  ({ db, smtp, env, archiveDir } = world);
});

afterAll(async () => world?.stop());

describe('invoice reminders with the archived PDF', () => {
  it('attach the intact PDF byte for byte, go without one when none is archived, and stop (exit 4) at a damaged one until it is restored', async () => {
    await facture('FA-PDF');
    await facture('FA-SANS');
    await facture('FA-ABIME');
    const { content } = await archive('FA-PDF');
    const { stored } = await archive('FA-ABIME');
    const good = flipByte(stored);

    const r = await run();
    expect(r.exitCode, r.stderr).toBe(4);
    expect(r.stderr).toContain('1 invoice PDF(s) damaged in storage, their reminder not sent: facture FA-ABIME');
    expect(JSON.parse(r.stdout).damaged).toEqual([expect.objectContaining({ numero: 'FA-ABIME', error: expect.stringMatching(/is damaged in storage: SHA-256/) })]);
    const withPdf = await simpleParser(received('FA-PDF')[0]!.raw);
    expect(withPdf.attachments).toHaveLength(1);
    expect(Buffer.compare(withPdf.attachments[0]!.content, content)).toBe(0);
    expect((await simpleParser(received('FA-SANS')[0]!.raw)).attachments).toEqual([]);
    expect(received('FA-ABIME')).toHaveLength(0);

    writeFileSync(stored, good);
    const again = await run();
    expect(again.exitCode, again.stderr).toBe(0);
    expect(received('FA-ABIME')).toHaveLength(1);
    expect((await simpleParser(received('FA-ABIME')[0]!.raw)).attachments).toHaveLength(1);
    expect(received('FA-PDF')).toHaveLength(1);
  });

  it('attach nothing with REMINDER_ATTACH_PDF=false', async () => {
    await facture('FA-OFF');
    await archive('FA-OFF');
    const r = await run({ REMINDER_ATTACH_PDF: 'false' });
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await simpleParser(received('FA-OFF')[0]!.raw)).attachments).toEqual([]);
  });
});

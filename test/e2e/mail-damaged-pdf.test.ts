import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MailWorld, startMailWorld } from '../helpers/archived-pdf.js';
import { aj, scratchDir } from '../helpers/cli.js';
import type { TestDatabase } from '../helpers/pg.js';
import type { SmtpTestServer } from '../helpers/smtp.js';

// Scenario 6 of issue 13: an archived PDF with one flipped byte is never attached.
let db: TestDatabase;
let smtp: SmtpTestServer;
let env: Record<string, string>;
let archiveDir: string;
const work = scratchDir('mail-damaged');
const pdf = (numero: string) => Buffer.concat([Buffer.from(`%PDF-1.7\n% facture ${numero}\n`), randomBytes(40_000), Buffer.from('\n%%EOF\n')]);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function archivedFacture(numero: string, email: string): Promise<{ content: Buffer; stored: string }> {
  const [client] = await db.query(`INSERT INTO clients (nom, email) VALUES ('Dupont', $1) RETURNING id`, [email]);
  await db.query(`INSERT INTO factures (numero, client_id, statut, montant_ttc) VALUES ($1, $2, 'envoyee', 980)`, [numero, client!.id]);
  const content = pdf(numero);
  writeFileSync(join(work, `${numero}.pdf`), content);
  const put = await aj(['archive', 'put', join(work, `${numero}.pdf`), '--type', 'facture', '--doc-id', numero, '--json'], { env });
  if (put.exitCode !== 0) throw new Error(`archive put failed: ${put.stderr}`);
  return { content, stored: join(archiveDir, JSON.parse(put.stdout).files[0].key) };
}

/** Bit rot behind aj's back: one byte of the stored object flipped, same size. */
function flipByte(path: string): void {
  const bytes = readFileSync(path);
  bytes[bytes.length >> 1] ^= 0x01;
  writeFileSync(path, bytes);
}

const deliveriesFor = async (numero: string) =>
  (await db.query(`SELECT status FROM deliveries WHERE document_id IN (SELECT id::text FROM factures WHERE numero = $1) ORDER BY id`, [numero])).map((d) => d.status);
const rowsFor = (numero: string) => db.query(`SELECT id, status, attachments FROM email_messages WHERE document_id IN (SELECT id::text FROM factures WHERE numero = $1) ORDER BY id`, [numero]);

let world: MailWorld;

beforeAll(async () => {
  world = await startMailWorld('mail_damaged');
  ({ db, smtp, env, archiveDir } = world);
});

afterAll(async () => world?.stop());

describe('mail with an archived PDF that is damaged in storage', () => {
  it('mail send --document refuses it: exit 4, nothing sent, nothing recorded as sent', async () => {
    const { stored } = await archivedFacture('FA-2026-0042', 'client42@exemple.fr');
    flipByte(stored);
    const before = smtp.messages.length;
    const r = await aj(['mail', 'send', '--document', 'facture:FA-2026-0042', '--json'], { env });
    expect(r.exitCode, r.stderr).toBe(4);
    expect(r.stderr).toContain('the archived PDF of facture FA-2026-0042 (version 1)');
    expect(r.stderr).toMatch(/is damaged in storage: SHA-256 .* instead of the recorded .*; nothing was sent/);
    expect(r.stdout).toBe('');
    expect(smtp.messages.length).toBe(before);
    expect((await rowsFor('FA-2026-0042')).filter((m) => m.status === 'sent')).toEqual([]);
    // Refused before the delivery is claimed: nothing is left to settle.
    expect(await deliveriesFor('FA-2026-0042')).toEqual([]);
  });

  it('mail send --document attaches an intact PDF byte for byte and records its SHA-256', async () => {
    const { content } = await archivedFacture('FA-2026-0043', 'client43@exemple.fr');
    const r = await aj(['mail', 'send', '--document', 'facture:FA-2026-0043', '--json'], { env });
    expect(r.exitCode, r.stderr).toBe(0);
    const parsed = await simpleParser(smtp.messages.at(-1)!.raw);
    expect(Buffer.compare(parsed.attachments[0]!.content, content)).toBe(0);
    const [row] = await rowsFor('FA-2026-0043');
    expect(row!.attachments).toEqual([expect.objectContaining({ size: content.length, sha256: sha256(content), source: expect.objectContaining({ kind: 'archive' }) })]);
  });

  it('mail retry re-reads the archived attachment through the same check: damaged since the first attempt, exit 4 and nothing sent', async () => {
    const { stored } = await archivedFacture('FA-2026-0044', 'client44@exemple.fr');
    const failed = await aj(['mail', 'send', '--document', 'facture:FA-2026-0044', '--json'], { env: { ...env, SMTP_URL: 'smtp://127.0.0.1:1' } });
    expect(failed.exitCode, failed.stderr).toBe(1);
    const { id } = JSON.parse(failed.stdout);
    flipByte(stored);
    const before = smtp.messages.length;
    const retry = await aj(['mail', 'retry', String(id)], { env });
    expect(retry.exitCode, retry.stderr).toBe(4);
    expect(retry.stderr).toMatch(/attachment FA-2026-0044\.pdf \(file:\/\/.*\) is damaged in storage/);
    expect(smtp.messages.length).toBe(before);
    expect((await rowsFor('FA-2026-0044')).filter((m) => m.status === 'sent')).toEqual([]);
    // The delivery stays failed (to re-send once the PDF is restored), not sent nor stuck sending.
    expect(await deliveriesFor('FA-2026-0044')).toEqual(['failed']);
  });
});

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archivePdf } from '../helpers/archived-pdf.js';
import { aj, scratchDir } from '../helpers/cli.js';
import { type TestDatabase, createTestDatabase } from '../helpers/pg.js';
import { PRISMA_APP_MAPPING as MAPPING } from '../helpers/prisma-app.js';
import { type SmtpTestServer, startSmtpServer } from '../helpers/smtp.js';

/**
 * aj mail auto-send on a database shaped like the web app's (test/fixtures/prisma-app.sql): enum
 * labels, cuid text ids, DateTime as timestamp(3) in UTC, through a mapping file.
 */
const COMPANY = 'copie@art-et-jardin.fr';
let db: TestDatabase;
let smtp: SmtpTestServer;
let env: Record<string, string>;
let dir: string;

const run = (args: string[] = []) => aj(['mail', 'auto-send', '--json', ...args], { env, cwd: dir });
const received = (email: string) => smtp.messages.filter((m) => m.to.includes(email));

async function client(id: string, email: string): Promise<void> {
  await db.query(`INSERT INTO "Client" ("id", "nom", "prenom", "email", "updatedAt") VALUES ($1, 'Martin', 'Élodie', $2, now())`, [id, email]);
}
const devis = (id: string, numero: string, clientId: string, statut: string, sentUtc: string | null) =>
  db.query(
    `INSERT INTO "Devis" ("id", "numero", "clientId", "statut", "montantHT", "montantTTC", "dateEnvoi", "updatedAt") VALUES ($1, $2, $3, $4::"DevisStatus", 2000, 2400, $5::timestamp, now())`,
    [id, numero, clientId, statut, sentUtc],
  );
const facture = (id: string, numero: string, clientId: string, statut: string, issuedUtc: string) =>
  db.query(
    `INSERT INTO "Facture" ("id", "numero", "clientId", "statut", "montantHT", "montantTTC", "dateEmission", "updatedAt") VALUES ($1, $2, $3, $4::"FactureStatus", 1000, 1200, $5::timestamp, now())`,
    [id, numero, clientId, statut, issuedUtc],
  );

const archive = async (type: string, docId: string) => (await archivePdf(env, join(dir, 'archive'), type, docId, dir)).content;

beforeAll(async () => {
  [db, smtp] = await Promise.all([createTestDatabase('auto_send_app'), startSmtpServer()]);
  await db.query(readFileSync(new URL('../fixtures/prisma-app.sql', import.meta.url), 'utf8'));
  dir = scratchDir('auto-send-app');
  writeFileSync(join(dir, 'aj-schema.json'), JSON.stringify(MAPPING, null, 2));
  env = { DATABASE_URL: db.url, SMTP_URL: smtp.url, COMPANY_BCC_EMAIL: COMPANY, AJ_SCHEMA_FILE: join(dir, 'aj-schema.json'), AJ_DATA_DIR: join(dir, 'data'), ARCHIVE_BUCKET: `file://${join(dir, 'archive')}` };
  const migrate = await aj(['db', 'migrate'], { env, cwd: dir });
  if (migrate.exitCode !== 0) throw new Error(`migrate failed: ${migrate.stderr}`);
});

afterAll(async () => {
  await Promise.all([db?.drop(), smtp?.stop()]);
});

describe("aj mail auto-send on the web app's database", () => {
  it('baseline, --since on a UTC instant read as a Paris day, then each status once with the PDF archived by number or by id', async () => {
    await client('clold0000000000000000000a', 'ancien@exemple.fr');
    await client('clnew0000000000000000000b', 'nouveau@exemple.fr');
    await client('clsig0000000000000000000c', 'signe@exemple.fr');
    // 2026-05-31 22:30 UTC is 1 June in Paris: --since 2026-06-01 takes it.
    await devis('cdevold00000000000000000a', 'D-2026-001', 'clold0000000000000000000a', 'ENVOYE', '2026-05-20 09:00:00');
    await devis('cdevjun00000000000000000b', 'D-2026-002', 'clnew0000000000000000000b', 'ENVOYE', '2026-05-31 22:30:00');
    await facture('cfacold00000000000000000a', 'FA-2026-0001', 'clold0000000000000000000a', 'ENVOYEE', '2026-05-02 10:00:00');
    await archive('devis', 'D-2026-001');
    await archive('devis', 'D-2026-002');
    await archive('facture', 'FA-2026-0001');

    const first = await run(['--since', '2026-06-01']);
    expect(first.exitCode, first.stderr).toBe(0);
    const summary = JSON.parse(first.stdout);
    expect(summary.baseline).toEqual({ documents: 2, since: '2026-06-01' });
    expect(summary.results).toEqual([expect.objectContaining({ numero: 'D-2026-002', documentId: 'cdevjun00000000000000000b', status: 'envoye', outcome: 'sent' })]);
    expect(received('nouveau@exemple.fr')).toHaveLength(1);
    expect(received('ancien@exemple.fr')).toHaveLength(0);

    // A new invoice (PDF archived under the app's id) and a quote signed in person.
    await facture('cfacnew00000000000000000b', 'FA-2026-0002', 'clnew0000000000000000000b', 'BROUILLON', '2026-06-03 08:00:00');
    const invoicePdf = await archive('facture', 'cfacnew00000000000000000b');
    await db.query(`UPDATE "Facture" SET "statut" = 'ENVOYEE', "updatedAt" = now() WHERE "numero" = 'FA-2026-0002'`);
    await devis('cdevsig00000000000000000c', 'D-2026-003', 'clsig0000000000000000000c', 'SIGNE', '2026-06-02 08:00:00');
    await db.query(`UPDATE "Devis" SET "dateSignature" = (now() AT TIME ZONE 'UTC') WHERE "numero" = 'D-2026-003'`);
    await archive('devis', 'D-2026-003');

    const dry = await run(['--dry-run']);
    expect(JSON.parse(dry.stdout).toSend.map((d: { numero: string; status: string }) => `${d.numero} ${d.status}`).sort()).toEqual(['D-2026-003 signe', 'FA-2026-0002 envoyee']);
    for (let i = 0; i < 2; i++) {
      const r = await run();
      expect(r.exitCode, r.stderr).toBe(0);
    }
    expect(received('nouveau@exemple.fr')).toHaveLength(2);
    const invoice = await simpleParser(received('nouveau@exemple.fr')[1]!.raw);
    expect(invoice.subject).toBe('Votre facture n° FA-2026-0002 – Art et Jardin');
    expect(Buffer.compare(invoice.attachments[0]!.content, invoicePdf)).toBe(0);
    const signed = received('signe@exemple.fr');
    expect(signed).toHaveLength(1);
    expect((await simpleParser(signed[0]!.raw)).subject).toBe('Votre devis n° D-2026-003 signé – Art et Jardin');
    expect(smtp.messages.every((m) => m.to.includes(COMPANY))).toBe(true);
    const keys = await db.query(`SELECT key FROM aj.deliveries WHERE key LIKE 'status:%' ORDER BY key`);
    expect(keys.map((k) => k.key)).toEqual(['status:devis:cdevjun00000000000000000b:envoye', 'status:devis:cdevsig00000000000000000c:signe', 'status:facture:cfacnew00000000000000000b:envoyee']);
  });
});

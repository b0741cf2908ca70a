import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { aj, scratchDir } from '../helpers/cli.js';
import { type TestDatabase, createTestDatabase } from '../helpers/pg.js';
import { PRISMA_APP_MAPPING as MAPPING } from '../helpers/prisma-app.js';
import { type SmtpTestServer, startSmtpServer } from '../helpers/smtp.js';

/**
 * aj on a database shaped like the web app's (test/fixtures/prisma-app.sql): Prisma's quoted
 * PascalCase tables, enum labels, text ids without default, "updatedAt" without default and
 * DateTime as timestamp(3) holding UTC. After every command, the app's schema is unchanged.
 */
const COMPANY = 'copie@art-et-jardin.fr';

let db: TestDatabase;
let smtp: SmtpTestServer;
let dir: string;
let env: Record<string, string>;
let appSchema: string;

/** The app's schema as pg_dump prints it: what aj must never change. */
async function dumpAppSchema(url = db.url, schema = 'public'): Promise<string> {
  const r = await execa('pg_dump', ['--schema-only', `--schema=${schema}`, '--no-owner', url]);
  return r.stdout.replace(/^\\(un)?restrict .*$/gm, '');
}

beforeAll(async () => {
  [db, smtp] = await Promise.all([createTestDatabase('app_db'), startSmtpServer()]);
  await db.query(readFileSync(new URL('../fixtures/prisma-app.sql', import.meta.url), 'utf8'));
  dir = scratchDir('app-db');
  writeFileSync(join(dir, 'aj-schema.json'), JSON.stringify(MAPPING, null, 2));
  env = { DATABASE_URL: db.url, SMTP_URL: smtp.url, COMPANY_BCC_EMAIL: COMPANY, AJ_SCHEMA_FILE: join(dir, 'aj-schema.json'), AJ_DATA_DIR: join(dir, 'data') };
  appSchema = await dumpAppSchema();
});

afterAll(async () => {
  await Promise.all([db?.drop(), smtp?.stop()]);
});

beforeEach(async () => {
  await db.query(`TRUNCATE "Facture", "Devis", "Chantier", "Client" CASCADE`);
  await db.query(`DO $$ BEGIN IF to_regclass('aj.reminder_log') IS NOT NULL THEN TRUNCATE aj.reminder_log, aj.email_messages, aj.deliveries CASCADE; END IF; END $$`);
  smtp.messages.length = 0;
});

const cli = (args: string[], extra: Record<string, string | undefined> = {}) => aj(args, { env: { ...env, ...extra }, cwd: dir });

async function expectAppSchemaUnchanged(): Promise<void> {
  expect(await dumpAppSchema()).toBe(appSchema);
}

let seq = 0;
async function client(fields: { email?: string; paused?: boolean; deleted?: boolean; type?: string } = {}): Promise<string> {
  seq += 1;
  const id = `cl${seq}x${Date.now().toString(36)}`;
  await db.query(
    `INSERT INTO "Client" ("id", "nom", "prenom", "email", "type", "relancesSuspendues", "deletedAt", "updatedAt")
     VALUES ($1, $2, 'Élodie', $3, $4, $5, CASE WHEN $6 THEN now() END, now())`,
    [id, `Martin ${seq}`, fields.email ?? `client${seq}@exemple.fr`, fields.type ?? 'PARTICULIER', fields.paused ?? false, fields.deleted ?? false],
  );
  return id;
}

/** An invoice due at a stored UTC instant (what Prisma writes for a DateTime). */
async function facture(clientId: string, numero: string, dueUtc: string, statut = 'ENVOYEE'): Promise<string> {
  const id = `fa${numero.toLowerCase().replace(/[^a-z0-9]/g, '')}`;
  await db.query(
    `INSERT INTO "Facture" ("id", "numero", "clientId", "statut", "montantHT", "montantTTC", "dateEmission", "dateEcheance", "updatedAt")
     VALUES ($1, $2, $3, $4::"FactureStatus", 1000, 1200, $5::timestamp - interval '30 days', $5::timestamp, now())`,
    [id, numero, clientId, statut, dueUtc],
  );
  return id;
}

const plan = async (asOf: string) => {
  const r = await cli(['reminders', 'run', '--dry-run', '--as-of', asOf, '--json']);
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout).plan;
};

describe("aj on the web app's database", () => {
  it('refuses business commands without a mapping (exit 3, naming aj schema detect), and touches nothing of the app', async () => {
    const noMapping = { AJ_SCHEMA_FILE: undefined };
    const reminders = await cli(['reminders', 'run', '--dry-run', '--as-of', '2026-06-02'], noMapping);
    expect(reminders.exitCode).toBe(3);
    expect(reminders.stderr).toContain('aj schema detect --write');
    expect(reminders.stderr).toContain('Client');
    writeFileSync(join(dir, 'clients.csv'), 'Nom;Email\nDupont;d@exemple.fr\n');
    const imported = await cli(['import', 'csv', 'clients.csv', '--entity', 'clients'], noMapping);
    expect(imported.exitCode).toBe(3);
    expect(imported.stdout).toBe('');
    expect((await db.query(`SELECT count(*)::int AS n FROM "Client"`))[0]!.n).toBe(0);
    await expectAppSchemaUnchanged();
  });

  it('reminds an invoice due at 22:00 UTC on the next Paris day, once, with the app labels and text ids', async () => {
    const c = await client();
    // 2 May 22:00 UTC is 3 May 00:00 in Paris: due 3 May, so +30 days is 2 June.
    const id = await facture(c, 'FA-2026-0042', '2026-05-02 22:00:00');
    await facture(c, 'FA-2026-0043', '2026-05-02 21:59:59.999'); // still 2 May in Paris: due on 1 June
    await facture(c, 'FA-PAYEE', '2026-04-01 10:00:00', 'PAYEE');
    await facture(await client({ paused: true }), 'FA-PAUSE', '2026-04-01 10:00:00');
    await facture(await client({ deleted: true }), 'FA-SUPPR', '2026-04-01 10:00:00');

    expect((await plan('2026-06-01')).reminders.map((r: { numero: string }) => r.numero)).toEqual(['FA-2026-0043']);
    const due = (await plan('2026-06-02')).reminders;
    expect(due.map((r: { numero: string }) => r.numero)).toEqual(['FA-2026-0043', 'FA-2026-0042']);
    expect(due[1]).toMatchObject({ documentId: id, referenceDate: '2026-05-03', dueSince: '2026-06-02', daysLate: 30, level: 'relance-1', clientId: c, amount: '1200.00' });

    const sent = await cli(['reminders', 'run', '--as-of', '2026-06-02', '--json']);
    expect(sent.exitCode, sent.stderr).toBe(0);
    expect(JSON.parse(sent.stdout)).toMatchObject({ sent: 2, failed: 0 });
    expect(smtp.messages).toHaveLength(2);
    const mail = await simpleParser(smtp.messages.find((m) => m.raw.includes('FA-2026-0042'))!.raw);
    expect(mail.text).toContain('03/05/2026');
    expect(await db.query(`SELECT document_id, level, status FROM aj.reminder_log WHERE document_id = $1`, [id])).toEqual([{ document_id: id, level: 'relance-1', status: 'sent' }]);
    const again = await cli(['reminders', 'run', '--as-of', '2026-06-02', '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ sent: 0 });
    expect(smtp.messages).toHaveLength(2);
    const list = await cli(['reminders', 'list', '--document', id, '--json']);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ numero: 'FA-2026-0042', documentId: id, status: 'sent' })]);
    const history = await cli(['mail', 'history', '--document', 'facture:FA-2026-0042', '--json']);
    expect(JSON.parse(history.stdout)).toEqual([expect.objectContaining({ purpose: 'reminder', key: `reminder:facture:${id}:relance-1`, document: 'facture FA-2026-0042', status: 'sent', attempts: 1 })]);
    await expectAppSchemaUnchanged();
  });

  it('counts days across the daylight-saving changes in Paris', async () => {
    const c = await client();
    // Paris midnight of 29 March 2026 (CET, the night clocks go forward) and of 26 October (CET again, after they go back).
    await facture(c, 'FA-MARS', '2026-03-28 23:00:00');
    await facture(c, 'FA-OCT', '2026-10-25 23:00:00');
    // 28 March 22:59:59 UTC is still 28 March 23:59:59 in Paris.
    await facture(c, 'FA-VEILLE', '2026-03-28 22:59:59');
    expect((await plan('2026-04-27')).reminders.map((r: { numero: string }) => r.numero)).toEqual(['FA-VEILLE']);
    expect((await plan('2026-04-28')).reminders.map((r: { numero: string; referenceDate: string }) => `${r.numero}:${r.referenceDate}`)).toEqual(['FA-VEILLE:2026-03-28', 'FA-MARS:2026-03-29']);
    expect((await plan('2026-11-25')).reminders.find((r: { numero: string }) => r.numero === 'FA-OCT')).toMatchObject({ referenceDate: '2026-10-26', dueSince: '2026-11-25' });
  });

  it('expires quotes past their validity in the app enum, sets updatedAt, and reminds unsigned ones', async () => {
    const c = await client();
    const insert = `INSERT INTO "Devis" ("id", "numero", "clientId", "statut", "montantHT", "montantTTC", "dateEnvoi", "dateValidite", "updatedAt")
                    VALUES ($1, $2, $3, 'ENVOYE', 500, 600, $4::timestamp, $5::timestamp, '2026-01-01 00:00:00')`;
    // Valid until 1 June in Paris (31 May 22:00 UTC): expires on 2 June, not on 1 June.
    await db.query(insert, ['dv1', 'DE-2026-0007', c, '2026-05-01 09:00:00', '2026-05-31 22:00:00']);
    // Sent 25 May at 23:30 Paris time (21:30 UTC): reminded 15 days after 25 May.
    await db.query(insert, ['dv2', 'DE-2026-0008', c, '2026-05-25 21:30:00', '2026-07-01 22:00:00']);
    const first = await cli(['reminders', 'run', '--as-of', '2026-06-01', '--json']);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ expired: 0, sent: 1, results: [expect.objectContaining({ numero: 'DE-2026-0007' })] });
    expect((await plan('2026-06-09')).reminders.map((r: { numero: string; dueSince: string }) => `${r.numero}:${r.dueSince}`)).toEqual(['DE-2026-0008:2026-06-09']);

    const r = await cli(['reminders', 'run', '--as-of', '2026-06-02', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ expired: 1, sent: 0 });
    const rows = await db.query(`SELECT "id", "statut"::text AS statut, "updatedAt" > '2026-01-01' AS touched,
                                        abs(extract(epoch FROM "updatedAt" - (now() AT TIME ZONE 'UTC'))) < 120 AS utc FROM "Devis" ORDER BY "id"`);
    expect(rows).toEqual([
      { id: 'dv1', statut: 'EXPIRE', touched: true, utc: true },
      { id: 'dv2', statut: 'ENVOYE', touched: false, utc: false },
    ]);
    expect(await db.query(`SELECT document_id, level, status FROM aj.reminder_log ORDER BY level`)).toEqual([
      { document_id: 'dv1', level: 'expiration', status: 'done' },
      { document_id: 'dv1', level: 'relance', status: 'sent' },
    ]);
    await expectAppSchemaUnchanged();
  });

  it('imports clients and chantiers into the app tables: generated ids, updatedAt set, enum labels, Paris dates as UTC instants', async () => {
    writeFileSync(
      join(dir, 'clients.csv'),
      'Référence;Nom;Prénom;Raison sociale;Email;Code postal\nCL-1;Dupont;Jean;;jean@exemple.fr;07100\nCL-2;Durand;;Paysages SARL;contact@paysages.fr;69001\n',
    );
    const r = await cli(['import', 'csv', 'clients.csv', '--entity', 'clients', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ inserted: 2, status: 'succeeded' });
    const clients = await db.query(`SELECT "id", "reference", "type"::text AS type, "codePostal", "updatedAt" IS NOT NULL AS stamped FROM "Client" ORDER BY "reference"`);
    expect(clients).toEqual([
      { id: expect.stringMatching(/^c[0-9a-f]{24}$/), reference: 'CL-1', type: 'PARTICULIER', codePostal: '07100', stamped: true },
      { id: expect.stringMatching(/^c[0-9a-f]{24}$/), reference: 'CL-2', type: 'PROFESSIONNEL', codePostal: '69001', stamped: true },
    ]);

    await db.query(`UPDATE "Client" SET "updatedAt" = '2026-01-01'`);
    writeFileSync(join(dir, 'clients2.csv'), 'Référence;Nom;Email\nCL-1;Dupont;jean.dupont@exemple.fr\nCL-2;Durand;contact@paysages.fr\n');
    const update = await cli(['import', 'csv', 'clients2.csv', '--entity', 'clients', '--json']);
    expect(JSON.parse(update.stdout)).toMatchObject({ inserted: 0, updated: 1, unchanged: 1 });
    expect(await db.query(`SELECT "reference", "email", "updatedAt" > '2026-01-01' AS touched FROM "Client" ORDER BY "reference"`)).toEqual([
      { reference: 'CL-1', email: 'jean.dupont@exemple.fr', touched: true },
      { reference: 'CL-2', email: 'contact@paysages.fr', touched: false },
    ]);

    writeFileSync(join(dir, 'chantiers.csv'), 'Référence;Client;Nom;Statut;Date début\nCH-1;CL-1;Haie;en cours;15/06/2026\nCH-2;contact@paysages.fr;Pelouse;;\n');
    const ch = await cli(['import', 'csv', 'chantiers.csv', '--entity', 'chantiers', '--json']);
    expect(ch.exitCode, ch.stderr).toBe(0);
    const chantiers = await db.query(
      `SELECT ch."reference", cl."reference" AS client, ch."statut"::text AS statut, ch."dateDebut"::text AS debut, ch."id" ~ '^c[0-9a-f]{24}$' AS cuid
         FROM "Chantier" ch JOIN "Client" cl ON cl."id" = ch."clientId" ORDER BY 1`,
    );
    expect(chantiers).toEqual([
      // 15 June 00:00 in Paris (CEST) is 14 June 22:00 UTC.
      { reference: 'CH-1', client: 'CL-1', statut: 'EN_COURS', debut: '2026-06-14 22:00:00', cuid: true },
      { reference: 'CH-2', client: 'CL-2', statut: 'PLANIFIE', debut: null, cuid: true },
    ]);
    await expectAppSchemaUnchanged();
  });

  it('sends the archived PDF of an invoice found by its numero to its client', async () => {
    const c = await client({ email: 'elodie@exemple.fr' });
    const id = await facture(c, 'FA-2026-0050', '2026-05-02 22:00:00');
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(2000, 7), Buffer.from('\n%%EOF\n')]);
    writeFileSync(join(dir, 'FA-2026-0050.pdf'), pdf);
    const put = await cli(['archive', 'put', 'FA-2026-0050.pdf', '--type', 'facture', '--doc-id', 'FA-2026-0050']);
    expect(put.exitCode, put.stderr).toBe(0);
    const r = await cli(['mail', 'send', '--document', 'facture:FA-2026-0050', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(smtp.messages.at(-1)!.to).toEqual(['elodie@exemple.fr', COMPANY]);
    const parsed = await simpleParser(smtp.messages.at(-1)!.raw);
    expect(Buffer.compare(parsed.attachments[0]!.content, pdf)).toBe(0);
    const history = await cli(['mail', 'history', '--document', `facture:${id}`, '--json']);
    expect(JSON.parse(history.stdout)).toHaveLength(1);
    await expectAppSchemaUnchanged();
  });
});

describe('aj on another shape of app: English snake_case tables, identity ids, date and timestamptz columns, CHECK labels', () => {
  let shop: TestDatabase;
  beforeAll(async () => {
    shop = await createTestDatabase('app_shop');
    await shop.query(`
      CREATE SCHEMA shop;
      CREATE TABLE shop.customers (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, code text UNIQUE,
        kind text NOT NULL DEFAULT 'individual' CHECK (kind IN ('individual', 'company')), name text NOT NULL, company_name text,
        email text, created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
      CREATE TABLE shop.quotes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, number text NOT NULL UNIQUE,
        customer_id integer NOT NULL REFERENCES shop.customers (id),
        status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'sent', 'accepted', 'rejected', 'expired')),
        total_ttc numeric(12,2) NOT NULL, issue_date date NOT NULL, sent_at timestamptz, valid_until date);
      CREATE TABLE shop.invoices (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, number text NOT NULL UNIQUE,
        customer_id integer NOT NULL REFERENCES shop.customers (id),
        status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'sent', 'paid', 'cancelled')),
        total_ttc numeric(12,2) NOT NULL, issue_date date NOT NULL, due_date date, paid_at timestamptz);
      CREATE TABLE shop.worksites (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, code text UNIQUE,
        customer_id integer NOT NULL REFERENCES shop.customers (id), name text NOT NULL, start_date date);
      INSERT INTO shop.customers (code, name, email) VALUES ('C-1', 'Durand', 'durand@exemple.fr');
      INSERT INTO shop.invoices (number, customer_id, status, total_ttc, issue_date, due_date) VALUES
        ('INV-1', 1, 'sent', 99.5, '2026-04-01', '2026-05-01'), ('INV-2', 1, 'paid', 10, '2026-04-01', '2026-05-01');
      -- Sent 1 May at 23:30 in Paris: the quote counts from 1 May.
      INSERT INTO shop.quotes (number, customer_id, status, total_ttc, issue_date, sent_at, valid_until) VALUES
        ('Q-1', 1, 'sent', 500, '2026-04-30', '2026-05-01 21:30:00+00', '2026-05-20');`);
  });
  afterAll(async () => shop?.drop());

  it('detects, checks, then reminds, expires and imports with the app\'s own labels and ids', async () => {
    const shopEnv = { ...env, DATABASE_URL: `${shop.url}?schema=shop`, AJ_SCHEMA_FILE: join(dir, 'shop.json') };
    const run = (args: string[]) => aj(args, { env: shopEnv, cwd: dir });
    const before = await dumpAppSchema(shop.url, 'shop');
    const detect = await run(['schema', 'detect', '--write', join(dir, 'shop.json'), '--force']);
    expect(detect.exitCode, detect.stderr).toBe(0);
    expect((await run(['schema', 'check'])).exitCode).toBe(0);

    const dry = await run(['reminders', 'run', '--dry-run', '--as-of', '2026-05-31', '--json']);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).plan).toMatchObject({
      reminders: [{ numero: 'INV-1', documentId: '1', level: 'relance-1', referenceDate: '2026-05-01', amount: '99.50' }],
      expiring: [{ numero: 'Q-1', validUntil: '2026-05-20' }],
    });
    const sent = await run(['reminders', 'run', '--as-of', '2026-05-31', '--json']);
    expect(sent.exitCode, sent.stderr).toBe(0);
    expect(JSON.parse(sent.stdout)).toMatchObject({ sent: 1, expired: 1 });
    expect(await shop.query(`SELECT status FROM shop.quotes`)).toEqual([{ status: 'expired' }]);

    writeFileSync(join(dir, 'customers.csv'), 'Référence;Nom;Raison sociale;Email\nC-1;Durand;;durand@exemple.fr\nC-2;Petit;Jardins Petit;petit@exemple.fr\n');
    const imported = await run(['import', 'csv', 'customers.csv', '--entity', 'clients', '--json']);
    expect(imported.exitCode, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ inserted: 1, unchanged: 1 });
    expect(await shop.query(`SELECT id, code, kind FROM shop.customers ORDER BY id`)).toEqual([
      { id: 1, code: 'C-1', kind: 'individual' },
      { id: 2, code: 'C-2', kind: 'company' },
    ]);
    expect(await dumpAppSchema(shop.url, 'shop')).toBe(before);
  });
});

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { aj, scratchDir } from '../helpers/cli.js';
import { type TestDatabase, createTestDatabase } from '../helpers/pg.js';

let db: TestDatabase;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  db = await createTestDatabase('import');
  dir = scratchDir('import');
  env = { DATABASE_URL: db.url };
  const migrate = await aj(['db', 'migrate'], { env });
  expect(migrate.exitCode, migrate.stderr).toBe(0);
});
afterAll(async () => db?.drop());
beforeEach(async () => {
  await db.query('TRUNCATE clients, chantiers, import_runs RESTART IDENTITY CASCADE');
});

function fixture(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const importCsv = (file: string, ...args: string[]) => aj(['import', 'csv', file, ...args], { env, cwd: dir });
const clients = () => db.query('SELECT reference, type, nom, prenom, raison_sociale, email, telephone, adresse, code_postal, ville, siret FROM clients ORDER BY id');

describe('aj import csv --entity clients', () => {
  it('reads Windows-1252 with French headers, odd spacing, leading-zero postal codes and phones in several forms', async () => {
    const text = [
      ' Référence ;NOM;Prénom; E-mail ;Téléphone;Adresse;Code  Postal;Ville;Raison sociale;SIRET',
      'C1;Lœuvre;Zoé;zoe@exemple.fr;01 23 45 67 89;3 rue de l’Église;01000;Bourg-en-Bresse;;',
      'C2;Dupont;;;+33 (0)6 12 34 56 78;place du Marché;1000;Bourg-en-Bresse;Jardins & Cœur, 5 € le m²;732 829 320 00074',
      'C3;Martin;Noël;noel@exemple.fr;06.12.34.56.79;;09100;Pamiers;;',
    ].join('\r\n');
    const file = fixture('cp1252.csv', iconv.encode(`${text}\r\n`, 'windows-1252'));
    const result = await importCsv(file, '--entity', 'clients', '--json');
    expect(result.exitCode, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({ encoding: 'windows-1252', delimiter: ';', read: 3, inserted: 3, invalid: 0, status: 'succeeded' });
    expect(await clients()).toEqual([
      { reference: 'C1', type: 'particulier', nom: 'Lœuvre', prenom: 'Zoé', raison_sociale: null, email: 'zoe@exemple.fr', telephone: '+33123456789', adresse: '3 rue de l’Église', code_postal: '01000', ville: 'Bourg-en-Bresse', siret: null },
      { reference: 'C2', type: 'professionnel', nom: 'Dupont', prenom: null, raison_sociale: 'Jardins & Cœur, 5 € le m²', email: null, telephone: '+33612345678', adresse: 'place du Marché', code_postal: '01000', ville: 'Bourg-en-Bresse', siret: '73282932000074' },
      { reference: 'C3', type: 'particulier', nom: 'Martin', prenom: 'Noël', raison_sociale: null, email: 'noel@exemple.fr', telephone: '+33612345679', adresse: null, code_postal: '09100', ville: 'Pamiers', siret: null },
    ]);
    const [run] = await db.query('SELECT entity, file_name, file_sha256, status, rows_read, inserted, run_by FROM import_runs');
    expect(run).toMatchObject({ entity: 'clients', file_name: 'cp1252.csv', status: 'succeeded', rows_read: 3, inserted: 3 });
    expect(run!.file_sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reads UTF-8 with a BOM, commas, and quoted cells holding delimiters, quotes and newlines', async () => {
    const text = 'Reference,Name,Email,Address\n"R1","Durand","a@exemple.fr","12, rue ""Les Tilleuls""\nBâtiment B"\nR2,Petit,b@exemple.fr,"Lieu-dit\r\nLa Combe"\n';
    const file = fixture('bom.csv', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]));
    const result = await importCsv(file, '--entity', 'clients');
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain('2 inserted');
    const rows = await clients();
    expect(rows.map((r) => [r.reference, r.adresse])).toEqual([['R1', '12, rue "Les Tilleuls"\nBâtiment B'], ['R2', 'Lieu-dit\r\nLa Combe']]);
  });

  it('reads tab- and pipe-separated files, from standard input too', async () => {
    const tab = await importCsv(fixture('tab.tsv', 'Ref\tNom\tTel\nT1\tBlanc\t0612345678\n'), '--entity', 'clients');
    expect(tab.exitCode, tab.stderr).toBe(0);
    const pipe = await aj(['import', 'csv', '-', '--entity', 'clients', '--json'], { env, cwd: dir, input: 'Ref|Nom|CP\nP1|Roux|75011\n' });
    expect(pipe.exitCode, pipe.stderr).toBe(0);
    expect(JSON.parse(pipe.stdout)).toMatchObject({ delimiter: '|', file: '(stdin)', inserted: 1 });
    expect((await clients()).map((r) => r.reference)).toEqual(['T1', 'P1']);
  });

  it("reads Excel's Texte Unicode export (UTF-16 with a BOM, tab-separated, CRLF, empty trailing row)", async () => {
    const text = 'Référence\tNom\tPrénom\tE-mail\tCode postal\tVille\r\nU1\tLœuvre\tZoé\tzoe@exemple.fr\t1000\tBourg-en-Bresse\r\nU2\tN’Diaye\tAïssata\taissata@exemple.fr\t75011\tParis\r\n\t\t\t\t\t\r\n';
    const file = fixture('Clients (Texte Unicode).txt', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
    const result = await importCsv(file, '--entity', 'clients', '--json');
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ encoding: 'utf-16le', delimiter: '\t', read: 2, inserted: 2, invalid: 0 });
    expect((await clients()).map((c) => [c.reference, c.nom, c.prenom, c.code_postal])).toEqual([['U1', 'Lœuvre', 'Zoé', '01000'], ['U2', 'N’Diaye', 'Aïssata', '75011']]);
  });

  it('honours a sep=; first line, and counts file lines from it in problem reports', async () => {
    const file = fixture('sep.csv', 'sep=;\r\nRéférence;Nom;E-mail\r\nS1;Martin;m@exemple.fr\r\nS2;Petit;pas-un-email\r\n');
    const result = await importCsv(file, '--entity', 'clients');
    expect(result.exitCode).toBe(4);
    expect(result.stderr).toMatch(/line 4\b/);
    const ok = fixture('sep-ok.csv', 'sep=;\r\nRéférence;Nom;E-mail\r\nS1;Martin;m@exemple.fr\r\n');
    const imported = await importCsv(ok, '--entity', 'clients', '--json');
    expect(imported.exitCode, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ delimiter: ';', read: 1, inserted: 1 });
  });

  it('writes nothing when one row among many is invalid, and reports every problem safely for Excel', async () => {
    const lines = ['Référence;Nom;Email;SIRET;Code postal'];
    for (let i = 1; i <= 200; i += 1) lines.push(`B${i};Client ${i};c${i}@exemple.fr;;75011`);
    lines[120] = 'B120;=HYPERLINK("http://evil");pas-un-email;73282932000075;750';
    const file = fixture('one-bad.csv', lines.join('\n'));
    const report = join(dir, 'problemes.csv');
    const result = await importCsv(file, '--entity', 'clients', '--report', report);
    expect(result.exitCode).toBe(4);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('line 121, SIRET: invalid SIRET (check digit)');
    expect(result.stderr).toContain('1 invalid row(s) out of 200: nothing was imported');
    expect(await clients()).toEqual([]);
    const reportText = readFileSync(report, 'utf8');
    expect(reportText.startsWith('\uFEFFligne;colonne;valeur;problème')).toBe(true);
    expect(reportText).toContain('121;Email;pas-un-email;not a valid email address');
    expect(reportText).toContain('121;Code postal;750;a French postal code has 5 digits');
    const [run] = await db.query('SELECT status, invalid, inserted FROM import_runs');
    expect(run).toEqual({ status: 'invalid', invalid: 1, inserted: 0 });
  });

  it('neutralises a formula cell in the report', async () => {
    const file = fixture('formula.csv', 'Ref;Nom;Email\nF1;Nom;=1+1\n');
    const report = join(dir, 'formula-report.csv');
    const result = await importCsv(file, '--entity', 'clients', '--report', report);
    expect(result.exitCode).toBe(4);
    expect(readFileSync(report, 'utf8')).toContain("2;Email;'=1+1;not a valid email address");
  });

  it('imports the valid rows with --skip-invalid and reports the rest', async () => {
    const file = fixture('skip.csv', 'Ref;Nom;Tel\nS1;Un;0612345678\nS2;Deux;12\nS3;;0612345678\nS4;Quatre;\n');
    const result = await importCsv(file, '--entity', 'clients', '--skip-invalid', '--json');
    expect(result.exitCode, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({ read: 4, inserted: 2, invalid: 2, problemCount: 2 });
    expect(summary.problems.map((p: { line: number; column: string }) => [p.line, p.column])).toEqual([[3, 'Tel'], [4, 'Nom']]);
    expect((await clients()).map((r) => r.reference)).toEqual(['S1', 'S4']);
  });

  it('refuses duplicates inside the file, naming both lines', async () => {
    const file = fixture('dups.csv', 'Ref;Nom;Email\nD1;Un;un@exemple.fr\nD2;Deux;\nD1;Encore;\n;Sans ref;UN@exemple.fr\n;Sans ref bis;un@EXEMPLE.fr\n');
    const result = await importCsv(file, '--entity', 'clients');
    expect(result.exitCode).toBe(4);
    expect(result.stderr).toContain('line 4, reference: duplicate: line 4 repeats line 2');
    expect(result.stderr).toContain('line 6, email: duplicate: line 6 repeats line 5');
    expect(await clients()).toEqual([]);
  });

  it('updates existing clients by reference, else by email; skip and error modes; re-import changes nothing', async () => {
    await db.query(`INSERT INTO clients (reference, nom, email, ville) VALUES ('U1', 'Ancien', 'u1@exemple.fr', 'Lyon'), (NULL, 'Sans ref', 'Web@Exemple.fr', 'Nice')`);
    const file = fixture('upsert.csv', 'Ref;Nom;Email;Ville\nU1;Nouveau;u1@exemple.fr;\nU2;Web;web@exemple.fr;Nice\nU3;Neuf;u3@exemple.fr;Paris\n');

    const error = await importCsv(file, '--entity', 'clients', '--on-conflict', 'error');
    expect(error.exitCode).toBe(4);
    expect(error.stderr).toContain('already exists as client #1');

    const dry = await importCsv(file, '--entity', 'clients', '--dry-run', '--json');
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, inserted: 1, updated: 2 });
    expect(await db.query('SELECT count(*)::int AS n FROM clients')).toEqual([{ n: 2 }]);

    const skip = await importCsv(file, '--entity', 'clients', '--on-conflict', 'skip', '--json');
    expect(JSON.parse(skip.stdout)).toMatchObject({ inserted: 1, updated: 0, skipped: 2 });
    await db.query(`DELETE FROM clients WHERE reference = 'U3'`);

    const update = await importCsv(file, '--entity', 'clients', '--json');
    expect(update.exitCode, update.stderr).toBe(0);
    expect(JSON.parse(update.stdout)).toMatchObject({ inserted: 1, updated: 2 });
    expect(await db.query('SELECT id::int, reference, nom, email, ville FROM clients ORDER BY id')).toEqual([
      { id: 1, reference: 'U1', nom: 'Nouveau', email: 'u1@exemple.fr', ville: 'Lyon' },
      { id: 2, reference: 'U2', nom: 'Web', email: 'web@exemple.fr', ville: 'Nice' },
      { id: 5, reference: 'U3', nom: 'Neuf', email: 'u3@exemple.fr', ville: 'Paris' },
    ]);

    const again = await importCsv(file, '--entity', 'clients', '--json');
    expect(again.exitCode, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ inserted: 0, updated: 0, unchanged: 3, previousImport: { runId: 4 } });
    const text = await importCsv(file, '--entity', 'clients');
    expect(text.stderr).toContain('this file was already imported');
  });

  it('gives one clear error, and writes nothing, for unusable files', async () => {
    const cases: Array<[string, string | Buffer, RegExp]> = [
      ['empty.csv', '', /the file is empty/],
      ['header-only.csv', 'Ref;Nom;Email\r\n', /header row but no data rows/],
      ['binary.csv', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00]), /binary file/],
      ['truncated.csv', 'Ref;Nom;Adresse\nX1;Nom;"12 rue\nX2;Nom;rue\n', /quoted cell is never closed/],
      ['no-name.csv', 'Ref;Email\nX1;a@exemple.fr\n', /missing required column\(s\) for clients: nom or raison_sociale/],
      ['nul-late.csv', Buffer.concat([Buffer.from(`Ref;Nom\n${'R;N\n'.repeat(30000)}`), Buffer.from([0x58, 0x00, 0x0a])]), /^aj: line 30002 \(byte 120009\): a NUL byte/],
      ['wide.csv', `Ref;Nom;${Array.from({ length: 600 }, (_, i) => `c${i}`).join(';')}\nX1;Nom\n`, /line 1 has 602 columns, over the limit of 500/],
      ['huge-cell.csv', `Ref;Nom\nX1;"${'a'.repeat(1_100_000)}"\n`, /a record of over 1 MiB \(at line 2\)/],
    ];
    for (const [name, content, message] of cases) {
      const result = await importCsv(fixture(name, content), '--entity', 'clients');
      expect(result.exitCode, `${name}: ${result.stderr}`).toBe(4);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stdout).toBe('');
    }
    expect(await clients()).toEqual([]);
  });

  it('refuses UTF-16 read as bytes in one line naming --encoding, and never prints a control character of the file', async () => {
    const unicode = Buffer.from('Référence\tNom\tE-mail\r\nU1\tLœuvre\tzoe@exemple.fr\r\n', 'utf16le');
    const withBom = fixture('unicode.txt', Buffer.concat([Buffer.from([0xff, 0xfe]), unicode]));
    const latin1 = await importCsv(withBom, '--entity', 'clients', '--encoding', 'latin1');
    expect(latin1.exitCode).toBe(4);
    expect(latin1.stderr).toBe(`aj: ${withBom} looks like UTF-16 (Excel "Unicode text"), not latin1 (use --encoding utf16le or save it as "CSV UTF-8")`);
    const noBom = fixture('unicode-no-bom.txt', unicode);
    const guessed = await importCsv(noBom, '--entity', 'clients');
    expect(guessed.exitCode).toBe(4);
    expect(guessed.stderr).toBe(`aj: ${noBom} looks like UTF-16 (Excel "Unicode text") (use --encoding utf16le or save it as "CSV UTF-8")`);
    expect(await clients()).toEqual([]);
    const told = await importCsv(noBom, '--entity', 'clients', '--encoding', 'utf16le', '--json');
    expect(told.exitCode, told.stderr).toBe(0);
    expect(JSON.parse(told.stdout)).toMatchObject({ encoding: 'utf-16le', delimiter: '\t', inserted: 1 });

    const controls = fixture('controls.csv', 'Ref;Nom;Email\nC1;Nom;a\u0001b\u001b[31m@exemple\n');
    const refused = await importCsv(controls, '--entity', 'clients');
    expect(refused.exitCode).toBe(4);
    expect(refused.stderr).toContain('line 2, Email: not a valid email address ("a\\x01b\\x1b[31m@exemple")');
    expect(refused.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
  });
});

describe('aj import csv, detection overrides and the job lock', () => {
  it('names --encoding when Windows-1252 bytes come after an all-ASCII start, and --encoding fixes it', async () => {
    const rows = Array.from({ length: 4000 }, (_, i) => `A${i};Nom ${i};ascii${i}@exemple.fr`);
    const content = Buffer.concat([Buffer.from(`Ref;Nom;Email\n${rows.join('\n')}\n`), iconv.encode('A9999;Hélène;helene@exemple.fr\n', 'windows-1252')]);
    const file = fixture('late-accent.csv', content);
    const detected = await importCsv(file, '--entity', 'clients');
    expect(detected.exitCode).toBe(4);
    expect(detected.stderr).toMatch(/^aj: line 4002 \(byte \d+\) is not UTF-8, though the file starts as UTF-8: it mixes two encodings \(pass --encoding windows-1252/);
    expect(detected.stderr.trim().split('\n')).toHaveLength(1);
    const forced = await importCsv(file, '--entity', 'clients', '--encoding', 'windows-1252', '--json');
    expect(forced.exitCode, forced.stderr).toBe(0);
    expect(await db.query(`SELECT nom FROM clients WHERE reference = 'A9999'`)).toEqual([{ nom: 'Hélène' }]);
  });

  it('refuses a chantiers file imported as clients, and the reverse, naming the right --entity (exit 2, nothing written)', async () => {
    const chantiers = await importCsv(fixture('chantiers-as-clients.csv', 'Référence;Client;Nom;Statut;Date début\nCH-1;CL-1;Haie;prévu;01/06/2026\n'), '--entity', 'clients');
    expect(chantiers.exitCode).toBe(2);
    expect(chantiers.stderr).toBe('aj: this looks like a chantiers file, not clients: its columns "Client", "Statut", "Date début" are chantiers columns (import it with --entity chantiers, or ignore those columns with --map "Client=-")');
    const clientsFile = await importCsv(fixture('clients-as-chantiers.csv', 'Référence;Nom;Prénom;Email;Client\nCL-9;Dupont;Jean;j@exemple.fr;CL-1\n'), '--entity', 'chantiers');
    expect(clientsFile.exitCode).toBe(2);
    expect(clientsFile.stderr).toContain('--entity clients');
    expect(await db.query(`SELECT count(*)::int AS n FROM clients WHERE reference IN ('CH-1', 'CL-9')`)).toEqual([{ n: 0 }]);
  });

  it('exits 75 while another import holds the lock', async () => {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query(`SELECT pg_advisory_lock(${0x616a6a62}, hashtext('import'))`);
      const result = await importCsv(fixture('locked.csv', 'Ref;Nom\nL1;Un\n'), '--entity', 'clients');
      expect(result.exitCode).toBe(75);
      expect(result.stderr).toContain('import is already running');
    } finally {
      await holder.end();
    }
    expect(await clients()).toEqual([]);
  });
});

describe('aj import csv --entity chantiers', () => {
  it('resolves clients by reference or email, parses French dates and statuses, and refuses unknown clients', async () => {
    await db.query(`INSERT INTO clients (reference, nom, email) VALUES ('CL1', 'Un', 'un@exemple.fr'), ('CL2', 'Deux', 'Deux@Exemple.fr')`);
    const good = fixture('chantiers.csv', 'Référence chantier;Client;Libellé;Statut;Date de début;Date de fin;CP\nCH1;CL1;Taille des haies;En cours;03/04/2025;2025-04-30;01000\nCH2;deux@exemple.fr;Pelouse;terminé;15/05/2025;;13001\n');
    const result = await importCsv(good, '--entity', 'chantiers', '--json');
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ inserted: 2 });
    expect(await db.query('SELECT ch.reference, c.reference AS client, ch.nom, statut, date_debut::text, date_fin::text, ch.code_postal FROM chantiers ch JOIN clients c ON c.id = ch.client_id ORDER BY ch.id')).toEqual([
      { reference: 'CH1', client: 'CL1', nom: 'Taille des haies', statut: 'en_cours', date_debut: '2025-04-03', date_fin: '2025-04-30', code_postal: '01000' },
      { reference: 'CH2', client: 'CL2', nom: 'Pelouse', statut: 'termine', date_debut: '2025-05-15', date_fin: null, code_postal: '13001' },
    ]);

    const bad = fixture('chantiers-bad.csv', 'Ref;Client;Nom;Début\nCH3;CL9;Élagage;12/31/2025\nCH4;inconnu@exemple.fr;Terrasse;01/02/2026\n');
    const refused = await importCsv(bad, '--entity', 'chantiers');
    expect(refused.exitCode).toBe(4);
    expect(refused.stderr).toContain('line 2, Début: not a calendar date');
    expect(refused.stderr).toContain('line 3, client: unknown client');
    expect(await db.query('SELECT count(*)::int AS n FROM chantiers')).toEqual([{ n: 2 }]);
  });
});

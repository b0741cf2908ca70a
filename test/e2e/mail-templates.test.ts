import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aj, scratchDir } from '../helpers/cli.js';
import { type TestDatabase, createTestDatabase } from '../helpers/pg.js';
import { type SmtpTestServer, startSmtpServer } from '../helpers/smtp.js';

// Run `npm run build` first: these spawn the built bin/aj.

let db: TestDatabase;
let smtp: SmtpTestServer;
let env: Record<string, string>;

const COMPANY = {
  COMPANY_NAME: 'Jardins Dupré',
  COMPANY_ADDRESS: '12 rue des Lilas\\n69003 Lyon',
  COMPANY_IBAN: 'FR76 3000 6000 0112 3456 7890 189',
  COMPANY_BIC: 'AGRIFRPP',
};

function overrides(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'aj-templates-e2e-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const recorded = async () => Number((await db.query('SELECT count(*) AS n FROM email_messages'))[0]!.n);

beforeAll(async () => {
  [db, smtp] = await Promise.all([createTestDatabase('mail_templates_e2e'), startSmtpServer()]);
  env = { DATABASE_URL: db.url, SMTP_URL: smtp.url, AJ_DATA_DIR: scratchDir('templates-data') };
  const migrated = await aj(['db', 'migrate'], { env });
  expect(migrated.exitCode, migrated.stderr).toBe(0);
  const [client] = await db.query(`INSERT INTO clients (nom, prenom, email) VALUES ('Martin', 'Élodie', 'elodie@exemple.fr') RETURNING id`);
  await db.query(`INSERT INTO factures (numero, client_id, statut, montant_ttc, date_echeance) VALUES ('FA-2026-0042', $1, 'envoyee', 1234.5, '2026-10-31')`, [client!.id]);
  await db.query(`INSERT INTO devis (numero, client_id, statut, montant_ttc) VALUES ('D-2026-014', $1, 'envoye', 980)`, [client!.id]);
});

afterAll(async () => {
  await Promise.all([db?.drop(), smtp?.stop()]);
});

describe('aj mail templates', () => {
  it('lists every template with where it comes from, overrides by their file', async () => {
    const dir = overrides({ 'document.txt': 'Objet: {{document}} {{numero}}\n\nBonjour {{nom}}\n', 'chantier-fin.txt': 'Objet: Fin\n\n{{nom}}\n' });
    const r = await aj(['mail', 'templates', '--json'], { env: { AJ_TEMPLATES_DIR: dir } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { name: 'alerte', source: 'built-in', variables: ['sujet', 'hote', 'date', 'message'] },
      { name: 'chantier-fin', source: join(dir, 'chantier-fin.txt'), variables: null },
      { name: 'devis-relance', source: 'built-in', variables: ['nom', 'numero', 'montant', 'date_envoi', 'a_validite', 'date_validite'] },
      { name: 'devis-signe', source: 'built-in', variables: ['nom', 'document', 'numero', 'montant'] },
      { name: 'document', source: join(dir, 'document.txt'), variables: ['nom', 'document', 'numero', 'montant'] },
      { name: 'facture-relance-1', source: 'built-in', variables: ['nom', 'numero', 'montant', 'date_echeance', 'jours_retard', 'professionnel'] },
      { name: 'facture-relance-2', source: 'built-in', variables: ['nom', 'numero', 'montant', 'date_echeance', 'jours_retard', 'professionnel'] },
    ]);
    const table = await aj(['mail', 'templates'], { env: { AJ_TEMPLATES_DIR: dir } });
    expect(table.stdout.split('\n')[0]).toBe('name\tsource\tvariables');
    expect(table.stdout).toContain(`chantier-fin\t${join(dir, 'chantier-fin.txt')}\t--var, --document`);
  });

  it('refuses a templates directory that does not exist (exit 3, stdout clean)', async () => {
    const r = await aj(['mail', 'templates'], { env: { AJ_TEMPLATES_DIR: '/nonexistent/aj-templates' } });
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('AJ_TEMPLATES_DIR: cannot read /nonexistent/aj-templates (ENOENT)');
  });
});

describe('aj mail preview', () => {
  it('renders a reminder from a facture with the company details, sending and recording nothing', async () => {
    const before = await recorded();
    const r = await aj(['mail', 'preview', 'facture-relance-1', '--document', 'facture:FA-2026-0042', '--var', 'date_echeance=31 octobre 2026', '--var', 'jours_retard=32'], { env: { ...env, ...COMPANY } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      [
        'Objet: Rappel : facture n° FA-2026-0042 en attente de règlement',
        '',
        'Bonjour Élodie Martin,',
        '',
        "Sauf erreur de notre part, la facture n° FA-2026-0042 d'un montant de 1\u00a0234,50\u00a0€ TTC, arrivée à échéance le 31 octobre 2026, n'a pas encore été réglée.",
        '',
        "Il s'agit peut-être d'un simple oubli : nous vous remercions de bien vouloir procéder à son règlement dans les meilleurs délais.",
        '',
        'Vous pouvez régler par virement sur le compte de Jardins Dupré, en indiquant la référence FA-2026-0042 :',
        'IBAN : FR76 3000 6000 0112 3456 7890 189',
        'BIC : AGRIFRPP',
        '',
        'Si votre paiement a été effectué entre-temps, merci de ne pas tenir compte de ce message.',
        '',
        'Bien cordialement,',
        "L'équipe Jardins Dupré",
        '12 rue des Lilas',
        '69003 Lyon',
      ].join('\n'),
    );
    expect(smtp.messages).toHaveLength(0);
    expect(await recorded()).toBe(before);
  });

  it('prints the HTML body with --html, and the variables of a devis as mail send --document gives them', async () => {
    const r = await aj(['mail', 'preview', 'document', '--document', 'devis:D-2026-014', '--html'], { env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('<p>Bonjour Élodie Martin,</p>');
    expect(r.stdout).toContain('votre devis n°&nbsp;<strong>D-2026-014</strong>');
    expect(r.stdout).toContain("<p>Bien cordialement,<br>L&#39;équipe Art et Jardin</p>");
    const subject = await aj(['mail', 'preview', 'document', '--document', 'devis:D-2026-014', '--var', 'nom=M. et Mme Martin'], { env });
    expect(subject.stdout.split('\n').slice(0, 3)).toEqual(['Objet: Votre devis n° D-2026-014 – Art et Jardin', '', 'Bonjour M. et Mme Martin,']);
  });

  it('refuses an empty or missing variable and an unknown document, naming what to fix (exit 2, stdout clean)', async () => {
    const empty = await aj(['mail', 'preview', 'document', '--document', 'devis:D-2026-014', '--var', 'nom='], { env });
    expect(empty.exitCode).toBe(2);
    expect(empty.stdout).toBe('');
    expect(empty.stderr).toContain('template document: the variable "nom" is empty (pass --var nom=... with a value)');
    const missing = await aj(['mail', 'preview', 'facture-relance-1', '--document', 'facture:FA-2026-0042'], { env });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('template facture-relance-1 needs the variable "date_echeance" (pass --var date_echeance=...)');
    const unknown = await aj(['mail', 'preview', 'document', '--document', 'facture:FA-1999-0001'], { env });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('--document: no facture FA-1999-0001');
  });
});

describe('overrides in aj mail send', () => {
  it('sends the override of a built-in template, text only when it has no .html', async () => {
    const dir = overrides({ 'document.txt': 'Objet: {{entreprise_nom}} : votre {{document}} {{numero}}\n\nBonjour {{nom}},\nci-joint.\n{{entreprise_signature}}\n' });
    const r = await aj(['mail', 'send', '--to', 'a@exemple.fr', '--template', 'document', '--var', 'nom=Dupont', '--var', 'document=devis', '--var', 'numero=D-1', '--var', 'montant=10 €'], {
      env: { ...env, ...COMPANY, AJ_TEMPLATES_DIR: dir },
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(smtp.messages).toHaveLength(1);
    const parsed = await simpleParser(smtp.messages[0]!.raw);
    expect(parsed.subject).toBe('Jardins Dupré : votre devis D-1');
    expect(parsed.text).toBe("Bonjour Dupont,\nci-joint.\nL'équipe Jardins Dupré\n");
    expect(parsed.html).toBe(false);
  });

  it('refuses, before anything is sent or recorded, a company detail that is not set and an empty variable', async () => {
    const dir = overrides({ 'document.txt': 'Objet: Votre {{document}} {{numero}}\n\nBonjour {{nom}},\nTél. {{entreprise_telephone}}\n' });
    const [sent, before] = [smtp.messages.length, await recorded()];
    const args = ['mail', 'send', '--to', 'a@exemple.fr', '--template', 'document', '--var', 'document=devis', '--var', 'numero=D-1', '--var', 'montant=10 €'];
    const unset = await aj([...args, '--var', 'nom=Dupont'], { env: { ...env, AJ_TEMPLATES_DIR: dir } });
    expect(unset.exitCode).toBe(3);
    expect(unset.stderr).toContain('template document shows {{entreprise_telephone}}, but COMPANY_PHONE is not set (set COMPANY_PHONE, or pass --var entreprise_telephone=...)');
    const empty = await aj([...args, '--var', 'nom='], { env: { ...env, AJ_TEMPLATES_DIR: dir, COMPANY_PHONE: '04 78 00 00 00' } });
    expect(empty.exitCode).toBe(2);
    expect(empty.stderr).toContain('template document: the variable "nom" is empty');
    expect(smtp.messages).toHaveLength(sent);
    expect(await recorded()).toBe(before);
  });

  it('refuses a broken override in one line naming the file, sending nothing', async () => {
    const dir = overrides({ 'document.txt': 'Objet: Votre {{document}}\n\nBonjour {{nom}}, voici {{piece}}.\n' });
    const sent = smtp.messages.length;
    const r = await aj(['mail', 'send', '--to', 'a@exemple.fr', '--template', 'document', '--var', 'nom=A', '--var', 'document=devis', '--var', 'numero=D-1', '--var', 'montant=1 €', '--var', 'piece=x'], {
      env: { ...env, AJ_TEMPLATES_DIR: dir },
    });
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`template override ${join(dir, 'document.txt')}: line 3: unknown variable "piece"`);
    expect(smtp.messages).toHaveLength(sent);
  });
});

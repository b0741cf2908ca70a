import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { formatMailbox, parseMailboxes } from '../../src/mail/address.js';
import { toNodemailer } from '../../src/mail/history.js';
import { parseTemplate } from '../../src/mail/template-syntax.js';
import { TEMPLATE_VARIABLES, type TemplateSet, TemplateVariableError, type TemplateVars, checkTemplates, escapeHtml, listTemplates, parseVars, renderTemplate, templateSet } from '../../src/mail/templates.js';

const invoiceVars = { nom: 'Dupont & Fils <SARL>', numero: 'F-2026-001', montant: '1 200,00 €', date_echeance: '31/01/2026', jours_retard: 61 };

/** The template set of a configuration given as environment variables. */
function setOf(env: Record<string, string>): TemplateSet {
  return templateSet(loadConfig({ env, envFile: join(tmpdir(), 'aj-no-such.env') }).config);
}

function overrides(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'aj-templates-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('mail templates', () => {
  it('ships one template per purpose, each with text and HTML', async () => {
    const list = await listTemplates();
    expect(list.map((t) => t.name)).toEqual(['alerte', 'devis-relance', 'devis-signe', 'document', 'facture-relance-1', 'facture-relance-2']);
    expect(list.every((t) => t.source === 'built-in')).toBe(true);
    expect(list.find((t) => t.name === 'document')!.variables).toEqual(['nom', 'document', 'numero', 'montant']);
  });

  it('renders every built-in template with its sample variables and no company details beyond the name', async () => {
    const checks = await checkTemplates(setOf({}));
    expect(checks.map((c) => [c.name, c.error])).toEqual(Object.keys(TEMPLATE_VARIABLES).sort().map((name) => [name, undefined]));
  });

  it('renders the subject and text verbatim and escapes variables in HTML', async () => {
    const r = await renderTemplate('facture-relance-1', invoiceVars);
    expect(r.subject).toBe('Rappel : facture n° F-2026-001 en attente de règlement');
    expect(r.text).toContain('Bonjour Dupont & Fils <SARL>,');
    expect(r.html).toContain('Bonjour Dupont &amp; Fils &lt;SARL&gt;,');
    expect(r.html).not.toContain('<SARL>');
    expect(r.source).toBe('built-in');
  });

  it('states the late-payment penalties and the 40 EUR indemnity only for professional clients', async () => {
    const pro = await renderTemplate('facture-relance-2', { ...invoiceVars, professionnel: true });
    const prive = await renderTemplate('facture-relance-2', { ...invoiceVars, professionnel: false });
    expect(pro.text).toContain('indemnité forfaitaire pour frais de recouvrement de 40 EUR.\n\nSi votre paiement');
    expect(pro.html).toContain('40&nbsp;EUR');
    expect(prive.text).not.toContain('40 EUR');
    expect(prive.text).not.toContain('pénalités');
    expect(prive.text).toContain('mise en demeure.\n\nSi votre paiement');
    expect(pro.subject).toContain('Relance avant mise en demeure');
  });

  it('signs with the company and gives the payment details on invoice reminders only when an IBAN is set', async () => {
    const plain = await renderTemplate('facture-relance-1', invoiceVars, setOf({}));
    expect(plain.text).toMatch(/Bien cordialement,\nL'équipe Art et Jardin\n$/);
    expect(plain.text).not.toContain('IBAN');
    expect(plain.html).not.toContain('IBAN');

    const company = setOf({
      COMPANY_NAME: 'Jardins Dupré',
      COMPANY_ADDRESS: '12 rue des Lilas\\n69003 Lyon',
      COMPANY_PHONE: '04 78 00 00 00',
      COMPANY_SIRET: '123 456 789 00012',
      COMPANY_IBAN: 'fr76 3000 6000 0112 3456 7890 189',
      COMPANY_BIC: 'agrifrpp',
      COMPANY_SIGNATURE: 'Marie Dupré\\nGérante',
    });
    const r = await renderTemplate('facture-relance-1', invoiceVars, company);
    expect(r.text).toContain('sur le compte de Jardins Dupré, en indiquant la référence F-2026-001 :\nIBAN : FR76 3000 6000 0112 3456 7890 189\nBIC : AGRIFRPP\n\nSi votre paiement');
    expect(r.text).toMatch(/Bien cordialement,\nMarie Dupré\nGérante\n12 rue des Lilas\n69003 Lyon\nTél\. : 04 78 00 00 00\nSIRET : 123 456 789 00012\n$/);
    expect(r.html).toContain('IBAN&nbsp;: <strong>FR76 3000 6000 0112 3456 7890 189</strong><br>BIC&nbsp;: AGRIFRPP');
    expect(r.html).toContain('Marie Dupré<br>Gérante<br>12 rue des Lilas<br>69003 Lyon');
    const document = await renderTemplate('document', { nom: 'A', document: 'devis', numero: 'D-1', montant: '1 €' }, company);
    expect(document.subject).toBe('Votre devis n° D-1 – Jardins Dupré');
    expect(document.text).not.toContain('IBAN');
  });

  it('refuses a missing or empty variable, naming the template, the variable and the fix', async () => {
    const { numero: _n, ...rest } = invoiceVars;
    const missing = await rejection(renderTemplate('facture-relance-1', rest));
    expect(missing).toBeInstanceOf(TemplateVariableError);
    expect(missing).toMatchObject({ template: 'facture-relance-1', variable: 'numero', exitCode: 2 });
    expect(missing.message).toBe('template facture-relance-1 needs the variable "numero"');
    const empty = await rejection(renderTemplate('facture-relance-1', { ...invoiceVars, nom: '  ' }));
    expect(empty).toBeInstanceOf(TemplateVariableError);
    expect([empty.message, (empty as TemplateVariableError).hint]).toEqual(['template facture-relance-1: the variable "nom" is empty', 'pass --var nom=... with a value']);
    await expect(renderTemplate('nope', {})).rejects.toThrow(/no template named "nope"/);
  });

  it('refuses a company detail shown outside a guard when its setting is unset, and names the setting', async () => {
    const dir = overrides({ 'document.txt': 'Objet: {{numero}}\n\nBonjour {{nom}}\nTél. {{entreprise_telephone}}\n{{#entreprise_iban}}IBAN {{entreprise_iban}}{{/entreprise_iban}}\n' });
    const error = await rejection(renderTemplate('document', { nom: 'A', document: 'devis', numero: 'D-1', montant: '1 €' }, setOf({ AJ_TEMPLATES_DIR: dir })));
    expect(error).toBeInstanceOf(ConfigError);
    expect([error.message, (error as ConfigError).hint]).toEqual([
      'template document shows {{entreprise_telephone}}, but COMPANY_PHONE is not set',
      'set COMPANY_PHONE, or pass --var entreprise_telephone=...',
    ]);
    const r = await renderTemplate('document', { nom: 'A', document: 'devis', numero: 'D-1', montant: '1 €' }, setOf({ AJ_TEMPLATES_DIR: dir, COMPANY_PHONE: '01 02' }));
    expect(r.text).toBe('Bonjour A\nTél. 01 02\n\n');
  });

  it('refuses a variable that would break the subject header', async () => {
    await expect(renderTemplate('alerte', { sujet: 'x\r\nBcc: a@b.fr', message: 'm', hote: 'h', date: 'd' })).rejects.toThrow(/line break/);
  });

  it('parses --var pairs, keeping "=" in values', () => {
    expect(parseVars(['a=1', 'b=x=y'])).toEqual({ a: '1', b: 'x=y' });
    expect(() => parseVars(['novalue'])).toThrow(/key=value/);
    expect(escapeHtml(`"'`)).toBe('&quot;&#39;');
  });
});

describe('template overrides (AJ_TEMPLATES_DIR)', () => {
  it('replaces a built-in template by name and adds new ones, and lists where each comes from', async () => {
    const dir = overrides({
      'facture-relance-1.txt': 'Objet: Facture {{numero}} – {{entreprise_nom}}\n\nBonjour {{nom}}, merci de régler {{montant}}.\n{{entreprise_signature}}\n',
      'chantier-fin.txt': 'Objet: Fin de chantier\n\nBonjour {{nom}}, le chantier {{chantier}} est terminé.\n',
      'chantier-fin.html': '<p>Bonjour {{nom}}</p>',
      'notes.md': 'ignored',
    });
    const set = setOf({ AJ_TEMPLATES_DIR: dir });
    expect((await listTemplates(set)).map((t) => [t.name, t.source])).toEqual([
      ['alerte', 'built-in'],
      ['chantier-fin', join(dir, 'chantier-fin.txt')],
      ['devis-relance', 'built-in'],
      ['devis-signe', 'built-in'],
      ['document', 'built-in'],
      ['facture-relance-1', join(dir, 'facture-relance-1.txt')],
      ['facture-relance-2', 'built-in'],
    ]);
    const r = await renderTemplate('facture-relance-1', invoiceVars, set);
    expect(r).toEqual({ name: 'facture-relance-1', source: join(dir, 'facture-relance-1.txt'), subject: 'Facture F-2026-001 – Art et Jardin', text: "Bonjour Dupont & Fils <SARL>, merci de régler 1 200,00 €.\nL'équipe Art et Jardin\n" });
    const custom = await renderTemplate('chantier-fin', { nom: 'A', chantier: 'Haie' }, set);
    expect([custom.text, custom.html]).toEqual(['Bonjour A, le chantier Haie est terminé.\n', '<p>Bonjour A</p>']);
    expect((await renderTemplate('document', { nom: 'A', document: 'devis', numero: 'D-1', montant: '1 €' }, set)).source).toBe('built-in');
  });

  it('refuses a broken override in one line naming the file: syntax, unknown variable, no subject, lone .html, unreadable', async () => {
    const dir = overrides({
      'facture-relance-1.txt': 'Objet: {{numero}}\n\nBonjour {{nom}},\n{{#professionnel}}\nPénalités.\n',
      'facture-relance-2.txt': 'Objet: {{numero}}\n\nBonjour {{nom}},\nVotre chantier {{chantier}}.\n',
      'devis-relance.txt': 'Bonjour {{nom}}\n',
      'document.html': '<p>{{nom}}</p>',
      'alerte.txt': 'Objet: {{sujet}\n\n{{message}}\n',
    });
    mkdirSync(join(dir, 'secret.txt'));
    const set = setOf({ AJ_TEMPLATES_DIR: dir });
    const message = async (name: string) => {
      const error = await rejection(renderTemplate(name, TEMPLATE_VARIABLES[name] ?? {}, set));
      expect(error).toBeInstanceOf(ConfigError);
      return error.message;
    };
    expect(await message('facture-relance-1')).toBe(`template override ${join(dir, 'facture-relance-1.txt')}: line 4: {{#professionnel}} is never closed (add {{/professionnel}})`);
    expect(await message('facture-relance-2')).toBe(`template override ${join(dir, 'facture-relance-2.txt')}: line 4: unknown variable "chantier"`);
    expect(await message('devis-relance')).toBe(`template override ${join(dir, 'devis-relance.txt')}: line 1 must be "Objet: ..." followed by a blank line`);
    expect(await message('document')).toBe(`template override ${join(dir, 'document.html')} has no document.txt beside it`);
    expect(await message('alerte')).toBe(`template override ${join(dir, 'alerte.txt')}: line 1: "{{sujet}" is not closed by "}}"`);
    expect(await message('secret')).toBe(`template override ${join(dir, 'secret.txt')}: cannot read it (EISDIR)`);

    const checks = await checkTemplates(set);
    expect(checks.filter((c) => c.error).map((c) => c.name)).toEqual(expect.arrayContaining(['alerte', 'devis-relance', 'document', 'facture-relance-1', 'facture-relance-2']));
  });

  it('refuses a templates directory that does not exist, and a file name that is not a template name', async () => {
    const error = await rejection(renderTemplate('document', TEMPLATE_VARIABLES.document!, setOf({ AJ_TEMPLATES_DIR: '/nonexistent/aj-templates' })));
    expect(error.message).toBe('AJ_TEMPLATES_DIR: /nonexistent/aj-templates is not a directory');
    const dir = overrides({ 'Relance Client.txt': 'Objet: x\n\ny\n' });
    await expect(listTemplates(setOf({ AJ_TEMPLATES_DIR: dir }))).rejects.toThrow(`template override ${join(dir, 'Relance Client.txt')}: "Relance Client" is not a template name`);
  });
});

describe('template syntax', () => {
  it('keeps a section when its variable is set, and drops lines holding only a section tag', async () => {
    const dir = overrides({
      'essai.txt': 'Objet: Essai\n\nA\n  {{#remise}}\nRemise {{remise}}\n{{^fidele}}\nBienvenue\n{{/fidele}}\n  {{/remise}}  \nB{{^remise}} sans remise{{/remise}}\n',
    });
    const set = setOf({ AJ_TEMPLATES_DIR: dir });
    expect((await renderTemplate('essai', { remise: '10 %', fidele: 'non' }, set)).text).toBe('A\nRemise 10 %\nBienvenue\nB\n');
    expect((await renderTemplate('essai', { remise: '10 %', fidele: 'oui' }, set)).text).toBe('A\nRemise 10 %\nB\n');
    for (const off of [{} as TemplateVars, { remise: '' }, { remise: 'false' }, { remise: 0 }, { remise: false }]) {
      expect((await renderTemplate('essai', off, set)).text, JSON.stringify(off)).toBe('A\nB sans remise\n');
    }
  });

  it('names the line of a misplaced closing tag', () => {
    expect(() => parseTemplate('a\n{{#x}}\n{{/y}}')).toThrow('line 3: {{/y}} closes {{#x}} opened on line 2');
    expect(() => parseTemplate('{{/x}}')).toThrow('line 1: {{/x}} closes no section');
    expect(() => parseTemplate('a {{nom')).toThrow('line 1: "{{nom" is not closed by "}}"');
    expect(() => parseTemplate('a\n{{ nom prenom }}')).toThrow('line 2: "{{ nom prenom }}" is not a tag');
  });
});

describe('addresses', () => {
  it('accepts display names with accents and lists, lower-cases addresses', () => {
    expect(parseMailboxes('--to', 'Jérôme Dupont <Jerome@Exemple.fr>, b@exemple.fr')).toEqual([
      { name: 'Jérôme Dupont', address: 'jerome@exemple.fr' },
      { name: '', address: 'b@exemple.fr' },
    ]);
  });

  it('refuses malformed addresses, groups and header injection with the field named', () => {
    expect(() => parseMailboxes('--cc', 'jean.dupont')).toThrow(/--cc: "jean.dupont" is not a valid/);
    expect(() => parseMailboxes('--to', 'Team: a@b.fr, c@d.fr;')).toThrow(/--to: address groups/);
    expect(() => parseMailboxes('--to', 'a@b.fr\r\nBcc: x@y.fr')).toThrow(/--to contains a line break/);
    expect(() => parseMailboxes('--to', 'a@b.fr\0')).toThrow(/NUL/);
  });

  it('quotes display names with specials so they parse back the same', () => {
    const m = { name: 'Dupont, Jean (SARL)', address: 'j@exemple.fr' };
    expect(parseMailboxes('--to', formatMailbox(m))).toEqual([m]);
  });

  it('puts the company copy in the envelope only', () => {
    const options = toNodemailer({ from: 'AJ <c@aj.fr>', to: ['Jé <a@b.fr>'], cc: [], bcc: ['copie@aj.fr'], subject: 's', text: 't', attachments: [] });
    expect(options.bcc).toBeUndefined();
    expect(options.envelope).toEqual({ from: 'c@aj.fr', to: ['a@b.fr', 'copie@aj.fr'] });
  });
});


import { describe, expect, it } from 'vitest';
import { formatMailbox, parseMailboxes } from '../../src/mail/address.js';
import { toNodemailer } from '../../src/mail/history.js';
import { escapeHtml, listTemplates, parseVars, renderTemplate } from '../../src/mail/templates.js';

const invoiceVars = { nom: 'Dupont & Fils <SARL>', numero: 'F-2026-001', montant: '1 200,00 €', date_echeance: '31/01/2026', jours_retard: 61 };

describe('mail templates', () => {
  it('ships one template per purpose, each with text and HTML', async () => {
    expect(await listTemplates()).toEqual(['alerte', 'devis-relance', 'document', 'facture-relance-1', 'facture-relance-2']);
  });

  it('renders the subject and text verbatim and escapes variables in HTML', async () => {
    const r = await renderTemplate('facture-relance-1', invoiceVars);
    expect(r.subject).toBe('Rappel : facture n° F-2026-001 en attente de règlement');
    expect(r.text).toContain('Bonjour Dupont & Fils <SARL>,');
    expect(r.html).toContain('Bonjour Dupont &amp; Fils &lt;SARL&gt;,');
    expect(r.html).not.toContain('<SARL>');
  });

  it('states the late-payment penalties and the 40 EUR indemnity only for professional clients', async () => {
    const pro = await renderTemplate('facture-relance-2', { ...invoiceVars, professionnel: true });
    const prive = await renderTemplate('facture-relance-2', { ...invoiceVars, professionnel: false });
    expect(pro.text).toContain('indemnité forfaitaire pour frais de recouvrement de 40 EUR');
    expect(pro.html).toContain('40&nbsp;EUR');
    expect(prive.text).not.toContain('40 EUR');
    expect(prive.text).not.toContain('pénalités');
    expect(pro.subject).toContain('Relance avant mise en demeure');
  });

  it('refuses a missing variable instead of leaving a hole', async () => {
    const { numero: _n, ...rest } = invoiceVars;
    await expect(renderTemplate('facture-relance-1', rest)).rejects.toThrow(/needs the variable "numero"/);
    await expect(renderTemplate('nope', {})).rejects.toThrow(/no template named "nope"/);
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


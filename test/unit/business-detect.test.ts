import { describe, expect, it } from 'vitest';
import type { ColumnInfo, TableInfo } from '../../src/business/catalog.js';
import { checkMapping } from '../../src/business/check.js';
import { proposeMapping } from '../../src/business/detect.js';
import type { BusinessMapping } from '../../src/business/mapping.js';
import { matchLabels } from '../../src/business/words.js';
import { fold } from '../../src/text.js';

/** A column as the catalog reader describes it; `int4!` is NOT NULL, `+` has a default. */
function col(name: string, spec: string, allowed?: string[]): ColumnInfo {
  const baseType = spec.replace(/[!+]/g, '');
  const isEnum = baseType.startsWith('enum:');
  return {
    name, type: isEnum ? `"${baseType.slice(5)}"` : baseType, baseType: isEnum ? baseType.slice(5) : baseType, isEnum,
    notNull: spec.includes('!'), hasDefault: spec.includes('+'), allowed,
  };
}

function table(schema: string, name: string, columns: ColumnInfo[], references: Record<string, string> = {}): TableInfo {
  return {
    schema, name, primaryKey: 'id',
    columns: new Map(columns.map((c) => [c.name, c])),
    references: new Map(Object.entries(references).map(([c, t]) => [c, { schema, table: t, column: 'id' }])),
  };
}

const id = (spec = 'int4!+') => col('id', spec);
const customers = (schema = 'public', name = 'customers') => table(schema, name, [id(), col('name', 'text!'), col('email', 'varchar')]);
const worksites = () => table('public', 'worksites', [id(), col('customer_id', 'int4!'), col('name', 'text!')], { customer_id: 'customers' });
const quotes = () => table('public', 'quotes', [id(), col('number', 'text!'), col('customer_id', 'int4!'), col('status', 'text!', ['draft', 'sent', 'expired']), col('amount', 'numeric'), col('issue_date', 'date')]);
const invoice = (columns: ColumnInfo[], references: Record<string, string> = {}) => table('public', 'invoices', [id(), col('number', 'text!'), ...columns], references);

describe('fold', () => {
  it.each([
    ['dateEcheance', 'dateecheance'],
    ['date_echeance', 'dateecheance'],
    ['Date Échéance', 'dateecheance'],
    ['montantTTC', 'montantttc'],
    ['EN_COURS', 'encours'],
    ['Envoyée', 'envoyee'],
  ])('%s -> %s', (name, folded) => expect(fold(name)).toBe(folded));
});

describe('matchLabels', () => {
  it.each([
    ['envoyee', ['BROUILLON', 'ENVOYÉE', 'PAYEE'], ['ENVOYÉE']],
    ['envoyee', ['draft', 'sent', 'paid'], ['sent']],
    ['envoye', ['Issued', 'Draft'], ['Issued']],
    ['payee', ['PAID', 'OVERDUE'], ['PAID']],
    ['annulee', ['canceled', 'cancelled'], ['canceled', 'cancelled']],
    ['annule', ['ANNULE'], ['ANNULE']],
    ['en_cours', ['IN_PROGRESS', 'En cours'], ['IN_PROGRESS', 'En cours']],
    ['prevu', ['PLANIFIE', 'planned'], ['PLANIFIE', 'planned']],
    ['termine', ['Done', 'COMPLETED'], ['Done', 'COMPLETED']],
    ['signe', ['accepted', 'SIGNED'], ['accepted', 'SIGNED']],
    ['refuse', ['rejected', 'Refusé'], ['rejected', 'Refusé']],
    ['expire', ['EXPIRED'], ['EXPIRED']],
    ['brouillon', ['DRAFT'], ['DRAFT']],
    ['particulier', ['individual', 'PRIVATE'], ['individual', 'PRIVATE']],
    ['professionnel', ['PRO', 'company', 'business'], ['PRO', 'company', 'business']],
    ['payee', ['EN_RETARD', 'partial'], []],
    ['envoyee', ['BROUILLON', 'ENVOYEE', 'EN_RETARD', 'PAYEE'], ['ENVOYEE', 'EN_RETARD']],
    ['envoyee', ['draft', 'sent', 'overdue', 'partially_paid', 'paid'], ['sent', 'overdue']],
    ['envoye', ['BROUILLON', 'EN_ATTENTE', 'SIGNE'], ['EN_ATTENTE']],
  ])('%s in %j -> %j', (label, app, expected) => expect(matchLabels(label, app)).toEqual(expected));
});

describe('proposeMapping: columns', () => {
  it.each([
    ['camelCase French', ['clientId', 'statut', 'montantTTC', 'dateEcheance']],
    ['snake_case French', ['client_id', 'statut', 'montant_ttc', 'date_echeance']],
    ['snake_case English', ['customer_id', 'status', 'total_ttc', 'due_date']],
    ['camelCase English', ['customerId', 'state', 'amount', 'dueDate']],
  ])('%s: %j', async (_, [link, status, amount, due]) => {
    const facture = invoice([col(link!, 'int4!'), col(status!, 'text!', ['draft', 'sent', 'paid']), col(amount!, 'numeric!'), col(due!, 'date')]);
    const { entities } = await proposeMapping([customers(), worksites(), quotes(), facture]);
    const found = entities.find((e) => e.entity === 'facture')!;
    expect(found.proposed!.columns).toMatchObject({ numero: 'number', clientId: link, statut: status, montantTtc: amount, dateEcheance: due });
    expect(found.proposed!.labels).toEqual({ statut: { brouillon: ['draft'], envoyee: ['sent'], payee: ['paid'] } });
    expect(found.missing).toEqual([]);
  });

  it('prefers montantTTC to montantHT and a bare montant', async () => {
    const facture = invoice([col('montantHT', 'numeric'), col('montant', 'numeric'), col('montantTTC', 'numeric')]);
    const { entities } = await proposeMapping([customers(), facture]);
    expect(entities.find((e) => e.entity === 'facture')!.proposed!.columns.montantTtc).toBe('montantTTC');
  });

  it('finds the client link by foreign key before names', async () => {
    const facture = invoice([col('client_id', 'text'), col('billed_to', 'int4!')], { billed_to: 'customers' });
    const { entities } = await proposeMapping([customers(), facture]);
    expect(entities.find((e) => e.entity === 'facture')!.proposed!.columns.clientId).toBe('billed_to');
  });

  it('leaves a named column whose type does not fit, and says so', async () => {
    const facture = invoice([col('due_date', 'text'), col('issued_on', 'date')]);
    const found = (await proposeMapping([customers(), facture])).entities.find((e) => e.entity === 'facture')!;
    expect(found.proposed!.columns.dateEcheance).toBeUndefined();
    expect(found.proposed!.columns.dateEmission).toBe('issued_on');
    expect(found.notes).toContain('dateEcheance: column "due_date" has the name but its type (text) does not fit, so it is not mapped');
  });

  it('names what is missing: required fields and labels, a table', async () => {
    const facture = invoice([col('customer_id', 'int4'), col('status', 'text', ['draft', 'paid']), col('total', 'numeric')]);
    const { ok, entities, mapping } = await proposeMapping([customers(), quotes(), facture]);
    expect(ok).toBe(false);
    expect(entities.find((e) => e.entity === 'facture')!.missing).toEqual(['dateEcheance or dateEmission', 'statut label envoyee']);
    expect(entities.find((e) => e.entity === 'chantier')!.missing).toEqual([expect.stringMatching(/^table \(looked for chantier, chantiers, worksite/)]);
    expect(mapping).toBeUndefined();
  });
});

describe('proposeMapping: tables, ids and labels', () => {
  it('matches Prisma, snake_case and English table names; prefers the ?schema= schema, then public', async () => {
    const tables = [customers('public', 'Client'), customers('app', 'clients'), customers('other', 'customer')];
    const pick = async (preferSchema?: string) => (await proposeMapping(tables, { preferSchema })).entities[0]!.table;
    expect(await pick('app')).toBe('app.clients');
    expect(await pick()).toBe('public."Client"');
    expect(await pick('elsewhere')).toBe('public."Client"');
  });

  it('knows who makes ids: the database (default), aj as uuid or as cuid (text, Prisma)', async () => {
    const idKind = async (spec: string) => (await proposeMapping([table('public', 'Client', [col('id', spec), col('nom', 'text')])])).entities[0]!.proposed!.idKind;
    expect(await idKind('int8!+')).toBe('generated');
    expect(await idKind('uuid!+')).toBe('generated');
    expect(await idKind('uuid!')).toBe('uuid');
    expect(await idKind('text!')).toBe('cuid');
    expect(await idKind('varchar!')).toBe('cuid');
  });

  it('samples a plain text status and notes it; notes app labels aj has no word for', async () => {
    const facture = invoice([col('customer_id', 'int4'), col('status', 'text'), col('total', 'numeric'), col('due_date', 'date')]);
    const sampled: string[] = [];
    const sample = async (schema: string, name: string, column: string) => {
      sampled.push(`${schema}.${name}.${column}`);
      return ['Draft', 'Sent', 'Paid', 'Overdue', 'Partial'];
    };
    const found = (await proposeMapping([customers(), facture], { sample })).entities.find((e) => e.entity === 'facture')!;
    expect(sampled).toEqual(['public.invoices.status']);
    expect(found.proposed!.labels.statut).toEqual({ brouillon: ['Draft'], envoyee: ['Sent', 'Overdue'], payee: ['Paid'] });
    expect(found.notes).toEqual(expect.arrayContaining([
      expect.stringMatching(/^statut: column "status" has no enum or CHECK constraint; labels taken from the values in the table \(Draft, Sent, Paid, Overdue, Partial\)/),
      'statut: app labels aj has no word for (aj leaves them alone): Partial',
      'statut: no app label found for annulee',
    ]));
  });
});

describe('checkMapping', () => {
  const enumStatus = col('statut', 'enum:FactureStatus!', ['BROUILLON', 'ENVOYEE', 'PAYEE', 'ANNULEE']);
  const app = () => [
    table('public', 'Client', [col('id', 'text!'), col('nom', 'text!'), col('email', 'text'), col('updatedAt', 'timestamp!')]),
    table('public', 'Chantier', [col('id', 'text!'), col('clientId', 'text!'), col('nom', 'text!')]),
    table('public', 'Devis', [col('id', 'text!'), col('numero', 'text!'), col('clientId', 'text!'), col('statut', 'text!'), col('montantTTC', 'numeric!'), col('dateEmission', 'timestamp!+')]),
    table('public', 'Facture', [col('id', 'text!'), col('numero', 'text!'), col('clientId', 'text!'), enumStatus, col('montantTTC', 'numeric!'), col('dateEcheance', 'timestamp')]),
  ];
  const mapping = (): BusinessMapping => ({
    source: 'test.json',
    entities: {
      client: { schema: 'public', table: 'Client', id: 'id', idKind: 'cuid', columns: { nom: 'nom', email: 'email', updatedAt: 'updatedAt' }, labels: {} },
      chantier: { schema: 'public', table: 'Chantier', id: 'id', idKind: 'cuid', columns: { clientId: 'clientId', nom: 'nom' }, labels: {} },
      devis: { schema: 'public', table: 'Devis', id: 'id', idKind: 'cuid', columns: { numero: 'numero', clientId: 'clientId', statut: 'statut', montantTtc: 'montantTTC', dateEmission: 'dateEmission' }, labels: { statut: { envoye: ['sent'], expire: ['expired'] } } },
      facture: { schema: 'public', table: 'Facture', id: 'id', idKind: 'cuid', columns: { numero: 'numero', clientId: 'clientId', statut: 'statut', montantTtc: 'montantTTC', dateEcheance: 'dateEcheance' }, labels: { statut: { envoyee: ['ENVOYEE'], payee: ['PAYEE'] } } },
    },
  });

  it('passes a fitting mapping, noting unenforced labels and absent optional fields', () => {
    const { problems, notes } = checkMapping(mapping(), app());
    expect(problems).toEqual([]);
    expect(notes).toContain('devis.statut: column "statut" has no enum or CHECK constraint, so the database does not enforce these labels: check they are spelled as the app writes them');
    expect(notes).toContain('facture.datePaiement: not mapped: an invoice counts as paid by its status only');
  });

  it('names each problem', () => {
    const m = mapping();
    m.entities.facture.columns.dateEcheance = 'dueDate';
    m.entities.facture.labels.statut!.payee = ['PAID'];
    m.entities.facture.columns.montantTtc = 'numero';
    delete m.entities.devis.labels.statut!.expire;
    m.entities.client.idKind = 'generated';
    m.entities.client.columns = { nom: 'nom', email: 'email' };
    m.entities.devis.columns.dateEmission = 'nope';
    m.entities.devis.columns.dateEnvoi = 'nope';
    const tables = app();
    tables[2]!.columns.delete('nope');
    expect(checkMapping(m, tables).problems).toEqual([
      'client.idKind: generated, but column "id" has no default or identity, so the database cannot make ids (use cuid or uuid if the app makes them)',
      'client: column "updatedAt" is NOT NULL without a default and aj does not map it, so aj import could not insert into public."Client"',
      'devis.dateEmission: column "nope" not found in public."Devis"',
      'devis.dateEnvoi: column "nope" not found in public."Devis"',
      'devis.statut: no app label for expire (aj needs it)',
      'facture.montantTtc: column "numero" is text; an amount needs numeric, an integer, a float or money',
      'facture.dateEcheance: column "dueDate" not found in public."Facture"',
      'facture.statut: "PAID" (for payee) is not allowed by column "statut" (enum "FactureStatus": BROUILLON, ENVOYEE, PAYEE, ANNULEE)',
    ]);
  });

  it('finds a link whose type differs from the client id, and a missing table', () => {
    const tables = app();
    tables[1]!.columns.set('clientId', col('clientId', 'int4!'));
    const m = mapping();
    m.entities.devis.table = 'Quote';
    expect(checkMapping(m, tables).problems).toEqual([
      'chantier.clientId: column "clientId" is int4, the client id is text',
      'devis: table public."Quote" not found',
    ]);
  });
});

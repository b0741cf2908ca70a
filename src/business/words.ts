import { fold } from '../text.js';
import type { EntityName } from './mapping.js';

/**
 * The names apps give to aj's tables, columns and labels, in French and English, compared folded
 * so `date_echeance`, `dateEcheance` and `DateÉchéance` are one word. Each list is in order of
 * preference: the first word a table offers wins (`montantTTC` before a bare `montant`).
 */

/** Index of the first word of `words` that `name` folds to, or -1. */
export function wordRank(words: readonly string[], name: string): number {
  return words.indexOf(fold(name));
}

export const TABLE_WORDS: Record<EntityName, readonly string[]> = {
  client: ['client', 'clients', 'customer', 'customers'],
  chantier: ['chantier', 'chantiers', 'worksite', 'worksites', 'jobsite', 'jobsites', 'project', 'projects'],
  devis: ['devis', 'quote', 'quotes', 'quotation', 'quotations', 'estimate', 'estimates'],
  facture: ['facture', 'factures', 'invoice', 'invoices'],
};

const CLIENT_LINK = ['clientid', 'customerid', 'idclient', 'idcustomer', 'client', 'customer'];
const ADDRESS = {
  adresse: ['adresse', 'address', 'rue', 'street', 'adresse1', 'address1', 'addressline1', 'ligneadresse1'],
  codePostal: ['codepostal', 'cp', 'postalcode', 'zipcode', 'zip', 'postcode'],
  ville: ['ville', 'city', 'commune', 'town', 'localite'],
};
const STATUS = ['statut', 'status', 'etat', 'state'];
const DELETED = ['deletedat', 'supprimele', 'datesuppression', 'deletedon'];
const CREATED = ['createdat', 'creele', 'datecreation', 'insertedat', 'created'];
const UPDATED = ['updatedat', 'modifiele', 'datemodification', 'modifiedat', 'updated'];
const NUMBER = ['numero', 'number', 'num', 'reference', 'ref', 'code'];
const AMOUNT = ['montantttc', 'totalttc', 'ttc', 'amountttc', 'totalincltax', 'totalincludingtax', 'amountincltax', 'grosstotal', 'grandtotal', 'montant', 'amount', 'total', 'totalamount'];
const ISSUED = ['dateemission', 'emisle', 'issuedate', 'issuedat', 'issuedon', 'dateofissue', 'date'];

/** Column words per entity and field (aj's field names first, as aj's own tables spell them). */
export const COLUMN_WORDS: { [E in EntityName]: Record<string, readonly string[]> } = {
  client: {
    reference: ['reference', 'ref', 'code', 'numeroclient', 'clientnumber', 'customernumber', 'numero', 'number'],
    type: ['type', 'typeclient', 'clienttype', 'customertype', 'kind', 'categorie', 'category'],
    nom: ['nom', 'lastname', 'nomdefamille', 'familyname', 'surname', 'name'],
    prenom: ['prenom', 'firstname', 'givenname'],
    raisonSociale: ['raisonsociale', 'societe', 'entreprise', 'companyname', 'company', 'businessname'],
    email: ['email', 'mail', 'courriel', 'emailaddress', 'adresseemail', 'adressemail'],
    telephone: ['telephone', 'tel', 'phone', 'phonenumber', 'mobile', 'portable'],
    ...ADDRESS,
    siret: ['siret', 'numerosiret', 'siretnumber'],
    remindersPaused: ['reminderspaused', 'relancessuspendues', 'relancesuspendue', 'relancesenpause', 'pasderelance', 'norelance', 'noreminders', 'remindersdisabled', 'pausereminders'],
    deletedAt: DELETED,
    createdAt: CREATED,
    updatedAt: UPDATED,
  },
  chantier: {
    reference: ['reference', 'ref', 'code', 'numero', 'number'],
    clientId: CLIENT_LINK,
    nom: ['nom', 'name', 'titre', 'title', 'libelle', 'intitule', 'designation'],
    ...ADDRESS,
    statut: STATUS,
    dateDebut: ['datedebut', 'debut', 'debutle', 'startdate', 'startsat', 'startat', 'startedat', 'starton', 'startson', 'start'],
    dateFin: ['datefin', 'fin', 'finle', 'enddate', 'endsat', 'endat', 'endedat', 'endon', 'endson', 'end'],
    deletedAt: DELETED,
    createdAt: CREATED,
    updatedAt: UPDATED,
  },
  devis: {
    numero: [...NUMBER, 'numerodevis', 'quotenumber', 'estimatenumber'],
    clientId: CLIENT_LINK,
    statut: STATUS,
    montantTtc: AMOUNT,
    dateEmission: [...ISSUED, 'datedevis', 'quotedate', 'estimatedate'],
    dateEnvoi: ['dateenvoi', 'envoyele', 'sentat', 'senton', 'sentdate', 'datesent'],
    dateValidite: ['datevalidite', 'validite', 'valablejusquau', 'validuntil', 'validtill', 'validto', 'expiresat', 'expireson', 'expirydate', 'expirationdate', 'dateexpiration'],
    dateSignature: ['datesignature', 'signele', 'signedat', 'signedon', 'signeddate', 'dateacceptation', 'acceptedat', 'acceptedon'],
    deletedAt: DELETED,
    updatedAt: UPDATED,
  },
  facture: {
    numero: [...NUMBER, 'numerofacture', 'invoicenumber'],
    clientId: CLIENT_LINK,
    statut: STATUS,
    montantTtc: AMOUNT,
    dateEmission: [...ISSUED, 'datefacture', 'invoicedate', 'invoicedat'],
    dateEcheance: ['dateecheance', 'echeance', 'datelimite', 'datelimitepaiement', 'duedate', 'dueat', 'dueon', 'paymentduedate', 'due'],
    datePaiement: ['datepaiement', 'payele', 'datereglement', 'reglele', 'paidat', 'paidon', 'paiddate', 'paymentdate', 'datepaid'],
    deletedAt: DELETED,
    updatedAt: UPDATED,
  },
};

const CANCELLED = ['annule', 'annulee', 'cancelled', 'canceled', 'void', 'voided'];

/** The app labels that mean each of aj's labels (folded). */
export const LABEL_WORDS: Record<string, readonly string[]> = {
  particulier: ['particulier', 'part', 'individual', 'private', 'person', 'personne', 'prive', 'individu'],
  professionnel: ['professionnel', 'pro', 'professional', 'company', 'business', 'entreprise', 'societe'],
  prevu: ['prevu', 'planifie', 'planned', 'scheduled', 'aplanifier', 'avenir', 'upcoming'],
  en_cours: ['encours', 'inprogress', 'ongoing', 'started', 'demarre'],
  termine: ['termine', 'done', 'completed', 'complete', 'finished', 'acheve'],
  annule: CANCELLED,
  annulee: CANCELLED,
  brouillon: ['brouillon', 'draft'],
  // A quote awaiting its signature is a sent one.
  envoye: ['envoye', 'envoyee', 'sent', 'issued', 'emis', 'emise', 'enattente', 'enattentedesignature', 'attentesignature', 'awaitingsignature'],
  // An overdue or unpaid invoice is a sent one that still owes everything: it gets reminders too.
  envoyee: ['envoyee', 'envoye', 'sent', 'issued', 'emise', 'emis', 'enretard', 'retard', 'overdue', 'late', 'impayee', 'impaye', 'unpaid'],
  signe: ['signe', 'signee', 'signed', 'accepte', 'acceptee', 'accepted'],
  refuse: ['refuse', 'refusee', 'refused', 'rejected', 'declined'],
  expire: ['expire', 'expiree', 'expired'],
  payee: ['payee', 'paye', 'paid', 'regle', 'reglee', 'settled'],
};

/** The app's labels that mean aj's `label`, in the app's order. */
export function matchLabels(ajLabel: string, appLabels: readonly string[]): string[] {
  const words = LABEL_WORDS[ajLabel] ?? [fold(ajLabel)];
  return appLabels.filter((l) => words.includes(fold(l)));
}

/** `public."Client"`: how messages name a table, as it would be written in SQL. */
export function tableName(schema: string, table: string): string {
  return `${quoteIfNeeded(schema)}.${quoteIfNeeded(table)}`;
}

function quoteIfNeeded(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/**
 * The business mapping of the Prisma-shaped app database (test/fixtures/prisma-app.sql): quoted
 * PascalCase tables, enum labels, cuid text ids, DateTime as timestamp(3) in UTC.
 */
export const PRISMA_APP_MAPPING = {
  version: 1,
  client: {
    table: 'Client', idKind: 'cuid',
    columns: { reference: 'reference', type: 'type', nom: 'nom', prenom: 'prenom', raisonSociale: 'raisonSociale', email: 'email', telephone: 'telephone', adresse: 'adresse', codePostal: 'codePostal', ville: 'ville', siret: 'siret', remindersPaused: 'relancesSuspendues', deletedAt: 'deletedAt', createdAt: 'createdAt', updatedAt: 'updatedAt' },
    labels: { type: { particulier: 'PARTICULIER', professionnel: 'PROFESSIONNEL' } },
  },
  chantier: {
    table: 'Chantier', idKind: 'cuid',
    columns: { reference: 'reference', clientId: 'clientId', nom: 'nom', adresse: 'adresse', codePostal: 'codePostal', ville: 'ville', statut: 'statut', dateDebut: 'dateDebut', dateFin: 'dateFin', createdAt: 'createdAt', updatedAt: 'updatedAt' },
    labels: { statut: { prevu: 'PLANIFIE', en_cours: 'EN_COURS', termine: 'TERMINE', annule: 'ANNULE' } },
  },
  devis: {
    table: 'Devis', idKind: 'cuid',
    columns: { numero: 'numero', clientId: 'clientId', statut: 'statut', montantTtc: 'montantTTC', dateEmission: 'dateEmission', dateEnvoi: 'dateEnvoi', dateValidite: 'dateValidite', dateSignature: 'dateSignature', updatedAt: 'updatedAt' },
    labels: { statut: { brouillon: 'BROUILLON', envoye: 'ENVOYE', signe: 'SIGNE', refuse: 'REFUSE', expire: 'EXPIRE' } },
  },
  facture: {
    table: 'Facture', idKind: 'cuid',
    columns: { numero: 'numero', clientId: 'clientId', statut: 'statut', montantTtc: 'montantTTC', dateEmission: 'dateEmission', dateEcheance: 'dateEcheance', datePaiement: 'datePaiement', updatedAt: 'updatedAt' },
    labels: { statut: { brouillon: 'BROUILLON', envoyee: 'ENVOYEE', payee: 'PAYEE', annulee: 'ANNULEE' } },
  },
};

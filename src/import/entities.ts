import * as parse from './fields.js';

export type Entity = 'clients' | 'chantiers';
export const ENTITIES: readonly Entity[] = ['clients', 'chantiers'];

export interface FieldSpec {
  /** Header spellings, compared after fold() (case, accents, spaces and punctuation ignored). */
  aliases: string[];
  parse?: (value: string) => string;
}

/**
 * What each entity's file may contain, in staging-table column order. Chantiers name their
 * client in one `client` column holding a client reference or an email.
 */
export const FIELDS: Record<Entity, Record<string, FieldSpec>> = {
  clients: {
    reference: { aliases: ['reference', 'ref', 'refclient', 'referenceclient', 'codeclient', 'numeroclient', 'clientid'] },
    type: { aliases: ['type', 'typeclient', 'categorie', 'typedeclient'], parse: parse.clientType },
    nom: { aliases: ['nom', 'name', 'lastname', 'nomdefamille', 'nomclient', 'surname'] },
    prenom: { aliases: ['prenom', 'firstname', 'givenname'] },
    raison_sociale: { aliases: ['raisonsociale', 'societe', 'entreprise', 'company', 'companyname', 'denomination'] },
    email: { aliases: ['email', 'mail', 'courriel', 'adressemail', 'adresseemail', 'emailaddress', 'adresseelectronique'], parse: parse.email },
    telephone: { aliases: ['telephone', 'tel', 'phone', 'portable', 'mobile', 'numerodetelephone', 'phonenumber'], parse: parse.phone },
    adresse: { aliases: ['adresse', 'address', 'rue', 'adressepostale', 'street'] },
    code_postal: { aliases: ['codepostal', 'cp', 'postalcode', 'zip', 'zipcode', 'postcode'], parse: parse.postalCode },
    ville: { aliases: ['ville', 'city', 'commune', 'localite', 'town'] },
    siret: { aliases: ['siret', 'numerosiret', 'nsiret', 'nodesiret'], parse: parse.siret },
  },
  chantiers: {
    reference: { aliases: ['reference', 'ref', 'refchantier', 'referencechantier', 'codechantier', 'numerochantier'] },
    client: { aliases: ['client', 'refclient', 'referenceclient', 'clientreference', 'codeclient', 'emailclient', 'clientemail', 'mailclient'] },
    nom: { aliases: ['nom', 'name', 'nomchantier', 'chantier', 'libelle', 'intitule', 'titre', 'title'] },
    adresse: { aliases: ['adresse', 'address', 'rue', 'adressechantier', 'street'] },
    code_postal: { aliases: ['codepostal', 'cp', 'postalcode', 'zip', 'zipcode', 'postcode'], parse: parse.postalCode },
    ville: { aliases: ['ville', 'city', 'commune', 'localite', 'town'] },
    statut: { aliases: ['statut', 'status', 'etat'], parse: parse.chantierStatut },
    date_debut: { aliases: ['datedebut', 'debut', 'datededebut', 'startdate', 'start', 'demarrage'], parse: parse.date },
    date_fin: { aliases: ['datefin', 'fin', 'datedefin', 'enddate', 'end'], parse: parse.date },
  },
};

/** Columns that must be present in the header; each entry lists acceptable alternatives. */
export const REQUIRED_COLUMNS: Record<Entity, string[][]> = {
  // A reference or an email is what lets a second import update instead of duplicating.
  clients: [['nom', 'raison_sociale'], ['reference', 'email']],
  chantiers: [['reference'], ['client'], ['nom']],
};

export function fieldNames(entity: Entity): string[] {
  return Object.keys(FIELDS[entity]);
}

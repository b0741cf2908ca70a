import { formatIban, formatSiret } from '../config/company.js';
import { type Config, settings } from '../config/schema.js';

type CompanySettings = Pick<Config, 'companyName'> & Partial<Pick<Config, 'companyAddress' | 'companyPhone' | 'companySiret' | 'companyIban' | 'companyBic' | 'companySignature'>>;

/** Each company variable every template can use, and the setting that fills it. */
const SETTING_OF = {
  entreprise_nom: 'companyName',
  entreprise_adresse: 'companyAddress',
  entreprise_telephone: 'companyPhone',
  entreprise_siret: 'companySiret',
  entreprise_iban: 'companyIban',
  entreprise_bic: 'companyBic',
  entreprise_signature: 'companySignature',
} as const satisfies Record<string, keyof CompanySettings>;

export const COMPANY_VARIABLES = Object.keys(SETTING_OF) as Array<keyof typeof SETTING_OF>;

/** The company variables as letters print them; '' for a detail that is not set. */
export function companyVars(c: CompanySettings): Record<string, string> {
  return {
    entreprise_nom: c.companyName,
    entreprise_adresse: c.companyAddress ?? '',
    entreprise_telephone: c.companyPhone ?? '',
    entreprise_siret: c.companySiret ? formatSiret(c.companySiret) : '',
    entreprise_iban: c.companyIban ? formatIban(c.companyIban) : '',
    entreprise_bic: c.companyBic ?? '',
    entreprise_signature: c.companySignature ?? `L'équipe ${c.companyName}`,
  };
}

/** The environment name of the setting behind a company variable (COMPANY_PHONE for entreprise_telephone). */
export function companySetting(variable: string): string | undefined {
  return Object.hasOwn(SETTING_OF, variable) ? settings[SETTING_OF[variable as keyof typeof SETTING_OF]].env[0] : undefined;
}

import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { companyVars } from '../../src/mail/company-vars.js';

const load = (env: Record<string, string>) => loadConfig({ env, envFile: join(tmpdir(), 'aj-no-such.env') }).config;

describe('company settings', () => {
  it('defaults to the name alone, signed by its team', () => {
    const config = load({});
    expect(config.companyName).toBe('Art et Jardin');
    expect(companyVars(config)).toEqual({
      entreprise_nom: 'Art et Jardin', entreprise_adresse: '', entreprise_telephone: '', entreprise_siret: '',
      entreprise_iban: '', entreprise_bic: '', entreprise_signature: "L'équipe Art et Jardin",
    });
  });

  it('stores the IBAN, BIC and SIRET compact and prints them as invoices do', () => {
    const config = load({ COMPANY_IBAN: 'fr76 3000-6000 0112 3456 7890 189', COMPANY_BIC: 'agri fr pp xxx', COMPANY_SIRET: '123 456 789 00012', COMPANY_ADDRESS: ' 12 rue des Lilas \\n 69003 Lyon ' });
    expect([config.companyIban, config.companyBic, config.companySiret]).toEqual(['FR7630006000011234567890189', 'AGRIFRPPXXX', '12345678900012']);
    expect(companyVars(config)).toMatchObject({ entreprise_iban: 'FR76 3000 6000 0112 3456 7890 189', entreprise_siret: '123 456 789 00012', entreprise_adresse: '12 rue des Lilas\n69003 Lyon' });
  });

  it('refuses an IBAN whose check digits do not match, a malformed BIC or SIRET, each named', () => {
    expect(() => load({ COMPANY_IBAN: 'FR76 3000 6000 0112 3456 7890 188' })).toThrow(/COMPANY_IBAN: "FR76 3000 6000 0112 3456 7890 188" is not a valid IBAN \(its check digits do not match: a typo\?\)/);
    expect(() => load({ COMPANY_IBAN: '12345' })).toThrow(/COMPANY_IBAN: expected an IBAN such as/);
    expect(() => load({ COMPANY_BIC: 'AGRI' })).toThrow(/COMPANY_BIC: expected a BIC of 8 or 11 characters/);
    expect(() => load({ COMPANY_SIRET: '123 456 789' })).toThrow(/COMPANY_SIRET: expected a SIRET of 14 digits/);
  });

  it('accepts IBANs of other countries', () => {
    expect(load({ COMPANY_IBAN: 'DE89 3704 0044 0532 0130 00' }).companyIban).toBe('DE89370400440532013000');
    expect(load({ COMPANY_IBAN: 'BE68 5390 0754 7034' }).companyIban).toBe('BE68539007547034');
  });
});

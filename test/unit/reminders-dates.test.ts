import { describe, expect, it } from 'vitest';
import { businessDate, frenchDate } from '../../src/reminders/dates.js';
import { composeReminder } from '../../src/reminders/run.js';
import type { PlannedReminder } from '../../src/reminders/plan.js';

describe('business dates in Europe/Paris', () => {
  it('takes the Paris calendar day, not the UTC one, around midnight and month ends', () => {
    expect(businessDate(new Date('2026-01-31T22:59:59Z'), 'Europe/Paris')).toBe('2026-01-31');
    expect(businessDate(new Date('2026-01-31T23:00:00Z'), 'Europe/Paris')).toBe('2026-02-01');
    expect(businessDate(new Date('2026-12-31T23:30:00Z'), 'Europe/Paris')).toBe('2027-01-01');
  });

  it('follows the daylight-saving changes (UTC+1 in winter, UTC+2 in summer)', () => {
    // 29 March 2026: clocks go forward at 02:00; the day starts at 23:00 UTC the evening before.
    expect(businessDate(new Date('2026-03-28T22:59:00Z'), 'Europe/Paris')).toBe('2026-03-28');
    expect(businessDate(new Date('2026-03-28T23:00:00Z'), 'Europe/Paris')).toBe('2026-03-29');
    expect(businessDate(new Date('2026-03-29T21:59:00Z'), 'Europe/Paris')).toBe('2026-03-29');
    expect(businessDate(new Date('2026-03-29T22:00:00Z'), 'Europe/Paris')).toBe('2026-03-30');
    // 25 October 2026: clocks go back; the next day starts at 23:00 UTC again.
    expect(businessDate(new Date('2026-10-25T22:59:00Z'), 'Europe/Paris')).toBe('2026-10-25');
    expect(businessDate(new Date('2026-10-25T23:00:00Z'), 'Europe/Paris')).toBe('2026-10-26');
  });

  it('writes dates the French way', () => {
    expect(frenchDate('2026-03-02')).toBe('02/03/2026');
  });
});

describe('reminder messages', () => {
  const base: PlannedReminder = {
    documentType: 'facture', documentId: '7', numero: 'F-7', level: 'relance-2', dueSince: '2026-04-01', referenceDate: '2026-01-31',
    validUntil: null, daysLate: 60, amount: '1500.00', clientId: '1', clientName: 'Dupont\r\nBcc: x@y.fr', clientType: 'particulier', email: 'a@exemple.fr',
  };

  it('keeps the company copy in the envelope and a hostile client name out of the headers', async () => {
    const m = await composeReminder(base, 'AJ <c@aj.fr>', 'copie@aj.fr');
    expect(m.bcc).toEqual(['copie@aj.fr']);
    expect(m.to[0]).not.toMatch(/[\r\n]/);
    expect(m.template).toBe('facture-relance-2');
    expect(m.text).toContain('31/01/2026');
    expect(m.text).not.toContain('40 EUR');
  });

  it('uses level 2 text with the penalties for professional clients', async () => {
    const m = await composeReminder({ ...base, clientType: 'professionnel', clientName: 'SARL' }, 'c@aj.fr', undefined);
    expect(m.text).toContain('40 EUR');
    expect(m.bcc).toEqual([]);
  });
});

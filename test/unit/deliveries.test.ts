import { describe, expect, it } from 'vitest';
import { refusedClients } from '../../src/deliveries/ledger.js';
import type { OutgoingMessage } from '../../src/mail/history.js';
import { type RunSummary, runFailure } from '../../src/reminders/run.js';

const message: OutgoingMessage = {
  from: 'Art et Jardin <contact@art-et-jardin.fr>',
  to: ['"Dupont, Jérôme" <Jerome@Exemple.fr>'],
  cc: ['compta@exemple.fr'],
  bcc: ['copie@art-et-jardin.fr'],
  subject: 'Relance',
  attachments: [],
};

describe('refusedClients', () => {
  it('names refused client recipients (to, cc), whatever the case; a refused company copy is not one', () => {
    expect(refusedClients(message, [])).toEqual([]);
    expect(refusedClients(message, ['copie@art-et-jardin.fr'])).toEqual([]);
    expect(refusedClients(message, ['jerome@exemple.fr', 'copie@art-et-jardin.fr'])).toEqual(['jerome@exemple.fr']);
    expect(refusedClients(message, ['compta@exemple.fr'])).toEqual(['compta@exemple.fr']);
  });
});

describe('runFailure', () => {
  const summary = (over: Partial<RunSummary>): RunSummary => ({
    asOf: '2026-06-15', dryRun: false, plan: { asOf: '2026-06-15', reminders: [], expiring: [] },
    sent: 3, failed: 0, unknown: 0, skipped: [], damaged: [], expired: 0, stuck: [], results: [], ...over,
  });
  const skipped = (action: 'letter-or-call' | 'fix-data') => ({ documentType: 'facture', documentId: '1', numero: 'F-1', level: 'relance-1', reason: 'x', action });

  it('passes a run whose only skips are clients without an address, and any dry run', () => {
    expect(runFailure(summary({ skipped: [skipped('letter-or-call')] }))).toBeUndefined();
    expect(runFailure(summary({ dryRun: true, failed: 2, skipped: [skipped('fix-data')] }))).toBeUndefined();
  });

  it('fails on a failed or unknown reminder, one waiting to be settled, or bad data, naming the settle command', () => {
    expect(runFailure(summary({ failed: 1 }))?.message).toContain('1 reminder(s) failed');
    expect(runFailure(summary({ skipped: [skipped('fix-data')] }))?.message).toContain('1 document(s) skipped for their data');
    const stuck = runFailure(summary({ stuck: [{ id: 7, key: 'reminder:facture:1:relance-1', purpose: 'reminder', status: 'unknown', error: null }] }));
    expect(stuck?.message).toContain('aj mail settle 7 --delivered');
  });

  it('exits 4 when an invoice PDF is damaged, before any other failure', () => {
    const damaged = runFailure(summary({ failed: 1, damaged: [{ documentType: 'facture', documentId: '1', numero: 'F-1', level: 'relance-1', error: 'damaged' }] }));
    expect([damaged?.exitCode, damaged?.message]).toEqual([4, '1 invoice PDF(s) damaged in storage, their reminder not sent: facture F-1']);
  });
});

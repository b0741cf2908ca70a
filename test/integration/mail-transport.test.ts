import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { OperationError } from '../../src/errors.js';
import { OutboxTransport, createTransport } from '../../src/mail/transport.js';
import { type SmtpTestServer, startSmtpServer } from '../helpers/smtp.js';
import { closedPort } from '../helpers/ports.js';

const configOf = (env: Record<string, string>) => loadConfig({ env, envFile: join(tmpdir(), 'aj-no-such.env') }).config;

const facture = {
  from: 'Art et Jardin <contact@art-et-jardin.fr>',
  to: 'client@example.fr',
  bcc: 'copie@art-et-jardin.fr',
  subject: 'Facture F-2026-042 — relance',
  text: 'Bonjour, la facture F-2026-042 reste à régler.',
  attachments: [{ filename: 'F-2026-042.pdf', content: Buffer.from('%PDF-1.4 facture') }],
};


describe('OutboxTransport', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'aj-outbox-'));
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it('is the default without SMTP, under AJ_DATA_DIR/outbox', async () => {
    const transport = await createTransport(configOf({ AJ_DATA_DIR: dataDir }));
    expect(transport.kind).toBe('outbox');
    expect(transport.description).toBe(`outbox ${join(dataDir, 'outbox')}`);
    await transport.verify();
    expect((await stat(join(dataDir, 'outbox'))).isDirectory()).toBe(true);
  });

  it('writes one private .eml file per message, complete with BCC recipients in the envelope', async () => {
    const outbox = new OutboxTransport(join(dataDir, 'outbox'));
    const first = await outbox.send(facture);
    await outbox.send({ ...facture, subject: 'Devis D-2026-003' });
    const files = (await readdir(join(dataDir, 'outbox'))).sort();
    expect(files).toHaveLength(2);
    expect(files.every((f) => f.endsWith('.eml'))).toBe(true);
    expect(first.accepted).toEqual(['client@example.fr', 'copie@art-et-jardin.fr']);
    expect(first.rejected).toEqual([]);
    const path = first.response.replace(/^written to /, '');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const parsed = await simpleParser(await readFile(path));
    expect(parsed.subject).toBe(facture.subject);
    expect(parsed.text?.trim()).toBe(facture.text);
    expect(parsed.messageId).toBe(first.messageId);
    expect(parsed.attachments.map((a) => a.filename)).toEqual(['F-2026-042.pdf']);
  });
});

describe('SMTP transport', () => {
  let smtp: SmtpTestServer;
  beforeAll(async () => {
    smtp = await startSmtpServer();
  });
  afterAll(() => smtp?.stop());

  it('delivers through SMTP_URL, BCC in the envelope only', async () => {
    const transport = await createTransport(configOf({ SMTP_URL: smtp.url }));
    try {
      expect(transport).toMatchObject({ kind: 'smtp', description: `smtp://127.0.0.1:${smtp.port}` });
      await transport.verify();
      const sent = await transport.send(facture);
      expect(sent.accepted.sort()).toEqual(['client@example.fr', 'copie@art-et-jardin.fr']);
      const received = smtp.messages.at(-1)!;
      expect(received.from).toBe('contact@art-et-jardin.fr');
      expect(received.to.sort()).toEqual(['client@example.fr', 'copie@art-et-jardin.fr']);
      const parsed = await simpleParser(received.raw);
      expect(parsed.subject).toBe(facture.subject);
      expect(parsed.bcc).toBeUndefined();
      expect(parsed.attachments[0]!.content.toString()).toBe('%PDF-1.4 facture');
    } finally {
      transport.close();
    }
  });

  it('delivers through the SMTP_HOST family, pooled for batches', async () => {
    const transport = await createTransport(configOf({ SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port) }), { pool: true });
    const before = smtp.messages.length;
    try {
      await Promise.all(['a', 'b', 'c'].map((n) => transport.send({ from: facture.from, to: `${n}@example.fr`, subject: `relance ${n}`, text: 'x' })));
      expect(smtp.messages.length - before).toBe(3);
    } finally {
      transport.close();
    }
  });

  it('reports refused recipients, and fails when all are refused', async () => {
    smtp.rejectRecipients.add('parti@example.fr');
    const transport = await createTransport(configOf({ SMTP_URL: smtp.url }));
    try {
      const partly = await transport.send({ ...facture, to: ['client@example.fr', 'parti@example.fr'], bcc: undefined });
      expect(partly.accepted).toEqual(['client@example.fr']);
      expect(partly.rejected).toEqual(['parti@example.fr']);
      const error = await transport.send({ ...facture, to: 'parti@example.fr', bcc: undefined }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OperationError);
      expect((error as Error).message).toMatch(/^SMTP delivery via smtp:\/\/127\.0\.0\.1:\d+ failed: .*550/);
    } finally {
      transport.close();
    }
  });

  it('says a server that is not there is not usable, without its password', async () => {
    const port = await closedPort();
    const transport = await createTransport(configOf({ SMTP_URL: `smtp://mailer:smtp-secret-77@127.0.0.1:${port}` }));
    try {
      const error = await transport.verify().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OperationError);
      expect((error as Error).message).toMatch(new RegExp(`^SMTP server smtp://127\\.0\\.0\\.1:${port} is not usable: .*ECONNREFUSED`));
      expect(`${(error as Error).message} ${(error as OperationError).hint}`).not.toContain('smtp-secret-77');
      await expect(transport.send(facture)).rejects.toThrow(/SMTP delivery via .* failed/);
    } finally {
      transport.close();
    }
  });
});

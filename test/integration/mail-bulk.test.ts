import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { parseDatabaseUrl } from '../../src/db/connection.js';
import { migrate } from '../../src/db/migrate.js';
import { Db } from '../../src/db/pool.js';
import { type BatchItem, sendBatch } from '../../src/mail/bulk.js';
import type { OutgoingMessage } from '../../src/mail/history.js';
import { createTransport } from '../../src/mail/transport.js';
import { type TestDatabase, createTestDatabase } from '../helpers/pg.js';
import { FaultProxy } from '../helpers/s3.js';

let testDb: TestDatabase;
let db: Db;

beforeAll(async () => {
  testDb = await createTestDatabase('mail_bulk');
  db = await Db.connect(parseDatabaseUrl(testDb.url), { schema: 'aj' });
  await migrate(db);
});

afterAll(async () => {
  await db?.close();
  await testDb?.drop();
});

const message = (i: number): OutgoingMessage => ({
  from: 'Art et Jardin <contact@art-et-jardin.fr>',
  to: [`client${i}@exemple.fr`],
  cc: [],
  bcc: ['copie@art-et-jardin.fr'],
  subject: `Relance ${i}`,
  text: 'Bonjour',
  attachments: [],
});

async function smtpServer(onMessage: (count: number) => void): Promise<{ port: number; received: string[]; close(): void }> {
  const received: string[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      stream.resume();
      stream.on('end', () => {
        received.push(session.envelope.rcptTo[0]!.address);
        callback();
        onMessage(received.length);
      });
    },
  });
  // A client killed or cut mid-conversation is expected here, not a test failure.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.server.address() as AddressInfo).port, received, close: () => server.close() };
}

describe('bulk sending', () => {
  it('sends a batch over pooled connections, one delivery and attempt per message, and reports each outcome', async () => {
    const server = await smtpServer(() => undefined);
    const transport = await createTransport(loadConfig({ env: { SMTP_URL: `smtp://127.0.0.1:${server.port}` } }).config, { pool: true });
    const items: Array<BatchItem<number>> = Array.from({ length: 30 }, (_, i) => ({ meta: i, message: message(i) }));
    const result = await sendBatch(db, transport, items, { ratePerMinute: 0 });
    transport.close();
    server.close();
    expect(result).toMatchObject({ sent: 30, failed: 0, unknown: 0, unclaimed: [] });
    expect(result.outcomes.map((o) => o.item.meta).sort((a, b) => a - b)).toEqual(items.map((i) => i.meta));
    expect(await db.query(`SELECT status, count(*)::int AS n FROM deliveries GROUP BY status`)).toEqual([{ status: 'sent', n: 30 }]);
    expect(server.received.sort()).toEqual(items.map((i) => `client${i.meta}@exemple.fr`).sort());
    const rows = await db.query(`SELECT status, count(*)::int AS n FROM email_messages GROUP BY status`);
    expect(rows).toEqual([{ status: 'sent', n: 30 }]);
  });

  it('fails the rest of the batch cleanly when the server goes away mid-batch: every message recorded, none pending', async () => {
    await db.query('TRUNCATE email_messages, deliveries CASCADE');
    let proxy: FaultProxy | undefined;
    const server = await smtpServer((count) => {
      if (count === 5) void proxy!.stop();
    });
    proxy = await new FaultProxy(server.port).start();
    const transport = await createTransport(loadConfig({ env: { SMTP_URL: `smtp://127.0.0.1:${proxy.port}` } }).config, { pool: true });
    const items: Array<BatchItem<number>> = Array.from({ length: 40 }, (_, i) => ({ meta: i, message: message(i) }));
    const result = await sendBatch(db, transport, items, { ratePerMinute: 0, concurrency: 3 });
    transport.close();
    server.close();
    expect(result.sent + result.failed + result.unknown).toBe(40);
    expect(result.failed).toBeGreaterThan(0);
    expect(result.serverDown).toBeDefined();
    const rows = await db.query<{ status: string; to_addresses: string[] }>(`SELECT status, to_addresses FROM email_messages`);
    expect(rows).toHaveLength(40);
    expect(rows.filter((r) => r.status === 'pending')).toEqual([]);
    // Every message recorded sent reached the server, and every one it received is recorded sent or,
    // cut after its final dot before the 250 reached us, unknown: never failed, so never re-sent on its own.
    const to = (status: string) => rows.filter((r) => r.status === status).map((r) => r.to_addresses[0]);
    expect(to('sent').every((address) => server.received.includes(address))).toBe(true);
    expect(server.received.filter((address) => to('failed').includes(address))).toEqual([]);
  });
});

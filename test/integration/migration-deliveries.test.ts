import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../src/db/connection.js';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { Db } from '../../src/db/pool.js';
import { type TestDatabase, createTestDatabase } from '../helpers/pg.js';

let scratch: TestDatabase;
let db: Db;

beforeAll(async () => {
  scratch = await createTestDatabase('migrations_010');
  db = await Db.connect(parseDatabaseUrl(scratch.url), { schema: 'aj' });
});

afterAll(async () => {
  await db?.close();
  await scratch?.drop();
});

describe('010_deliveries', () => {
  it('turns what was sent before the ledger into deliveries: reminders by their key, other messages with their retries', async () => {
    const all = loadMigrations();
    await migrate(db, all.filter((m) => m.version < 10));
    const message = (status: string, retryOf: number | null, template: string | null = null) =>
      scratch.query(`INSERT INTO email_messages (status, from_address, to_addresses, subject, template, retry_of) VALUES ($1, 'a@b.fr', '{c@d.fr}', 's', $2, $3) RETURNING id`, [status, template, retryOf]);
    const [reminderMail] = await message('sent', null, 'facture-relance-1');
    await scratch.query(
      `INSERT INTO reminder_log (document_type, document_id, level, status, email_message_id) VALUES
         ('facture', '42', 'relance-1', 'sent', $1), ('facture', '43', 'relance-1', 'sending', NULL), ('devis', '7', 'expiration', 'done', NULL)`,
      [reminderMail!.id],
    );
    const [failedFirst] = await message('failed', null);
    const [retried] = await message('failed', Number(failedFirst!.id));
    await message('sent', Number(retried!.id));
    const [stillFailed] = await message('failed', null, 'alerte');
    const [pending] = await message('pending', null);

    await migrate(db, all);
    const deliveries = await scratch.query(`SELECT key, purpose, status, attempts FROM deliveries ORDER BY id`);
    expect(deliveries).toEqual([
      { key: 'reminder:facture:42:relance-1', purpose: 'reminder', status: 'sent', attempts: 1 },
      { key: 'reminder:facture:43:relance-1', purpose: 'reminder', status: 'unknown', attempts: 1 },
      { key: `message:${failedFirst!.id}`, purpose: 'send', status: 'sent', attempts: 3 },
      { key: `message:${stillFailed!.id}`, purpose: 'alert', status: 'failed', attempts: 1 },
      { key: `message:${pending!.id}`, purpose: 'send', status: 'unknown', attempts: 1 },
    ]);
    expect(await scratch.query(`SELECT level, status, delivery_id IS NOT NULL AS linked FROM reminder_log ORDER BY id`)).toEqual([
      { level: 'relance-1', status: 'sent', linked: true },
      { level: 'relance-1', status: 'unknown', linked: true },
      { level: 'expiration', status: 'done', linked: false },
    ]);
    expect(await scratch.query(`SELECT count(*)::int AS n FROM email_messages WHERE delivery_id IS NULL`)).toEqual([{ n: 0 }]);
    const claimedTwice = await scratch.query(`INSERT INTO deliveries (key, purpose, status) VALUES ('reminder:facture:42:relance-1', 'reminder', 'sending')`).catch((e: Error) => e);
    expect((claimedTwice as Error).message).toMatch(/duplicate key value violates unique constraint/);
  });
});

// Bulk mail throughput: aj's bulk path (pooled SMTP + a history row per message) against a raw
// nodemailer pooled send of the same messages without history. Not run in CI.
// Usage: npm run build && node bench/mail/bulk.mjs [messages=1000]
// Needs PostgreSQL (AJ_TEST_DATABASE_URL or postgresql://postgres@127.0.0.1:5432/postgres).
import { randomBytes } from 'node:crypto';
import nodemailer from 'nodemailer';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { loadConfig } from '../../dist/src/config/load.js';
import { parseDatabaseUrl } from '../../dist/src/db/connection.js';
import { migrate } from '../../dist/src/db/migrate.js';
import { Db } from '../../dist/src/db/pool.js';
import { sendBatch } from '../../dist/src/mail/bulk.js';
import { createTransport } from '../../dist/src/mail/transport.js';

const count = Number(process.argv[2] ?? 1000);
const admin = process.env.AJ_TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const dbName = `aj_bench_mail_${randomBytes(4).toString('hex')}`;

let received = 0;
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onData(stream, _session, callback) {
    stream.resume();
    stream.on('end', () => {
      received += 1;
      callback();
    });
  },
});
server.on('error', () => undefined);
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = server.server.address().port;

const message = (i) => ({
  from: 'Art et Jardin <contact@art-et-jardin.fr>',
  to: [`client${i}@exemple.fr`],
  cc: [],
  bcc: ['copie@art-et-jardin.fr'],
  subject: `Rappel : facture n° F-${i}`,
  text: 'Bonjour,\n\nSauf erreur de notre part, la facture reste impayée.\n'.repeat(10),
  attachments: [],
});

async function raw() {
  const transporter = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, pool: true, maxConnections: 5, tls: { rejectUnauthorized: false } });
  const start = performance.now();
  await Promise.all(Array.from({ length: count }, (_, i) => {
    const m = message(i);
    return transporter.sendMail({ from: m.from, to: m.to, subject: m.subject, text: m.text, envelope: { from: 'contact@art-et-jardin.fr', to: [...m.to, ...m.bcc] } });
  }));
  const ms = performance.now() - start;
  transporter.close();
  return ms;
}

async function aj(db) {
  const transport = await createTransport(loadConfig({ env: { SMTP_URL: `smtp://127.0.0.1:${port}` } }).config, { pool: true });
  const items = Array.from({ length: count }, (_, i) => ({ meta: i, message: message(i) }));
  const start = performance.now();
  const result = await sendBatch(db, transport, items, { ratePerMinute: 0 });
  const ms = performance.now() - start;
  transport.close();
  if (result.sent !== count) throw new Error(`only ${result.sent} of ${count} sent`);
  return ms;
}

const adminClient = new pg.Client({ connectionString: admin });
await adminClient.connect();
await adminClient.query(`CREATE DATABASE "${dbName}"`);
const url = new URL(admin);
url.pathname = `/${dbName}`;
const db = await Db.connect(parseDatabaseUrl(url.toString()), { schema: 'aj' });
try {
  await migrate(db);
  await raw(); // warm-up: connections, JIT
  const rawMs = await raw();
  const ajMs = await aj(db);
  const rows = (await db.one('SELECT count(*) AS n FROM email_messages WHERE status = $1', ['sent'])).n;
  const rate = (ms) => (count / (ms / 1000)).toFixed(0);
  console.log(`messages: ${count} (server received ${received}, history rows sent: ${rows})`);
  console.log(`raw nodemailer pool (5 connections, no history): ${rawMs.toFixed(0)} ms, ${rate(rawMs)} msg/s`);
  console.log(`aj bulk path (pool + pending/sent rows):          ${ajMs.toFixed(0)} ms, ${rate(ajMs)} msg/s`);
  console.log(`throughput ratio aj/raw: ${(rawMs / ajMs).toFixed(2)}x (target >= 0.8x)`);
} finally {
  await db.close();
  await adminClient.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  await adminClient.end();
  server.close();
}

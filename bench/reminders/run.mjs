// Reminders: dry-run planning over 100,000 invoices and 20,000 quotes (set-based SQL) against a
// single count(*) over the same filters, then 1,000 reminders sent through `aj reminders run`
// against a raw pooled nodemailer send of 1,000 messages. Not run in CI.
// Usage: npm run build && node bench/reminders/run.mjs [invoices=100000] [quotes=20000] [send=1000]
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import nodemailer from 'nodemailer';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';

const [invoices = 100_000, quotes = 20_000, toSend = 1000] = process.argv.slice(2).map(Number);
const AJ = fileURLToPath(new URL('../../bin/aj', import.meta.url));
const admin = process.env.AJ_TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const dbName = `aj_bench_reminders_${randomBytes(4).toString('hex')}`;
const url = new URL(admin);
url.pathname = `/${dbName}`;
const AS_OF = '2026-06-15';

let received = 0;
const server = new SMTPServer({
  authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
  onData(stream, _s, cb) { stream.resume(); stream.on('end', () => { received += 1; cb(); }); },
});
server.on('error', () => undefined);
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = server.server.address().port;
const env = { DATABASE_URL: url.toString(), SMTP_URL: `smtp://127.0.0.1:${port}`, COMPANY_BCC_EMAIL: 'copie@art-et-jardin.fr', PATH: process.env.PATH };
const aj = (args) => execa(process.execPath, [AJ, ...args], { env, extendEnv: false, reject: false });
const time = async (fn) => { const t = performance.now(); const r = await fn(); return [performance.now() - t, r]; };

const adminClient = new pg.Client({ connectionString: admin });
await adminClient.connect();
await adminClient.query(`CREATE DATABASE "${dbName}"`);
// aj's standalone tables live in its own schema (AJ_DB_SCHEMA, default aj).
const client = new pg.Client({ connectionString: url.toString(), options: '-c search_path=aj' });
try {
  if ((await aj(['db', 'migrate'])).exitCode !== 0) throw new Error('migrate failed');
  await client.connect();
  // 2,000 clients; a tenth of the invoices sent and unpaid, due 0-120 days ago; the rest paid.
  await client.query(`INSERT INTO clients (nom, email, type) SELECT 'Client ' || i, 'client' || i || '@exemple.fr',
    CASE WHEN i % 3 = 0 THEN 'professionnel' ELSE 'particulier' END FROM generate_series(1, 2000) i`);
  await client.query(`INSERT INTO factures (numero, client_id, statut, montant_ttc, date_emission, date_echeance, date_paiement)
    SELECT 'F-' || i, 1 + i % 2000, CASE WHEN i % 10 = 0 THEN 'envoyee' ELSE 'payee' END, 100 + i % 5000,
           $1::date - (i % 120) - 30, $1::date - (i % 120), CASE WHEN i % 10 = 0 THEN NULL ELSE $1::date END
      FROM generate_series(1, $2::int) i`, [AS_OF, invoices]);
  await client.query(`INSERT INTO devis (numero, client_id, statut, montant_ttc, date_emission, date_envoi, date_validite)
    SELECT 'D-' || i, 1 + i % 2000, CASE WHEN i % 5 = 0 THEN 'envoye' ELSE 'signe' END, 500, $1::date - (i % 60), $1::date - (i % 60), $1::date - (i % 60) + 45
      FROM generate_series(1, $2::int) i`, [AS_OF, quotes]);
  await client.query('ANALYZE');

  const countSql = `SELECT
    (SELECT count(*) FROM factures f JOIN clients c ON c.id = f.client_id WHERE f.statut = 'envoyee' AND f.date_paiement IS NULL
       AND f.deleted_at IS NULL AND c.deleted_at IS NULL AND NOT c.reminders_paused AND f.date_echeance + 30 <= $1::date) +
    (SELECT count(*) FROM devis d JOIN clients c ON c.id = d.client_id WHERE d.statut = 'envoye' AND d.date_signature IS NULL
       AND d.deleted_at IS NULL AND c.deleted_at IS NULL AND NOT c.reminders_paused AND d.date_envoi + 15 <= $1::date AND d.date_validite >= $1::date) +
    (SELECT count(*) FROM devis d WHERE d.statut = 'envoye' AND d.date_signature IS NULL AND d.deleted_at IS NULL AND d.date_validite < $1::date) AS n`;
  await client.query(countSql, [AS_OF]);
  const [countMs, countRes] = await time(() => client.query(countSql, [AS_OF]));
  await aj(['--version']);
  const [startupMs] = await time(() => aj(['--version']));
  const [dryMs, dry] = await time(() => aj(['reminders', 'run', '--dry-run', '--json', '--as-of', AS_OF]));
  if (dry.exitCode !== 0) throw new Error(dry.stderr);
  const plan = JSON.parse(dry.stdout).plan;
  const planned = plan.reminders.length + plan.expiring.length;
  console.log(`data: ${invoices} invoices, ${quotes} quotes; planned ${plan.reminders.length} reminders + ${plan.expiring.length} expiries (count(*) says ${countRes.rows[0].n})`);
  console.log(`aj reminders run --dry-run --json (whole process): ${dryMs.toFixed(0)} ms (process startup alone ${startupMs.toFixed(0)} ms)`);
  console.log(`single SELECT count(*) over the same filters:     ${countMs.toFixed(0)} ms; ratio dry-run/count ${(dryMs / countMs).toFixed(1)}x, minus startup ${((dryMs - startupMs) / countMs).toFixed(1)}x`);
  if (planned !== Number(countRes.rows[0].n)) console.log('warning: plan and count disagree');

  const transporter = nodemailer.createTransport({ host: '127.0.0.1', port, pool: true, maxConnections: 5 });
  const [rawMs] = await time(() => Promise.all(Array.from({ length: toSend }, (_, i) => transporter.sendMail({
    from: 'Art et Jardin <contact@art-et-jardin.fr>', to: `client${i}@exemple.fr`, subject: `Rappel : facture n° F-${i}`,
    text: 'Bonjour,\n\nSauf erreur de notre part, la facture reste impayée.\n'.repeat(10),
    envelope: { from: 'contact@art-et-jardin.fr', to: [`client${i}@exemple.fr`, 'copie@art-et-jardin.fr'] },
  }))));
  transporter.close();
  const [sendMs, sent] = await time(() => aj(['reminders', 'run', '--only', 'invoices', '--limit', String(toSend), '--as-of', AS_OF, '--json']));
  if (sent.exitCode !== 0) throw new Error(sent.stderr);
  const s = JSON.parse(sent.stdout);
  console.log(`raw nodemailer pool, ${toSend} messages:        ${rawMs.toFixed(0)} ms, ${(toSend / rawMs * 1000).toFixed(0)} msg/s`);
  console.log(`aj reminders run, ${s.sent} sent (whole process): ${sendMs.toFixed(0)} ms, ${(s.sent / sendMs * 1000).toFixed(0)} msg/s`);
  console.log(`throughput ratio aj/raw: ${(rawMs / sendMs).toFixed(2)}x (target >= 0.7x); server received ${received} deliveries (recipient + company copy)`);
} finally {
  await client.end().catch(() => undefined);
  await adminClient.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  await adminClient.end();
  server.close();
}

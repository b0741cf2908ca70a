import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { aj, scratchDir } from './cli.js';
import { type TestDatabase, createTestDatabase } from './pg.js';
import { type SmtpTestServer, startSmtpServer } from './smtp.js';

/**
 * A PDF-like file archived with `aj archive put` under `docId` (a document's number or id), into
 * the local archive at `archiveDir` that env's ARCHIVE_BUCKET names. Returns its bytes and the
 * stored file, to damage it behind aj's back.
 */
export async function archivePdf(env: Record<string, string>, archiveDir: string, type: string, docId: string, cwd?: string): Promise<{ content: Buffer; stored: string }> {
  const content = Buffer.concat([Buffer.from(`%PDF-1.7\n% ${type} ${docId}\n`), randomBytes(20_000), Buffer.from('\n%%EOF\n')]);
  const file = join(scratchDir('archived-pdf'), `${docId}.pdf`);
  writeFileSync(file, content);
  const put = await aj(['archive', 'put', file, '--type', type, '--doc-id', docId, '--json'], { env, cwd });
  if (put.exitCode !== 0) throw new Error(`archive put failed: ${put.stderr}`);
  return { content, stored: join(archiveDir, JSON.parse(put.stdout).files[0].key) };
}

/** Bit rot: one byte of the stored object flipped, same size. Returns the good bytes, to restore them. */
export function flipByte(path: string): Buffer {
  const good = readFileSync(path);
  const bytes = Buffer.from(good);
  bytes[bytes.length >> 1] ^= 0x01;
  writeFileSync(path, bytes);
  return good;
}

export interface MailWorld {
  db: TestDatabase;
  smtp: SmtpTestServer;
  /** aj's settings: the database, the SMTP server, the company BCC and a local archive. */
  env: Record<string, string>;
  archiveDir: string;
  stop(): Promise<void>;
}

/** What mail tests with archived PDFs start from: a database migrated by aj, a real SMTP server, a local archive. */
export async function startMailWorld(label: string): Promise<MailWorld> {
  const [db, smtp] = await Promise.all([createTestDatabase(label), startSmtpServer()]);
  const dataDir = scratchDir(`${label}-data`);
  const archiveDir = join(dataDir, 'archive');
  const env = { DATABASE_URL: db.url, SMTP_URL: smtp.url, COMPANY_BCC_EMAIL: 'copie@art-et-jardin.fr', AJ_DATA_DIR: dataDir, ARCHIVE_BUCKET: `file://${archiveDir}` };
  const migrate = await aj(['db', 'migrate'], { env });
  if (migrate.exitCode !== 0) throw new Error(`migrate failed: ${migrate.stderr}`);
  return { db, smtp, env, archiveDir, stop: async () => void (await Promise.all([db.drop(), smtp.stop()])) };
}

import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { aj, scratchDir } from './cli.js';

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

import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError, UsageError } from '../errors.js';

/**
 * The data directory aj archives from or restores into: --data-dir, else PGDATA, else the current
 * directory (PostgreSQL runs archive_command and restore_command there).
 */
export function resolveDataDir(option: string | undefined, env: NodeJS.ProcessEnv): string {
  const dir = resolve(option ?? env.PGDATA ?? process.cwd());
  if (!existsSync(join(dir, 'global', 'pg_control'))) {
    throw new ConfigError(
      `${dir} is not a PostgreSQL data directory (no global/pg_control)`,
      'run it as PostgreSQL does (archive_command/restore_command start in the data directory), or pass --data-dir DIR or set PGDATA',
    );
  }
  return dir;
}

/**
 * The cluster's system identifier: the first 8 bytes of pg_control, little-endian (the byte order
 * of every platform PostgreSQL runs on in practice). It is fixed at initdb and kept by base backups
 * and their restores, so it names one cluster's WAL for its whole life, no database connection needed.
 */
export async function readSystemIdentifier(dataDir: string): Promise<string> {
  const path = join(dataDir, 'global', 'pg_control');
  const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
    throw new ConfigError(`cannot read ${path}: ${error.code ?? error.message}`, 'run aj as the PostgreSQL server user (the one that owns the data directory)');
  });
  try {
    const buffer = Buffer.alloc(8);
    const { bytesRead } = await handle.read(buffer, 0, 8, 0);
    if (bytesRead !== 8) throw new ConfigError(`${path} is truncated`, 'check the data directory');
    return buffer.readBigUInt64LE(0).toString();
  } finally {
    await handle.close();
  }
}

/** A system identifier given by hand (--cluster): digits only, as pg_controldata prints it. */
export function parseSystemIdentifier(value: string): string {
  if (!/^\d{1,20}$/.test(value)) throw new UsageError(`--cluster: "${value}" is not a system identifier`, 'give the digits pg_controldata prints as "Database system identifier"');
  return value;
}

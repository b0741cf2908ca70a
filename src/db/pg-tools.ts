import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { OperationError } from '../errors.js';

export type PgTool = 'pg_dump' | 'pg_dumpall' | 'pg_restore' | 'psql' | 'pg_basebackup';

/**
 * Where a PostgreSQL client tool lives. pg_dump refuses servers newer than itself, so with
 * several versions installed (Debian's /usr/lib/postgresql/N/bin) the newest one is taken.
 */
export function pgToolPath(tool: PgTool, config: Pick<Config, 'pgBinDir'>): string {
  if (config.pgBinDir) {
    const path = join(config.pgBinDir, tool);
    if (!existsSync(path)) throw new OperationError(`${tool} not found in PG_BIN_DIR (${config.pgBinDir})`, 'fix PG_BIN_DIR or unset it');
    return path;
  }
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const path = join(base, version, 'bin', tool);
    if (existsSync(path)) return path;
  }
  return tool;
}

export function pgToolMissing(tool: PgTool): OperationError {
  return new OperationError(`${tool} is not installed`, 'install the PostgreSQL client (apt-get install postgresql-client) or set PG_BIN_DIR');
}

/** Major version of a client tool (`pg_dump (PostgreSQL) 15.20` -> 15). */
export async function pgToolVersion(tool: PgTool, config: Pick<Config, 'pgBinDir'>): Promise<{ path: string; version: string; major: number }> {
  const path = pgToolPath(tool, config);
  // node:child_process, not execa: loading execa took longer than running the tool (every backup asks).
  const { execFile } = await import('node:child_process');
  try {
    const stdout = await new Promise<string>((resolve, reject) => execFile(path, ['--version'], (error, out) => (error ? reject(error) : resolve(out.trim()))));
    const match = /(\d+)(?:\.(\d+))?/.exec(stdout);
    return { path, version: match?.[0] ?? stdout, major: Number(match?.[1] ?? 0) };
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') {
      throw pgToolMissing(tool);
    }
    throw error;
  }
}

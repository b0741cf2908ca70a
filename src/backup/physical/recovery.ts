import { appendFile, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { type RecoveryTarget, postgresTime } from './target.js';

/**
 * restore_command: this very aj (the same node and bin, so the server runs the version that made the
 * restore) fetching WAL with the settings of `envFile`. PostgreSQL runs it through the shell.
 */
export function restoreCommand(envFile: string, aj: { node: string; bin: string } = { node: process.execPath, bin: resolve(process.argv[1] ?? 'aj') }): string {
  return [aj.node, '--', aj.bin, '--env-file', envFile].map(shellQuote).join(' ') + ' wal fetch %f %p';
}

/**
 * The env file the restored server's restore_command reads: the one given, else the one aj was
 * started with. The server runs without aj's environment, so there must be one.
 */
export function envFileForRecovery(given: string | undefined, startedWith: string | undefined): string {
  const file = given ?? startedWith;
  if (!file) throw new UsageError('the restored server needs aj\'s settings to fetch WAL, and no env file was given', 'pass --wal-env-file FILE (or run aj with --env-file FILE): it must hold BACKUP_BUCKET and, for an encrypted archive, BACKUP_AGE_IDENTITY_FILE');
  return isAbsolute(file) ? file : resolve(file);
}

/**
 * Appends the recovery settings to postgresql.auto.conf (the last value of a setting wins, over what
 * the source server had there) and creates recovery.signal: the server replays archived WAL up to
 * the target, then promotes itself onto a new timeline.
 */
export async function writeRecoverySettings(dataDir: string, target: RecoveryTarget, command: string, label: string): Promise<Record<string, string>> {
  const settings: Record<string, string> = { restore_command: command };
  if (target.kind === 'time') settings.recovery_target_time = postgresTime(target.at);
  if (target.kind === 'lsn') settings.recovery_target_lsn = target.lsn;
  if (target.kind !== 'latest') {
    settings.recovery_target_inclusive = 'on';
    settings.recovery_target_action = 'promote';
  }
  settings.recovery_target_timeline = 'latest';
  const lines = Object.entries(settings).map(([name, value]) => `${name} = ${confQuote(value)}`);
  await appendFile(join(dataDir, 'postgresql.auto.conf'), `\n# ${label}\n${lines.join('\n')}\n`, { mode: 0o600 });
  await writeFile(join(dataDir, 'recovery.signal'), '', { mode: 0o600 });
  return settings;
}

const shellQuote = (word: string) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);

const confQuote = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

import { resolve } from 'node:path';
import type { Context } from '../context.js';
import type { Db } from '../db/pool.js';
import type { Check } from '../ops/doctor.js';

interface ArchiverRow {
  last_archived_wal: string | null;
  last_archived_time: Date | null;
  failed_count: string;
  last_failed_wal: string | null;
  last_failed_time: Date | null;
}

/** archive_command calls `aj ... wal push %p` (any path to aj, any global options). */
const CALLS_AJ = /(^|[\s/'"])aj(\s.*)?\swal\s+push\s+(.*\s)?%p(\s|$)/;

/** The postgresql.conf lines that make PostgreSQL archive its WAL through aj. */
export function archivingSetup(envFile: string): string[] {
  return ['wal_level = replica', 'archive_mode = on', `archive_command = 'aj --env-file ${envFile} wal push %p'`, 'archive_timeout = 60'];
}

/**
 * `aj doctor`'s WAL archiving check: is the server set up to archive through aj (wal_level,
 * archive_mode, archive_command, archive_timeout), is archiving working (pg_stat_archiver), and may
 * aj's role take base backups (REPLICATION). Not set up is a warning, or a failure under WAL_ARCHIVING=required.
 */
export async function walArchivingCheck(ctx: Context, db: Db): Promise<Check> {
  const name = 'wal archiving';
  const required = ctx.config().walArchiving === 'required';
  const settings = new Map((await db.query<{ name: string; setting: string }>(
    `SELECT name, setting FROM pg_settings WHERE name IN ('wal_level', 'archive_mode', 'archive_command', 'archive_timeout')`,
  )).map((r) => [r.name, r.setting]));
  const envFile = ctx.globals.envFile ? resolve(ctx.globals.envFile) : '/etc/aj/aj.env';
  const setup = `add to postgresql.conf: ${archivingSetup(envFile).join('; ')}; restart PostgreSQL. ${envFile} must be readable by the postgres user (it runs archive_command)`;
  const notSetUp = (detail: string): Check => ({ name, status: required ? 'fail' : 'warn', detail: `${detail}: no point-in-time recovery`, hint: setup });

  const mode = settings.get('archive_mode') ?? 'off';
  const level = settings.get('wal_level') ?? 'replica';
  // Superuser-only before pg_read_all_settings: unknown, then judged by what the archiver did.
  const command = settings.get('archive_command');
  if (mode === 'off') return notSetUp('archive_mode is off');
  if (level === 'minimal') return notSetUp('wal_level is minimal');
  if (command !== undefined && !CALLS_AJ.test(command)) {
    return notSetUp(command ? `archive_command is '${command}', not aj wal push` : 'archive_command is empty: WAL files pile up in pg_wal');
  }

  const archiver = (await db.one<ArchiverRow>(`SELECT last_archived_wal, last_archived_time, failed_count::text, last_failed_wal, last_failed_time FROM pg_stat_archiver`))!;
  const failing = archiver.last_failed_time && (!archiver.last_archived_time || archiver.last_failed_time > archiver.last_archived_time);
  if (failing) {
    return {
      name, status: 'fail',
      detail: `archiving fails: ${archiver.last_failed_wal} failed at ${archiver.last_failed_time!.toISOString()} (${archiver.failed_count} failures), WAL files pile up in pg_wal`,
      hint: "read aj's one-line message in PostgreSQL's log; `aj wal push` exit 5 means two servers archive to one place",
    };
  }
  const warnings: string[] = [];
  const timeout = Number(settings.get('archive_timeout') ?? 0);
  if (timeout === 0 || timeout > 300) warnings.push(`archive_timeout = ${timeout}: on a quiet server the last writes may stay out of the archive for ${timeout === 0 ? 'hours' : `${Math.round(timeout / 60)} min`}; set archive_timeout = 60`);
  const role = await db.one<{ rolname: string; allowed: boolean }>(`SELECT rolname, rolreplication OR rolsuper AS allowed FROM pg_roles WHERE rolname = current_user`);
  if (role && !role.allowed) warnings.push(`role ${role.rolname} lacks REPLICATION, which pg_basebackup needs for base backups: ALTER ROLE ${role.rolname} REPLICATION`);
  if (command === undefined) warnings.push('archive_command cannot be read by this role (superuser or pg_read_all_settings): check that it calls aj wal push %p');
  const last = archiver.last_archived_wal ? `last archived ${archiver.last_archived_wal} at ${archiver.last_archived_time!.toISOString()}` : 'nothing archived yet';
  const detail = `archive_mode = ${mode}, archive_command runs aj wal push; ${last}${Number(archiver.failed_count) > 0 ? ` (${archiver.failed_count} failed attempts before, each retried)` : ''}`;
  if (warnings.length > 0) return { name, status: 'warn', detail, hint: warnings.join('; ') };
  return { name, status: 'ok', detail };
}

import { hostname } from 'node:os';
import type pg from 'pg';
import { LockHeldError, OperationError } from '../errors.js';
import type { Db } from './pool.js';

// Advisory locks take two int4 keys: a fixed namespace for aj jobs, then hashtext(job name).
const JOB_LOCK_NAMESPACE = 0x616a6a62; // "ajjb"
// Advisory locks belong to one database; pg_locks shows the whole cluster (other aj databases too).
const THIS_DATABASE = '(SELECT oid FROM pg_database WHERE datname = current_database())';

export interface JobLock {
  job: string;
  release(): Promise<void>;
}

/** The lock's session ended under a running job (database restart, failover, pg_terminate_backend). */
export class LockLostError extends OperationError {}

type LossHandler = (error: LockLostError) => void;
let onLockLost: LossHandler = () => undefined;

/**
 * What happens when a job's lock session dies: the entry point stops the command (as it does on
 * SIGTERM), since without its lock a job can no longer know it runs alone.
 */
export function setLockLossHandler(handler: LossHandler): void {
  onLockLost = handler;
}

export interface LockOptions {
  wait?: boolean;
  signal?: AbortSignal;
  pollMs?: number;
}

/**
 * Takes the cluster-wide lock for a job (two cron runs, or two servers, never run it twice at once).
 * The lock lives on a dedicated session: if the process dies, PostgreSQL releases it.
 */
export async function acquireJobLock(db: Db, job: string, options: LockOptions = {}): Promise<JobLock> {
  const client = await db.client();
  const owner = `aj ${job} pid=${process.pid} host=${hostname()}`;
  try {
    await client.query(`SELECT set_config('application_name', $1, false)`, [owner.slice(0, 63)]);
    while (!(await tryLock(client, job))) {
      if (!options.wait) throw new LockHeldError(`${job} is already running${await describeHolder(client, job)}`, 'wait for it to finish, or pass --wait');
      await sleep(options.pollMs ?? 1000, options.signal);
    }
  } catch (error) {
    client.release();
    throw error;
  }
  let released = false;
  let lost = false;
  const onLost = (error?: Error) => {
    if (released || lost) return;
    lost = true;
    onLockLost(new LockLostError(
      `lost the database session holding the ${job} lock${error?.message ? ` (${error.message})` : ''}: stopped, since another run may now start`,
      'check that PostgreSQL is back, then run the command again; the next run closes what this one left open',
      { cause: error },
    ));
  };
  const onEnd = () => onLost();
  client.on('error', onLost);
  client.on('end', onEnd);
  return {
    job,
    async release() {
      if (released) return;
      released = true;
      client.off('error', onLost);
      client.off('end', onEnd);
      if (lost) {
        client.release(true);
        return;
      }
      await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [JOB_LOCK_NAMESPACE, job]).catch(() => undefined);
      client.release();
    },
  };
}

/** Whether some session holds the job's lock right now (used to tell "running" from "interrupted"). */
export async function isJobLocked(db: Db, job: string): Promise<boolean> {
  const row = await db.one<{ held: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::int::oid
       AND objid = hashtext($2)::oid AND objsubid = 2 AND granted AND database = ${THIS_DATABASE}) AS held`,
    [JOB_LOCK_NAMESPACE, job],
  );
  return row?.held ?? false;
}

async function tryLock(client: pg.PoolClient, job: string): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [JOB_LOCK_NAMESPACE, job]);
  return rows[0]!.ok;
}

async function describeHolder(client: pg.PoolClient, job: string): Promise<string> {
  const { rows } = await client.query<{ application_name: string; client_addr: string | null }>(
    `SELECT a.application_name, a.client_addr::text FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.classid = $1::int::oid AND l.objid = hashtext($2)::oid AND l.objsubid = 2 AND l.granted
        AND l.database = ${THIS_DATABASE}`,
    [JOB_LOCK_NAMESPACE, job],
  );
  const holder = rows[0];
  if (!holder) return '';
  const match = /pid=(\d+) host=(\S+)/.exec(holder.application_name);
  return match ? ` (pid ${match[1]} on ${match[2]})` : holder.client_addr ? ` (from ${holder.client_addr})` : '';
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

import type { Context } from '../../context.js';
import { VerificationError } from '../../errors.js';
import { formatDuration, formatTime, renderTable } from '../../render.js';
import type { DrillResult } from './drill.js';

/** The drill's proof: one row per table (or JSON), then exit 4 when counts differ from those expected. */
export async function renderDrill(ctx: Context, drill: DrillResult, json: boolean): Promise<void> {
  if (json) ctx.io.json(drill);
  else {
    const rows = drill.databases.flatMap((d) => Object.entries(d.counts).map(([table, count]) => ({ database: d.database, table, count })));
    const differs = (r: { database: string; table: string }) => drill.differences.find((d) => d.database === r.database && d.table === r.table);
    await renderTable(ctx.io, rows, [
      { header: 'database', value: (r) => r.database },
      { header: 'table', value: (r) => r.table },
      { header: 'rows', value: (r) => r.count },
      { header: 'expected', value: (r) => differs(r)?.expected ?? '' },
    ], 'the restored cluster holds no user table');
    for (const missing of drill.differences.filter((d) => d.actual === null)) ctx.io.error(`${missing.database}: table ${missing.table} is missing (expected ${missing.expected} rows)`);
    const rowsTotal = drill.databases.reduce((a, d) => a + d.rows, 0);
    const reached = drill.recoveredTo ? `, last transaction replayed ${formatTime(drill.recoveredTo)}` : '';
    ctx.io.out(`drill of base backup ${drill.backupId}: ${drill.ok ? 'proven' : 'NOT proven'}: ${drill.databases.length} database(s), ${rowsTotal} rows read${reached}${drill.filesVerified ? ', pg_verifybackup ok' : ''} (${formatDuration(drill.durationMs)})`);
  }
  if (!drill.ok) throw new VerificationError(`drill of base backup ${drill.backupId}: ${drill.differences.length} table(s) differ from the expected counts`, 'find out what changed before relying on this backup');
}

import type { Command } from 'commander';
import type { Context } from '../src/context.js';
import { OperationError } from '../src/errors.js';
import { renderTable } from '../src/render.js';

export function register(program: Command, ctx: Context): void {
  program
    .command('doctor')
    .description('check config, database, migrations, pg tools, storage and mail; exit 1 if any check fails')
    .option('--json', 'print the checks as JSON')
    .addHelpText('after', '\nExamples:\n  aj doctor\n  aj doctor --json | jq \'.checks[] | select(.status != "ok")\'\n\nExit status: 0 all checks ok or warn, 1 a check failed.\n')
    .action(async (opts: { json?: boolean }) => {
      const { runDoctor } = await import('../src/ops/doctor.js');
      const report = await runDoctor(ctx);
      if (opts.json) ctx.io.json(report);
      else {
        await renderTable(ctx.io, report.checks, [
          { header: 'check', value: (c) => c.name },
          { header: 'status', value: (c) => ctx.io.paint(c.status === 'ok' ? 'green' : c.status === 'warn' ? 'yellow' : 'red', c.status) },
          { header: 'detail', value: (c) => c.detail },
          { header: 'fix', value: (c) => c.hint },
        ]);
      }
      if (!report.ok) throw new OperationError(`${report.checks.filter((c) => c.status === 'fail').length} check(s) failed`, 'see the fix column');
    });
}

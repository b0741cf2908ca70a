import type { Command } from 'commander';
import { OperationError } from '../src/errors.js';
import type { Context } from '../src/context.js';

export function register(program: Command, _ctx: Context): void {
  program
    .command('mail')
    .description('not implemented yet')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new OperationError('aj mail is not implemented yet', 'see the open issues');
    });
}

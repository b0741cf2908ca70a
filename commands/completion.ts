import { Argument, Command } from 'commander';
import type { Context } from '../src/context.js';

export function register(program: Command, ctx: Context): void {
  program
    .command('completion')
    .description('print a shell completion script for aj (groups, verbs, options and their choices)')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(['bash', 'zsh', 'fish']))
    .addHelpText('after', `
Examples:
  source <(aj completion bash)                                   # this shell only
  aj completion bash | sudo tee /etc/bash_completion.d/aj         # every user, new shells
  aj completion zsh > "\${fpath[1]}/_aj"                          # zsh (then restart the shell)
  aj completion fish > ~/.config/fish/completions/aj.fish

Exit status: 0 ok, 2 unknown shell.
`)
    .action(async (shell: 'bash' | 'zsh' | 'fish') => {
      const { GROUPS } = await import('../src/main.js');
      const { completionScript, completionTree } = await import('../src/completion.js');
      const root = completionTree(program);
      // Every group's verbs and options: each group registered on a scratch program of its own.
      root.children = [];
      for (const group of Object.values(GROUPS)) {
        const scratch = new Command('aj');
        (await group.load()).register(scratch, ctx);
        root.children.push(...completionTree(scratch).children);
      }
      ctx.io.stdout.write(completionScript(shell, root));
    });
}

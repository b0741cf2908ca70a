import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { aj, scratchDir } from '../helpers/cli.js';

/** Runs bash's completion function on a command line and returns what it offers. */
function complete(script: string, line: string[]): string[] {
  const dir = scratchDir('completion');
  const file = join(dir, 'aj.bash');
  writeFileSync(file, script);
  const words = line.map((w) => `'${w}'`).join(' ');
  const out = execFileSync('bash', ['-c', `source "${file}"; COMP_WORDS=(${words}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _aj; printf '%s\\n' "\${COMPREPLY[@]}"`], { cwd: dir, encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}

describe('aj completion', () => {
  it('completes groups, verbs, options and option choices in bash, past aj\'s own options', async () => {
    const { exitCode, stdout } = await aj(['completion', 'bash']);
    expect(exitCode).toBe(0);
    expect(complete(stdout, ['aj', 'ba'])).toEqual(['backup']);
    expect(complete(stdout, ['aj', 'backup', 'r'])).toEqual(['run', 'restore']);
    expect(complete(stdout, ['aj', '--env-file', '/etc/aj/aj.env', 'backup', 'list', '--status', ''])).toEqual(['running', 'succeeded', 'failed', 'deleted']);
    expect(complete(stdout, ['aj', 'import', 'csv', '--entity', 'c'])).toEqual(['clients', 'chantiers']);
    expect(complete(stdout, ['aj', 'completion', ''])).toEqual(['bash', 'zsh', 'fish', '--help']);
    expect(complete(stdout, ['aj', 'archive', 'put', '--do'])).toEqual(['--doc-id', '--doc-id-from']);
  });

  it('prints zsh (through bashcompinit) and fish scripts of the same tree', async () => {
    const zsh = await aj(['completion', 'zsh']);
    expect(zsh.exitCode).toBe(0);
    expect(zsh.stdout.split('\n').slice(0, 1)).toEqual(['#compdef aj']);
    expect(zsh.stdout).toContain('autoload -U +X bashcompinit && bashcompinit');
    expect(zsh.stdout).toContain('complete -F _aj aj');
    const fish = await aj(['completion', 'fish']);
    expect(fish.exitCode).toBe(0);
    expect(fish.stdout).toContain(`complete -c aj -n '__fish_use_subcommand' -a 'backup' -d 'back up the database to storage; list, restore and verify backups'`);
    expect(fish.stdout).toContain(`complete -c aj -n '__fish_seen_subcommand_from backup; and __fish_seen_subcommand_from list' -l status -x -a 'running succeeded failed deleted'`);
    // Every line is a fish `complete` command or a comment: nothing else that fish would run.
    expect(fish.stdout.trim().split('\n').filter((l) => !l.startsWith('complete -c aj ') && !l.startsWith('#'))).toEqual([]);
  });

  it('refuses an unknown shell with exit 2, naming the choices', async () => {
    const { exitCode, stdout, stderr } = await aj(['completion', 'tcsh']);
    expect(exitCode).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim()).toBe("aj: command-argument value 'tcsh' is invalid for argument 'shell'. Allowed choices are bash, zsh, fish. (see --help)");
  });
});

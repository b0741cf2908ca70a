import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Context } from '../../src/context.js';
import { IO } from '../../src/io.js';
import { GROUPS, run } from '../../src/main.js';

/** `aj <args> --help` in-process: its exit code and what it printed on stdout. */
async function help(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const stdout = new Writable({ write: (chunk, _enc, done) => ((out += String(chunk)), done()) });
  const stderr = new Writable({ write: (_c, _e, done) => done() });
  const code = await run(['node', 'aj', ...args, '--help'], new Context(new IO(stdout, stderr, false, {}), {}));
  return { code, out };
}

/** The verbs a group's help lists under "Commands:". */
const verbsOf = (groupHelp: string) =>
  (groupHelp.split('\nCommands:\n')[1] ?? '').split('\n\n')[0]!.split('\n').map((l) => /^ {2}(\S+)/.exec(l)?.[1]).filter((v): v is string => Boolean(v) && v !== 'help');

describe('every command explains itself', () => {
  for (const group of Object.keys(GROUPS)) {
    it(`aj ${group}: description, examples and exit status, for the group and each verb`, async () => {
      const groupHelp = await help([group]);
      expect(groupHelp.code).toBe(0);
      const missing: string[] = [];
      const pages: Array<[string, string]> = [[`aj ${group}`, groupHelp.out]];
      for (const verb of verbsOf(groupHelp.out)) pages.push([`aj ${group} ${verb}`, (await help([group, verb])).out]);
      for (const [name, page] of pages) {
        if (!/^Usage: aj /m.test(page)) missing.push(`${name}: usage`);
        if (!page.includes('\nExamples:\n')) missing.push(`${name}: examples`);
        if (!/\nExit status:/.test(page)) missing.push(`${name}: exit status`);
      }
      expect(missing).toEqual([]);
    });
  }

  it('marks required options as required', async () => {
    const flat = async (args: string[]) => (await help(args)).out.replace(/\s+/g, ' ');
    expect(await flat(['import', 'csv'])).toContain('--entity <entity> what the file contains (choices: "clients", "chantiers") (required)');
    expect(await flat(['archive', 'put'])).toMatch(/--type <type> [^-]*\(required\)/);
    expect(await flat(['import', 'csv'])).not.toMatch(/--dry-run [^-]*\(required\)/);
  });
});

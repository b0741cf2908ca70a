import { accessSync, constants, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { aj } from '../helpers/cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const lines = readFileSync(`${ROOT}crontab.example`, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const entries = lines.filter((l) => !/^[A-Z_][A-Z0-9_]*=/.test(l));

// Ranges of the five fields; names are accepted where cron accepts them.
const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  { name: 'day of week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];

function validField(value: string, field: (typeof FIELDS)[number]): boolean {
  return value.split(',').every((part) => {
    const [range, step] = part.split('/');
    if (step !== undefined && !/^[1-9]\d*$/.test(step)) return false;
    if (range === '*') return true;
    const bounds = range!.split('-').map((v) => (field.names?.includes(v.toLowerCase()) ? field.names.indexOf(v.toLowerCase()) + (field.min === 1 ? 1 : 0) : /^\d+$/.test(v) ? Number(v) : NaN));
    if (bounds.length > 2 || bounds.some((n) => !(n >= field.min && n <= field.max))) return false;
    return bounds.length === 1 || bounds[0]! <= bounds[1]!;
  });
}

/** `aj [globals] group verb [args] [flags]` from a command line: the words up to a redirection or `;`. */
function ajInvocations(command: string): string[][] {
  return [...command.matchAll(/(?:^|&&|;)\s*(?:[A-Z_]+=\S+\s+)*aj\s+([^>;&|]*)/g)].map((m) => m[1]!.trim().split(/\s+/));
}

describe('crontab.example', () => {
  it('sets SHELL, PATH and MAILTO, and has real entries', () => {
    expect(lines.some((l) => l.startsWith('SHELL=/bin/bash'))).toBe(true);
    expect(lines.some((l) => l.startsWith('PATH='))).toBe(true);
    expect(lines.some((l) => l.startsWith('MAILTO='))).toBe(true);
    expect(entries.length).toBeGreaterThanOrEqual(7);
  });

  it.each(entries)('%s: five valid fields, a working directory and a log file', (entry) => {
    const parts = entry.split(/\s+/);
    const fields = parts.slice(0, 5);
    fields.forEach((value, i) => expect(validField(value, FIELDS[i]!), `${FIELDS[i]!.name} "${value}"`).toBe(true));
    const command = parts.slice(5).join(' ');
    expect(command).toMatch(/^cd \/\S+ && /);
    expect(command).toMatch(/>> \/var\/log\/aj\/\S+\.log 2>&1$/);
  });

  it('names only commands and flags that exist in the built aj', async () => {
    const invocations = entries.flatMap((e) => ajInvocations(e));
    expect(invocations.length).toBeGreaterThanOrEqual(6);
    for (const words of invocations) {
      const globals: string[] = [];
      while (words[0]?.startsWith('-')) globals.push(...(words[0] === '--env-file' ? words.splice(0, 2) : words.splice(0, 1)));
      const result = await aj([...words, '--help']);
      expect(result.exitCode, `aj ${words.join(' ')} --help: ${result.stderr}`).toBe(0);
      const path = words.filter((w) => !w.startsWith('-')).slice(0, 2);
      expect(result.stdout).toContain(`Usage: aj ${path.join(' ')}`);
      for (const flag of words.filter((w) => w.startsWith('--'))) expect(result.stdout, `aj ${path.join(' ')} has ${flag}`).toContain(flag);
      const top = await aj(['--help']);
      for (const flag of globals.filter((w) => w.startsWith('-'))) expect(top.stdout).toContain(flag);
    }
  });

  it('runs the restore drill script, which exists and is executable', () => {
    const scripts = entries.flatMap((e) => [...e.matchAll(/(scripts\/\S+\.sh)/g)].map((m) => m[1]!));
    expect(scripts).toEqual(['scripts/restore-drill.sh']);
    for (const script of scripts) expect(() => accessSync(`${ROOT}${script}`, constants.X_OK)).not.toThrow();
  });
});

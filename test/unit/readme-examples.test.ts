import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { Command, CommanderError } from 'commander';
import * as commander from 'commander';
import { describe, expect, it } from 'vitest';
import { Context } from '../../src/context.js';
import { IO } from '../../src/io.js';
import { GROUPS } from '../../src/main.js';
import { createProgram } from '../../src/program.js';

/**
 * Every `aj ...` line in the README's shell code blocks, parsed by aj's real command tree (every
 * group, verb, option, choice and value parser), with the actions replaced by no-ops: an example
 * naming a command or flag that does not exist, or a value aj refuses, fails here.
 */
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** Shell words of one line: quotes removed, a comment cut, `|`, `&&`, `||`, `;`, redirections as their own words. */
function words(line: string): string[] {
  const out: string[] = [];
  let word = '';
  let quote: string | undefined;
  let started = false;
  const flush = () => {
    if (started) out.push(word);
    word = '';
    started = false;
  };
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      started = true;
    } else if (c === '#' && !started) break;
    else if (/\s/.test(c)) flush();
    else if ('|&;<>'.includes(c)) {
      flush();
      let op = c;
      while ('|&;<>'.includes(line[i + 1] ?? '') && line[i + 1] !== undefined) op += line[++i];
      out.push(op);
    } else {
      word += c;
      started = true;
    }
  }
  flush();
  return out;
}

const OPERATORS = new Set(['|', '||', '&&', ';', '&']);
const REDIRECTION = /^(\d?>>?|<|\d?>&\d?|&>)$/;

/** The argument lists of aj in a shell line (`sudo -u aj aj ...`, `VAR=x aj ...`, `npx aj ...`). */
export function ajInvocations(line: string): string[][] {
  const found: string[][] = [];
  let segment: string[] = [];
  const take = () => {
    let i = 0;
    while (/^[A-Z_][A-Z0-9_]*=/.test(segment[i] ?? '')) i += 1;
    if (segment[i] === 'sudo') {
      i += 1;
      while (segment[i]?.startsWith('-')) i += segment[i] === '-u' ? 2 : 1;
    }
    if (segment[i] === 'npx') i += 1;
    if (segment[i] === 'aj') {
      const args: string[] = [];
      for (let j = i + 1; j < segment.length; j += 1) {
        if (REDIRECTION.test(segment[j]!)) j += /&\d$/.test(segment[j]!) ? 0 : 1;
        else args.push(segment[j]!);
      }
      found.push(args);
    }
    segment = [];
  };
  for (const word of words(line)) {
    if (OPERATORS.has(word)) take();
    else segment.push(word);
  }
  take();
  return found;
}

function shellExamples(markdown: string): Array<{ line: string; args: string[] }> {
  const examples: Array<{ line: string; args: string[] }> = [];
  for (const block of markdown.matchAll(/^```(?:sh|bash|shell)\n([\s\S]*?)^```/gm)) {
    const lines = block[1]!.replace(/\\\n\s*/g, ' ').split('\n');
    for (const line of lines) for (const args of ajInvocations(line)) examples.push({ line: line.trim(), args });
  }
  return examples;
}

async function fullTree(): Promise<Command> {
  const sink = new Writable({ write: (_c, _e, done) => done() });
  const ctx = new Context(new IO(sink, sink, false, {}), {});
  const program = createProgram(ctx, commander);
  for (const group of Object.values(GROUPS)) (await group.load()).register(program, ctx);
  const silence = (command: Command) => {
    command.exitOverride().configureOutput({ writeOut: () => undefined, writeErr: () => undefined, outputError: () => undefined });
    if (command.commands.length === 0) command.action(() => undefined);
    command.commands.forEach(silence);
  };
  silence(program);
  return program;
}

describe("the README's examples", () => {
  it('finds aj in the shapes the README writes it', () => {
    expect(ajInvocations('sudo -u aj aj --env-file /etc/aj/env doctor')).toEqual([['--env-file', '/etc/aj/env', 'doctor']]);
    expect(ajInvocations('BACKUP_ENABLED=false aj backup run   # no-op, exit 0')).toEqual([['backup', 'run']]);
    expect(ajInvocations(`aj backup run --json | jq .sha256 > out.json 2>&1`)).toEqual([['backup', 'run', '--json']]);
    expect(ajInvocations('npm install && npx aj backup run')).toEqual([['backup', 'run']]);
    expect(ajInvocations(`aj mail send --to "Jean <j@x.fr>" --subject 'Votre devis'`)).toEqual([['mail', 'send', '--to', 'Jean <j@x.fr>', '--subject', 'Votre devis']]);
  });

  it('are all commands and flags aj accepts, with values it accepts', async () => {
    const examples = shellExamples(README);
    expect(examples.length).toBeGreaterThan(40);
    const refused: string[] = [];
    for (const { line, args } of examples) {
      // --version is answered before the command tree (src/main.ts), and only there.
      if (args[0] === '--version' || args[0] === '-V') continue;
      const program = await fullTree();
      try {
        await program.parseAsync(['node', 'aj', ...args]);
      } catch (error) {
        const helpShown = error instanceof CommanderError && ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(error.code);
        if (!helpShown) refused.push(`${line}  =>  ${(error as Error).message}`);
      }
    }
    expect(refused).toEqual([]);
  });
});

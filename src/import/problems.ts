import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { printable } from './printable.js';
import type { RowProblem } from './rows.js';

export const SHOWN_PROBLEMS = 50;

/**
 * Every problem goes to the --report file as it is found; only the first few stay in memory
 * for the screen, so a file full of errors does not fill the memory.
 */
export class ProblemLog {
  readonly first: RowProblem[] = [];
  count = 0;
  // Parse problems arrive in line order, so counting line changes is enough; SQL-found ones need a set.
  private parsedInvalid = 0;
  private lastLine = -1;
  private readonly invalidLines = new Set<number>();
  private readonly report?: WriteStream;

  constructor(reportPath?: string) {
    if (reportPath) {
      this.report = createWriteStream(reportPath);
      // A BOM and semicolons: what Excel on a French PC opens correctly with a double-click.
      this.report.write(`\uFEFF${['ligne', 'colonne', 'valeur', 'problème'].join(';')}\r\n`);
    }
  }

  /** Rows with at least one problem. */
  get invalidRows(): number {
    return this.parsedInvalid + this.invalidLines.size;
  }

  add(problem: RowProblem, fromParse = true): void {
    this.count += 1;
    if (fromParse) {
      if (problem.line !== this.lastLine) this.parsedInvalid += 1;
      this.lastLine = problem.line;
    } else {
      this.invalidLines.add(problem.line);
    }
    // Shown on screen and in --json: a NUL or an escape sequence of the file is written as an escape.
    if (this.first.length < SHOWN_PROBLEMS) this.first.push({ line: problem.line, column: printable(problem.column), value: printable(problem.value), reason: printable(problem.reason) });
    this.report?.write(`${[String(problem.line), problem.column, problem.value, problem.reason].map(reportCell).join(';')}\r\n`);
  }

  async close(): Promise<void> {
    if (!this.report) return;
    this.report.end();
    await once(this.report, 'finish');
  }
}

/**
 * A CSV cell that Excel will show as text: quoted when needed, and cells that Excel would run as
 * a formula (=, +, -, @, tab, carriage return) get a leading apostrophe.
 */
export function reportCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[;"\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

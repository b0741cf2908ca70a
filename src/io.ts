import type { Writable } from 'node:stream';
import { UsageError } from './errors.js';

export interface IOOptions {
  quiet?: boolean;
  verbose?: boolean;
  color?: boolean;
  wide?: boolean;
  /** text, json, or auto (json when stderr is not a terminal); default AJ_LOG_FORMAT, else text. */
  logFormat?: string;
}

export type LogLevel = 'info' | 'warn' | 'error' | 'debug';

/**
 * Where output goes and how it looks. stdout carries data only; everything else goes to stderr.
 * Prompts need stdin and stdout on a terminal; spinners need stderr on one and never run in CI.
 */
export class IO {
  quiet = false;
  verbose = false;
  /** Tables show every cell whole instead of fitting the terminal (--wide). */
  wide = false;
  private colorFlag = true;
  /** JSON log lines (time, level, job, message, fields) for journald/syslog instead of text. */
  jsonLogs = false;
  /** Set once a job run is recorded, so every log line names its job. */
  job?: string;
  /** Removes secret values from every stderr line; installed once the configuration is known. */
  redact: (text: string) => string = (text) => text;

  constructor(
    readonly stdout: Writable & { isTTY?: boolean } = process.stdout,
    readonly stderr: Writable & { isTTY?: boolean } = process.stderr,
    readonly stdinIsTTY: boolean = Boolean(process.stdin.isTTY),
    readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  configure(options: IOOptions): void {
    this.quiet = Boolean(options.quiet);
    this.verbose = Boolean(options.verbose) || this.env.AJ_DEBUG === '1';
    this.wide = Boolean(options.wide);
    this.colorFlag = options.color !== false;
    const format = options.logFormat ?? this.env.AJ_LOG_FORMAT ?? 'text';
    if (!['text', 'json', 'auto'].includes(format)) throw new UsageError(`--log-format: expected text, json or auto, got "${format}"`, 'pick one');
    this.jsonLogs = format === 'json' || (format === 'auto' && !this.stderrIsTTY);
  }

  get stdoutIsTTY(): boolean {
    return Boolean(this.stdout.isTTY);
  }

  get stderrIsTTY(): boolean {
    return Boolean(this.stderr.isTTY);
  }

  get isCI(): boolean {
    return Boolean(this.env.CI) && this.env.CI !== 'false';
  }

  colorEnabled(stream: 'stdout' | 'stderr' = 'stdout'): boolean {
    if (!this.colorFlag || this.env.NO_COLOR !== undefined || this.env.TERM === 'dumb') return false;
    return stream === 'stdout' ? this.stdoutIsTTY : this.stderrIsTTY;
  }

  canPrompt(): boolean {
    return this.stdinIsTTY && this.stdoutIsTTY && !this.isCI;
  }

  /** Live progress on stderr: only on a terminal, never in cron or CI, never with --quiet. */
  showsProgress(): boolean {
    return this.stderrIsTTY && !this.quiet && !this.isCI;
  }

  out(text: string): void {
    this.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  json(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Notices and warnings: stderr, silenced by --quiet. */
  notice(text: string, fields?: Record<string, unknown>): void {
    if (!this.quiet) this.log('info', text, fields);
  }

  warn(text: string, fields?: Record<string, unknown>): void {
    if (!this.quiet) this.log('warn', text, fields);
  }

  error(text: string, fields?: Record<string, unknown>): void {
    this.log('error', text, fields);
  }

  debug(text: string, fields?: Record<string, unknown>): void {
    if (this.verbose) this.log('debug', text, fields);
  }

  private log(level: LogLevel, text: string, fields?: Record<string, unknown>): void {
    const message = this.redact(text);
    if (this.jsonLogs) {
      const line = { time: new Date().toISOString(), level, job: this.job ?? null, message, ...(fields ? { fields } : {}) };
      this.stderr.write(`${this.redact(JSON.stringify(line))}\n`);
      return;
    }
    const prefix = { info: 'aj: ', warn: 'aj: warning: ', error: 'aj: ', debug: 'aj: debug: ' }[level];
    const painted = level === 'warn' ? this.paint('yellow', message, 'stderr') : level === 'error' ? this.paint('red', message, 'stderr') : message;
    this.stderr.write(`${prefix}${painted}\n`);
  }

  paint(color: 'red' | 'green' | 'yellow' | 'dim' | 'bold', text: string, stream: 'stdout' | 'stderr' = 'stdout'): string {
    if (!this.colorEnabled(stream)) return text;
    const codes = { red: [31, 39], green: [32, 39], yellow: [33, 39], dim: [2, 22], bold: [1, 22] }[color];
    return `\x1b[${codes[0]}m${text}\x1b[${codes[1]}m`;
  }

  /**
   * Severe actions: confirmed on a terminal by typing the name, refused unattended without --yes.
   */
  async confirm(message: string, options: { yes?: boolean; typeToConfirm?: string; flag?: string; details?: string[] }): Promise<void> {
    if (options.yes) return;
    if (!this.canPrompt()) {
      throw new UsageError(`${message}: refusing without confirmation`, `pass ${options.flag ?? '--yes'} to run unattended`);
    }
    // What would go, before the question; Enter alone answers No.
    if (options.details?.length) this.stderr.write(`${options.details.join('\n')}\n`);
    const clack = await import('@clack/prompts');
    const answer = options.typeToConfirm
      ? await clack.text({ message: `${message}. Type ${options.typeToConfirm} to confirm` })
      : await clack.confirm({ message: `${message}?`, initialValue: false });
    const ok = options.typeToConfirm ? answer === options.typeToConfirm : answer === true;
    if (clack.isCancel(answer) || !ok) throw new UsageError('cancelled', 'nothing was changed');
  }

  /** A one-line progress indicator on stderr; a no-op when progress is not shown. */
  progress(label: string): Progress {
    if (!this.showsProgress()) return { update() {}, done() {} };
    let last = 0;
    const write = (text: string) => this.stderr.write(`\r\x1b[2K${text}`);
    return {
      update: (detail: string) => {
        const now = Date.now();
        if (now - last < 100) return;
        last = now;
        write(`${label} ${detail}`);
      },
      done: () => write(''),
    };
  }
}

export interface Progress {
  update(detail: string): void;
  done(): void;
}

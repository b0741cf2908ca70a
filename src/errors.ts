/** Typed errors and the one table that maps them to exit codes. */

export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  config: 3,
  verification: 4,
  lockHeld: 75,
  interrupted: 130,
} as const;

export class AjError extends Error {
  readonly exitCode: number = ExitCode.failed;
  /** How to fix it, shown in parentheses after the message. */
  readonly hint?: string;
  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.hint = hint;
  }
}

export class OperationError extends AjError {}

export class UsageError extends AjError {
  override readonly exitCode = ExitCode.usage;
}

export class ConfigError extends AjError {
  override readonly exitCode = ExitCode.config;
}

export class VerificationError extends AjError {
  override readonly exitCode = ExitCode.verification;
}

export class LockHeldError extends AjError {
  override readonly exitCode = ExitCode.lockHeld;
}

export class InterruptedError extends AjError {
  override readonly exitCode = ExitCode.interrupted;
  constructor(signal = 'SIGINT') {
    super(`interrupted by ${signal}`);
  }
}

/** Exit code for any thrown value; unknown errors are operation failures. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof AjError) return error.exitCode;
  if (error instanceof Error && error.name === 'AbortError') return ExitCode.interrupted;
  return ExitCode.failed;
}

/** The one-line form: `what went wrong (how to fix)`. */
export function describeError(error: unknown): string {
  if (error instanceof AjError) return error.hint ? `${error.message} (${error.hint})` : error.message;
  if (error instanceof Error) return error.message.split('\n')[0] ?? error.name;
  return String(error);
}

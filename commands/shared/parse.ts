import { InvalidArgumentError } from 'commander';

/** Commander argument parsers: a bad value is a usage error (exit 2) naming the flag. */
export function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a whole number of 1 or more');
  return Number(value);
}

export function isoDate(value: string): Date {
  const date = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) ? new Date(value) : new Date(NaN);
  if (Number.isNaN(date.getTime())) throw new InvalidArgumentError('expected a date like 2026-11-24');
  return date;
}

/** A repeatable option's values, in order (`--var a=1 --var b=2`). */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

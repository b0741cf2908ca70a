/**
 * Cron schedules (the five fields of a crontab line), read in the business time zone, so that
 * `aj status` says when a job is next due from the schedule it really runs on, not "last run + 24 h".
 */
export interface CronSchedule {
  readonly text: string;
  matches(parts: LocalTime): boolean;
}

export interface LocalTime {
  minute: number;
  hour: number;
  day: number;
  month: number;
  /** 0 = Sunday. */
  weekday: number;
}

const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day of week', min: 0, max: 7 },
] as const;

const NAMES: Record<string, number> = {
  jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12,
  sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6,
};

const MACROS: Record<string, string> = {
  '@hourly': '0 * * * *', '@daily': '0 0 * * *', '@midnight': '0 0 * * *', '@weekly': '0 0 * * 0', '@monthly': '0 0 1 * *', '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *',
};

/** Parses `30 8 * * 1-5`, lists, ranges, steps and names; throws an Error naming the bad field. */
export function parseCron(text: string): CronSchedule {
  const expression = MACROS[text.trim()] ?? text.trim();
  const fields = expression.split(/\s+/);
  if (fields.length !== 5) throw new Error(`"${text}" is not a cron schedule: expected 5 fields (minute hour day month weekday), got ${fields.length}`);
  const sets = fields.map((field, i) => parseField(field, FIELDS[i]!, text));
  const [minutes, hours, days, months, weekdays] = sets as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  if (weekdays.has(7)) weekdays.add(0);
  const dayRestricted = fields[2] !== '*';
  const weekdayRestricted = fields[4] !== '*';
  return {
    text: expression,
    matches: (t) => {
      if (!minutes.has(t.minute) || !hours.has(t.hour) || !months.has(t.month)) return false;
      // cron's rule: when both day fields are restricted, either one matching is enough.
      if (dayRestricted && weekdayRestricted) return days.has(t.day) || weekdays.has(t.weekday);
      return days.has(t.day) && weekdays.has(t.weekday);
    },
  };
}

function parseField(field: string, spec: (typeof FIELDS)[number], text: string): Set<number> {
  const values = new Set<number>();
  const bad = () => new Error(`"${text}": bad ${spec.name} field "${field}" (allowed ${spec.min}-${spec.max}, *, lists, ranges and /steps)`);
  const value = (s: string) => {
    const n = /^\d+$/.test(s) ? Number(s) : NAMES[s.toLowerCase()];
    if (n === undefined || n < spec.min || n > spec.max) throw bad();
    return n;
  };
  for (const part of field.split(',')) {
    const [range = '', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw bad();
    let from: number;
    let to: number;
    if (range === '*') [from, to] = [spec.min, spec.max];
    else if (range.includes('-')) {
      const [a = '', b = ''] = range.split('-');
      [from, to] = [value(a), value(b)];
      if (from > to) throw bad();
    } else {
      from = value(range);
      to = stepText === undefined ? from : spec.max;
    }
    for (let n = from; n <= to; n += step) values.add(n);
  }
  return values;
}

/** The first minute strictly after `after` that the schedule matches, in `timeZone`; undefined past a year. */
export function nextRun(schedule: CronSchedule, after: Date, timeZone: string): Date | undefined {
  const clock = localClock(timeZone);
  let t = Math.floor(after.getTime() / 60_000) * 60_000 + 60_000;
  const limit = t + 366 * 86_400_000;
  while (t < limit) {
    const local = clock(new Date(t));
    if (schedule.matches(local)) return new Date(t);
    const minutesToMidnight = 1440 - (local.hour * 60 + local.minute);
    // Skip whole hours or days that cannot match; stop short of local midnight by an hour so a
    // daylight-saving change never jumps over a matching minute.
    const dayCanMatch = schedule.matches({ ...local, hour: 0, minute: 0 }) || anyMinuteOfDay(schedule, local);
    if (!dayCanMatch && minutesToMidnight > 61) t += (minutesToMidnight - 60) * 60_000;
    else if (!anyMinuteOfHour(schedule, local) && local.minute < 59) t += (60 - local.minute) * 60_000;
    else t += 60_000;
  }
  return undefined;
}

function anyMinuteOfHour(schedule: CronSchedule, local: LocalTime): boolean {
  for (let minute = local.minute; minute < 60; minute += 1) if (schedule.matches({ ...local, minute })) return true;
  return false;
}

function anyMinuteOfDay(schedule: CronSchedule, local: LocalTime): boolean {
  for (let hour = local.hour; hour < 24; hour += 1) if (anyMinuteOfHour(schedule, { ...local, hour, minute: 0 })) return true;
  return false;
}

function localClock(timeZone: string): (at: Date) => LocalTime {
  const format = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', minute: 'numeric', hour: 'numeric', day: 'numeric', month: 'numeric', weekday: 'short' });
  const weekdays = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  return (at) => {
    const parts = Object.fromEntries(format.formatToParts(at).map((p) => [p.type, p.value]));
    return { minute: Number(parts.minute), hour: Number(parts.hour), day: Number(parts.day), month: Number(parts.month), weekday: weekdays.indexOf(parts.weekday!) };
  };
}

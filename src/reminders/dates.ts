/**
 * Business dates are calendar days in the company's zone (Europe/Paris): "today" is the Paris
 * day of the clock, whatever the server's zone; day arithmetic then happens on dates in SQL,
 * so daylight-saving changes and month ends never shift a reminder.
 */
export function businessDate(instant: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(instant);
  const get = (type: string) => parts.find((p) => p.type === type)!.value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** '2026-01-31' -> '31/01/2026', the form French letters use. */
export function frenchDate(day: string): string {
  const [y, m, d] = day.split('-');
  return `${d}/${m}/${y}`;
}

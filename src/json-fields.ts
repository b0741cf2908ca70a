/**
 * aj's one JSON dialect: camelCase field names, times in ISO 8601 UTC, sizes in bytes, null for
 * "none". History rows come from SQL in snake_case; this renames a row's own fields, never the keys
 * inside its values (row counts keyed by table name stay as they are).
 */
export function camelFields(row: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([key, value]) => [key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()), value]));
}

import { type Config, type SettingName, settings } from './schema.js';

const MASK = '****';

/**
 * Hides the password of any URL-looking string (`postgres://u:secret@h` -> `postgres://u:****@h`),
 * including libpq's `?password=` / `?sslpassword=` query parameters, which DATABASE_URL accepts.
 */
export function redactUrl(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)([^@/\s]+)(@)/gi, `$1${MASK}$3`)
    .replace(/([?&](?:ssl)?password=)([^&#\s]+)/gi, `$1${MASK}`);
}

// URLs whose path names a database or nothing secret; in any other secret URL (a Slack or
// Mattermost webhook, a ping URL) the path and query are the token.
const PLAIN_PATH = /^(postgres(ql)?|smtps?):$/i;

/** A secret URL safe to print: the password always hidden, and the path and query too unless they only name a database. */
export function redactSecretUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return MASK;
  }
  if (PLAIN_PATH.test(url.protocol)) return redactUrl(value);
  const user = url.username ? `${url.username}:${MASK}@` : '';
  return `${url.protocol}//${user}${url.host}${url.pathname === '/' && !url.search ? '/' : `/${MASK}`}`;
}

/** The effective config, safe to print: secrets masked, URL passwords hidden. */
export function redactConfig(config: Config): Record<SettingName, unknown> {
  const out = {} as Record<SettingName, unknown>;
  for (const name of Object.keys(settings) as SettingName[]) {
    const value = config[name];
    const setting = settings[name] as { secret?: boolean };
    if (value === undefined) out[name] = undefined;
    else if (setting.secret && typeof value === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(value)) out[name] = redactSecretUrl(value);
    else if (setting.secret) out[name] = MASK;
    else out[name] = value;
  }
  return out;
}

/** Removes known secret values from any text before it is shown or logged. */
export function scrubSecrets(text: string, config: Config | undefined): string {
  let out = redactUrl(text);
  if (!config) return out;
  for (const name of Object.keys(settings) as SettingName[]) {
    const setting = settings[name] as { secret?: boolean };
    const value = config[name];
    if (!setting.secret || typeof value !== 'string' || value.length < 4) continue;
    out = out.split(value).join(MASK);
    const password = passwordOf(value);
    if (password && password.length >= 4) out = out.split(password).join(MASK);
  }
  return out;
}

function passwordOf(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.password ? decodeURIComponent(parsed.password) : (parsed.searchParams.get('password') ?? undefined);
  } catch {
    return undefined;
  }
}

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { type Config, type SettingName, knownEnvNames, settings } from './schema.js';

export interface ConfigSources {
  /** Highest precedence: values set by command-line flags. */
  flags?: Partial<Record<SettingName, unknown>>;
  env: NodeJS.ProcessEnv;
  /** `.env` path; when not given explicitly, a missing `./.env` is fine. */
  envFile?: string;
  envFileExplicit?: boolean;
  /** JSON file with the same names as the environment (`{"BACKUP_BUCKET": "..."}`). */
  configFile?: string;
}

/** Where each effective value came from, for `aj config show`. */
export type Origin = 'flag' | 'env' | 'env-file' | 'config-file' | 'default';

export interface LoadedConfig {
  config: Config;
  origins: Record<SettingName, Origin>;
}

export function loadConfig(sources: ConfigSources): LoadedConfig {
  const layers: Array<[Origin, Record<string, unknown>]> = [
    ['env', sources.env],
    ['env-file', readEnvFile(sources)],
    ['config-file', sources.configFile ? readJsonConfig(sources.configFile) : {}],
  ];
  const raw: Record<string, unknown> = {};
  const origins = {} as Record<SettingName, Origin>;
  // The variable actually read, so an error names what the user wrote (AWS_REGION, not S3_REGION).
  const sourceNames: Partial<Record<SettingName, string>> = {};
  for (const [name, setting] of Object.entries(settings) as Array<[SettingName, (typeof settings)[SettingName]]>) {
    origins[name] = 'default';
    const flag = sources.flags?.[name];
    if (flag !== undefined) {
      raw[name] = flag;
      origins[name] = 'flag';
      continue;
    }
    for (const [origin, layer] of layers) {
      const envName = setting.env.find((n) => layer[n] !== undefined && layer[n] !== '');
      if (envName) {
        raw[name] = layer[envName];
        origins[name] = origin;
        sourceNames[name] = envName;
        break;
      }
    }
  }
  raw.dataDir ??= defaultDataDir(sources.env);
  const shape = Object.fromEntries(Object.entries(settings).map(([k, s]) => [k, s.schema]));
  const parsed = z.object(shape).safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]) as SettingName;
      // zod's own wording ("Invalid enum value. Expected 'a' | 'b'") becomes aj's: what is allowed, what was given.
      const message = issue.code === 'invalid_enum_value' ? `expected one of ${issue.options.join(', ')}, got "${String(issue.received)}"` : issue.message;
      return `${sourceNames[name] ?? settings[name]?.env[0] ?? name}: ${message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`, 'fix these values in the environment, .env or the config file');
  }
  return { config: parsed.data as Config, origins };
}

/**
 * AJ_DATA_DIR's default is a fixed place, never the current directory: cron starts commands in the
 * home directory, a terminal wherever the admin is, and both must find the same local backups.
 */
export function defaultDataDir(env: NodeJS.ProcessEnv): string {
  if (env.XDG_DATA_HOME) return join(env.XDG_DATA_HOME, 'aj');
  return join(env.HOME || homedir(), '.local', 'share', 'aj');
}

function readEnvFile(sources: ConfigSources): Record<string, string> {
  const path = sources.envFile ?? '.env';
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (!sources.envFileExplicit && (error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ConfigError(`cannot read env file ${path}: ${(error as Error).message}`, 'check --env-file');
  }
  return parseEnv(text) as Record<string, string>;
}

function readJsonConfig(path: string): Record<string, unknown> {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`, 'check --config or AJ_CONFIG');
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError(`config file ${path} must hold a JSON object`, 'write {"BACKUP_BUCKET": "s3://..."}');
  }
  const unknown = Object.keys(data).filter((k) => !knownEnvNames.has(k));
  if (unknown.length > 0) {
    throw new ConfigError(`config file ${path} has unknown keys: ${unknown.join(', ')}`, 'see the configuration reference in README.md');
  }
  return data as Record<string, unknown>;
}

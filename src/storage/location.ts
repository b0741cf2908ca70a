import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';

export type Location = { kind: 's3'; bucket: string; prefix: string } | { kind: 'file'; path: string };

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Parses `s3://bucket/prefix`, a bare bucket name, `file:///path` or an absolute path. */
export function parseLocation(value: string, setting: string): Location {
  const text = value.trim();
  if (text.startsWith('s3://')) {
    const [bucket = '', ...rest] = text.slice(5).split('/');
    if (!BUCKET_NAME.test(bucket)) throw new ConfigError(`${setting}: "${bucket}" is not a valid bucket name`, 'use s3://bucket/prefix with a lowercase bucket name');
    return { kind: 's3', bucket, prefix: rest.filter(Boolean).join('/') };
  }
  if (text.startsWith('file://')) {
    try {
      return { kind: 'file', path: fileURLToPath(text) };
    } catch {
      throw new ConfigError(`${setting}: "${text}" is not a valid file URL`, 'use file:///absolute/path');
    }
  }
  if (isAbsolute(text)) return { kind: 'file', path: text };
  if (BUCKET_NAME.test(text)) return { kind: 's3', bucket: text, prefix: '' };
  throw new ConfigError(`${setting}: "${text}" is neither s3://bucket/prefix, a bucket name, nor file:///path`, 'see the configuration reference in README.md');
}

/** The fallback when no bucket is configured: a directory under AJ_DATA_DIR. */
export function localFallback(dataDir: string, name: string): Location {
  return { kind: 'file', path: resolve(dataDir, name) };
}

export function locationUrl(location: Location): string {
  if (location.kind === 'file') return `file://${location.path}`;
  return `s3://${location.bucket}${location.prefix ? `/${location.prefix}` : ''}`;
}

/** Object keys stay inside their layout: no absolute paths, no `..`, no control characters. */
export function assertSafeKey(key: string): void {
  if (!key || key.startsWith('/') || key.split('/').some((p) => p === '..' || p === '.' || p === '') || /[\x00-\x1f\x7f\\]/.test(key)) {
    throw new Error(`unsafe object key: ${JSON.stringify(key)}`);
  }
}

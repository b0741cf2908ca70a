/** What a bucket does with deletes: versioning and Object Lock, as far as the server tells. */
export interface BucketProtection {
  versioning: 'enabled' | 'suspended' | 'off' | 'unknown';
  /** Object Lock: off, on with an optional default retention, or unknown (not implemented, not allowed). */
  objectLock: 'off' | 'unknown' | { mode?: string; days?: number; years?: number };
}

/**
 * What retention (prune, `backup run`) and the doctor probe will do there, in one sentence;
 * undefined when the server does not say.
 */
export function retentionEffect(protection: BucketProtection): string | undefined {
  const { versioning, objectLock } = protection;
  if (typeof objectLock === 'object') {
    const period = objectLock.days ? `${objectLock.days} day(s)` : objectLock.years ? `${objectLock.years} year(s)` : undefined;
    const lock = period ? `Object Lock ${objectLock.mode ?? ''} with a default retention of ${period}`.replace('  ', ' ') : 'Object Lock without a default retention';
    return `${lock}: deletes by prune and retention only add delete markers; every version stays${period ? ` at least ${period}, then` : ''} until a lifecycle rule expires noncurrent versions`;
  }
  if (versioning === 'enabled') return 'versioning enabled: deletes by prune and retention only add delete markers; old versions stay (and are billed) until a lifecycle rule expires noncurrent versions';
  if (versioning === 'suspended') return 'versioning suspended: deletes remove objects, but versions made while it was enabled stay until a lifecycle rule expires them';
  if (versioning === 'off' && objectLock === 'off') return 'not versioned: deletes by prune and retention are final';
  return undefined;
}

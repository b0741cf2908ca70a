import { mkdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-file.js';
import { scrubSecrets } from '../config/redact.js';
import type { Context } from '../context.js';
import { describeError } from '../errors.js';
import { postWebhook } from './alerts.js';
import type { JobSpec } from './jobs.js';

const STATE_FILE = 'offline-alerts.json';

/**
 * The alert for a job that failed because aj's own database is unreachable. The usual path (the
 * cooldown in ops_alerts, the delivery ledger) is down with it, so this one goes straight to SMTP
 * and the webhook, its cooldown kept in a small file in AJ_DATA_DIR. Never throws.
 */
export async function alertWithoutDatabase(ctx: Context, job: JobSpec, error: unknown): Promise<void> {
  await alertOffline(ctx, {
    key: `database:${job.name}`,
    job: job.name,
    subject: `aj ${job.command} failed on ${hostname()}: its database is unreachable`,
    lines: [
      describeError(error),
      'The job history and the usual alerts live in that database; this alert was sent without it.',
      '',
      'Investigate: pg_isready, then aj doctor',
    ],
  });
}

/**
 * An alert sent straight to SMTP and the webhook, its cooldown kept in a file in AJ_DATA_DIR: for
 * what must not or cannot use the database (a database down, `aj wal push` run by PostgreSQL). Never throws.
 */
export async function alertOffline(ctx: Context, alert: { key: string; job?: string; subject: string; lines: string[] }): Promise<void> {
  try {
    const config = ctx.config();
    if (!config.alertEmail && !config.alertWebhookUrl) return;
    const { key } = alert;
    const now = ctx.clock();
    const file = join(config.dataDir, STATE_FILE);
    const state = await readState(file);
    const last = state[key] ? Date.parse(state[key]!) : NaN;
    if (now.getTime() - last < config.alertCooldownMinutes * 60_000) {
      ctx.io.debug(`alert for ${key} not sent: one went out at ${state[key]}`);
      return;
    }
    await writeState(file, { ...state, [key]: now.toISOString() });

    const scrub = (text: string) => scrubSecrets(text, config);
    const host = hostname();
    const subject = scrub(alert.subject);
    const lines = alert.lines.map(scrub);
    const channels: string[] = [];
    if (config.alertEmail) {
      const { renderTemplate, templateSet } = await import('../mail/templates.js');
      const { toNodemailer } = await import('../mail/history.js');
      const date = new Intl.DateTimeFormat('fr-FR', { dateStyle: 'long', timeStyle: 'short', timeZone: config.timezone }).format(now);
      const rendered = await renderTemplate('alerte', { sujet: subject, hote: host, date, message: lines.join('\n') }, templateSet(config));
      const transport = await ctx.mailer();
      await transport
        .send(toNodemailer({ from: config.mailFrom, to: [config.alertEmail], cc: [], bcc: [], subject: rendered.subject, text: rendered.text, html: rendered.html, template: 'alerte', attachments: [] }))
        .then(() => channels.push(`email to ${config.alertEmail}`), (failure: unknown) => ctx.io.warn(`alert email not sent: ${scrub(describeError(failure))}`));
    }
    if (config.alertWebhookUrl) {
      await postWebhook(config.alertWebhookUrl, { source: 'aj', key, job: alert.job ?? null, host, subject, lines, time: now.toISOString() })
        .then(() => channels.push('webhook'), (failure: unknown) => ctx.io.warn(`alert webhook failed: ${scrub(describeError(failure))} (check ALERT_WEBHOOK_URL)`));
    }
    if (channels.length > 0) ctx.io.notice(`alert sent without the database (${channels.join(', ')}): ${subject}`);
  } catch (failure) {
    ctx.io.warn(`alert not sent: ${describeError(failure)}`);
  }
}

async function readState(file: string): Promise<Record<string, string>> {
  try {
    const data = JSON.parse(await readFile(file, 'utf8')) as unknown;
    return typeof data === 'object' && data !== null ? (data as Record<string, string>) : {};
  } catch {
    return {};
  }
}

async function writeState(file: string, state: Record<string, string>): Promise<void> {
  await mkdir(join(file, '..'), { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`, 0o600);
}

import { hostname } from 'node:os';
import { scrubSecrets } from '../config/redact.js';
import type { Context } from '../context.js';
import type { Db } from '../db/pool.js';
import { describeError } from '../errors.js';

export interface Alert {
  /** Cooldown key: the job name, or `status:<check>`. */
  key: string;
  subject: string;
  /** Plain text lines: what failed, where, and the command to investigate. */
  lines: string[];
  job?: string;
  jobRunId?: number;
}

export type AlertOutcome = { sent: false; reason: 'no-channel' | 'cooldown' } | { sent: true; id: number; emailId?: number; webhook?: string };

/**
 * Sends an alert to ALERT_EMAIL (through the mail history, no company BCC) and ALERT_WEBHOOK_URL,
 * at most once per key per ALERT_COOLDOWN_MINUTES. The claim is made under a transaction-scoped
 * advisory lock, so two failing processes cannot both decide they are first.
 */
export async function raiseAlert(ctx: Context, db: Db, alert: Alert): Promise<AlertOutcome> {
  const config = ctx.config();
  if (!config.alertEmail && !config.alertWebhookUrl) {
    ctx.io.debug(`alert "${alert.subject}" not sent: neither ALERT_EMAIL nor ALERT_WEBHOOK_URL is set`);
    return { sent: false, reason: 'no-channel' };
  }
  const now = ctx.clock();
  const host = hostname();
  const id = await db.tx(async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('aj-alert'), hashtext($1))`, [alert.key]);
    const recent = await client.query(
      `SELECT 1 FROM ops_alerts WHERE alert_key = $1 AND sent_at > $2::timestamptz - make_interval(mins => $3)`,
      [alert.key, now, config.alertCooldownMinutes],
    );
    if (recent.rowCount) return undefined;
    const row = await client.query<{ id: number }>(
      `INSERT INTO ops_alerts (alert_key, job_run_id, host, subject, sent_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
      [alert.key, alert.jobRunId ?? null, host, alert.subject, now],
    );
    return Number(row.rows[0]!.id);
  });
  if (id === undefined) {
    ctx.io.debug(`alert "${alert.subject}" not sent: one went out for ${alert.key} in the last ${config.alertCooldownMinutes} minutes`);
    return { sent: false, reason: 'cooldown' };
  }
  const scrub = (text: string) => scrubSecrets(text, config);
  const subject = scrub(alert.subject);
  const lines = alert.lines.map(scrub);
  const emailId = config.alertEmail ? await emailAlert(ctx, db, id, config.alertEmail, subject, lines, host, now) : undefined;
  const webhook = config.alertWebhookUrl
    ? await postWebhook(config.alertWebhookUrl, { source: 'aj', key: alert.key, job: alert.job ?? null, host, subject, lines, time: now.toISOString() }).catch((error: unknown) => {
        const reason = scrub(fetchFailure(error));
        ctx.io.warn(`alert webhook failed: ${reason} (check ALERT_WEBHOOK_URL)`);
        return `error: ${reason}`.slice(0, 300);
      })
    : undefined;
  await db.query('UPDATE ops_alerts SET email_message_id = $2, webhook_status = $3 WHERE id = $1', [id, emailId ?? null, webhook ?? null]);
  ctx.io.notice(`alert sent: ${subject}`, { alert: id, key: alert.key, emailMessage: emailId ?? null, webhook: webhook ?? null });
  return { sent: true, id, emailId, webhook };
}

/** The alert's email goes through the delivery ledger under the key alert:<ops_alerts id>. */
async function emailAlert(ctx: Context, db: Db, alertId: number, to: string, subject: string, lines: string[], host: string, now: Date): Promise<number | undefined> {
  try {
    const { renderTemplate, templateSet } = await import('../mail/templates.js');
    const { deliver } = await import('../deliveries/deliver.js');
    const date = new Intl.DateTimeFormat('fr-FR', { dateStyle: 'long', timeStyle: 'short', timeZone: ctx.config().timezone }).format(now);
    const rendered = await renderTemplate('alerte', { sujet: subject, hote: host, date, message: lines.join('\n') }, templateSet(ctx.config()));
    const outcome = await deliver(db, await ctx.mailer(), { key: `alert:${alertId}`, purpose: 'alert' }, {
      from: ctx.config().mailFrom, to: [to], cc: [], bcc: [], subject: rendered.subject, text: rendered.text, html: rendered.html, template: 'alerte', attachments: [],
    });
    // A new ops_alerts row is a new key: it cannot have been claimed before.
    if (!outcome) return undefined;
    if (outcome.status !== 'sent') ctx.io.warn(`alert email (delivery ${outcome.id}) ${outcome.status}: ${scrubSecrets(outcome.error ?? '', ctx.config())}`);
    return outcome.message;
  } catch (error) {
    ctx.io.warn(`alert email not sent: ${scrubSecrets(describeError(error), ctx.config())}`);
    return undefined;
  }
}

/** POSTs the alert as JSON; a slow or broken endpoint costs at most a few seconds and a warning. */
export async function postWebhook(url: string, body: unknown, timeoutMs = 5000): Promise<string> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'aj-alerts' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
  return `HTTP ${response.status}`;
}

/** fetch says only "fetch failed"; the cause (ECONNREFUSED, timeout) is what an admin needs. */
function fetchFailure(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if ((error as Error).name === 'TimeoutError') return 'no answer within 5 s';
  return cause?.code ?? cause?.message ?? describeError(error);
}

/** `aj status --alert --test`: one alert through the real path, so an admin sees it arrive. */
export async function sendTestAlert(ctx: Context, db: Db): Promise<AlertOutcome> {
  const config = ctx.config();
  if (!config.alertEmail && !config.alertWebhookUrl) {
    const { ConfigError } = await import('../errors.js');
    throw new ConfigError('no alert channel is configured', 'set ALERT_EMAIL (with SMTP settings) or ALERT_WEBHOOK_URL');
  }
  const now = ctx.clock();
  return raiseAlert(ctx, db, {
    key: `test:${now.toISOString()}`,
    subject: `aj test alert from ${hostname()}`,
    lines: ['This is a test: alerts from aj reach you.', '', `Sent by aj status --alert --test at ${now.toISOString()}.`],
  });
}

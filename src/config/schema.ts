import { z } from 'zod';
import { JOBS, jobNamed } from '../ops/jobs.js';
import { parseCron } from '../ops/schedule.js';
import { DEFAULT_COMPANY_NAME, bic, iban, multiline, siret } from './company.js';

/**
 * Every setting aj knows: the environment names it is read from (first found wins),
 * its default, whether it is a secret, and how it is validated. The README's
 * configuration reference mirrors this table.
 */
export interface Setting {
  env: readonly string[];
  schema: z.ZodTypeAny;
  secret?: boolean;
  doc: string;
}

const bool = z
  .union([z.boolean(), z.string()])
  .transform((v, ctx) => {
    if (typeof v === 'boolean') return v;
    const s = v.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(s)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected true or false, got "${v}"` });
    return z.NEVER;
  });

const wholeNumber = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = typeof v === 'number' ? v : /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a whole number ${max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`}, got "${v}"` });
      return z.NEVER;
    }
    return n;
  });

const dayList = z.union([z.string(), z.array(z.number())]).transform((v, ctx) => {
  const parts = Array.isArray(v) ? v : v.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (parts.length === 0 || parts.some((n) => !Number.isInteger(n) || n < 1)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected comma-separated day counts like "30,60", got "${v}"` });
    return z.NEVER;
  }
  return [...parts].sort((a, b) => a - b);
});

const percent = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = typeof v === 'number' ? v : /^\s*\d+(\.\d+)?\s*%?\s*$/.test(v) ? Number.parseFloat(v) : NaN;
  if (!(n >= 0 && n <= 100)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a percentage from 0 to 100 like "50%", got "${v}"` });
    return z.NEVER;
  }
  return n;
});

/** `backup=0 2 * * *; reminders=off`: each job's cron line, checked here so a typo fails at start. */
const jobSchedules = z.string().optional().transform((v, ctx) => {
  const schedules = new Map<string, string | null>();
  for (const entry of (v ?? '').split(';').map((e) => e.trim()).filter(Boolean)) {
    const [job = '', ...rest] = entry.split('=');
    const expression = rest.join('=').trim();
    if (!jobNamed(job.trim())) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `unknown job "${job.trim()}" (known: ${JOBS.map((j) => j.name).join(', ')})` });
      return z.NEVER;
    }
    if (expression === 'off') {
      schedules.set(job.trim(), null);
      continue;
    }
    try {
      parseCron(expression);
    } catch (error) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (error as Error).message });
      return z.NEVER;
    }
    schedules.set(job.trim(), expression);
  }
  return schedules;
});

const docTypeList = z.union([z.string(), z.array(z.string())]).transform((v, ctx) => {
  const types = (Array.isArray(v) ? v : v.split(',')).map((t) => t.trim()).filter(Boolean);
  const bad = types.filter((t) => !/^[a-z][a-z0-9_-]{0,39}$/.test(t));
  if (types.length === 0 || bad.length > 0) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected comma-separated lowercase words like "devis,facture"${bad.length ? `, got ${bad.map((b) => `"${b}"`).join(', ')}` : ''}` });
    return z.NEVER;
  }
  return types;
});

const email = z.string().trim().email({ message: 'expected an email address' });
const optionalText = z.string().trim().min(1).optional();
const DEFAULT_TIMEZONE = 'Europe/Paris';
const timezone = z.string().refine(
  (tz) => {
    // Loading ICU's zone data costs ~25 ms of every start; the default needs no proof.
    if (tz === DEFAULT_TIMEZONE) return true;
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected an IANA time zone such as Europe/Paris' },
);

export const settings = {
  databaseUrl: { env: ['DATABASE_URL'], schema: optionalText, secret: true, doc: 'PostgreSQL URL of the business database (Prisma-style parameters accepted). Unset: libpq defaults (PGHOST, PGUSER, ...).' },
  autoMigrate: { env: ['AJ_AUTO_MIGRATE'], schema: bool.default(true), doc: 'Apply pending migrations automatically on first use.' },
  dataDir: { env: ['AJ_DATA_DIR'], schema: z.string().min(1), doc: 'Local data directory (local storage fallback, mail outbox). Default: $XDG_DATA_HOME/aj, else ~/.local/share/aj, whatever the current directory.' },
  dbSchema: { env: ['AJ_DB_SCHEMA'], schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lowercase PostgreSQL schema name such as aj').default('aj'), doc: 'PostgreSQL schema holding everything aj owns (history, catalog, logs); aj never changes anything outside it.' },
  schemaFile: { env: ['AJ_SCHEMA_FILE'], schema: optionalText, doc: "JSON mapping of the web app's business tables (written by `aj schema detect --write`). Unset: aj's own standalone tables." },
  timezone: { env: ['AJ_TIMEZONE'], schema: timezone.default(DEFAULT_TIMEZONE), doc: 'Time zone of business dates (due dates, archive layout).' },

  backupEnabled: { env: ['BACKUP_ENABLED'], schema: bool.default(true), doc: '`false` makes `aj backup run` a no-op that exits 0.' },
  backupLocation: { env: ['BACKUP_BUCKET'], schema: optionalText, doc: 'Where backups go: s3://bucket/prefix, a bucket name, or file:///path. Unset: <AJ_DATA_DIR>/backups (not off-site).' },
  backupRetentionDays: { env: ['BACKUP_RETENTION_DAYS'], schema: wholeNumber(1).default(30), doc: 'Delete backups older than this many days...' },
  backupKeepMin: { env: ['BACKUP_KEEP_MIN'], schema: wholeNumber(1).default(7), doc: '...but always keep this many newest successful backups.' },
  backupCompress: { env: ['BACKUP_COMPRESS'], schema: z.string().regex(/^(none|\d|gzip(:\d)?|lz4(:\d+)?|zstd(:\d+)?)$/, 'expected 0-9, none, gzip:N, lz4:N or zstd:N').default('gzip:1'), doc: 'pg_dump --compress value.' },
  backupAgeRecipient: { env: ['BACKUP_AGE_RECIPIENT'], schema: z.string().trim().regex(/^age1[0-9a-z]+$/, 'expected an age public key (age1...)').optional(), doc: 'Encrypt backups to this age public key.' },
  backupAgeIdentityFile: { env: ['BACKUP_AGE_IDENTITY_FILE'], schema: optionalText, doc: 'age identity file used to decrypt on restore/verify.' },
  backupShrinkAlert: { env: ['BACKUP_SHRINK_ALERT'], schema: percent.default(50), doc: 'Flag a backup smaller (size or rows) than this % of the median of the 7 before it; retention pauses until `aj backup ack`. 0: off.' },
  walPushParallel: { env: ['WAL_PUSH_PARALLEL'], schema: wholeNumber(0, 16).default(3), doc: 'When archiving falls behind, `aj wal push` also uploads up to this many of the oldest other WAL files waiting (.ready), in parallel. 0: only the one asked for.' },
  walCompressLevel: { env: ['WAL_COMPRESS_LEVEL'], schema: wholeNumber(1, 9).default(1), doc: 'gzip level of archived WAL files (1 fastest; higher saves little on WAL and costs CPU on every 16 MB segment).' },
  walArchiving: { env: ['WAL_ARCHIVING'], schema: z.enum(['optional', 'required']).default('optional'), doc: '`required`: `aj doctor` fails and `aj status` is unhealthy when PostgreSQL does not archive its WAL through aj; `optional`: doctor only warns.' },
  walMaxAgeMinutes: { env: ['WAL_MAX_AGE_MINUTES'], schema: wholeNumber(1).default(15), doc: '`aj status` is unhealthy when archive_mode is on and the last archived WAL file is older than this, or the last archiving attempt failed.' },
  pgBinDir: { env: ['PG_BIN_DIR'], schema: optionalText, doc: 'Directory of pg_dump/pg_restore/psql; default: the newest in /usr/lib/postgresql/*/bin, else PATH.' },

  archiveDocTypes: { env: ['ARCHIVE_DOC_TYPES'], schema: docTypeList.default('devis,facture,avoir,bon-de-commande,bon-de-livraison,contrat,plan'), doc: 'Document types `archive put` and `archive sync` accept; anything else is refused as a typo, with a suggestion.' },
  archiveLocation: { env: ['ARCHIVE_BUCKET'], schema: optionalText, doc: 'Where archived documents go (same forms as BACKUP_BUCKET). Unset: <AJ_DATA_DIR>/archive.' },

  s3Endpoint: { env: ['S3_ENDPOINT', 'AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL'], schema: z.string().url().optional(), doc: 'S3-compatible endpoint URL (MinIO, Scaleway, OVH, R2...). Unset: AWS.' },
  s3Region: { env: ['S3_REGION', 'AWS_REGION', 'AWS_DEFAULT_REGION'], schema: z.string().min(1).default('us-east-1'), doc: 'S3 region.' },
  s3PathStyle: { env: ['S3_FORCE_PATH_STYLE'], schema: z.enum(['auto', 'true', 'false']).default('auto'), doc: 'Path-style addressing: auto (on for any non-AWS endpoint), true, false.' },
  s3AccessKeyId: { env: ['S3_ACCESS_KEY_ID', 'AWS_ACCESS_KEY_ID'], schema: optionalText, secret: true, doc: 'S3 access key id. Unset: the AWS default credential chain.' },
  s3SecretAccessKey: { env: ['S3_SECRET_ACCESS_KEY', 'AWS_SECRET_ACCESS_KEY'], schema: optionalText, secret: true, doc: 'S3 secret key.' },
  s3SessionToken: { env: ['AWS_SESSION_TOKEN'], schema: optionalText, secret: true, doc: 'S3 session token.' },
  s3Checksum: { env: ['S3_CHECKSUM'], schema: z.enum(['md5', 'crc32c', 'sha256', 'none']).default('md5'), doc: 'Integrity checksum the server checks on every upload, multipart parts included: md5 (Content-MD5, accepted by AWS with Object Lock, MinIO, Scaleway, OVH, R2, Backblaze), crc32c or sha256 (x-amz-checksum-* headers), none.' },
  s3ConnectTimeoutSeconds: { env: ['S3_CONNECT_TIMEOUT_SECONDS'], schema: wholeNumber(1, 600).default(10), doc: 'Give up connecting to the S3 server after this many seconds (each attempt; 3 attempts).' },
  s3IdleTimeoutSeconds: { env: ['S3_IDLE_TIMEOUT_SECONDS'], schema: wholeNumber(1, 3600).default(60), doc: 'Give up on an S3 request that sends or receives nothing for this many seconds (each attempt; 3 attempts).' },

  smtpUrl: { env: ['SMTP_URL'], schema: optionalText, secret: true, doc: 'smtp://user:pass@host:587 or smtps://...; alternative to the SMTP_HOST family.' },
  smtpHost: { env: ['SMTP_HOST'], schema: optionalText, doc: 'SMTP host (when SMTP_URL is unset).' },
  smtpPort: { env: ['SMTP_PORT'], schema: wholeNumber(1, 65535).optional(), doc: 'SMTP port (default 587, 465 when secure).' },
  smtpUser: { env: ['SMTP_USER'], schema: optionalText, doc: 'SMTP user.' },
  smtpPass: { env: ['SMTP_PASS'], schema: optionalText, secret: true, doc: 'SMTP password.' },
  smtpSecure: { env: ['SMTP_SECURE'], schema: bool.default(false), doc: 'Implicit TLS (port 465).' },
  mailFrom: { env: ['MAIL_FROM'], schema: z.string().trim().min(1).default('Art et Jardin <contact@art-et-jardin.fr>'), doc: 'Default sender.' },
  companyBcc: { env: ['COMPANY_BCC_EMAIL'], schema: email.optional(), doc: 'Every client email is copied (BCC) to this address.' },
  autoSendEnabled: { env: ['AUTO_SEND_ENABLED'], schema: bool.default(true), doc: '`false` makes `aj mail auto-send` a no-op that exits 0 (recorded as skipped).' },
  autoSendPdfWaitHours: { env: ['AUTO_SEND_PDF_WAIT_HOURS'], schema: wholeNumber(1).default(24), doc: '`aj status` is unhealthy when a document to auto-send has waited this many hours for its archived PDF.' },
  remindersEnabled: { env: ['REMINDERS_ENABLED'], schema: bool.default(true), doc: '`false` makes `aj reminders run` a dry run.' },
  mailMaxAttachmentMb: { env: ['MAIL_MAX_ATTACHMENT_MB'], schema: wholeNumber(1, 1024).default(20), doc: 'Largest attachment accepted.' },
  mailRatePerMinute: { env: ['MAIL_RATE_PER_MINUTE'], schema: wholeNumber(0).default(0), doc: 'Bulk sending rate limit (0: unlimited).' },
  alertEmail: { env: ['ALERT_EMAIL'], schema: email.optional(), doc: 'Where failure alerts go.' },
  alertWebhookUrl: { env: ['ALERT_WEBHOOK_URL'], schema: z.string().url().optional(), secret: true, doc: 'Also POST each alert as JSON to this URL (Slack/Mattermost-style webhook).' },
  alertCooldownMinutes: { env: ['ALERT_COOLDOWN_MINUTES'], schema: wholeNumber(0).default(60), doc: 'At most one alert per job (or status check) in this many minutes.' },

  templatesDir: { env: ['AJ_TEMPLATES_DIR'], schema: optionalText, doc: 'Directory of the company\'s mail templates: <name>.txt (and <name>.html) there replaces the built-in template of that name or adds one (`aj mail templates`).' },
  companyName: { env: ['COMPANY_NAME'], schema: z.string().trim().min(1).default(DEFAULT_COMPANY_NAME), doc: 'Company name in letters ({{entreprise_nom}}: subjects, signature, payment details).' },
  companyAddress: { env: ['COMPANY_ADDRESS'], schema: multiline, doc: 'Postal address under the signature ({{entreprise_adresse}}; \\n for a line break).' },
  companyPhone: { env: ['COMPANY_PHONE'], schema: optionalText, doc: 'Phone number under the signature ({{entreprise_telephone}}).' },
  companySiret: { env: ['COMPANY_SIRET'], schema: siret, doc: 'SIRET (14 digits) under the signature ({{entreprise_siret}}).' },
  companyIban: { env: ['COMPANY_IBAN'], schema: iban, doc: 'IBAN for payment by transfer, checked (mod 97); set: invoice reminders give the payment details ({{entreprise_iban}}).' },
  companyBic: { env: ['COMPANY_BIC'], schema: bic, doc: 'BIC printed beside the IBAN ({{entreprise_bic}}).' },
  companySignature: { env: ['COMPANY_SIGNATURE'], schema: multiline, doc: 'Who signs letters ({{entreprise_signature}}; \\n for a line break). Unset: "L\'équipe <COMPANY_NAME>".' },

  reminderInvoiceDays: { env: ['REMINDER_INVOICE_DAYS'], schema: dayList.default('30,60'), doc: 'Invoice reminder levels, days after the due date.' },
  reminderAttachPdf: { env: ['REMINDER_ATTACH_PDF'], schema: bool.default(true), doc: "Invoice reminders attach the invoice's latest archived PDF when there is one (read with its SHA-256 checked: a damaged one stops that reminder, exit 4)." },
  reminderQuoteDays: { env: ['REMINDER_QUOTE_DAYS'], schema: wholeNumber(1).default(15), doc: 'Quote reminder, days after sending without signature.' },

  metricsFile: { env: ['AJ_METRICS_FILE'], schema: optionalText, doc: 'Write Prometheus metrics here after each command (node_exporter textfile collector); also --metrics-file.' },
  statusBackupMaxAgeHours: { env: ['STATUS_BACKUP_MAX_AGE_HOURS'], schema: wholeNumber(1).default(26), doc: '`aj status` is unhealthy without a successful backup in this many hours.' },
  statusVerifyMaxAgeDays: { env: ['STATUS_VERIFY_MAX_AGE_DAYS'], schema: wholeNumber(1).default(8), doc: '...without a successful backup verification or restore drill in this many days.' },
  statusRemindersMaxAgeDays: { env: ['STATUS_REMINDERS_MAX_AGE_DAYS'], schema: wholeNumber(1).default(2), doc: '...when reminders have not run in this many weekdays.' },
  statusFailedMailHours: { env: ['STATUS_FAILED_MAIL_HOURS'], schema: wholeNumber(1).default(24), doc: '...when an email failed (and was not re-sent) in this many hours.' },
  jobSchedules: { env: ['AJ_SCHEDULES'], schema: jobSchedules, doc: 'When the scheduled jobs run, for `aj status` "next expected": `job=cron fields` separated by `;`, overriding crontab.example\'s times (`backup=30 1 * * *; reminders=off`).' },
} satisfies Record<string, Setting>;

export type SettingName = keyof typeof settings;
export type Config = { [K in SettingName]: z.output<(typeof settings)[K]['schema']> };

/** Every environment name aj reads, for `.env` and JSON config files. */
export const knownEnvNames: ReadonlySet<string> = new Set(Object.values(settings).flatMap((s) => s.env));

import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import type { SendMailOptions } from 'nodemailer';
import type MailMessage from 'nodemailer/lib/mailer/mail-message.js';
import type { Config } from '../config/schema.js';
import { ConfigError, OperationError } from '../errors.js';

/**
 * SMTP failed after the whole message, final dot included, went to the server: it may have
 * been delivered (the server stored it, then the line dropped before its reply). Never re-sent
 * on its own; the operator settles it.
 */
export class UncertainDeliveryError extends OperationError {}

export interface SentInfo {
  messageId: string;
  accepted: string[];
  rejected: string[];
  response: string;
}

/** The mail port: SMTP for real delivery, an outbox directory when no SMTP is configured. */
export interface MailTransport {
  readonly kind: 'smtp' | 'outbox';
  /** Where mail goes, without credentials. */
  readonly description: string;
  send(message: SendMailOptions): Promise<SentInfo>;
  verify(): Promise<void>;
  close(): void;
}

export interface SmtpSettings {
  url?: string;
  host?: string;
  port?: number;
  secure: boolean;
  user?: string;
  pass?: string;
}

export function smtpSettings(config: Config): SmtpSettings | undefined {
  if (config.smtpUrl) return { url: config.smtpUrl, secure: config.smtpUrl.startsWith('smtps:') };
  if (!config.smtpHost) return undefined;
  return { host: config.smtpHost, port: config.smtpPort, secure: config.smtpSecure, user: config.smtpUser, pass: config.smtpPass };
}

export async function createTransport(config: Config, options: { pool?: boolean } = {}): Promise<MailTransport> {
  const smtp = smtpSettings(config);
  return smtp ? createSmtpTransport(smtp, options) : new OutboxTransport(resolve(config.dataDir, 'outbox'));
}

async function createSmtpTransport(smtp: SmtpSettings, options: { pool?: boolean }): Promise<MailTransport> {
  const nodemailer = (await import('nodemailer')).default;
  let base: Record<string, unknown>;
  if (smtp.url) {
    let url: URL;
    try {
      url = new URL(smtp.url);
    } catch {
      throw new ConfigError('SMTP_URL is not a valid URL', 'write it as smtp://user:password@host:587');
    }
    base = {
      host: url.hostname,
      port: url.port ? Number(url.port) : smtp.secure ? 465 : 587,
      secure: smtp.secure,
      auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
    };
  } else {
    base = { host: smtp.host, port: smtp.port ?? (smtp.secure ? 465 : 587), secure: smtp.secure, auth: smtp.user ? { user: smtp.user, pass: smtp.pass } : undefined };
  }
  const transporter = nodemailer.createTransport({
    ...base,
    pool: options.pool ?? false,
    maxConnections: 5,
    // The pool would otherwise send a message again, unseen, when its connection closes: the ledger
    // decides what is re-sent (a message cut after its final dot may have been delivered).
    maxRequeues: 0,
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 60_000,
    // Loopback servers and internal relays often use self-signed certificates.
    tls: { rejectUnauthorized: !(base.host === '127.0.0.1' || base.host === 'localhost') },
  } as never);
  const description = `smtp://${base.host}:${base.port}`;
  transporter.use('stream', watchDataEnd);
  return {
    kind: 'smtp',
    description,
    async send(message) {
      let dataSent = false;
      try {
        const info = await transporter.sendMail({ ...message, [DATA_SENT]: () => (dataSent = true) } as SendMailOptions);
        return {
          messageId: info.messageId,
          accepted: (info.accepted as Array<string | { address: string }>).map(addressOf),
          rejected: (info.rejected as Array<string | { address: string }>).map(addressOf),
          response: info.response,
        };
      } catch (error) {
        const text = `SMTP delivery via ${description} failed: ${(error as Error).message}`;
        // A refused envelope (every recipient, or DATA itself) is an answer from the server, not a cut line.
        if (dataSent && (error as { code?: string }).code !== 'EENVELOPE') {
          throw new UncertainDeliveryError(`${text}, after the whole message was sent: it may have been delivered`, 'look for it in the company BCC mailbox, then `aj mail settle`', { cause: error });
        }
        throw new OperationError(text, 'check SMTP_URL and the mail server', { cause: error });
      }
    },
    async verify() {
      try {
        await transporter.verify();
      } catch (error) {
        throw new OperationError(`SMTP server ${description} is not usable: ${(error as Error).message}`, 'check SMTP_URL and the mail server', { cause: error });
      }
    },
    close: () => transporter.close(),
  };
}

const addressOf = (a: string | { address: string }) => (typeof a === 'string' ? a : a.address);

// A callback carried in the message options: called once the SMTP connection has read the whole
// message, final dot included (nothing reads the last stage of the message stream before the
// server's 354). A failure after that point may have been delivered.
const DATA_SENT = 'ajDataSent';

function watchDataEnd(mail: MailMessage, done: (error?: Error | null) => void): void {
  const onEnd = (mail.data as { [DATA_SENT]?: () => void })[DATA_SENT];
  if (onEnd) {
    mail.message.processFunc((input) => {
      const output = new PassThrough();
      input.once('error', (error) => output.emit('error', error));
      output.once('end', onEnd);
      return input.pipe(output);
    });
  }
  done();
}

/** One .eml file per message, written atomically: the embedded default without SMTP. */
export class OutboxTransport implements MailTransport {
  readonly kind = 'outbox' as const;
  readonly description: string;

  constructor(private readonly dir: string) {
    this.description = `outbox ${dir}`;
  }

  async send(message: SendMailOptions): Promise<SentInfo> {
    const nodemailer = (await import('nodemailer')).default;
    const transporter = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
    const info = await transporter.sendMail(message);
    await mkdir(this.dir, { recursive: true });
    const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}.eml`;
    const tmp = join(this.dir, `.${name}.tmp`);
    await writeFile(tmp, info.message as Buffer, { mode: 0o600 });
    await rename(tmp, join(this.dir, name));
    const envelope = info.envelope as { to: string[] };
    return { messageId: info.messageId, accepted: envelope.to, rejected: [], response: `written to ${join(this.dir, name)}` };
  }

  async verify(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  close(): void {}
}

import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import type { AddressInfo } from 'node:net';

export interface ReceivedMessage {
  from: string;
  to: string[];
  raw: Buffer;
}

export interface SmtpTestServer {
  port: number;
  url: string;
  messages: ReceivedMessage[];
  /** Recipients the server answers 550 for. */
  rejectRecipients: Set<string>;
  stop(): Promise<void>;
}

/** A real SMTP server on loopback that keeps what it receives. */
export async function startSmtpServer(): Promise<SmtpTestServer> {
  const messages: ReceivedMessage[] = [];
  const rejectRecipients = new Set<string>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      if (rejectRecipients.has(address.address.toLowerCase())) {
        const error = new Error('mailbox unavailable') as Error & { responseCode: number };
        error.responseCode = 550;
        return callback(error);
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        messages.push({
          from: (session.envelope.mailFrom as SMTPServerAddress | false) ? (session.envelope.mailFrom as SMTPServerAddress).address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    rejectRecipients,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

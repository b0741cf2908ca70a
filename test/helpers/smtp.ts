import type { AddressInfo, Socket } from 'node:net';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';

export interface ReceivedMessage {
  from: string;
  to: string[];
  raw: Buffer;
}

/**
 * What the server does with the next messages:
 *   drop-before-dot   cut the connection when DATA starts, before the message (never received)
 *   drop-after-data   receive and keep the whole message, then cut the connection before replying 250
 *   stall             receive the message and never reply
 */
export type SmtpFault = 'drop-before-dot' | 'drop-after-data' | 'stall';

export interface SmtpTestServer {
  port: number;
  url: string;
  messages: ReceivedMessage[];
  /** Recipients the server answers 550 for. */
  rejectRecipients: Set<string>;
  /** A fault for every message from now on (undefined: behave). */
  fault?: SmtpFault;
  /** Messages kept whose raw text contains `text` (a document number): what its client received. */
  countFor(text: string): number;
  stop(): Promise<void>;
}

/** A real SMTP server on loopback that keeps what it receives, with fault modes. */
export async function startSmtpServer(): Promise<SmtpTestServer> {
  const messages: ReceivedMessage[] = [];
  const rejectRecipients = new Set<string>();
  const sockets = new Map<number, Socket>();
  const state: { fault?: SmtpFault } = {};
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
      const socket = sockets.get(session.remotePort);
      const fault = state.fault;
      // Before the 354 reply goes out: the client never sends the message.
      if (fault === 'drop-before-dot') return void socket?.destroy();
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        messages.push({
          from: (session.envelope.mailFrom as SMTPServerAddress | false) ? (session.envelope.mailFrom as SMTPServerAddress).address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
        });
        if (fault === 'drop-after-data') return void socket?.destroy();
        if (fault !== 'stall') callback();
      });
    },
  });
  // Connections cut on purpose, or by a killed client, are expected here.
  server.on('error', () => undefined);
  server.server.on('connection', (socket: Socket) => {
    const remotePort = socket.remotePort!;
    sockets.set(remotePort, socket);
    socket.on('close', () => sockets.delete(remotePort));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    rejectRecipients,
    get fault() {
      return state.fault;
    },
    set fault(value) {
      state.fault = value;
    },
    countFor: (text) => messages.filter((m) => m.raw.includes(text)).length,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets.values()) s.destroy();
        server.close(() => resolve());
      }),
  };
}

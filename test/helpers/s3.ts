import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createS3Client } from '../../src/storage/s3.js';

export interface S3Server {
  endpoint: string;
  port: number;
  directory: string;
  /** Environment that points aj at this server. */
  env(bucket: string, prefix?: string): Record<string, string>;
  stop(): Promise<void>;
}

const SCRIPT = fileURLToPath(new URL('./s3rver-process.cjs', import.meta.url));
export const TEST_BUCKETS = ['aj-backups', 'aj-archive', 'aj-test'];

/** A real S3 API server (s3rver) on loopback, in its own process, with fresh storage. */
export async function startS3Server(buckets = TEST_BUCKETS): Promise<S3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'aj-s3rver-'));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', SCRIPT, directory, ...buckets], { stdio: ['ignore', 'pipe', 'pipe'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /^(\d+)\n/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.stderr!.on('data', (d) => (err += d));
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}: ${err}`)));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    directory,
    env: (bucket, prefix) => s3Env(endpoint, bucket, prefix),
    async stop() {
      await stopChild(child);
      await rm(directory, { recursive: true, force: true });
    },
  };
}

export function s3Env(endpoint: string, bucket: string, prefix?: string): Record<string, string> {
  return {
    S3_ENDPOINT: endpoint,
    S3_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    BACKUP_BUCKET: `s3://${bucket}${prefix ? `/${prefix}` : ''}`,
    // The SDK's credential chain must never reach past loopback for an instance's metadata.
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export type FaultMode =
  | { kind: 'pass' }
  /** Cut the connection after this many bytes of a request body have gone upstream. */
  | { kind: 'cut-request'; afterBytes: number }
  /** Answer every request with this HTTP status. */
  | { kind: 'status'; status: 500 | 503 }
  /** Flip one byte of response bodies at this offset (counted over the whole response). */
  | { kind: 'flip-response-byte'; offset: number }
  /** Refuse connections outright. */
  | { kind: 'down' }
  /** Accept connections and read requests, never answer (a paused server, a black-holed network). */
  | { kind: 'stall' };

/** A server of the tests' own on a free loopback port, in front of the S3 server. */
abstract class LoopbackServer {
  port = 0;
  protected abstract server: net.Server;

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }
}

/**
 * A loopback TCP proxy in front of the S3 server that misbehaves on cue, so tests can
 * see what aj does when storage dies mid-upload, errors out, or corrupts data.
 */
export class FaultProxy extends LoopbackServer {
  mode: FaultMode = { kind: 'pass' };
  protected server = net.createServer((socket) => this.handle(socket));
  private sockets = new Set<net.Socket>();

  constructor(private readonly upstreamPort: number) {
    super();
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(client: net.Socket): void {
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    const mode = this.mode;
    if (mode.kind === 'down') return void client.destroy();
    if (mode.kind === 'stall') {
      client.on('error', () => undefined);
      client.resume();
      return;
    }
    if (mode.kind === 'status') {
      client.once('data', () => {
        const body = `<?xml version="1.0"?><Error><Code>InternalError</Code><Message>injected ${mode.status}</Message></Error>`;
        client.end(`HTTP/1.1 ${mode.status} Injected\r\nContent-Type: application/xml\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      });
      return;
    }
    const upstream = net.connect(this.upstreamPort, '127.0.0.1');
    this.sockets.add(upstream);
    upstream.on('close', () => this.sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    let sent = 0;
    client.on('data', (chunk: Buffer) => {
      if (mode.kind === 'cut-request') {
        sent += chunk.length;
        if (sent > mode.afterBytes) {
          client.destroy();
          upstream.destroy();
          return;
        }
      }
      upstream.write(chunk);
    });
    client.on('end', () => upstream.end());
    let received = 0;
    let bodyStart = -1;
    upstream.on('data', (chunk: Buffer) => {
      if (mode.kind === 'flip-response-byte') {
        const copy = Buffer.from(chunk);
        if (bodyStart < 0) {
          const headerEnd = copy.indexOf('\r\n\r\n');
          if (headerEnd >= 0) bodyStart = received + headerEnd + 4;
        }
        const target = bodyStart >= 0 ? bodyStart + mode.offset - received : -1;
        if (target >= 0 && target < copy.length) copy[target] = copy[target]! ^ 0xff;
        received += chunk.length;
        client.write(copy);
        return;
      }
      client.write(chunk);
    });
    upstream.on('end', () => client.end());
  }
}

export interface GateRules {
  /** Refuse PUTs (PutObject, UploadPart) with neither Content-MD5 nor an x-amz-checksum-* header, as AWS does on an Object Lock bucket. */
  requireChecksum?: boolean;
  /** Answer GetBucketVersioning as a bucket with this status. */
  versioning?: 'Enabled' | 'Suspended';
  /** Answer GetObjectLockConfiguration as a bucket with this default retention. */
  objectLock?: { mode: 'GOVERNANCE' | 'COMPLIANCE'; days: number };
  /** Answer these requests 403 AccessDenied, as a bucket policy lacking their permission does. */
  deny?: (method: string, url: string) => boolean;
  /** Answer these requests 501 NotImplemented, as servers lacking an operation do. */
  notImplemented?: (method: string, url: string) => boolean;
  /** Read these requests and never answer them, nor pass them on: a server that stopped mid-way. */
  stall?: (method: string, url: string) => boolean;
  /** Forward these requests but never answer them: the server acts, the client waits (to be killed there). */
  hold?: (method: string, url: string) => boolean;
  /** Answer every other request with this S3 error (access denied, wrong region...). */
  error?: { status: number; code: string; message: string; headers?: Record<string, string>; extra?: string };
}

/** A request the gate saw: enough to tell which integrity header it carried. */
export interface SeenRequest {
  method: string;
  url: string;
  checksum?: string;
}

/**
 * An HTTP proxy in front of the S3 server that plays a bucket's settings the test server lacks:
 * Object Lock's checksum requirement, versioning and retention answers, refusals AWS would send.
 */
export class S3Gate extends LoopbackServer {
  rules: GateRules = {};
  readonly seen: SeenRequest[] = [];
  protected server = http.createServer((req, res) => this.handle(req, res));

  constructor(private readonly upstreamPort: number) {
    super();
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://gate');
    const names = Object.keys(req.headers);
    const checksum = names.find((n) => n === 'content-md5' || n.startsWith('x-amz-checksum-'));
    this.seen.push({ method: req.method ?? '', url: req.url ?? '', checksum });
    const answer = (status: number, body: string, headers: Record<string, string> = {}) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(status, { 'content-type': 'application/xml', ...headers });
        res.end(req.method === 'HEAD' ? undefined : body);
      });
    };
    const xml = (inner: string) => `<?xml version="1.0" encoding="UTF-8"?>${inner}`;
    const { rules } = this;
    if (req.method === 'GET' && url.searchParams.has('versioning') && rules.versioning) {
      return answer(200, xml(`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>${rules.versioning}</Status></VersioningConfiguration>`));
    }
    if (req.method === 'GET' && url.searchParams.has('object-lock') && rules.objectLock) {
      const { mode, days } = rules.objectLock;
      return answer(200, xml(`<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>${mode}</Mode><Days>${days}</Days></DefaultRetention></Rule></ObjectLockConfiguration>`));
    }
    if (rules.error) {
      const { status, code, message, headers, extra } = rules.error;
      return answer(status, xml(`<Error><Code>${code}</Code><Message>${message}</Message>${extra ?? ''}<RequestId>gate</RequestId></Error>`), headers);
    }
    if (rules.stall?.(req.method ?? '', req.url ?? '')) return void req.resume();
    if (rules.deny?.(req.method ?? '', req.url ?? '')) {
      return answer(403, xml('<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>gate</RequestId></Error>'));
    }
    if (rules.notImplemented?.(req.method ?? '', req.url ?? '')) {
      return answer(501, xml('<Error><Code>NotImplemented</Code><Message>A header you provided implies functionality that is not implemented</Message><RequestId>gate</RequestId></Error>'));
    }
    if (rules.requireChecksum && req.method === 'PUT' && !checksum && !url.searchParams.has('tagging')) {
      return answer(400, xml('<Error><Code>InvalidRequest</Code><Message>Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters</Message><RequestId>gate</RequestId></Error>'));
    }
    const held = rules.hold?.(req.method ?? '', req.url ?? '') ?? false;
    const upstream = http.request({ host: '127.0.0.1', port: this.upstreamPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      if (held) return void answer.resume();
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  }
}

const openClients: S3Client[] = [];

/** An S3 client as aj configures it for the test server at `endpoint`, these settings on top; closed by closeS3Clients(). */
export function s3ClientFor(endpoint: string, settings: Record<string, string> = {}): { client: S3Client; config: Config } {
  const config = loadConfig({ env: { ...s3Env(endpoint, 'aj-test'), ...settings }, envFile: join(tmpdir(), 'aj-no-such.env') }).config;
  const client = createS3Client(config);
  openClients.push(client);
  return { client, config };
}

export function closeS3Clients(): void {
  for (const client of openClients.splice(0)) client.destroy();
}

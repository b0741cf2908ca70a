import { Transform, type TransformCallback } from 'node:stream';

const BLOCK = 512;

/**
 * A pass-through over a tar stream that keeps a copy of the members named in `wanted` (small
 * files: backup_label, backup_manifest) as they go by. pg_basebackup writes the tar to stdout and
 * appends backup_manifest to it; reading both on the way to storage gives the start and stop
 * positions without a second connection and without a temporary copy of the cluster.
 */
export class TarWatch extends Transform {
  readonly members = new Map<string, Buffer>();
  private pending = Buffer.alloc(0);
  /** Bytes of the current member's data, then of its padding, still to pass. */
  private dataLeft = 0;
  private padLeft = 0;
  private capturing?: { name: string; chunks: Buffer[] };
  private longName?: string;
  private ended = false;

  constructor(private readonly wanted: ReadonlySet<string>, private readonly maxCapture = 64 << 20) {
    super({ highWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.scan(chunk);
    } catch (error) {
      return done(error as Error);
    }
    done(null, chunk);
  }

  private scan(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length && !this.ended) {
      if (this.dataLeft > 0 || this.padLeft > 0) {
        const inData = this.dataLeft > 0;
        const take = Math.min(inData ? this.dataLeft : this.padLeft, chunk.length - offset);
        if (inData) {
          this.capturing?.chunks.push(chunk.subarray(offset, offset + take));
          this.dataLeft -= take;
        } else this.padLeft -= take;
        offset += take;
        if (this.dataLeft === 0 && this.padLeft === 0) this.finishMember();
        continue;
      }
      const need = BLOCK - this.pending.length;
      const piece = chunk.subarray(offset, offset + need);
      this.pending = Buffer.concat([this.pending, piece]);
      offset += piece.length;
      if (this.pending.length === BLOCK) {
        const header = this.pending;
        this.pending = Buffer.alloc(0);
        this.startMember(header);
      }
    }
  }

  private startMember(header: Buffer): void {
    if (header.every((b) => b === 0)) {
      this.ended = true;
      return;
    }
    const size = parseSize(header.subarray(124, 136));
    const type = String.fromCharCode(header[156]!);
    const prefix = text(header.subarray(345, 500));
    const name = this.longName ?? (prefix ? `${prefix}/${text(header.subarray(0, 100))}` : text(header.subarray(0, 100)));
    this.longName = undefined;
    this.dataLeft = size;
    this.padLeft = padding(size);
    const isLongName = type === 'L';
    const wanted = isLongName || this.wanted.has(name.replace(/^\.\//, ''));
    if (wanted && size > this.maxCapture) throw new Error(`tar member ${name} is larger than expected (${size} bytes)`);
    this.capturing = wanted ? { name: isLongName ? '\0longname' : name.replace(/^\.\//, ''), chunks: [] } : undefined;
    if (size === 0) this.finishMember();
  }

  private finishMember(): void {
    const captured = this.capturing;
    this.capturing = undefined;
    if (!captured) return;
    const body = Buffer.concat(captured.chunks);
    if (captured.name === '\0longname') this.longName = text(body);
    else this.members.set(captured.name, body);
  }
}

const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

const text = (field: Buffer) => {
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? field.length : end).toString('utf8');
};

/** Octal, or base-256 (high bit set) for members of 8 GiB and more. */
function parseSize(field: Buffer): number {
  if (field[0]! & 0x80) {
    let value = 0;
    for (let i = 1; i < field.length; i += 1) value = value * 256 + field[i]!;
    return value;
  }
  return parseInt(text(field).trim() || '0', 8);
}

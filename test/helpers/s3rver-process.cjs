// Runs s3rver in its own process: on Node 20 it needs --openssl-legacy-provider, which the
// test workers must not inherit. Prints the listening port on stdout, then serves until killed.
const fs = require('node:fs');
const path = require('node:path');
const S3rver = require('s3rver');
const [directory, ...buckets] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  configureBuckets: buckets.map((name) => ({ name })),
});

// s3rver keeps unfinished multipart uploads in <bucket>/._S3rver_uploads/<id>/ but answers neither
// ListMultipartUploads nor AbortMultipartUpload; these two follow the S3 API on that same storage.
const escapeXml = (text) => text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
server.middleware.unshift(async (ctx, next) => {
  const [, bucket, ...rest] = ctx.path.split('/');
  const key = rest.map(decodeURIComponent).join('/');
  const uploads = path.join(directory, bucket ?? '', '._S3rver_uploads');
  if (ctx.method === 'GET' && bucket && !key && 'uploads' in ctx.query) {
    const prefix = ctx.query.prefix ?? '';
    const entries = fs.existsSync(uploads) ? fs.readdirSync(uploads) : [];
    const found = entries
      .map((id) => ({ id, key: fs.readFileSync(path.join(uploads, id, 'key'), 'utf8'), initiated: fs.statSync(path.join(uploads, id, 'key')).mtime }))
      .filter((u) => u.key.startsWith(prefix))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    ctx.type = 'application/xml';
    ctx.body = `<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`
      + `<Bucket>${escapeXml(bucket)}</Bucket><Prefix>${escapeXml(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>`
      + found.map((u) => `<Upload><Key>${escapeXml(u.key)}</Key><UploadId>${u.id}</UploadId><Initiated>${u.initiated.toISOString()}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`).join('')
      + '</ListMultipartUploadsResult>';
    return;
  }
  if (ctx.method === 'DELETE' && bucket && key && 'uploadId' in ctx.query) {
    const dir = path.join(uploads, path.basename(String(ctx.query.uploadId)));
    if (!fs.existsSync(dir)) {
      ctx.status = 404;
      ctx.type = 'application/xml';
      ctx.body = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>';
      return;
    }
    fs.rmSync(dir, { recursive: true, force: true });
    ctx.status = 204;
    return;
  }
  return next();
});

server.run().then(({ port }) => process.stdout.write(`${port}\n`), (error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});

// Runs s3rver in its own process: on Node 20 it needs --openssl-legacy-provider, which the
// test workers must not inherit. Prints the listening port on stdout, then serves until killed.
const S3rver = require('s3rver');
const [directory, ...buckets] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  configureBuckets: buckets.map((name) => ({ name })),
});
server.run().then(({ port }) => process.stdout.write(`${port}\n`), (error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});

/**
 * An S3-compatible server on 127.0.0.1 for the s3:// tests: S3rver
 * (@20minutes/s3rver, an npm package), in its own process. Chosen because it
 * installs from npm with no binary download and, unlike the original s3rver
 * 3.x, verifies AWS Signature Version 4 (header and presigned query): a
 * request signed with a wrong secret gets 403 SignatureDoesNotMatch. Access
 * key and secret are its default account, S3RVER / S3RVER. Each request is
 * logged as method, status, body bytes sent and Range, like the nginx log.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './cli';
import { freePort, LoggedRequest } from './nginx';

export const S3_ACCESS_KEY = 'S3RVER';
export const S3_SECRET = 'S3RVER';

const SERVER_MAIN = `
const fs = require('node:fs');
const S3rver = require(${JSON.stringify(path.join(ROOT, 'node_modules', '@20minutes', 's3rver'))});
const [dir, port, log, bucket] = process.argv.slice(1);
const srv = new S3rver({ address: '127.0.0.1', port: Number(port), silent: true, directory: dir, configureBuckets: [{ name: bucket }] });
srv.run().then(() => {
  srv.httpServer.on('request', (req, res) => {
    res.on('finish', () => {
      const body = req.method === 'HEAD' ? 0 : Number(res.getHeader('content-length') ?? 0);
      fs.appendFileSync(log, [req.method, res.statusCode, body, body, JSON.stringify(req.headers.range ?? ''), JSON.stringify(req.headers['if-match'] ?? ''), req.url.split('?')[0]].join(' ') + '\\n');
    });
  });
  process.stdout.write('listening\\n');
});
`;

export interface S3Server {
  endpoint: string;
  bucket: string;
  log(): LoggedRequest[];
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startS3Server(dir: string, bucket: string): Promise<S3Server> {
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const logFile = path.join(dir, '..', `s3-access-${port}.log`);
  let child: ChildProcess | null = null;
  const start = () =>
    new Promise<void>((resolve, reject) => {
      const c = spawn(process.execPath, ['-e', SERVER_MAIN, path.join(dir, 'data'), String(port), logFile, bucket], { stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      let err = '';
      c.stderr!.on('data', (d) => (err += d));
      c.stdout!.on('data', (d) => String(d).includes('listening') && resolve());
      c.on('exit', (code) => reject(new Error(`S3 server exited (${code}): ${err.trim()}`)));
    });
  await start();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    log: () =>
      (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '')
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [method, status, body, bytes, range, ifMatch, uri] = line.split(' ');
          return { method, status: Number(status), body: Number(body), bytes: Number(bytes), range: JSON.parse(range), ifMatch: JSON.parse(ifMatch), uri };
        }),
    async stop() {
      const c = child;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((r) => c.on('exit', r));
      c.kill('SIGTERM');
      await exited;
      child = null;
    },
    start,
  };
}

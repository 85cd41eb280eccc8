/**
 * A real nginx (Debian package) on 127.0.0.1, started by a test with its own
 * prefix, config and access log. The log records every request's status and
 * bytes sent, so tests count what a remote read really cost.
 *
 * Locations: `/` serves `root`; `/slow/` the same files at a limited rate;
 * `/busy/` answers 503 to requests beyond 2 per second (a throttling store); `/versioned/` adds
 * an Azure version id header;
 * `/private/` answers 403 and `/login/` 401 (an expired signature); `/down/` 503 always.
 * `setDown(true)` makes every location answer 503 (a flag file nginx checks per request).
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { run } from './cli';

export interface LoggedRequest {
  method: string;
  status: number;
  /** Body bytes sent ($body_bytes_sent). */
  body: number;
  /** All bytes sent, headers included ($bytes_sent). */
  bytes: number;
  range: string;
  ifMatch: string;
  uri: string;
}

export interface Nginx {
  port: number;
  root: string;
  base: string;
  /** With `tls`: https://127.0.0.1:PORT with a self-signed certificate, and that certificate (the CA to trust). */
  httpsBase?: string;
  caFile?: string;
  /** Requests logged so far. */
  log(): LoggedRequest[];
  /** Every location answers 503 (or serves again). */
  setDown(down: boolean): Promise<void>;
  /** SIGSTOP / SIGCONT to every nginx process: requests hang. */
  freeze(frozen: boolean): void;
  stop(): Promise<void>;
  /** Starts again on the same port (after stop). */
  start(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (the kernel's pick; nginx binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function config(prefix: string, root: string, port: number, tlsPort: number | null): string {
  // nginx checks the flag file on every request: no reload, no old worker still answering on a kept-alive connection.
  const body = `if (-f ${prefix}/down) { return 503; }`;
  return `
worker_processes 1;
${process.getuid?.() === 0 ? 'user root;' : ''}
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 256; }
http {
  log_format counted '$request_method $status $body_bytes_sent $bytes_sent "$http_range" "$http_if_match" $uri';
  access_log ${prefix}/access.log counted;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  default_type application/octet-stream;
  sendfile on;
  keepalive_requests 10000;
  limit_req_zone $binary_remote_addr zone=busy:1m rate=2r/s;
  server {
    listen 127.0.0.1:${port};
    ${tlsPort ? `listen 127.0.0.1:${tlsPort} ssl; ssl_certificate ${prefix}/cert.pem; ssl_certificate_key ${prefix}/key.pem;` : ''}
    root ${root};
    location / { ${body} }
    location /slow/ { alias ${root}/; limit_rate 4m; ${body} }
    location /busy/ { alias ${root}/; limit_req zone=busy nodelay; limit_req_status 503; ${body} }
    location /versioned/ { alias ${root}/; add_header x-ms-version-id "2026-12-01T10:00:00.1234567Z"; ${body} }
    location /private/ { return 403; }
    location /login/ { return 401; }
    location /down/ { return 503; }
  }
}
`;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** Starts nginx serving `root` on a free loopback port. */
export async function startNginx(prefix: string, root: string, options: { tls?: boolean } = {}): Promise<Nginx> {
  fs.mkdirSync(path.join(prefix, 'tmp'), { recursive: true });
  const conf = path.join(prefix, 'nginx.conf');
  const port = await freePort();
  const tlsPort = options.tls ? await freePort() : null;
  if (tlsPort) {
    const r = await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      path.join(prefix, 'key.pem'),
      '-out',
      path.join(prefix, 'cert.pem'),
    ]);
    if (r.code !== 0) throw new Error(`openssl: ${r.stderr}`);
  }
  let child: ChildProcess | null = null;
  const nginxArgs = ['-p', prefix, '-c', conf, '-e', path.join(prefix, 'error.log')];
  const pids = () => {
    const master = child?.pid;
    if (!master) return [];
    const kids = fs
      .readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          return fs.readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]?.split(' ')[1] === String(master);
        } catch {
          return false;
        }
      });
    return [master, ...kids.map(Number)];
  };
  const start = async () => {
    const c = spawn('nginx', [...nginxArgs, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr!.on('data', (d) => (err += d));
    child = c;
    const t0 = Date.now();
    while (!(await canConnect(port))) {
      if (c.exitCode !== null) throw new Error(`nginx exited: ${err.trim()}`);
      if (Date.now() - t0 > 10_000) throw new Error(`nginx did not listen on ${port}: ${err.trim()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  fs.writeFileSync(conf, config(prefix, root, port, tlsPort));
  await start();
  const logFile = path.join(prefix, 'access.log');
  return {
    port,
    root,
    base: `http://127.0.0.1:${port}`,
    ...(tlsPort ? { httpsBase: `https://127.0.0.1:${tlsPort}`, caFile: path.join(prefix, 'cert.pem') } : {}),
    log: () =>
      (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '')
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const m = /^(\S+) (\d+) (\d+) (\d+) "([^"]*)" "([^"]*)" (\S*)$/.exec(line);
          if (!m) throw new Error(`unexpected access log line: ${line}`);
          // nginx writes a " inside a logged header as \x22.
          const unescape = (v: string) => v.replace(/\\x([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
          return { method: m[1], status: Number(m[2]), body: Number(m[3]), bytes: Number(m[4]), range: unescape(m[5]), ifMatch: unescape(m[6]), uri: m[7] };
        }),
    async setDown(down: boolean) {
      if (down) fs.writeFileSync(path.join(prefix, 'down'), '');
      else fs.rmSync(path.join(prefix, 'down'), { force: true });
    },
    freeze(frozen: boolean) {
      for (const pid of pids()) process.kill(pid, frozen ? 'SIGSTOP' : 'SIGCONT');
    },
    async stop() {
      const c = child;
      if (!c || c.exitCode !== null) return;
      for (const pid of pids()) process.kill(pid, 'SIGCONT');
      const exited = new Promise((r) => c.on('exit', r));
      c.kill('SIGTERM');
      await exited;
      child = null;
    },
    start,
  };
}

/** Sum of body bytes over requests. */
export function bodyBytes(requests: readonly LoggedRequest[]): number {
  return requests.reduce((s, r) => s + r.body, 0);
}

/** A server log once no line has been added for 50 ms (servers log a request after answering it). */
export async function settled<T>(log: () => T[]): Promise<T[]> {
  let last = log();
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const now = log();
    if (now.length === last.length) return now;
    last = now;
  }
  return last;
}

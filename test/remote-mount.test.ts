/**
 * Remote sources through the real CLI: images served by nginx (and an
 * S3-compatible server) on 127.0.0.1 are mounted, exported and described in
 * place. Every view equals the reference bytes; the servers' logs say what
 * mounting and reading cost; no output ever carries the URL's query string.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAvml, WrittenAvml } from './helpers/avml-writer';
import { BIN, memview, run, RunningMount, sha256sum, startMount, tempDir } from './helpers/cli';
import { expectedPadded, expectedRaw, memoryBytes, Range, sha256, writeMachine } from './helpers/machine';
import { bodyBytes, Nginx, settled, startNginx } from './helpers/nginx';
import { S3_ACCESS_KEY, S3_SECRET, S3Server, startS3Server } from './helpers/s3-server';

const SECRET = 'X-Amz-Signature=c0ffeeSECRET&sig=SAS%2Btoken';
const RANGES: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x2ffffff },
];
const BLOCK = 8 * 1024 * 1024;

function noSecret(...texts: string[]): void {
  for (const t of texts) expect(t).not.toMatch(/SECRET|sig=|X-Amz-Signature|S3RVER/);
}

describe('remote sources through the CLI', () => {
  const tmp = tempDir('memview-remote-');
  const www = path.join(tmp, 'www');
  let nginx: Nginx;
  let machine: ReturnType<typeof writeMachine>;
  let avml: WrittenAvml;
  const mounts: RunningMount[] = [];
  const url = (name: string) => `${nginx.base}/${name}?${SECRET}`;
  const log = async () => settled(() => nginx.log());

  beforeAll(async () => {
    machine = writeMachine(www, RANGES, 0x15);
    avml = await writeAvml(path.join(www, 'host.avml'), RANGES, (s, n) => memoryBytes(s, n, 0x15));
    const sample = await run(process.execPath, [path.join(__dirname, '..', 'dist', 'scripts', 'make-sample.js'), path.join(www, 'sample')]);
    if (sample.code !== 0) throw new Error(sample.stderr);
    nginx = await startNginx(path.join(tmp, 'nginx'), www, { tls: true });
  });
  afterAll(async () => {
    for (const m of mounts) await m.stop();
    await nginx?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('info of a raw URL with a --map URL: the same facts as the local file, the pin shown, no secret anywhere', async () => {
    const remote = await memview('info', url('machine.raw'), '--map', url('machine.iomem'), '--json');
    const local = await memview('info', machine.raw, '--map', machine.iomem, '--json');
    expect(remote.code).toBe(0);
    noSecret(remote.stdout, remote.stderr);
    const r = JSON.parse(remote.stdout);
    const l = JSON.parse(local.stdout);
    expect(r.map.ranges).toEqual(l.map.ranges);
    // The views of the bytes are the same; memprocfs.memmap names a local file, README.txt and info.json describe the source.
    const data = (views: { name: string }[]) => views.filter((v) => !['memprocfs.memmap', 'README.txt', 'info.json'].includes(v.name));
    expect(data(r.views)).toEqual(data(l.views));
    expect(r.source.path).toBe(`${nginx.base}/machine.raw`);
    const st = fs.statSync(machine.raw);
    expect(r.remote).toMatchObject({
      url: `${nginx.base}/machine.raw`,
      size: st.size,
      etag: `"${Math.floor(st.mtimeMs / 1000).toString(16)}-${st.size.toString(16)}"`,
      pinnedBy: 'ETag (If-Match)',
      blockSize: BLOCK,
      scans: [{ what: 'VMCOREINFO search', budget: 512 * 1024 * 1024 }],
    });
    const text = await memview('info', url('machine.raw'), '--map', url('machine.iomem'));
    expect(text.stdout).toMatch(/^remote {3}ETag "[0-9a-f]+-[0-9a-f]+", Last-Modified .* GMT, version \(none\); pinned: ETag \(If-Match\)$/m);
    expect(text.stdout).toMatch(/^scan {5}VMCOREINFO search: fetched \d+ bytes .* of a 512\.0 MiB budget \(--remote-scan-mb\)$/m);
    noSecret(text.stdout, text.stderr);
  });

  it('mount of a raw URL: views equal the reference, mounting costs its headers, the process title has no secret', async () => {
    const mark = (await log()).length;
    const m = await startMount(url('machine.raw'), path.join(tmp, 'mnt-raw'), ['--map', url('machine.iomem'), '--vmcoreinfo', 'off']);
    mounts.push(m);
    const atMount = bodyBytes((await log()).slice(mark).filter((q) => q.uri === '/machine.raw'));
    expect(atMount).toBeLessThanOrEqual(64 * 1024 + 1); // the 1-byte pin and the 64 KiB probe for the magic
    noSecret(m.output(), fs.readFileSync(`/proc/${m.child.pid}/cmdline`, 'latin1'));
    expect(m.output()).toContain(`raw image ${nginx.base}/machine.raw mounted on`);
    expect(await sha256sum(path.join(m.dir, 'padded.raw'))).toBe(sha256(expectedPadded(RANGES, 0x15)));
    expect(await sha256sum(path.join(m.dir, 'raw.bin'))).toBe(sha256(expectedRaw(RANGES, 0x15)));
    const info = fs.readFileSync(path.join(m.dir, 'info.json'), 'utf8');
    noSecret(info);
    expect(JSON.parse(info).remote.url).toBe(`${nginx.base}/machine.raw`);
  });

  it('the object replaced while mounted: reads fail with EIO and the mount says why; it stays up', async () => {
    fs.copyFileSync(machine.raw, path.join(www, 'replaced.raw'));
    const m = await startMount(url('replaced.raw'), path.join(tmp, 'mnt-repl'), ['--map', machine.iomem, '--vmcoreinfo', 'off']);
    mounts.push(m);
    const next = path.join(www, 'replaced.raw.new');
    fs.writeFileSync(next, Buffer.alloc(fs.statSync(machine.raw).size, 0x41));
    fs.utimesSync(next, new Date(1_600_000_000_000), new Date(1_600_000_000_000));
    fs.renameSync(next, path.join(www, 'replaced.raw'));
    const dd = await run('dd', [`if=${path.join(m.dir, 'raw.bin')}`, 'of=/dev/null', 'bs=4096', 'skip=3000', 'count=1']);
    expect(dd.code).not.toBe(0);
    expect(dd.stderr).toMatch(/Input\/output error/);
    expect(m.output()).toMatch(
      /read error in raw\.bin: http:\/\/127\.0\.0\.1:\d+\/replaced\.raw: the object changed since it was opened \(HTTP 412: it no longer matches ETag "[0-9a-f-]+"\)/,
    );
    noSecret(m.output());
    expect((await run('ls', [m.dir])).stdout).toContain('padded.raw');
    expect(m.child.exitCode).toBeNull();
  });

  it('AVML over HTTP: mounting walks the records from the end (a few percent of the object), views equal the reference', async () => {
    const size = fs.statSync(path.join(www, 'host.avml')).size;
    const mark = (await log()).length;
    const m = await startMount(url('host.avml'), path.join(tmp, 'mnt-avml'), ['--vmcoreinfo', 'off']);
    mounts.push(m);
    const atMount = bodyBytes((await log()).slice(mark));
    expect(atMount / size).toBeLessThan(0.05);
    expect(atMount).toBeLessThanOrEqual((avml.blocks.length + 2) * 64 * 1024);
    // The local AVML path (forward index, tested against the reference writers in avml.test.ts) is the reference here.
    const local = path.join(tmp, 'avml-local.padded');
    expect((await memview('export', path.join(www, 'host.avml'), '--view', 'padded', '-o', local, '--vmcoreinfo', 'off')).code).toBe(0);
    const mark2 = (await log()).length;
    expect(await sha256sum(path.join(m.dir, 'padded.raw'))).toBe(await sha256sum(local));
    // Reading everything costs about the object once.
    expect(bodyBytes((await log()).slice(mark2))).toBeLessThanOrEqual(1.1 * size);
  });

  it('a remote raw image without a map: refused with what --map auto would read; --map auto says it, then finds the map', async () => {
    const no = await memview('info', url('sample/machine.raw'));
    expect(no.code).toBe(2);
    expect(no.stderr.trim()).toMatch(
      /^memview: http:\/\/127\.0\.0\.1:\d+\/sample\/machine\.raw: a raw image needs a memory map: .* --map auto searches the image for its boot log, reading up to 11\.6 MiB of its 11\.6 MiB \(--remote-scan-mb 512\)$/,
    );
    const auto = await memview('info', url('sample/machine.raw'), '--map', 'auto', '--remote-scan-mb', '8', '--json');
    expect(auto.stderr).toMatch(
      /memview: --map auto: searching http:\/\/127\.0\.0\.1:\d+\/sample\/machine\.raw for its boot log, reading up to 8\.0 MiB of its 11\.6 MiB \(--remote-scan-mb 8\)/,
    );
    expect(auto.code).toBe(0);
    const j = JSON.parse(auto.stdout);
    expect(j.map.origin).toMatch(/^auto: /);
    expect(j.kernel.chosen.osrelease).toBe('6.1.0-13-amd64');
    expect(j.remote.scans.map((s: { what: string }) => s.what)).toEqual(['map search (--map auto)', 'VMCOREINFO search']);
    noSecret(auto.stdout, auto.stderr);
  });

  it('export of a remote view equals the local export; on a terminal it shows the bytes fetched and the rate', async () => {
    const out = path.join(tmp, 'remote.lime');
    const e = await memview('export', url('machine.raw'), '--map', machine.iomem, '--view', 'lime', '-o', out, '--vmcoreinfo', 'off');
    expect(e.code).toBe(0);
    const local = path.join(tmp, 'local.lime');
    expect((await memview('export', machine.raw, '--map', machine.iomem, '--view', 'lime', '-o', local, '--vmcoreinfo', 'off')).code).toBe(0);
    expect(await sha256sum(out)).toBe(await sha256sum(local));
    // script(1) gives the export a terminal; /slow/ (4 MiB/s) makes it last long enough for the line.
    const tty = await run('script', [
      '-qec',
      [
        process.execPath,
        BIN,
        'export',
        url('slow/machine.raw'),
        '--map',
        machine.iomem,
        '--view',
        'raw',
        '-o',
        path.join(tmp, 'tty.raw'),
        '--vmcoreinfo',
        'off',
      ]
        .map((a) => `'${a}'`)
        .join(' '),
      '/dev/null',
    ]);
    expect(tty.code).toBe(0);
    expect(tty.stdout).toMatch(/memview: export raw\.bin: fetched \d+\.\d MiB of http:\/\/127\.0\.0\.1:\d+\/slow\/machine\.raw at \d+\.\d MiB\/s/);
    noSecret(tty.stdout);
  });

  it('https with a private CA (NODE_EXTRA_CA_CERTS): reads; without it: one line saying how', async () => {
    const u = `${nginx.httpsBase}/machine.raw?${SECRET}`;
    const bad = await memview('info', u, '--map', machine.iomem);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe(
      `memview: ${nginx.httpsBase}/machine.raw: cannot open: TLS certificate not accepted (DEPTH_ZERO_SELF_SIGNED_CERT; a private CA: NODE_EXTRA_CA_CERTS=ca.pem)`,
    );
    const ok = await run('env', [
      `NODE_EXTRA_CA_CERTS=${nginx.caFile}`,
      process.execPath,
      BIN,
      'info',
      u,
      '--map',
      machine.iomem,
      '--json',
      '--vmcoreinfo',
      'off',
    ]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).source.size).toBe(fs.statSync(machine.raw).size);
  });
  it('the server stopped while mounted: EIO after the last try, the mount stays up and reads again once it is back', async () => {
    const m = await startMount(url('machine.raw'), path.join(tmp, 'mnt-down'), ['--map', machine.iomem, '--vmcoreinfo', 'off']);
    mounts.push(m);
    await nginx.stop();
    try {
      const dd = await run('dd', [`if=${path.join(m.dir, 'raw.bin')}`, 'of=/dev/null', 'bs=4096', 'skip=4000', 'count=1']);
      expect(dd.code).not.toBe(0);
      expect(dd.stderr).toMatch(/Input\/output error/);
      expect(m.output()).toMatch(
        /read error in raw\.bin: http:\/\/127\.0\.0\.1:\d+\/machine\.raw: connection refused \(bytes \d+-\d+, gave up after 5 tries\)/,
      );
    } finally {
      await nginx.start();
    }
    const copy = path.join(tmp, 'after.bin');
    expect((await run('dd', [`if=${path.join(m.dir, 'raw.bin')}`, `of=${copy}`, 'bs=4096', 'skip=4000', 'count=1'])).code).toBe(0);
    expect(fs.readFileSync(copy)).toEqual(fs.readFileSync(machine.raw).subarray(4000 * 4096, 4001 * 4096));
    expect(m.child.exitCode).toBeNull();
    noSecret(m.output());
  });
});

describe('s3:// through the CLI', () => {
  const tmp = tempDir('memview-remote-s3-');
  let server: S3Server;
  let machine: ReturnType<typeof writeMachine>;
  const mounts: RunningMount[] = [];

  beforeAll(async () => {
    machine = writeMachine(path.join(tmp, 'm'), RANGES, 0x16);
    server = await startS3Server(path.join(tmp, 's3'), 'case42');
    const c = new S3Client({
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET },
    });
    await c.send(new PutObjectCommand({ Bucket: 'case42', Key: 'host.raw', Body: fs.readFileSync(machine.raw) }));
    await c.send(new PutObjectCommand({ Bucket: 'case42', Key: 'iomem.txt', Body: fs.readFileSync(machine.iomem) }));
    c.destroy();
  });
  afterAll(async () => {
    for (const m of mounts) await m.stop();
    await server?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const env = (secret = S3_SECRET) => [
    `AWS_ACCESS_KEY_ID=${S3_ACCESS_KEY}`,
    `AWS_SECRET_ACCESS_KEY=${secret}`,
    `AWS_CONFIG_FILE=${tmp}/none`,
    `AWS_SHARED_CREDENTIALS_FILE=${tmp}/none`,
    'AWS_REGION=',
  ];

  it('mount s3://bucket/key with --s3-endpoint and --map s3://…: views equal the reference', async () => {
    process.env.AWS_ACCESS_KEY_ID = S3_ACCESS_KEY;
    process.env.AWS_SECRET_ACCESS_KEY = S3_SECRET;
    const m = await startMount('s3://case42/host.raw', path.join(tmp, 'mnt'), [
      '--s3-endpoint',
      server.endpoint,
      '--map',
      's3://case42/iomem.txt',
      '--vmcoreinfo',
      'off',
    ]);
    mounts.push(m);
    expect(await sha256sum(path.join(m.dir, 'padded.raw'))).toBe(sha256(expectedPadded(RANGES, 0x16)));
    expect(JSON.parse(fs.readFileSync(path.join(m.dir, 'info.json'), 'utf8')).remote.url).toBe('s3://case42/host.raw');
  });

  it('AWS_ENDPOINT_URL from the environment; a wrong secret is not authorised (exit 2, one line)', async () => {
    /** `memview info` of the object with credentials (this secret) and the endpoint only in the environment. */
    const infoWithEnv = (secret: string, ...more: string[]) =>
      run('env', [
        '-u',
        'AWS_PROFILE',
        ...env(secret),
        `AWS_ENDPOINT_URL=${server.endpoint}`,
        process.execPath,
        BIN,
        'info',
        's3://case42/host.raw',
        '--map',
        machine.iomem,
        ...more,
      ]);
    const withEndpoint = await infoWithEnv(S3_SECRET, '--json', '--vmcoreinfo', 'off');
    expect(withEndpoint.code).toBe(0);
    expect(JSON.parse(withEndpoint.stdout).remote.etag).toMatch(/^"[0-9a-f]{32}"$/);
    const bad = await infoWithEnv('wrong');
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toMatch(/^memview: s3:\/\/case42\/host\.raw: cannot open: not authorised \(HTTP 403 /);
    expect(bad.stderr).not.toContain('wrong');
  });
});

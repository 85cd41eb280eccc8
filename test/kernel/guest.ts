import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { CPU_4_LEVEL, Layout, LIME_NAMES } from './layouts';
import { Qmp } from './qmp';

/**
 * Boots one layout under QEMU and takes every acquisition of it into
 * `runDir` (see guest-init.sh for the guest's side):
 *
 *   iomem.txt dmesg.txt           the guest's own /proc/iomem and dmesg (ground truth)
 *   lime.lime raw.raw padded.raw  LiME format=lime/raw/padded over path=tcp:PORT
 *   lime-z.lime                   LiME format=lime compress=1
 *   kcore-*                       memview inside the guest on live /proc/kcore (FUSE mount there)
 *   qemu.elf qemu.kdump           QEMU dump-guest-memory of the paused guest (elf, kdump-zlib)
 *   console.log result.json       the serial console; what happened, with timings
 */

export interface GuestResult {
  layout: string;
  ok: boolean;
  /** The guest got as far as its first acquisition (false: the boot itself failed). */
  booted: boolean;
  failures: string[];
  seconds: Record<string, number>;
  accel: string;
}

/** The files of one LiME acquisition, by the guest's step name. */
export const LIME_FILES: Record<string, string> = { lime: 'lime.lime', raw: 'raw.raw', padded: 'padded.raw', 'lime-z': 'lime-z.lime' };

const GUEST_PORT = 4444;
const BOOT_TIMEOUT_MS = 20 * 60_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** KVM when /dev/kvm opens, else TCG. */
export function accelerator(): string {
  try {
    fs.closeSync(fs.openSync('/dev/kvm', 'r+'));
    return 'kvm';
  } catch {
    return 'tcg';
  }
}

/**
 * Receives one LiME stream. QEMU's user-net accepts the host's connection
 * before the guest listens and then closes it empty: retry until bytes come.
 */
async function receiveLime(port: number, file: string, deadline: number): Promise<number> {
  for (;;) {
    const bytes = await new Promise<number>((resolve, reject) => {
      const out = fs.createWriteStream(file);
      let n = 0;
      const s = net.connect(port, '127.0.0.1');
      s.on('data', (d: Buffer) => {
        n += d.length;
        out.write(d);
      });
      s.on('error', () => s.destroy());
      s.on('close', () => out.end(() => resolve(n)));
      out.on('error', reject);
    });
    if (bytes > 0) return bytes;
    if (Date.now() > deadline) throw new Error(`LiME on port ${port} sent nothing`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export async function bootLayout(layout: Layout, buildDir: string, runDir: string, project: string): Promise<GuestResult> {
  fs.rmSync(runDir, { recursive: true, force: true });
  fs.mkdirSync(runDir, { recursive: true });
  const started = Date.now();
  const seconds: Record<string, number> = {};
  const failures: string[] = [];
  const port = await freePort();
  const qmpPath = path.join(runDir, 'qmp.sock');
  const accel = accelerator();
  const limes = layout.lime ?? [...LIME_NAMES];
  const args = [
    '-M',
    layout.machine,
    '-accel',
    accel,
    '-cpu',
    accel === 'kvm' ? 'host' : (layout.cpu ?? CPU_4_LEVEL),
    '-m',
    layout.memory,
    '-smp',
    '1',
    '-display',
    'none',
    '-no-reboot',
    '-serial',
    'stdio',
    '-monitor',
    'none',
    '-qmp',
    `unix:${qmpPath},server=on,wait=off`,
    '-kernel',
    path.join(buildDir, 'vmlinuz'),
    '-initrd',
    path.join(buildDir, 'initramfs.cpio.gz'),
    // no_timer_check: on a loaded host TCG is too slow for the IO-APIC timer check (it panics).
    '-append',
    [
      'console=ttyS0',
      'loglevel=4',
      'panic=-1',
      'no_timer_check',
      ...(layout.noKcore ? [] : [`memview.node=${process.execPath}`, `memview.project=${project}`]),
      `memview.lime=${limes.join(',')}`,
      ...layout.append,
    ].join(' '),
    // QEMU's dumps carry the kernel's VMCOREINFO note (the guest loads qemu_fw_cfg).
    '-device',
    'vmcoreinfo',
    // The host's root, read-only: node, the built project and their libraries for memview in the guest.
    '-virtfs',
    'local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap',
    '-virtfs',
    `local,path=${runDir},mount_tag=out,security_model=none`,
    // No network beyond this: user-net, no route out, one port forwarded on the host's loopback.
    '-netdev',
    `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${port}-10.0.2.15:${GUEST_PORT}`,
    '-device',
    'virtio-net-pci,netdev=n0',
  ];
  const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const consoleLog = fs.createWriteStream(path.join(runDir, 'console.log'));
  qemu.stderr.on('data', (d: Buffer) => consoleLog.write(d));
  const exited = new Promise<number | null>((resolve) => qemu.on('exit', (code) => resolve(code)));
  const timer = setTimeout(() => {
    failures.push(`guest did not finish within ${BOOT_TIMEOUT_MS / 60_000} minutes`);
    qemu.kill('SIGKILL');
  }, BOOT_TIMEOUT_MS);
  const deadline = started + BOOT_TIMEOUT_MS;
  const qmp = await Qmp.connect(qmpPath).catch((e: Error) => {
    failures.push(e.message);
    return null;
  });

  let stepStart = Date.now();
  const mark = (name: string) => {
    seconds[name] = (Date.now() - stepStart) / 1000;
    stepStart = Date.now();
  };
  // One action at a time, in console order.
  let chain: Promise<void> = Promise.resolve();
  const act = (what: string, fn: () => Promise<void>) => {
    chain = chain.then(fn).catch((e: Error) => {
      failures.push(`${what}: ${e.message}`);
    });
  };

  const lines = readline.createInterface({ input: qemu.stdout });
  lines.on('line', (line) => {
    consoleLog.write(line + '\n');
    const m = /^@@ (\S+)\s*(.*)$/.exec(line.replace(/\r$/, ''));
    if (!m) return;
    const [, verb, arg] = m;
    if (verb === 'fail') failures.push(`guest: ${arg}`);
    else if (verb === 'lime') {
      if (!seconds.boot) mark('boot');
      act(`LiME ${arg}`, async () => {
        await receiveLime(port, path.join(runDir, LIME_FILES[arg]), deadline);
        mark(`lime ${arg}`);
      });
    } else if (verb === 'memview') mark('memview start');
    else if (verb === 'memview-done') mark('memview kcore');
    else if (verb === 'step' && arg === 'qemu-dump') {
      act('QEMU dump-guest-memory', async () => {
        if (!qmp) throw new Error('no QMP connection');
        await qmp.execute('stop');
        try {
          mark('guest wrap-up');
          await qmp.execute('dump-guest-memory', { paging: false, protocol: `file:${path.join(runDir, 'qemu.elf')}`, format: 'elf' });
          mark('qemu elf');
          await qmp.execute('dump-guest-memory', { paging: false, protocol: `file:${path.join(runDir, 'qemu.kdump')}`, format: 'kdump-zlib' });
          mark('qemu kdump-zlib');
        } finally {
          await qmp.execute('cont');
          fs.writeFileSync(path.join(runDir, 'done-qemu-dump'), '');
        }
      });
    }
  });

  const code = await exited;
  clearTimeout(timer);
  await chain;
  qmp?.close();
  await new Promise<void>((r) => consoleLog.end(() => r()));
  if (code !== 0) failures.push(`QEMU exited with ${code}`);
  for (const f of [
    ...limes.map((l) => LIME_FILES[l]),
    'iomem.txt',
    'dmesg.txt',
    'qemu.elf',
    'qemu.kdump',
    ...(layout.noKcore ? [] : ['kcore-raw.bin', 'kcore-info.json']),
  ]) {
    if (!fs.existsSync(path.join(runDir, f))) failures.push(`no ${f}`);
  }
  seconds.total = (Date.now() - started) / 1000;
  const result: GuestResult = { layout: layout.name, ok: failures.length === 0, booted: 'boot' in seconds, failures, seconds, accel };
  fs.writeFileSync(path.join(runDir, 'result.json'), JSON.stringify(result, null, 2) + '\n');
  return result;
}

/**
 * Scale rows of `npm run bench` (issue 11 case 8): `memview info` and
 * `memview mount` (spawn to mounted, the mount serving its root) of images
 * with 1,000,000 RAM ranges each way: a LiME of 1M non-adjacent records, a
 * raw image with an iomem map of 1M System RAM lines, an ELF core of 1M
 * PT_LOADs (PN_XNUM). Target: each under 10 s with a peak RSS under 1 GiB.
 * The images are sparse (test/helpers/scale-images.ts), built once and kept
 * in the temp directory.
 *
 * `npm run bench -- --only scale` runs these rows alone; standalone:
 * node dist/bench/scale.js [--ranges N] [--repeat N]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SCALE_KINDS, ScaleImage, ScaleKind, scaleLayout, scaleSourceArgs, writeScaleImage } from '../test/helpers/scale-images';
import { runAlone, BenchRow, exec, median, MEMVIEW, MiB, startMemview, withServer } from './common';

const TARGET_SECONDS = 10;
const TARGET_RSS = 1024 * MiB;

const KIND_NAMES: Record<ScaleKind, (n: string) => string> = {
  lime: (n) => `LiME of ${n} non-adjacent records`,
  iomem: (n) => `raw image + iomem of ${n} System RAM lines`,
  elf: (n) => `ELF core of ${n} PT_LOADs (PN_XNUM)`,
};

/** The images with `count` ranges, written once (the LiME of a million 4 KiB records is 4 GB, sparse on disk but for its headers). */
function scaleImages(count: number, log: (m: string) => void): ScaleImage[] {
  const dir = path.join(os.tmpdir(), `memview-bench-scale-${count}`);
  fs.mkdirSync(dir, { recursive: true });
  const layout = scaleLayout(count);
  return SCALE_KINDS.map((kind) => {
    const image = path.join(dir, `${kind}.img`);
    const done = path.join(dir, `${kind}.done`);
    if (!fs.existsSync(done)) {
      log(`writing a ${kind} image of ${count} ranges in ${dir} …`);
      writeScaleImage(kind, layout, image);
      fs.writeFileSync(done, '');
    }
    return { ...layout, kind, image, map: kind === 'iomem' ? `${image}.iomem` : undefined, fill: false, salt: 0 };
  });
}

/** Wall seconds and peak RSS of `memview info` (GNU time: elapsed, max resident KiB). */
async function timeInfo(img: ScaleImage): Promise<{ seconds: number; rss: number }> {
  const { stderr } = await exec('/usr/bin/time', ['-f', 'memview-time %e %M', process.execPath, MEMVIEW, 'info', ...scaleSourceArgs(img)]);
  const m = /memview-time ([\d.]+) (\d+)/.exec(stderr);
  if (!m) throw new Error(`no time output: ${stderr.slice(-200)}`);
  return { seconds: Number(m[1]), rss: Number(m[2]) * 1024 };
}

/** Spawn to mounted (the banner printed and the mount listed), the peak RSS then, and an `ls -l` of the root served. */
async function timeMount(img: ScaleImage, dir: string): Promise<{ seconds: number; rss: number }> {
  const [source, ...args] = scaleSourceArgs(img);
  return withServer(
    () => startMemview(source, dir, args),
    async (s) => {
      await exec('ls', ['-l', dir]);
      return { seconds: s.readySeconds, rss: s.peakRss() };
    },
  );
}

function rows(what: string, kind: ScaleKind, count: string, seconds: number[], rss: number[]): BenchRow[] {
  const s = median(seconds);
  const r = Math.max(...rss);
  const name = `${what}, ${KIND_NAMES[kind](count)}`;
  return [
    { group: 'scale', name, value: s, unit: 's', target: `< ${TARGET_SECONDS} s`, ok: s < TARGET_SECONDS, samples: seconds },
    { group: 'scale', name: `${name}: peak RSS`, value: r / MiB, unit: 'MiB', target: '< 1 GiB', ok: r < TARGET_RSS, samples: rss.map((x) => x / MiB) },
  ];
}

export async function scaleBench(opts: { ranges: number; repeat: number; dir: string; log: (m: string) => void }): Promise<BenchRow[]> {
  const images = scaleImages(opts.ranges, opts.log);
  const count = opts.ranges.toLocaleString('en-US');
  const out: BenchRow[] = [];
  for (const img of images) {
    const info: { seconds: number; rss: number }[] = [];
    const mount: { seconds: number; rss: number }[] = [];
    for (let round = 1; round <= opts.repeat; round++) {
      opts.log(`scale ${img.kind} ${count}: round ${round}/${opts.repeat}`);
      info.push(await timeInfo(img));
      mount.push(await timeMount(img, path.join(opts.dir, 'scale-mnt')));
    }
    out.push(
      ...rows(
        'memview info',
        img.kind,
        count,
        info.map((x) => x.seconds),
        info.map((x) => x.rss),
      ),
      ...rows(
        'memview mount, spawn to mounted',
        img.kind,
        count,
        mount.map((x) => x.seconds),
        mount.map((x) => x.rss),
      ),
    );
  }
  return out;
}

if (require.main === module) {
  runAlone('memview-bench-scale-run-', (ctx, numberFlag) =>
    scaleBench({ ranges: numberFlag('--ranges', 1_000_000), repeat: numberFlag('--repeat', 1), dir: ctx.dir, log: ctx.log }),
  );
}

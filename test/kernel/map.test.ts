/**
 * `memview map` on each real raw dump (LiME format=raw): it must choose the
 * guest's own /proc/iomem with confidence high, with the kernel's page table
 * confirming it (no contradiction), and the boot-log route (the guest's dmesg,
 * or the log found inside the image) must give the same map.
 */
import { describe, expect, it } from 'vitest';
import { memview } from '../helpers/cli';
import { layoutsFromEnv } from './layouts';
import { boots, fmt, Span, systemRam } from './truth';

interface MapJson {
  candidates: { origin: string; kind: string; fit: string; content?: { ok: boolean; detail: string }; ranges: { start: string; end: string }[] }[];
  chosen: number | null;
  confidence: string | null;
  reason: string;
}

async function map(...args: string[]): Promise<MapJson> {
  const r = await memview('map', '--json', ...args);
  if (r.code !== 0) throw new Error(`memview map ${args.join(' ')}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout);
}

/** Adjacent ranges joined: maps that place every byte the same way compare equal. */
function merged(spans: Span[]): string[] {
  const out: Span[] = [];
  for (const s of spans) {
    const last = out[out.length - 1];
    if (last && last.end + 1 === s.start) last.end = s.end;
    else out.push({ ...s });
  }
  return fmt(out);
}

const spans = (c: MapJson['candidates'][number]): Span[] => c.ranges.map((r) => ({ start: parseInt(r.start, 16), end: parseInt(r.end, 16) }));

function chosen(m: MapJson) {
  expect(m.chosen, m.reason).not.toBeNull();
  return m.candidates[m.chosen!];
}

for (const boot of boots(layoutsFromEnv())) {
  describe(`memview map on ${boot.layout.name}'s raw dump (${boot.layout.about})`, () => {
    const raw = boot.file('raw.raw');

    it("chooses the guest's /proc/iomem, confidence high, the page table confirming it", async () => {
      const m = await map('--iomem', boot.file('iomem.txt'), '--scan', raw);
      const c = chosen(m);
      expect(c.kind, m.reason).toBe('iomem');
      expect(fmt(spans(c))).toEqual(fmt(systemRam(boot.text('iomem.txt'))));
      expect(m.confidence, m.reason).toBe('high');
      expect(c.content, m.reason).toMatchObject({ ok: true });
      // No candidate with the guest's layout is contradicted by the content.
      const same = m.candidates.filter((x) => merged(spans(x)).join() === merged(spans(c)).join());
      for (const x of same) expect(x.content?.ok, `${x.origin}: ${x.content?.detail}`).not.toBe(false);
    });

    it("the guest's dmesg gives the same map, confidence high", async () => {
      const m = await map('--dmesg', boot.file('dmesg.txt'), raw);
      const c = chosen(m);
      expect(merged(spans(c))).toEqual(merged(systemRam(boot.text('iomem.txt'))));
      expect(m.confidence, m.reason).toBe('high');
    });

    it('the boot log found inside the image gives the same map, confidence high', async () => {
      const m = await map(raw);
      const c = chosen(m);
      expect(merged(spans(c))).toEqual(merged(systemRam(boot.text('iomem.txt'))));
      expect(m.confidence, m.reason).toBe('high');
    });
  });
}

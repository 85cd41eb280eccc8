import { hex } from '../errors';
import { KernelFacts } from '../kernel/vmcoreinfo';
import { rangeEnd, totalLength } from '../types';
import { describeFit, MapChoice } from '../maps/candidates';

/** Everything `memview map` reports: the image, what the scan saw, every candidate ranked, the choice. */
export interface MapReport {
  image: string;
  imageSize: number;
  scan: { seconds: number; logHeaders: number; vmcoreinfoHits: number; capped: boolean };
  kernels: (KernelFacts & { offset: number })[];
  choice: MapChoice;
}

const FIT_WORDS = {
  exact: 'fits (raw)',
  padded: 'fits (padded)',
  'page-rounded': 'fits page-rounded',
  'page-truncated': 'fits page-truncated',
  'avml-short': 'fits AVML -1',
  none: 'no fit',
};

/** The report as a table for people. */
export function formatMapReport(r: MapReport): string {
  const out: string[] = [];
  const gb = r.imageSize / 1e9;
  out.push(`image     ${r.image}: ${r.imageSize} bytes`);
  out.push(
    `scanned   ${gb.toFixed(2)} GB in ${r.scan.seconds.toFixed(2)} s: ${r.scan.logHeaders} e820 map header(s), ${r.scan.vmcoreinfoHits} VMCOREINFO note(s)` +
      (r.scan.capped ? ' (stopped collecting after too many hits)' : ''),
  );
  for (const k of r.kernels) {
    const pt =
      k.pageTablePhys === undefined
        ? 'no page-table address (needs SYMBOL(swapper_pg_dir) and NUMBER(phys_base))'
        : `top-level page table at physical ${hex(k.pageTablePhys)}`;
    out.push(`kernel    VMCOREINFO at image offset ${hex(k.offset)}: ${k.osrelease ?? '?'}; ${pt}`);
  }
  const { ranked, chosen } = r.choice;
  out.push(ranked.length ? 'candidates (best first)' : 'candidates: none');
  ranked.forEach((c, i) => {
    const mark = c === chosen ? '*' : ' ';
    const also = c.candidate.alsoAt.length
      ? ` (+${c.candidate.alsoAt.length} identical: ${c.candidate.alsoAt.slice(0, 3).join(', ')}${c.candidate.alsoAt.length > 3 ? ', …' : ''})`
      : '';
    out.push(`${mark}${String(i + 1).padStart(2)}. ${c.candidate.origin}${also}`);
    out.push(`     ${FIT_WORDS[c.fit]}: ${c.candidate.ranges.length} ranges, ${describeFit(c.fit, c.candidate.ranges, r.imageSize)}`);
    if (c.content) out.push(`     content ${c.content.ok ? 'confirms' : 'contradicts'}: ${c.content.detail}`);
    for (const g of c.candidate.ranges) out.push(`       ${hex(g.start).padStart(14)}-${hex(rangeEnd(g) - 1).padEnd(14)} ${g.length}`);
    for (const d of c.candidate.details) out.push(`     ${d}`);
  });
  const idx = chosen ? ranked.indexOf(chosen) + 1 : 0;
  out.push(
    chosen ? `chosen    ${idx} (${chosen.candidate.origin}), confidence ${r.choice.confidence}: ${r.choice.reason}` : `chosen    none: ${r.choice.reason}`,
  );
  return out.join('\n') + '\n';
}

/** The report for scripts (`memview map --json`). */
export function mapReportJson(r: MapReport): object {
  const { ranked, chosen } = r.choice;
  return {
    image: r.image,
    imageSize: r.imageSize,
    scan: r.scan,
    kernels: r.kernels.map((k) => ({
      offset: k.offset,
      osrelease: k.osrelease,
      pageTablePhys: k.pageTablePhys === undefined ? undefined : hex(k.pageTablePhys),
      physBase: k.physBase?.toString(),
      kernelOffset: k.kernelOffset === undefined ? undefined : hex(Number(k.kernelOffset)),
    })),
    candidates: ranked.map((c) => ({
      origin: c.candidate.origin,
      kind: c.candidate.kind,
      form: c.candidate.form,
      alsoAt: c.candidate.alsoAt,
      fit: c.fit,
      ramBytes: totalLength(c.candidate.ranges),
      content: c.content,
      ranges: c.candidate.ranges.map((g) => ({ start: hex(g.start), end: hex(rangeEnd(g) - 1), length: g.length })),
      details: c.candidate.details,
    })),
    chosen: chosen ? ranked.indexOf(chosen) : null,
    confidence: r.choice.confidence ?? null,
    reason: r.choice.reason,
  };
}

/**
 * AVML v2 records found from the end of the file (trailer -> header), the way
 * a remote AVML object is mounted without reading it: checked against the
 * independent writer's record table, for plain, 0.17.0-orphan and padded
 * streams, over a Buffer and over a real nginx (bytes counted in its log).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferSource } from '../src/io/byte-source';
import { openHttpSource } from '../src/io/http-source';
import { walkAvmlBackwards } from '../src/sources/avml-backwards';
import { BLOCK, writeAvml, WrittenAvml } from './helpers/avml-writer';
import { tempDir } from './helpers/cli';
import { memoryBytes, Range } from './helpers/machine';
import { bodyBytes, Nginx, settled, startNginx } from './helpers/nginx';

/** 8 blocks with data and an all-zero block between, below 4 GiB, plus a small range. */
const IOMEM: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x100000 + 9 * BLOCK - 1 },
];
const ZEROS: Range[] = [{ start: 0x100000 + 4 * BLOCK, end: 0x100000 + 5 * BLOCK - 1 }];
const memory = (start: number, length: number) => memoryBytes(start, length, 0xa7, ZEROS);

function expectRecords(walked: Awaited<ReturnType<typeof walkAvmlBackwards>>, written: WrittenAvml, fileSize: number): void {
  expect(walked.records.map((r) => ({ start: r.start, length: r.length, fileOffset: r.fileOffset }))).toEqual(
    written.blocks.map((b) => ({ start: b.start, length: b.end - b.start, fileOffset: b.fileOffset })),
  );
  expect(walked.orphans).toEqual(written.orphans.map((o) => ({ start: o.start, length: o.end - o.start, fileOffset: o.fileOffset })));
  // Each stream runs from after its header to the 8-byte trailer before the next header (or the end of the file).
  const headers = [...written.blocks, ...written.orphans].map((b) => b.fileOffset).sort((x, y) => x - y);
  for (const r of walked.records) {
    const next = headers.find((o) => o > r.fileOffset) ?? fileSize;
    expect([r.streamOffset, r.streamLength]).toEqual([r.fileOffset + 32, next - 8 - (r.fileOffset + 32)]);
  }
}

describe('AVML records walked from the end', () => {
  const tmp = tempDir('memview-avml-back-');
  const files: Record<string, { file: string; written: WrittenAvml }> = {};
  let nginx: Nginx;

  beforeAll(async () => {
    const variants = { plain: {}, orphans: { orphanHeaders: true }, padded: { skippableEvery: 7, streamIdEvery: 11, uncompressedEvery: 5 } };
    for (const [name, options] of Object.entries(variants)) {
      const file = path.join(tmp, `${name}.avml`);
      files[name] = { file, written: await writeAvml(file, IOMEM, memory, options) };
    }
    nginx = await startNginx(path.join(tmp, 'nginx'), tmp);
  });
  afterAll(async () => {
    await nginx?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  for (const name of ['plain', 'orphans', 'padded']) {
    it(`finds every record and orphan header of the ${name} image`, async () => {
      const { file, written } = files[name];
      const walked = await walkAvmlBackwards(new BufferSource(fs.readFileSync(file), file));
      expectRecords(walked, written, fs.statSync(file).size);
      // One read per record and per orphan header, plus one for the last trailer.
      expect(walked.reads).toBe(written.blocks.length + written.orphans.length + 1);
    });
  }

  it('over HTTP the walk costs a few percent of the object: one 64 KiB page per record', async () => {
    const { file, written } = files.plain;
    const src = await openHttpSource(`${nginx.base}/plain.avml?sig=secret`);
    try {
      const mark = nginx.log().length;
      const walked = await walkAvmlBackwards(src.probing());
      expectRecords(walked, written, src.size);
      const fetched = bodyBytes((await settled(() => nginx.log())).slice(mark));
      const size = fs.statSync(file).size;
      expect(fetched).toBeLessThanOrEqual(2 * 64 * 1024 * (written.blocks.length + 1));
      expect(fetched / size).toBeLessThan(0.05);
    } finally {
      src.close();
    }
  });

  it('a truncated object (an upload cut short): one line naming where the walk stopped', async () => {
    const bytes = fs.readFileSync(files.plain.file);
    const cut = bytes.subarray(0, bytes.length - 1000);
    await expect(walkAvmlBackwards(new BufferSource(cut, 'host.avml'))).rejects.toThrow(
      new RegExp(
        `^host\\.avml: not an AVML v2 record ending at file offset 0x${cut.length.toString(16)}: its trailer says the Snappy stream is \\d+ bytes, .* \\(truncated, or an upload that did not finish\\?\\)$`,
      ),
    );
  });

  it('records out of order are refused', async () => {
    const bytes = Buffer.from(fs.readFileSync(files.plain.file));
    const last = files.plain.written.blocks[files.plain.written.blocks.length - 1];
    bytes.writeBigUInt64LE(0n, last.fileOffset + 8); // the last record now starts at 0
    bytes.writeBigUInt64LE(BigInt(last.end - last.start - 1), last.fileOffset + 16);
    await expect(walkAvmlBackwards(new BufferSource(bytes, 'x.avml'))).rejects.toThrow(/overlaps or follows the next record's/);
  });
});

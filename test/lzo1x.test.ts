/**
 * The LZO1X decoder against liblzo2 itself (python3-lzo, Debian): data of
 * every shape compressed by lzo1x_1 (what makedumpfile -l uses) and lzo1x_999
 * decodes to the same bytes; corrupt streams fail with an error, never a read
 * outside the buffers.
 */
import { describe, expect, it } from 'vitest';
import { lzo1xDecompress, LzoError } from '../src/codecs/lzo1x';
import { run } from './helpers/cli';
import { SYSTEM_PYTHON } from './helpers/drgn';

const SCRIPT = `
import lzo, os, random, sys
random.seed(int(sys.argv[1]))
out = []
for i in range(150):
    n = random.choice([1, 3, 17, 100, 4096, 4096, 65536, 200000])
    kind = random.randrange(4)
    if kind == 0: d = os.urandom(n)
    elif kind == 1: d = bytes(n)
    elif kind == 2: d = bytes(random.choice(b'ab') for _ in range(n))
    else:
        d = b''.join(random.choice([b'hello world ', b'\\0' * random.randrange(1, 300), os.urandom(random.randrange(1, 40)), b'xyz' * random.randrange(1, 3000)]) for _ in range(60))[:n]
    c = lzo.compress(d, random.choice([1, 9]), False)
    out.append(d.hex() + ' ' + c.hex())
sys.stdout.write('\\n'.join(out))
`;

describe('LZO1X decoder', () => {
  it('decodes what liblzo2 compressed (levels 1 and 9), byte for byte', async () => {
    const r = await run(SYSTEM_PYTHON, ['-c', SCRIPT, '7']);
    expect(r.code, r.stderr).toBe(0);
    const cases = r.stdout.split('\n').map((l) => l.split(' ').map((h) => Buffer.from(h, 'hex')));
    expect(cases.length).toBe(150);
    for (const [data, packed] of cases) {
      const out = Buffer.alloc(data.length);
      expect(lzo1xDecompress(packed, out)).toBe(data.length);
      expect(out.equals(data)).toBe(true);
    }
  });

  it('corrupt streams: truncated, output too small, a match before the start: LzoError', async () => {
    const r = await run(SYSTEM_PYTHON, ['-c', 'import lzo,sys; sys.stdout.write(lzo.compress(b"abcdefgh" * 600, 1, False).hex())']);
    const packed = Buffer.from(r.stdout, 'hex');
    expect(() => lzo1xDecompress(packed.subarray(0, packed.length - 4), Buffer.alloc(4800))).toThrow(LzoError);
    expect(() => lzo1xDecompress(packed, Buffer.alloc(100))).toThrow(/output overrun/);
    // An M2 match (0x40..) as the first instruction after a literal reaches before the output's start.
    expect(() => lzo1xDecompress(Buffer.from([0x12, 0x41, 0x7f, 0xff, 0x11, 0, 0]), Buffer.alloc(64))).toThrow(/before the start/);
  });
});

/**
 * LZO1X decompression (what liblzo2's lzo1x_decompress_safe reads; makedumpfile
 * -l writes each page with lzo1x_1_compress). Written from the LZO1X stream
 * description, every read and copy bounds-checked: a corrupt page is an error,
 * never a read outside the buffers. npm offers only a native addon that
 * compiles at install and a bundler-only WebAssembly build; this is small, and
 * test/lzo1x.test.ts checks it against liblzo2's output.
 *
 * Stream: instructions that copy literals or a match (an earlier part of the
 * output). The two low bits of the last distance byte of a match say how many
 * literals (0-3) follow it before the next instruction.
 */
export class LzoError extends Error {}

/** Decodes `src` into `dst`; returns the number of bytes written. */
export function lzo1xDecompress(src: Uint8Array, dst: Uint8Array): number {
  const inEnd = src.length;
  const outEnd = dst.length;
  let ip = 0;
  let op = 0;
  const need = (n: number) => {
    if (ip + n > inEnd) throw new LzoError('input overrun');
  };
  const literals = (n: number) => {
    need(n);
    if (op + n > outEnd) throw new LzoError('output overrun');
    dst.set(src.subarray(ip, ip + n), op);
    ip += n;
    op += n;
  };
  const copyMatch = (from: number, n: number) => {
    if (from < 0) throw new LzoError('match distance before the start of the output');
    if (op + n > outEnd) throw new LzoError('output overrun');
    // Byte by byte: a match may overlap the bytes it produces (a run).
    for (let k = 0; k < n; k++) dst[op++] = dst[from + k];
  };
  /** The 0-3 literals a match's last instruction byte carries in its low bits; the state they leave. */
  const trailingLiterals = () => {
    const n = src[ip - 2] & 3;
    if (n === 0) return 0;
    literals(n);
    return 2;
  };
  /** A length continued in zero bytes (each adds 255) then a final byte. */
  const longLength = (base: number) => {
    let t = 0;
    need(1);
    while (src[ip] === 0) {
      t += 255;
      ip++;
      need(1);
    }
    return t + base + src[ip++];
  };

  // state: 0 = expect a literal run, 1 = just after a literal run, 2 = after a match's trailing literals
  let state = 0;
  need(1);
  if (src[0] > 17) {
    const t = src[ip++] - 17;
    literals(t);
    state = t < 4 ? 2 : 1;
  }
  for (;;) {
    need(1);
    let t = src[ip++];
    if (state === 0) {
      if (t < 16) {
        literals(t === 0 ? longLength(15) + 3 : t + 3);
        state = 1;
        continue;
      }
    } else if (t < 16) {
      // M1: a short match. After a literal run it copies 3 bytes from up to 3 KiB back, after a match 2 bytes from up to 1 KiB back.
      need(1);
      const dist = (t >> 2) + (src[ip++] << 2);
      if (state === 1) copyMatch(op - 1 - 0x800 - dist, 3);
      else copyMatch(op - 1 - dist, 2);
      state = trailingLiterals();
      continue;
    }
    let from: number;
    if (t >= 64) {
      // M2: 3-8 bytes from up to 2 KiB back.
      need(1);
      from = op - 1 - ((t >> 2) & 7) - (src[ip++] << 3);
      t = (t >> 5) - 1;
    } else if (t >= 32) {
      // M3: any length, up to 16 KiB back.
      t &= 31;
      if (t === 0) t = longLength(31);
      need(2);
      from = op - 1 - ((src[ip] >> 2) + (src[ip + 1] << 6));
      ip += 2;
    } else {
      // M4: any length, 16-48 KiB back; distance 0 ends the stream.
      const far = (t & 8) << 11;
      t &= 7;
      if (t === 0) t = longLength(7);
      need(2);
      const dist = far + (src[ip] >> 2) + (src[ip + 1] << 6);
      ip += 2;
      if (dist === 0) {
        if (ip !== inEnd) throw new LzoError(`${inEnd - ip} bytes after the end-of-stream marker`);
        return op;
      }
      from = op - dist - 0x4000;
    }
    copyMatch(from, t + 2);
    state = trailingLiterals();
  }
}

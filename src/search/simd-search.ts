/**
 * A two-needle search over a buffer in WebAssembly SIMD: for every 16 bytes
 * at i, compare them with each needle's first byte, and the 16 bytes at i + d
 * with each needle's byte at d (d = the shorter needle's length - 1: one load
 * serves both); positions where both match are candidates, which the
 * caller confirms with a full compare. Our needles' byte pairs ('B'…'l',
 * 'V'…'=') are rare in memory, so candidates are few and the pass runs at
 * several times Buffer.indexOf's speed (V8's Boyer-Moore-Horspool, one byte
 * at a time; measured in bench/scan.ts). The chunk is read straight into the
 * module's memory: no copy.
 *
 * The module is assembled here from its instructions (no toolchain needed);
 * `scan` is, in WebAssembly text:
 *
 *   (func (param $len $f0 $l0 $f1 $l1 $d $out $max $start i32) (result i32)
 *     splat $f0 $l0 $f1 $l1 to v128 F0 L0 F1 L1
 *     for $i = $start; $i < $len; $i += 64:
 *       for the blocks $j = $i, $i + 16, $i + 32, $i + 48:
 *         M0[$j] = eq(load $j, F0) & eq(load $j+$d, L0); M1[$j] likewise with F1, L1
 *       if any_true(M0[$j] | M1[$j] for every block $j):
 *         for each block $j, each set bit $b of bitmask(M0[$j]) | bitmask(M1[$j]) << 16:
 *           store32 $out + 4*$count = ($j + ($b & 15)) * 2 + ($b >> 4)
 *           if ++$count >= $max: return $count
 *     return $count)
 */

// Core opcodes.
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const LOCAL_TEE = 0x22;
const I32_CONST = 0x41;
const I32_EQZ = 0x45;
const I32_GE_U = 0x4f;
const I32_CTZ = 0x68;
const I32_ADD = 0x6a;
const I32_SUB = 0x6b;
const I32_AND = 0x71;
const I32_OR = 0x72;
const I32_SHL = 0x74;
const I32_SHR_U = 0x76;
const I32_STORE = 0x36;
const BLOCK = 0x02;
const LOOP = 0x03;
const IF = 0x04;
const END = 0x0b;
const BR = 0x0c;
const BR_IF = 0x0d;
const RETURN = 0x0f;
const VOID = 0x40;
const I32 = 0x7f;
const V128 = 0x7b;
// SIMD opcodes (prefix 0xfd).
const V128_LOAD = [0xfd, 0x00, 0x00, 0x00]; // memarg: align 2^0, offset 0
const I8X16_SPLAT = [0xfd, 0x0f];
const I8X16_EQ = [0xfd, 0x23];
const V128_AND = [0xfd, 0x4e];
const I8X16_BITMASK = [0xfd, 0x64];

const V128_OR = [0xfd, 0x50];
const V128_ANY_TRUE = [0xfd, 0x53];

// Parameters and locals of `scan`.
const [LEN, F0, L0, F1, L1, D, OUT, MAX, START] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
const PARAMS = 9;
const [I, MASK, COUNT, BIT] = [9, 10, 11, 12];
const [VF0, VL0, VF1, VL1, BLK, TAIL] = [13, 14, 15, 16, 17, 18];
/** Blocks of 16 bytes per step, and each block's two candidate-vector locals. */
const BLOCKS = 4;
const STEP = 16 * BLOCKS;
const M = (block: number, needle: number) => 19 + block * 2 + needle;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

const get = (l: number) => [LOCAL_GET, l];
const set = (l: number) => [LOCAL_SET, l];
/** i32.const of a non-negative n (signed LEB128: a top byte with bit 6 set needs one more byte). */
const konst = (n: number) => {
  const out = uleb(n);
  if (out[out.length - 1] & 0x40) {
    out[out.length - 1] |= 0x80;
    out.push(0);
  }
  return [I32_CONST, ...out];
};
const section = (id: number, bytes: number[]) => [id, ...uleb(bytes.length), ...bytes];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const name = (s: string) => [...uleb(s.length), ...Buffer.from(s, 'latin1')];

/** load(i + at) */
const loadAt = (at: number) => [...get(I), ...(at ? [...konst(at), I32_ADD] : []), ...V128_LOAD];

/**
 * The candidate vectors of the 16 bytes at i + at: M0 = eq(BLK, VF0) & eq(TAIL, VL0), M1 likewise,
 * where TAIL is the 16 bytes at i + at + D (one distance for both needles, each with its own byte there).
 */
const blockMatches = (at: number, m0: number, m1: number) => [
  ...loadAt(at),
  ...set(BLK),
  ...get(I),
  ...get(D),
  I32_ADD,
  ...(at ? [...konst(at), I32_ADD] : []),
  ...V128_LOAD,
  ...set(TAIL),
  ...get(BLK),
  ...get(VF0),
  ...I8X16_EQ,
  ...get(TAIL),
  ...get(VL0),
  ...I8X16_EQ,
  ...V128_AND,
  ...set(m0),
  ...get(BLK),
  ...get(VF1),
  ...I8X16_EQ,
  ...get(TAIL),
  ...get(VL1),
  ...I8X16_EQ,
  ...V128_AND,
  ...set(m1),
];

/** Stores each candidate of the block at i + at: offset * 2 + needle; returns when the table is full. */
const emitCandidates = (at: number, m0: number, m1: number) => [
  ...get(m0),
  ...I8X16_BITMASK,
  ...get(m1),
  ...I8X16_BITMASK,
  ...konst(16),
  I32_SHL,
  I32_OR,
  ...set(MASK),
  BLOCK,
  VOID,
  LOOP,
  VOID,
  ...get(MASK),
  I32_EQZ,
  BR_IF,
  1,
  ...get(MASK),
  I32_CTZ,
  ...set(BIT),
  ...get(OUT),
  ...get(COUNT),
  ...konst(2),
  I32_SHL,
  I32_ADD,
  ...get(I),
  ...(at ? [...konst(at), I32_ADD] : []),
  ...get(BIT),
  ...konst(15),
  I32_AND,
  I32_ADD,
  ...konst(1),
  I32_SHL,
  ...get(BIT),
  ...konst(4),
  I32_SHR_U,
  I32_OR,
  I32_STORE,
  0x02,
  0x00,
  ...get(COUNT),
  ...konst(1),
  I32_ADD,
  LOCAL_TEE,
  COUNT,
  ...get(MAX),
  I32_GE_U,
  IF,
  VOID,
  ...get(COUNT),
  RETURN,
  END,
  ...get(MASK),
  ...get(MASK),
  ...konst(1),
  I32_SUB,
  I32_AND,
  ...set(MASK),
  BR,
  0,
  END,
  END,
];

/** STEP bytes per step; candidates are rare, so the common path is compare, or, any_true, branch. */
function scanBody(): number[] {
  const blocks = Array.from({ length: BLOCKS }, (_, b) => b);
  const anyMatch = blocks.flatMap((b) => [...get(M(b, 0)), ...get(M(b, 1)), ...V128_OR, ...(b ? V128_OR : [])]);
  const code = [
    ...get(START),
    ...set(I),
    ...get(F0),
    ...I8X16_SPLAT,
    ...set(VF0),
    ...get(L0),
    ...I8X16_SPLAT,
    ...set(VL0),
    ...get(F1),
    ...I8X16_SPLAT,
    ...set(VF1),
    ...get(L1),
    ...I8X16_SPLAT,
    ...set(VL1),
    BLOCK,
    VOID,
    LOOP,
    VOID,
    ...get(I),
    ...get(LEN),
    I32_GE_U,
    BR_IF,
    1,
    ...blocks.flatMap((b) => blockMatches(16 * b, M(b, 0), M(b, 1))),
    ...anyMatch,
    ...V128_ANY_TRUE,
    IF,
    VOID,
    ...blocks.flatMap((b) => emitCandidates(16 * b, M(b, 0), M(b, 1))),
    END,
    ...get(I),
    ...konst(STEP),
    I32_ADD,
    ...set(I),
    BR,
    0,
    END,
    END,
    ...get(COUNT),
    END,
  ];
  const locals = vec([
    [4, I32],
    [6 + 2 * BLOCKS, V128],
  ]);
  return [...uleb(locals.length + code.length), ...locals, ...code];
}

function moduleBytes(): Uint8Array {
  const type = [0x60, ...vec(Array.from({ length: PARAMS }, () => [I32])), ...vec([[I32]])];
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec([type])),
    ...section(2, vec([[...name('env'), ...name('mem'), 0x02, 0x00, 0x00]])),
    ...section(3, vec([[0]])),
    ...section(7, vec([[...name('scan'), 0x00, 0x00]])),
    ...section(10, vec([scanBody()])),
  ]);
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled module, or null where WebAssembly SIMD is not available. */
function simdModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(moduleBytes());
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** Room past the data for the loads of the last step: STEP + the longest needle + 16. */
const PAD = 160;
const MAX_NEEDLE = 64;
const MAX_CANDIDATES = 65536;

/** Searches chunks for two needles; read each chunk into `buffer`, then call `search`. */
export class SimdSearcher {
  /** Where to read a chunk (a view of the module's memory). */
  readonly buffer: Buffer;
  private readonly scan: (...args: number[]) => number;
  private readonly out: Uint32Array;
  private readonly outAt: number;
  /** The second byte compared: at the same distance in both needles (the shorter one's last byte). */
  private readonly tail: number;

  private constructor(
    private readonly needles: [Buffer, Buffer],
    chunkSize: number,
    module: WebAssembly.Module,
  ) {
    this.outAt = Math.ceil((chunkSize + PAD) / 4) * 4;
    this.tail = Math.min(needles[0].length, needles[1].length) - 1;
    const bytes = this.outAt + MAX_CANDIDATES * 4;
    const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / 65536) });
    const instance = new WebAssembly.Instance(module, { env: { mem: memory } });
    this.scan = instance.exports.scan as (...args: number[]) => number;
    this.buffer = Buffer.from(memory.buffer, 0, chunkSize);
    this.out = new Uint32Array(memory.buffer, this.outAt, MAX_CANDIDATES);
  }

  /** A searcher for two needles of at least 2 bytes, or null where SIMD is unavailable. */
  static create(needles: Buffer[], chunkSize: number): SimdSearcher | null {
    const module = simdModule();
    if (!module || needles.length !== 2 || needles.some((n) => n.length < 2 || n.length > MAX_NEEDLE)) return null;
    return new SimdSearcher([needles[0], needles[1]], chunkSize, module);
  }

  /**
   * Calls `hit(needleIndex, offset)` for every match in buffer[0, length),
   * in ascending offset per needle.
   */
  search(length: number, hit: (needle: number, offset: number) => void): void {
    const [a, b] = this.needles;
    const mem = this.buffer;
    for (let from = 0; from < length;) {
      // Past the data the bytes are stale: candidates there fail the length check below.
      const count = this.scan(length, a[0], a[this.tail], b[0], b[this.tail], this.tail, this.outAt, MAX_CANDIDATES, from);
      for (let i = 0; i < count; i++) {
        const v = this.out[i];
        const n = this.needles[v & 1];
        const at = v >>> 1;
        if (at + n.length <= length && mem.compare(n, 0, n.length, at, at + n.length) === 0) hit(v & 1, at);
      }
      if (count < MAX_CANDIDATES) break;
      // The candidate table filled up: go on after the last step it reported (steps start at multiples of STEP from 0).
      from = Math.floor((this.out[count - 1] >>> 1) / STEP) * STEP + STEP;
    }
  }
}

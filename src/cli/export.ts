import * as fs from 'node:fs';
import * as path from 'node:path';
import { PIECE_ZERO } from '../engine/piece-table';
import { VirtualFile } from '../engine/virtual-file';
import { human, InputError } from '../errors';
import { FileId, fileId, memviewSourcesBehind, sameFile } from '../fuse/mountpoint';

// 128 KiB stays in the CPU cache between the pread and the pwrite: measured 2-3x faster than 4 MiB (README Performance).
const CHUNK = 128 * 1024;
/** Chunks between two turns of the event loop, where a signal handler gets to run (8 MiB). */
const YIELD_EVERY = 64;

/** A failed or interrupted export: the message is the one line; exitCode 128+signal when interrupted. */
export class ExportError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** A file the export reads: never a valid output, under any name. */
export interface ExportInput {
  path: string;
  /** What it is, for the refusal: "the source image", "the map file given with --map". */
  role: string;
}

export interface ExportRequest {
  file: VirtualFile;
  /** The output path as given (-o). */
  output: string;
  /** Source and map files: refused as outputs (also the source behind a memview mount any of them is on). */
  inputs: ExportInput[];
  force: boolean;
  progress: (done: number, total: number) => void;
}

/** `-o -` and `-o /dev/stdout`: memview's own standard output. */
const STDOUT = '/dev/stdout';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const SIGNAL_NUMBER = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;

/**
 * Writes a virtual file to disk. A regular file is written to a temporary
 * file beside it and renamed at the end, so the requested name holds either
 * nothing (or what it held before) or the whole image: an interruption
 * (SIGINT, SIGTERM, SIGHUP), a full disk, a file-size limit or a read error
 * removes the partial copy. Zero pieces are skipped with a seek, so holes
 * stay holes. A pipe or device (`-o /dev/stdout`) cannot seek or be renamed:
 * it gets every byte in order, and a failure says how many went out.
 */
export async function exportFile(req: ExportRequest): Promise<void> {
  const target = resolveOutput(req);
  let interrupted: Signal | undefined;
  const onSignal = (sig: Signal) => (interrupted = sig);
  for (const sig of SIGNALS) process.on(sig, onSignal);
  try {
    if (target.stream) await writeStream(req, target.path, () => interrupted);
    else await writeRegular(req, target.path, () => interrupted);
  } finally {
    for (const sig of SIGNALS) process.off(sig, onSignal);
  }
}

type Signal = (typeof SIGNALS)[number];
type Interrupted = () => Signal | undefined;

/** Copies every piece to `write` (zero pieces too when `sparse` is false); throws on a signal. */
async function copyPieces(
  req: ExportRequest,
  sparse: boolean,
  write: (buf: Buffer, n: number, pos: number) => void | Promise<void>,
  interrupted: Interrupted,
  onSignal: (sig: Signal, done: number) => never,
): Promise<number> {
  const { file } = req;
  const buf = Buffer.allocUnsafe(CHUNK);
  let done = 0;
  let chunks = 0;
  const { starts, lengths, kinds } = file.table();
  for (let i = 0; i < kinds.length; i++) {
    if (kinds[i] === PIECE_ZERO && sparse) {
      done += lengths[i];
      req.progress(done, file.size);
      continue;
    }
    for (let pos = starts[i], end = starts[i] + lengths[i]; pos < end;) {
      if (++chunks % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r));
      const sig = interrupted();
      if (sig) onSignal(sig, done);
      const n = await file.read(buf, pos, Math.min(CHUNK, end - pos));
      await write(buf, n, pos);
      pos += n;
      done += n;
      req.progress(done, file.size);
    }
  }
  const sig = interrupted();
  if (sig) onSignal(sig, done);
  return done;
}

/** To a temporary file beside `target`, renamed onto it at the end; on any failure the temporary file is removed. */
async function writeRegular(req: ExportRequest, target: string, interrupted: Interrupted): Promise<void> {
  const { file, output } = req;
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.memview-partial-${process.pid}`);
  let fd: number;
  try {
    fd = fs.openSync(temp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o666);
  } catch (e) {
    throw new InputError(`${output}: cannot create: ${why(e, path.dirname(target))}`);
  }
  const nothing = 'the partial copy was removed, nothing is left under that name';
  try {
    try {
      // Sized first: a file system that cannot hold the view says so before any byte is copied.
      fs.ftruncateSync(fd, file.size);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EFBIG') throw e;
      const limit = largestFileSize(fd, file.size);
      throw new InputError(
        `${output}: the view is ${file.size} bytes (${human(file.size)}), larger than the largest file this file system (or ulimit -f) allows, ${limit} bytes (${human(limit)}); ${nothing}; ` +
          'export to a file system that holds it (xfs, btrfs, tmpfs), or export raw.bin with iomem.txt',
      );
    }
    await copyPieces(
      req,
      true,
      (buf, n, pos) => {
        for (let done = 0; done < n;) {
          try {
            done += fs.writeSync(fd, buf, done, n - done, pos + done);
          } catch (e) {
            throw new ExportError(`${output}: cannot write at offset ${pos + done} of ${file.size}: ${why(e)}; ${nothing}`, 1);
          }
        }
      },
      interrupted,
      (sig, done) => {
        throw new ExportError(`${output}: export interrupted by ${sig} after ${done} of ${file.size} bytes; ${nothing}`, 128 + SIGNAL_NUMBER[sig]);
      },
    );
    try {
      fs.fsyncSync(fd);
    } catch (e) {
      throw new ExportError(`${output}: cannot write: ${why(e)}; ${nothing}`, 1);
    }
    fs.closeSync(fd);
    fd = -1;
    fs.renameSync(temp, target);
  } catch (e) {
    if (fd >= 0) fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    if (e instanceof ExportError || e instanceof InputError) throw e;
    // A read error: the source could not give the bytes (truncated, a CRC mismatch, ...).
    throw new ExportError(`${readProblem(req, e)}; export stopped, nothing was written to ${output}`, isInputProblem(e) ? 2 : 1);
  }
}

/** To a pipe or device, in order; a failure says how many bytes went out. */
async function writeStream(req: ExportRequest, target: string, interrupted: Interrupted): Promise<void> {
  const { file, output } = req;
  let fd: number;
  try {
    // Our own stdout as it is: it may be a socket (ssh, a parent's socketpair), which cannot be opened by name.
    fd = target === STDOUT ? 1 : fs.openSync(target, fs.constants.O_WRONLY);
  } catch (e) {
    throw new InputError(`${output}: cannot open for writing: ${why(e)}`);
  }
  let sent = 0;
  const partial = () => `${sent} of ${file.size} bytes went out; what was received is incomplete`;
  try {
    await copyPieces(
      req,
      false,
      async (buf, n) => {
        for (let done = 0; done < n;) {
          try {
            const w = fs.writeSync(fd, buf, done, n - done);
            done += w;
            sent += w;
          } catch (e) {
            const code = (e as NodeJS.ErrnoException).code;
            // Node made our stdout non-blocking: wait for the reader (a signal can land meanwhile).
            if (code === 'EAGAIN') {
              await new Promise((r) => setTimeout(r, 2));
              const sig = interrupted();
              if (sig) throw new ExportError(`${output}: export interrupted by ${sig}; ${partial()}`, 128 + SIGNAL_NUMBER[sig]);
              continue;
            }
            throw new ExportError(`${output}: ${code === 'EPIPE' ? 'the reader closed the pipe' : `cannot write: ${why(e)}`}; ${partial()}`, 1);
          }
        }
      },
      interrupted,
      (sig) => {
        throw new ExportError(`${output}: export interrupted by ${sig}; ${partial()}`, 128 + SIGNAL_NUMBER[sig]);
      },
    );
  } catch (e) {
    if (e instanceof ExportError) throw e;
    throw new ExportError(`${readProblem(req, e)}; export to ${output} stopped: ${partial()}`, isInputProblem(e) ? 2 : 1);
  } finally {
    if (fd !== 1) fs.closeSync(fd);
  }
}

/** A read error's message, naming the source when it does not already. */
function readProblem(req: ExportRequest, e: unknown): string {
  const message = (e as Error).message;
  const source = req.inputs[0]?.path;
  return source && !message.startsWith(source) ? `${source}: ${message}` : message;
}

const isInputProblem = (e: unknown) => e instanceof InputError || (e as NodeJS.ErrnoException).code === 'EIO';

/** The largest size ftruncate accepts on this file (EFBIG above it): a binary search, metadata only. */
function largestFileSize(fd: number, tooBig: number): number {
  let lo = 0;
  let hi = tooBig;
  while (hi - lo > 4096) {
    const mid = Math.floor((lo + hi) / 2 / 4096) * 4096 || lo + 4096;
    try {
      fs.ftruncateSync(fd, mid);
      lo = mid;
    } catch {
      hi = mid;
    }
  }
  fs.ftruncateSync(fd, 0);
  return lo;
}

/**
 * Where to write: a regular file (new, or existing with --force; a symlink is
 * written through, not replaced) or a stream (pipe, character device).
 * Refuses, by device and inode, every input and the source behind a memview
 * mount that an input is on: whatever the name, a hard link or a symlink.
 */
function resolveOutput(req: ExportRequest): { path: string; stream: boolean } {
  const { output, force } = req;
  if (output === '-' || output === STDOUT) return { path: STDOUT, stream: true };
  const abs = path.resolve(output);
  const link = fs.lstatSync(abs, { throwIfNoEntry: false });
  if (!link) return { path: abs, stream: false };
  let existing: fs.BigIntStats;
  try {
    existing = fs.statSync(abs, { bigint: true });
  } catch (e) {
    throw new InputError(`${output}: cannot write through this symlink: ${why(e)}`);
  }
  const id = { dev: existing.dev, ino: existing.ino };
  for (const input of protectedInputs(req.inputs)) {
    if (sameFile(id, input.id)) throw new InputError(`${output}: is ${input.role}; refusing to overwrite evidence`);
  }
  if (existing.isDirectory()) throw new InputError(`${output}: is a directory; give a file name, e.g. -o ${path.join(output, 'memory.elf')}`);
  if (existing.isFile()) {
    if (!force) throw new InputError(`${output}: already exists; pass --force to overwrite`);
    return { path: fs.realpathSync(abs), stream: false };
  }
  return { path: abs, stream: true };
}

/** The inputs' identities, and behind each input on a memview mount, the mount's source (and so on down). */
function protectedInputs(inputs: readonly ExportInput[]): { id: FileId; role: string }[] {
  const out: { id: FileId; role: string }[] = [];
  for (const input of inputs) {
    const id = fileId(input.path);
    if (!id) continue;
    out.push({ id, role: input.role });
    for (const behind of memviewSourcesBehind(id)) out.push({ id: behind, role: `the source image behind the memview mount that ${input.path} is on` });
  }
  return out;
}

function why(e: unknown, dir?: string): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' && dir) return `directory ${dir} does not exist`;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EROFS') return 'read-only file system';
  if (code === 'ENOSPC') return 'no space left on device (ENOSPC)';
  if (code === 'EDQUOT') return 'disk quota exceeded (EDQUOT)';
  if (code === 'EFBIG') return 'file too large for this file system or ulimit -f (EFBIG)';
  if (code === 'ENXIO') return 'a socket or a device without a driver (ENXIO)';
  if (code === 'ELOOP') return 'too many levels of symbolic links (ELOOP)';
  return (e as Error).message;
}

/** A one-line progress bar on a terminal, nothing otherwise. */
export function progressBar(stream: NodeJS.WriteStream): (done: number, total: number) => void {
  if (!stream.isTTY) return () => {};
  let last = -1;
  return (done, total) => {
    const pct = total ? Math.floor((done / total) * 100) : 100;
    if (pct === last) return;
    last = pct;
    const width = 30;
    const fill = Math.round((pct / 100) * width);
    stream.write(`\r[${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${pct}% ${(done / 2 ** 20).toFixed(0)}/${(total / 2 ** 20).toFixed(0)} MiB`);
    if (done >= total) stream.write('\n');
  };
}

import { cacheBudget, cacheBudgetAtLeast, CacheSpace } from './byte-cache';
import { ByteSource, SourceIOError } from './byte-source';

/**
 * A remote object (HTTP range reads, S3 GetObject) as a ByteSource: fetched
 * pages kept in the one process-wide cache (byte-cache.ts, `--cache-mb`,
 * shared with decoded chunks), whole-block fetches for data reads, small
 * fetches for header probes, sequential read-ahead, a limit on concurrent
 * requests, and retries with backoff. The object is pinned when opened
 * (size, ETag, Last-Modified, version id): the transport asks for that
 * version on every request and checks the answer, and once it reports the
 * object changed every read fails with EIO saying so.
 */

/** What identifies the object's bytes at open: every later request must get this version. */
export interface Pin {
  size: number;
  etag?: string;
  lastModified?: string;
  versionId?: string;
}

/** One failed request: `retryable` for 5xx, 429, timeouts and dropped connections. */
export class RemoteError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** The object is no longer the version pinned at open. */
export class ObjectChangedError extends RemoteError {
  constructor(message: string) {
    super(message, false);
  }
}

/** How a remote source fetches bytes: one request per call, no retries (RemoteSource retries). */
export interface RangeTransport {
  /** The object's name without secrets (a URL without its query string, s3://bucket/key). */
  readonly label: string;
  readonly pin: Pin;
  /**
   * Bytes [start, end) of the pinned version into `target` (exactly end-start
   * of them); `onData` is called as bytes arrive (the caller's stall timer).
   */
  fetch(target: Buffer, start: number, end: number, signal: AbortSignal, onData: () => void): Promise<void>;
  /** Drops the transport's connections. */
  close(): void;
}

export interface RemoteOptions {
  /** Data reads fetch whole aligned blocks of this size. */
  blockSize: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Blocks fetched ahead of a sequential reader. */
  readAheadBlocks: number;
  /** Tries per request before the read fails. */
  tries: number;
  /** A request that receives no byte for this long is aborted (and retried). */
  stallMs: number;
  /** First backoff; doubled on each retry. */
  backoffMs: number;
}

const MiB = 1024 * 1024;

/** Chosen by `npm run bench` (README "Remote sources"). */
export const DEFAULT_REMOTE: RemoteOptions = {
  blockSize: 8 * MiB,
  concurrency: 4,
  readAheadBlocks: 4,
  tries: 5,
  stallMs: 30_000,
  backoffMs: 200,
};

/** The unit fetched bytes are cached in (a remote page; not the 4 KiB memory page of types.ts), and what a header probe fetches at least. */
export const FETCH_PAGE = 64 * 1024;
const MAX_BACKOFF_MS = 5_000;
/** Remembered ends of recent reads: a read that starts at one is sequential. */
const STREAMS = 16;

/** Bytes and requests so far: `info`, progress lines and tests read these. */
export interface RemoteStats {
  bytesFetched: number;
  requests: number;
  retries: number;
}

/** Fails a read once the bytes fetched since `start` pass `limit` (a scan within a stated budget). */
export class BudgetExceeded extends Error {}

interface Budget {
  limit: number;
  base: number;
  what: string;
}

export class RemoteSource implements ByteSource {
  readonly size: number;
  readonly label: string;
  readonly stats: RemoteStats = { bytesFetched: 0, requests: 0, retries: 0 };
  /** Whole-image scans run over this source: their budgets and what they fetched (for `info`). */
  readonly scans: { what: string; budget: number; fetched: number }[] = [];
  private readonly options: RemoteOptions;
  /** This source's fetched pages in the shared cache, by page number. */
  private readonly cache = new CacheSpace();
  private readonly pending = new Map<number, Promise<Buffer>>();
  /** Recent reads: where each ended and how many bytes it continued in order. */
  private readonly streams: { end: number; run: number }[] = [];
  private readonly queue: { run: () => void; ahead: boolean }[] = [];
  private active = 0;
  private changed: string | null = null;
  private budget: Budget | null = null;
  private closed = false;
  private readonly controllers = new Set<AbortController>();

  constructor(
    private readonly transport: RangeTransport,
    options: Partial<RemoteOptions> = {},
  ) {
    this.options = { ...DEFAULT_REMOTE, ...options };
    if (this.options.blockSize % FETCH_PAGE !== 0) throw new Error(`block size must be a multiple of ${FETCH_PAGE}`);
    this.size = transport.pin.size;
    this.label = transport.label;
    // The budget must hold the pages a read needs at once: a block and its read-ahead (48 MiB by default).
    cacheBudgetAtLeast(this.options.blockSize * (this.options.readAheadBlocks + 2));
  }

  get pin(): Pin {
    return this.transport.pin;
  }

  /** The process-wide budget the pages count in. */
  get cacheBytes(): number {
    return cacheBudget();
  }

  get blockSize(): number {
    return this.options.blockSize;
  }

  /** Data reads: whole blocks, read-ahead when sequential. */
  read(target: Uint8Array, targetOffset: number, length: number, position: number): Promise<number> {
    return this.readPages(target, targetOffset, length, position, false);
  }

  /**
   * The same bytes for a parser walking headers: a miss fetches only the
   * pages the read covers (64 KiB), not a block. Shares the cache.
   */
  probing(): ByteSource {
    return {
      size: this.size,
      label: this.label,
      read: (target, targetOffset, length, position) => this.readPages(target, targetOffset, length, position, true),
      close: () => {},
    };
  }

  /** Until `endBudget`, reads fail once `limit` more bytes have been fetched. */
  startBudget(limit: number, what: string): void {
    this.budget = { limit, base: this.stats.bytesFetched, what };
  }

  /** Bytes fetched since startBudget; ends the budget. */
  endBudget(): number {
    const used = this.budget ? this.stats.bytesFetched - this.budget.base : 0;
    this.budget = null;
    return used;
  }

  close(): void {
    this.closed = true;
    this.cache.clear();
    for (const c of this.controllers) c.abort();
    this.transport.close();
  }

  private async readPages(target: Uint8Array, targetOffset: number, length: number, position: number, probe: boolean): Promise<number> {
    const n = Math.max(0, Math.min(length, this.size - position));
    if (n === 0) return 0;
    this.checkUsable();
    const end = position + n;
    const first = Math.floor(position / FETCH_PAGE);
    const last = Math.floor((end - 1) / FETCH_PAGE);
    const ahead = this.readAhead(position, end);
    // A probe fetches only its pages, unless it turns out to be a stream (a scan through the probe view).
    if (probe && ahead === 0) this.want(first, last, false);
    else {
      const pagesPerBlock = this.options.blockSize / FETCH_PAGE;
      const b0 = Math.floor(first / pagesPerBlock);
      const b1 = Math.floor(last / pagesPerBlock);
      this.want(b0 * pagesPerBlock, (b1 + 1) * pagesPerBlock - 1, false);
      if (ahead > 0) this.want((b1 + 1) * pagesPerBlock, (b1 + 1 + ahead) * pagesPerBlock - 1, true);
    }
    for (let p = first; p <= last; p++) {
      const page = this.cache.get(p) ?? (await (this.pending.get(p) ?? this.fetchPages(p, p, false).get(p)!));
      const pageStart = p * FETCH_PAGE;
      const from = Math.max(position, pageStart);
      const to = Math.min(end, pageStart + page.length);
      target.set(page.subarray(from - pageStart, to - pageStart), targetOffset + (from - position));
    }
    return n;
  }

  private checkUsable(): void {
    if (this.changed) throw new SourceIOError(`${this.label}: ${this.changed}; reads fail so that no byte of another version is served`);
    if (this.closed) throw new SourceIOError(`${this.label}: closed`);
  }

  /**
   * Blocks to fetch ahead of this read. A read that starts where an earlier
   * one ended continues its stream; read-ahead starts once a stream has read
   * half a block in order (a tool reading two neighbouring pages is not
   * streaming) and grows by a block per block read, up to readAheadBlocks.
   */
  private readAhead(position: number, end: number): number {
    const i = this.streams.findIndex((s) => s.end === position);
    const run = (i >= 0 ? this.streams.splice(i, 1)[0].run : 0) + (end - position);
    this.streams.push({ end, run });
    if (this.streams.length > STREAMS) this.streams.shift();
    if (run < this.options.blockSize / 2) return 0;
    return Math.min(this.options.readAheadBlocks, 1 + Math.floor(run / this.options.blockSize));
  }

  /** Starts fetches for the pages in [first, last] that are neither cached nor on their way. */
  private want(first: number, last: number, ahead: boolean): void {
    const lastPage = Math.ceil(this.size / FETCH_PAGE) - 1;
    const maxRun = this.options.blockSize / FETCH_PAGE;
    let runStart = -1;
    const flush = (p: number) => {
      if (runStart >= 0) this.fetchPages(runStart, p - 1, ahead);
      runStart = -1;
    };
    for (let p = Math.max(0, first); p <= Math.min(last, lastPage); p++) {
      const missing = !this.pending.has(p) && !this.cache.has(p);
      if (!missing) flush(p);
      else {
        if (runStart < 0) runStart = p;
        if (p - runStart + 1 === maxRun) flush(p + 1);
      }
    }
    flush(Math.min(last, lastPage) + 1);
  }

  /** One request (with retries) for pages [first, last]; each page's promise is registered as pending. */
  private fetchPages(first: number, last: number, ahead: boolean): Map<number, Promise<Buffer>> {
    const start = first * FETCH_PAGE;
    const end = Math.min(this.size, (last + 1) * FETCH_PAGE);
    const whole = this.limited(() => this.fetchWithRetries(start, end), ahead);
    const out = new Map<number, Promise<Buffer>>();
    for (let p = first; p <= last; p++) {
      const page = whole.then((buf) => {
        const from = p * FETCH_PAGE - start;
        const view = buf.subarray(from, Math.min(buf.length, from + FETCH_PAGE));
        if (this.pending.get(p) !== page) return view; // superseded: only the waiting read copies from it
        this.pending.delete(p);
        // Kept as a copy of its own: the budget counts what is kept, and a view would keep the request's whole buffer.
        return this.cache.set(p, view);
      });
      page.catch(() => {
        if (this.pending.get(p) === page) this.pending.delete(p);
      });
      this.pending.set(p, page);
      out.set(p, page);
    }
    return out;
  }

  /** Runs `task` when fewer than `concurrency` requests are in flight; demand reads go before read-ahead. */
  private limited<T>(task: () => Promise<T>, ahead: boolean): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const run = () => {
        this.active++;
        task()
          .then(resolve, reject)
          .finally(() => {
            this.active--;
            this.queue.shift()?.run();
          });
      };
      if (this.active < this.options.concurrency) run();
      else if (ahead) this.queue.push({ run, ahead });
      else {
        const firstAhead = this.queue.findIndex((q) => q.ahead);
        this.queue.splice(firstAhead < 0 ? this.queue.length : firstAhead, 0, { run, ahead });
      }
    });
  }

  private async fetchWithRetries(start: number, end: number): Promise<Buffer> {
    const target = Buffer.allocUnsafe(end - start);
    let last: RemoteError | undefined;
    for (let attempt = 1; attempt <= this.options.tries; attempt++) {
      this.checkUsable();
      if (this.budget && this.stats.bytesFetched - this.budget.base + (end - start) > this.budget.limit) {
        throw new BudgetExceeded(`${this.budget.what}: byte budget of ${this.budget.limit} bytes reached`);
      }
      if (attempt > 1) {
        this.stats.retries++;
        const wait = Math.min(MAX_BACKOFF_MS, this.options.backoffMs * 2 ** (attempt - 2));
        await new Promise((r) => setTimeout(r, wait * (0.5 + Math.random() / 2)));
      }
      try {
        await this.fetchOnce(target, start, end);
        return target;
      } catch (e) {
        if (e instanceof ObjectChangedError) {
          this.changed ??= `the object changed since it was opened (${e.message})`;
          this.checkUsable();
        }
        if (!(e instanceof RemoteError)) throw e;
        last = e;
        if (!e.retryable) break;
      }
    }
    const tries = this.options.tries;
    throw new SourceIOError(`${this.label}: ${last!.message} (bytes ${start}-${end - 1}${last!.retryable ? `, gave up after ${tries} tries` : ''})`);
  }

  /** One request, aborted when no byte arrives for `stallMs`. */
  private async fetchOnce(target: Buffer, start: number, end: number): Promise<void> {
    const controller = new AbortController();
    this.controllers.add(controller);
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(), this.options.stallMs);
    };
    arm();
    this.stats.requests++;
    try {
      await this.transport.fetch(target, start, end, controller.signal, arm);
      this.stats.bytesFetched += end - start;
    } catch (e) {
      if (controller.signal.aborted && !(e instanceof ObjectChangedError)) {
        throw new RemoteError(this.closed ? 'closed' : `no data for ${this.options.stallMs / 1000} s`, !this.closed);
      }
      throw e;
    } finally {
      clearTimeout(timer);
      this.controllers.delete(controller);
    }
  }
}

import { InputError } from '../errors';
import { ObjectChangedError, Pin, RangeTransport, RemoteError, RemoteOptions, RemoteSource } from './remote-source';
import { redactUrl } from './remote-url';

/**
 * An http(s) object read with Range requests (node's fetch): a plain web
 * server, a presigned S3 or GCS URL, an Azure SAS URL. The URL is used as
 * given (its query string is the credential) and never printed: messages
 * name `redactUrl(url)`.
 *
 * Pinning: the first request (bytes 0-0) records size, ETag, Last-Modified
 * and any version id header. Every later request sends If-Match with a
 * strong ETag (If-Unmodified-Since when there is none) and checks the
 * answer's Content-Range total and ETag, so a server that ignores the
 * condition still cannot hand over another version.
 */

/** Headers that name an immutable version of the object. */
const VERSION_HEADERS = ['x-amz-version-id', 'x-ms-version-id', 'x-goog-generation'];

/** One line for an HTTP status, without the URL (callers prefix the label). */
function statusWords(status: number, statusText: string): string {
  const text = statusText ? ` ${statusText}` : '';
  if (status === 404) return `not found (HTTP 404${text})`;
  if (status === 401 || status === 403) return `not authorised (HTTP ${status}${text}; an expired or wrong signature, SAS token or credentials?)`;
  return `HTTP ${status}${text}`;
}

const retryableStatus = (s: number) => s >= 500 || s === 429 || s === 408;

/** A network failure as words (its code only: undici's messages may carry more than we want to print). */
function networkWords(e: unknown): string {
  const cause = (e as { cause?: { code?: string } }).cause;
  const code = cause?.code ?? (e as { code?: string }).code;
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    EPIPE: 'connection reset',
    ETIMEDOUT: 'connection timed out',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host name lookup failed',
    UND_ERR_SOCKET: 'connection closed by the server',
    UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
    UND_ERR_HEADERS_TIMEOUT: 'no response headers in time',
    UND_ERR_BODY_TIMEOUT: 'body stalled',
    UND_ERR_CLOSED: 'connection closed',
  };
  if (code && words[code]) return words[code];
  if (code) return `network error (${code})`;
  if (/certificate|self.signed|CERT_/i.test(String((cause as Error | undefined)?.message ?? ''))) return 'TLS certificate not trusted';
  return 'network error';
}

function strongEtag(etag: string | undefined): string | undefined {
  return etag && !etag.startsWith('W/') ? etag : undefined;
}

/** Parses `bytes A-B/T`. */
function contentRange(h: string | null): { start: number; end: number; total: number } | null {
  const m = h ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(h.trim()) : null;
  return m ? { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? NaN : Number(m[3]) } : null;
}

/** fetch() refuses user:password in a URL: it goes in an Authorization header instead. */
function splitCredentials(url: string): { url: string; headers: Record<string, string> } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError(`${redactUrl(url)}: not a valid URL`);
  }
  if (!u.username && !u.password) return { url, headers: {} };
  const auth = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64');
  u.username = '';
  u.password = '';
  return { url: u.toString(), headers: { Authorization: `Basic ${auth}` } };
}

export class HttpTransport implements RangeTransport {
  readonly label: string;

  private constructor(private readonly url: string, private readonly auth: Record<string, string>, readonly pin: Pin) {
    this.label = redactUrl(url);
  }

  /** Pins the object with one tiny ranged GET (a presigned GET URL may not allow HEAD). */
  static async open(given: string, timeoutMs: number): Promise<HttpTransport> {
    const label = redactUrl(given);
    const { url, headers: auth } = splitCredentials(given);
    let res: Response;
    try {
      res = await fetch(url, { headers: { ...auth, Range: 'bytes=0-0' }, redirect: 'follow', signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      const why = (e as Error).name === 'TimeoutError' ? `no answer in ${timeoutMs / 1000} s` : networkWords(e);
      throw new InputError(`${label}: cannot open: ${why}`);
    }
    await res.body?.cancel().catch(() => {});
    if (res.status === 416) throw new InputError(`${label}: the object is empty`);
    if (res.status === 200) {
      throw new InputError(`${label}: the server ignores range requests (HTTP 200 to Range: bytes=0-0); memview reads objects in place and will not download it whole`);
    }
    if (res.status !== 206) throw new InputError(`${label}: cannot open: ${statusWords(res.status, res.statusText)}`);
    const range = contentRange(res.headers.get('content-range'));
    if (!range || !Number.isSafeInteger(range.total)) throw new InputError(`${label}: the server did not say the object's size (Content-Range ${JSON.stringify(res.headers.get('content-range'))})`);
    const versionId = VERSION_HEADERS.map((h) => res.headers.get(h)).find((v) => v) ?? undefined;
    const pin: Pin = {
      size: range.total,
      etag: res.headers.get('etag') ?? undefined,
      lastModified: res.headers.get('last-modified') ?? undefined,
      versionId,
    };
    return new HttpTransport(url, auth, pin);
  }

  async fetch(target: Buffer, start: number, end: number, signal: AbortSignal, onData: () => void): Promise<void> {
    const headers: Record<string, string> = { ...this.auth, Range: `bytes=${start}-${end - 1}` };
    const etag = strongEtag(this.pin.etag);
    if (etag) headers['If-Match'] = etag;
    else if (this.pin.lastModified) headers['If-Unmodified-Since'] = this.pin.lastModified;
    let res: Response;
    try {
      res = await fetch(this.url, { headers, redirect: 'follow', signal });
    } catch (e) {
      if (signal.aborted) throw e;
      throw new RemoteError(networkWords(e), true);
    }
    try {
      if (res.status === 412) throw new ObjectChangedError(`HTTP 412: it no longer matches ${etag ? `ETag ${etag}` : `Last-Modified ${this.pin.lastModified}`}`);
      if (res.status !== 206) throw new RemoteError(res.status === 200 ? 'the server ignored the range request (HTTP 200)' : statusWords(res.status, res.statusText), retryableStatus(res.status));
      const got = res.headers.get('etag') ?? undefined;
      if (this.pin.etag && got && got !== this.pin.etag) throw new ObjectChangedError(`ETag was ${this.pin.etag}, now ${got}`);
      const range = contentRange(res.headers.get('content-range'));
      if (range && Number.isSafeInteger(range.total) && range.total !== this.pin.size) {
        throw new ObjectChangedError(`size was ${this.pin.size} bytes, now ${range.total}`);
      }
      if (!range || range.start !== start || range.end !== end - 1) {
        throw new RemoteError(`asked for bytes ${start}-${end - 1}, got Content-Range ${JSON.stringify(res.headers.get('content-range'))}`, false);
      }
      await readBody(res, target, onData);
    } finally {
      await res.body?.cancel().catch(() => {});
    }
  }

  close(): void {}
}

/** Reads a response body into `target`, which it must fill exactly. */
async function readBody(res: Response, target: Buffer, onData: () => void): Promise<void> {
  if (!res.body) throw new RemoteError('response without a body', true);
  const reader = res.body.getReader();
  let at = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (at + value.length > target.length) throw new RemoteError(`the server sent more than the ${target.length} bytes asked for`, false);
      target.set(value, at);
      at += value.length;
      onData();
    }
  } catch (e) {
    if (e instanceof RemoteError) throw e;
    throw new RemoteError(`${networkWords(e)} after ${at} of ${target.length} bytes`, true);
  } finally {
    reader.releaseLock();
  }
  if (at !== target.length) throw new RemoteError(`the response ended after ${at} of ${target.length} bytes`, true);
}

/** Opens an http(s) URL as a pinned, cached ByteSource. */
export async function openHttpSource(url: string, options: Partial<RemoteOptions> = {}): Promise<RemoteSource> {
  const transport = await HttpTransport.open(url, options.stallMs ?? 30_000);
  return new RemoteSource(transport, options);
}

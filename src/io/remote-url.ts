/**
 * Remote SOURCE and --map arguments: http(s):// URLs (presigned S3/GCS URLs,
 * Azure SAS URLs) and s3://bucket/key. Their query strings hold signatures
 * and SAS tokens, so every message, log line and info field names a URL by
 * its label: scheme, host, port and path, without user info or query.
 */

const REMOTE = /^(https?|s3):\/\//i;

/** Is `arg` a URL memview reads remotely (not a local path)? */
export function isRemote(arg: string): boolean {
  return REMOTE.test(arg);
}

/** The URL without credentials, query string or fragment: safe to print. */
export function redactUrl(url: string): string {
  const m = /^([a-z0-9+.-]+:\/\/)([^/?#]*)([^?#]*)/i.exec(url);
  if (!m) return url.replace(/[?#].*$/s, '');
  const host = m[2].includes('@') ? m[2].slice(m[2].lastIndexOf('@') + 1) : m[2];
  return m[1] + host + m[3];
}

/** `text` with every remote argument in `args` replaced by its label (for command lines and messages). */
export function redactArgs(text: string, args: readonly string[]): string {
  let out = text;
  for (const a of args) if (isRemote(a) && a !== redactUrl(a)) out = out.split(a).join(redactUrl(a));
  return out;
}

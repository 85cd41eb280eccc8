/**
 * An error caused by what the user gave us (a bad file, a bad map, a bad flag).
 * The CLI prints its message on one line and exits 2; anything else exits 1.
 */
export class InputError extends Error {
  /** `details`: optional multi-line text the CLI prints after the one-line message (e.g. a candidate table). */
  constructor(
    message: string,
    readonly details?: string,
  ) {
    super(message);
    this.name = 'InputError';
  }
}

/** Hex with 0x prefix, for messages that name offsets and addresses. */
export function hex(n: number): string {
  return '0x' + n.toString(16);
}

const CONTROL = /[\x00-\x1f\x7f]/g;

/**
 * Control characters (a newline or tab in a file name) shown escaped as JSON
 * writes them (`\n`, `\t`, `\u001b`), so a message stays one line and names
 * the file meant, not a look-alike.
 */
export function escapeControl(s: string): string {
  return s.replace(CONTROL, (c) => (c === '\x7f' ? '\\u007f' : JSON.stringify(c).slice(1, -1)));
}

/**
 * A path as one shell word, for command lines we suggest (quoted only when
 * needed; with control characters as bash's $'…', so it stays on one line).
 */
export function shellQuote(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  if (/[\x00-\x1f\x7f]/.test(s)) {
    const named: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r' };
    return `$'${s.replace(/[\\']/g, '\\$&').replace(CONTROL, (c) => named[c] ?? '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'))}'`;
  }
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A byte count for people: `512 B`, `1.5 GiB`. */
export function human(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let u = 0;
  let v = n;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/**
 * Every row of the README's "Malformed input" table: the real CLI in a child
 * process, exit 2, one line `memview: …` naming the file and the problem,
 * no stack trace, nothing on stdout, and no input file modified.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, run, tempDir } from './helpers/cli';
import { CASES, cliCommand } from './helpers/malformed-cases';

/** sha256 of every file under dir (the inputs must come out unchanged). */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const p = path.join(e.parentPath, e.name);
    if (e.isFile() && fs.statSync(p).mode & 0o444) out.set(p, createHash('sha256').update(fs.readFileSync(p)).digest('hex'));
  }
  return out;
}

describe.concurrent('malformed input: exit 2 and one line naming the file and the problem', () => {
  const root = tempDir('memview-malformed-');
  fs.chmodSync(root, 0o755); // the unreadable-source case runs as nobody
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('has at least 30 cases, each a row of the README table', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    for (const c of CASES) expect(readme, c.input).toContain(`| ${c.group}: ${c.input} |`);
  });

  CASES.forEach((c, i) => {
    it(`${c.group}: ${c.input}`, async () => {
      const dir = path.join(root, String(i));
      fs.mkdirSync(dir, { mode: 0o755 });
      const args = await c.make(dir);
      const before = snapshot(dir);
      const r = await run(...cliCommand(BIN, args, c.asNobody));
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^memview: [^\n]+\n$/);
      expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
      expect(r.stderr.slice('memview: '.length).trimEnd()).toMatch(c.message);
      expect(snapshot(dir)).toEqual(before);
    });
  });
});

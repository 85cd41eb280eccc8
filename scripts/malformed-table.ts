/**
 * Prints the README's "Malformed input" table: every case of
 * test/helpers/malformed-cases.ts run through the CLI, with the one line it
 * printed (temporary paths shortened to file names). The tests check each
 * row; this only renders them. Run: node dist/scripts/malformed-table.js
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CASES, cliCommand } from '../test/helpers/malformed-cases';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'memview');

function run(cmd: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) =>
    execFile(cmd, args, (err, _out, stderr) => resolve({ code: err ? Number((err as NodeJS.ErrnoException).code) || 1 : 0, stderr: String(stderr) })),
  );
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'memview-malformed-'));
  fs.chmodSync(root, 0o755);
  const rows = ['| # | input | command | exit | message |', '|---:|---|---|---:|---|'];
  try {
    for (const [i, c] of CASES.entries()) {
      const dir = path.join(root, String(i));
      fs.mkdirSync(dir, { mode: 0o755 });
      const args = await c.make(dir);
      const r = await run(...cliCommand(BIN, args, c.asNobody));
      const short = (s: string) =>
        s
          .split(dir + '/')
          .join('')
          .split(dir)
          .join('DIR');
      const line = short(r.stderr.trim()).replace(/\|/g, '\\|');
      // A control character in an argument (a newline in a file name) shown escaped, as memview's messages show it.
      const command = short(args.join(' ')).replace(/[\x00-\x1f]/g, (ch) => JSON.stringify(ch).slice(1, -1));
      rows.push(`| ${i + 1} | ${c.group}: ${c.input} | \`memview ${command}\` | ${r.code} | \`${line}\` |`);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  process.stdout.write(rows.join('\n') + '\n');
}

if (require.main === module) void main();

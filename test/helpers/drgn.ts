/**
 * Runs drgn (Debian's python3-drgn, /usr/bin/python3) on a core in a child
 * process: is it a Linux kernel core, and what do the given reads return.
 */
import { run } from './cli';

export const SYSTEM_PYTHON = '/usr/bin/python3';

export interface DrgnRead {
  address: bigint;
  size: number;
  physical: boolean;
}

const SCRIPT = `
import json, sys, drgn
path, reads = sys.argv[1], json.loads(sys.argv[2])
prog = drgn.Program()
prog.set_core_dump(path)
out = {"linux_kernel": bool(prog.flags & drgn.ProgramFlags.IS_LINUX_KERNEL), "reads": []}
for r in reads:
    try:
        out["reads"].append(prog.read(int(r["address"], 16), r["size"], r["physical"]).hex())
    except drgn.FaultError as e:
        out["reads"].append("fault: " + str(e))
print(json.dumps(out))
`;

export async function drgnReads(core: string, reads: DrgnRead[]): Promise<{ linux_kernel: boolean; reads: string[] }> {
  const arg = JSON.stringify(reads.map((r) => ({ address: r.address.toString(16), size: r.size, physical: r.physical })));
  const r = await run(SYSTEM_PYTHON, ['-c', SCRIPT, core, arg]);
  if (r.code !== 0) throw new Error(`drgn on ${core} failed: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout);
}

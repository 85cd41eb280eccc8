import { openSession } from '../session';
import { describeSource } from '../views/info';
import { SourceFlags, sessionOptions } from './options';
import { printInfo } from './print';

/** `memview info`: the detected format, the RAM ranges and every view, as a table or JSON. */
export async function infoCommand(src: string, flags: SourceFlags & { json?: boolean }): Promise<void> {
  const session = await openSession(src, sessionOptions(flags));
  try {
    if (flags.json) process.stdout.write(JSON.stringify(describeSource(session.source, session.views, session.kernel), null, 2) + '\n');
    else printInfo(session);
  } finally {
    session.close();
  }
}

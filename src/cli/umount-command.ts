import { InputError, shellQuote } from '../errors';
import { fusermount } from '../fuse/fusermount';
import { canonicalPath, describeMemviewMount, MEMVIEW_FSTYPE, mountOwner, mountTable, userName } from '../fuse/mountpoint';

/** `memview umount`: only a memview mount, through fusermount (argv, no shell). */
export function umountCommand(dir: string, force: boolean): Promise<void> {
  // A stale mount (its process killed) is still listed, so this only catches a wrong directory.
  // fusermount wants the path the mount table lists, not a symlink to it.
  const target = canonicalPath(dir);
  const mounted = mountTable()
    .filter((m) => m.mountpoint === target)
    .pop(); // the last one is on top
  if (!mounted) return Promise.reject(new InputError(`${dir}: nothing is mounted here`));
  // As root, fusermount unmounts anything: never the disk the evidence is on.
  if (mounted.fstype !== MEMVIEW_FSTYPE) return Promise.reject(new InputError(`${dir}: not a memview mount (${mounted.fstype}); not unmounting it`));
  // fusermount lets a user other than root unmount only their own mounts (and says "not found in /etc/mtab"); --force changes nothing there.
  const uid = process.getuid?.() ?? 0;
  const owner = mountOwner(mounted);
  if (uid !== 0 && owner !== undefined && owner !== uid) {
    return Promise.reject(
      new InputError(
        `${dir}: mounted by ${describeMemviewMount(mounted)}: only ${owner === 0 ? 'root' : `user ${userName(owner)} or root`} can unmount it (you are ${userName(uid)})`,
      ),
    );
  }
  return fusermount(target, force).catch((err: Error) => {
    throw new InputError(`${dir}: cannot unmount: ${err.message}${force ? '' : ` (if the mount is stale or busy: memview umount --force ${shellQuote(dir)})`}`);
  });
}

/**
 * What to fix when deletions fail with a given code, for `lethe verify` (files that fail on every
 * run) and `lethe doctor` (recent failures by code). A rerun does not cure these: the cause is in
 * the storage, so the advice names it.
 */
const FIXES: Readonly<Record<string, string>> = {
  EPERM:
    "permissions: the Lethe user may not remove the file (an immutable or append-only flag: `lsattr`, then `chattr -i`/`-a`; or the directory's ownership/mode; on S3 a bucket policy or object lock)",
  EACCES:
    "permissions: the Lethe user cannot write the file's directory (give it write and search permission on the directory: `ls -ld`, `chmod`/`chown`; or clear an immutable flag: `lsattr -d`, `chattr -i`)",
  EROFS: 'the filesystem is mounted read-only: remount it read-write (`mount -o remount,rw`) or fix LETHE_STORAGE',
  EIO: 'disk: an I/O error from the device: check the disk and the mount (`dmesg`, `smartctl`), then rerun',
  EBUSY: 'the file is busy (in use or a mount point): find the holder (`fuser`, `lsof`)',
  EISDIR: "a directory is at the file's key: move it out of the storage root or fix the row's file_key",
  ENOTEMPTY: "a directory is at the file's key: move it out of the storage root or fix the row's file_key",
  ENOSPC: 'disk full (the undo-window trash needs space): free space on the storage volume',
  AccessDenied:
    'permissions: grant the Lethe credentials s3:DeleteObject (and s3:DeleteObjectVersion) on the bucket and prefix; check the bucket policy and object lock',
};

export function fixForCode(code: string | null): string {
  if (code !== null && FIXES[code]) return FIXES[code];
  return `see the error message; \`lethe lookup <file_key>\` shows each attempt${code ? ` (code ${code})` : ''}`;
}

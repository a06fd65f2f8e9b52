import { execFileSync } from 'node:child_process';
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mapLimit } from '@lethe/engine/testing';
import { keyOf } from './bench-database.js';

/** Creates N small files (the keys of seedExpiredRows), then syncs so write-back does not land on the timed side. */
export async function createFiles(root: string, n: number, prefix = 'f'): Promise<string[]> {
  const paths: string[] = [];
  for (let d = 0; d * 1000 < n; d++) await mkdir(join(root, prefix, String(d)), { recursive: true });
  for (let i = 0; i < n; i++) paths.push(join(root, keyOf(prefix, i)));
  await mapLimit(paths, 64, (p) => writeFile(p, 'benchmark document\n'));
  execFileSync('sync');
  return paths;
}

/** The ceiling: a bare unlink loop, 64 in flight, on the main thread. */
export async function bareUnlink(paths: readonly string[]): Promise<void> {
  await mapLimit(paths, 64, (p) => unlink(p));
}

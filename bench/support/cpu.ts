import { readFile } from 'node:fs/promises';
import type pg from 'pg';

/**
 * CPU time as a second measure next to wall time: on a machine shared with other work, wall time
 * swings with the neighbours' load, while the CPU a side spends per file moves much less. Counts
 * this process (every thread: main, storage workers, libuv's pool, so the kernel's unlink work too)
 * and the PostgreSQL client backends serving one database (autovacuum workers are not counted),
 * read from /proc (Linux only; 0 elsewhere).
 */
const TICKS_PER_SECOND = 100;

/** CPU time (user + system, ms) a process has used so far, from /proc; 0 when it cannot be read. */
export async function procCpuMs(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after "pid (comm) ".
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

export interface CpuSnapshot {
  readonly processMs: number;
  readonly backends: ReadonlyMap<number, number>;
}

/** `admin` must be connected to a different database than `database`, or count its own backend. */
export async function cpuSnapshot(admin: pg.Pool, database: string): Promise<CpuSnapshot> {
  const u = process.cpuUsage();
  const { rows } = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
    [database],
  );
  const backends = new Map<number, number>();
  for (const { pid } of rows) backends.set(pid, await procCpuMs(pid));
  return { processMs: (u.user + u.system) / 1000, backends };
}

/** CPU spent between two snapshots: this process, and the database's backends (new ones from 0). */
export function cpuSpent(before: CpuSnapshot, after: CpuSnapshot): { processMs: number; databaseMs: number } {
  let databaseMs = 0;
  for (const [pid, ms] of after.backends) databaseMs += ms - (before.backends.get(pid) ?? 0);
  return { processMs: after.processMs - before.processMs, databaseMs };
}

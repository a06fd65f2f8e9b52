import type { Queryable } from '@lethe/engine';
import { UsageError } from './output.js';

/**
 * `lethe runs show 3f2b9c1e` (runbook FM-002): a unique prefix of a run id, at least
 * four hex digits, as git takes a commit. A full id is used as is; an ambiguous prefix is a usage
 * error (exit 2) that names the candidates.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Hex digits with the UUID's dashes where they belong (`3f2b9c1e-00`), or without them. */
const PREFIX = /^[0-9a-f]{4,32}$/;
export const MIN_PREFIX_DIGITS = 4;
const CANDIDATES_SHOWN = 10;

/** Checks the typed id before anything connects: a full id or a prefix, lower-cased. */
export function parseRunId(typed: string): string {
  const id = typed.trim().toLowerCase();
  if (UUID.test(id)) return id;
  const hex = id.replace(/-/g, '');
  if (!PREFIX.test(hex) || (id !== hex && id !== dashed(hex))) {
    throw new UsageError(
      `run-id: expected a run id or a unique prefix of one (at least ${MIN_PREFIX_DIGITS} hex digits, e.g. 3f2b9c1e; see \`lethe history\`), got ${JSON.stringify(typed)}`,
    );
  }
  return id;
}

/** The one run id `parsed` (from parseRunId) names. */
export async function resolveRunId(db: Queryable, parsed: string): Promise<string> {
  const id = parsed;
  if (UUID.test(id)) return id;
  const hex = id.replace(/-/g, '');
  const { rows } = await db.query<{ id: string; started_at: Date; status: string }>(
    `SELECT id::text AS id, started_at, status FROM lethe_runs WHERE replace(id::text, '-', '') LIKE $1 || '%' ORDER BY started_at DESC LIMIT ${CANDIDATES_SHOWN + 1}`,
    [hex],
  );
  if (rows.length === 0) throw new UsageError(`run-id: no run id starts with ${id} in this database (see \`lethe history --all\`)`);
  if (rows.length > 1) {
    const shown = rows.slice(0, CANDIDATES_SHOWN).map((r) => `${r.id} (${r.status}, started ${r.started_at.toISOString()})`);
    const many = rows.length > CANDIDATES_SHOWN ? `more than ${CANDIDATES_SHOWN}` : String(rows.length);
    throw new UsageError(`run-id: ${id} is ambiguous: ${many} runs start with it: ${shown.join('; ')}; type more digits`);
  }
  return rows[0]!.id;
}

/** `3f2b9c1e00` -> `3f2b9c1e-00`: the hex digits with the dashes a UUID has at their positions. */
function dashed(hex: string): string {
  let out = '';
  for (let i = 0; i < hex.length; i += 1) out += ([8, 12, 16, 20].includes(i) ? '-' : '') + hex[i];
  return out;
}

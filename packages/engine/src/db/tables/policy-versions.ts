import { ErrorCodes, LetheError } from '../../errors.js';
import type { Queryable } from '../pool.js';
import { policiesFromJson, policiesToStoredJson, type PolicySet } from '../../policy/retention.js';

export interface PolicyVersion {
  readonly version: number;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly reason: string | null;
  readonly policies: PolicySet;
}

interface Row {
  version: number;
  created_at: Date;
  created_by: string;
  reason: string | null;
  policies: unknown;
}

function toVersion(r: Row): PolicyVersion {
  return { version: r.version, createdAt: r.created_at.toISOString(), createdBy: r.created_by, reason: r.reason, policies: policiesFromJson(r.policies) };
}

/** The policies in force: the highest version (DESIGN "Policies": the database is the source of truth). */
export async function loadCurrentPolicies(db: Queryable): Promise<PolicyVersion> {
  const { rows } = await db.query<Row>('SELECT version, created_at, created_by, reason, policies FROM lethe_policy_versions ORDER BY version DESC LIMIT 1');
  const row = rows[0];
  if (!row) throw new LetheError(ErrorCodes.NOT_MIGRATED, 'no retention policies in the database: run `lethe migrate` first');
  return toVersion(row);
}

export async function listPolicyVersions(db: Queryable, limit = 50): Promise<PolicyVersion[]> {
  const { rows } = await db.query<Row>('SELECT version, created_at, created_by, reason, policies FROM lethe_policy_versions ORDER BY version DESC LIMIT $1', [
    limit,
  ]);
  return rows.map(toVersion);
}

export async function loadPolicyVersion(db: Queryable, version: number): Promise<PolicyVersion | null> {
  const { rows } = await db.query<Row>('SELECT version, created_at, created_by, reason, policies FROM lethe_policy_versions WHERE version = $1', [version]);
  return rows[0] ? toVersion(rows[0]) : null;
}

/** Saves a new version (a change, or a revert, is always a new version). */
export async function savePolicyVersion(db: Queryable, policies: PolicySet, by: string, reason: string | null): Promise<number> {
  const { rows } = await db.query<{ version: number }>(
    `INSERT INTO lethe_policy_versions (version, created_by, reason, policies)
     SELECT coalesce(max(version), 0) + 1, $1, $2, $3::jsonb FROM lethe_policy_versions RETURNING version`,
    [by, reason, JSON.stringify(policiesToStoredJson(policies))],
  );
  return rows[0]!.version;
}

/**
 * Lethe's own tables, as an ordered list of migrations. Each runs once, in a transaction, under an
 * advisory lock (so two `lethe migrate` at once are safe); `lethe_schema_migrations` records them.
 * Append new versions at the end; never edit an applied one.
 *
 * `audit_logs` may already belong to the platform: it is created only when missing, and its
 * columns are checked separately (see migrate.ts).
 */
import { CHAIN_FUNCTIONS_SQL } from './tables/ledger-chain.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'core tables: audit_logs, runs, ledger, policies, control',
    sql: `
CREATE TABLE IF NOT EXISTS audit_logs (
  id bigserial PRIMARY KEY,
  "timestamp" timestamptz NOT NULL DEFAULT now(),
  action text NOT NULL,
  details jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE IF NOT EXISTS lethe_runs (
  id uuid PRIMARY KEY,
  trigger text NOT NULL,
  status text NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'paused', 'interrupted')),
  dry_run boolean NOT NULL DEFAULT false,
  started_at timestamptz NOT NULL DEFAULT now(),
  ended_at timestamptz,
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  cutoff timestamptz,
  policy_version integer,
  host text,
  pid integer,
  version text,
  progress jsonb,
  summary jsonb,
  error text
);
CREATE INDEX IF NOT EXISTS lethe_runs_started_at_idx ON lethe_runs (started_at DESC);
CREATE INDEX IF NOT EXISTS lethe_runs_running_idx ON lethe_runs (status) WHERE status = 'running';

CREATE TABLE IF NOT EXISTS lethe_ledger (
  id bigserial PRIMARY KEY,
  run_id uuid NOT NULL,
  job_id text NOT NULL,
  file_key text NOT NULL,
  purpose_code text,
  created_at timestamptz,
  expires_at timestamptz,
  erased_at timestamptz NOT NULL DEFAULT now(),
  outcome text NOT NULL,
  error_code text,
  error text,
  policy_version integer,
  job_row jsonb
);
CREATE INDEX IF NOT EXISTS lethe_ledger_file_key_idx ON lethe_ledger (file_key);
CREATE INDEX IF NOT EXISTS lethe_ledger_run_id_idx ON lethe_ledger (run_id);
-- Rows arrive in erased_at order: a BRIN index serves month ranges at almost no insert cost.
CREATE INDEX IF NOT EXISTS lethe_ledger_erased_at_idx ON lethe_ledger USING brin (erased_at);

CREATE TABLE IF NOT EXISTS lethe_policy_versions (
  version integer PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL,
  reason text,
  policies jsonb NOT NULL
);

CREATE TABLE IF NOT EXISTS lethe_control (
  id integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  paused boolean NOT NULL DEFAULT false,
  paused_by text,
  paused_at timestamptz,
  reason text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO lethe_control (id) VALUES (1) ON CONFLICT (id) DO NOTHING;
`,
  },
  {
    version: 2,
    name: 'schedulers (heartbeat, next run) and schedule claims',
    sql: `
CREATE TABLE IF NOT EXISTS lethe_schedulers (
  instance_id text PRIMARY KEY,
  host text NOT NULL,
  pid integer,
  version text,
  schedule text,
  timezone text,
  period_ms bigint,
  started_at timestamptz NOT NULL DEFAULT now(),
  last_beat timestamptz NOT NULL DEFAULT now(),
  next_run timestamptz,
  state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'stopped'))
);

-- DESIGN "Scheduled fires are claimed": one row per fire time, so a replica with a skewed clock
-- cannot run a slot another replica already ran.
CREATE TABLE IF NOT EXISTS lethe_schedule_claims (
  slot timestamptz PRIMARY KEY,
  instance_id text NOT NULL,
  claimed_at timestamptz NOT NULL DEFAULT now(),
  run_id uuid
);
`,
  },
  {
    version: 3,
    name: 'legal holds',
    sql: `
-- A hold keeps a file (and its rows) from being erased or purged until released or past its date.
-- A hold placed by job id records that job's file_key, so the per-batch guard checks keys only.
CREATE TABLE IF NOT EXISTS lethe_holds (
  id bigserial PRIMARY KEY,
  file_key text NOT NULL,
  job_id text,
  reason text NOT NULL,
  until timestamptz,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  released_at timestamptz,
  released_by text
);
CREATE INDEX IF NOT EXISTS lethe_holds_active_key_idx ON lethe_holds (file_key) WHERE released_at IS NULL;
`,
  },
  {
    version: 4,
    name: 'scale-out: run groups (workers of one logical run), per-group skips',
    sql: `
ALTER TABLE lethe_runs ADD COLUMN IF NOT EXISTS group_id text;
ALTER TABLE lethe_runs ADD COLUMN IF NOT EXISTS shard text;
-- A group worker with nothing left to claim waits for its peers (their rows come back if they die).
ALTER TABLE lethe_runs ADD COLUMN IF NOT EXISTS idle_since timestamptz;
CREATE INDEX IF NOT EXISTS lethe_runs_group_idx ON lethe_runs (group_id) WHERE group_id IS NOT NULL;

-- One row per logical run shared by several worker processes: its one cutoff and policy version,
-- and who wrote its single audit_logs row.
CREATE TABLE IF NOT EXISTS lethe_run_groups (
  group_id text PRIMARY KEY,
  cutoff timestamptz NOT NULL,
  policy_version integer NOT NULL,
  shard_count integer,
  created_at timestamptz NOT NULL DEFAULT now(),
  finalized_at timestamptz,
  summary jsonb
);

-- Rows a group's workers looked at and kept (failed, refused, shared, held): never claimed twice in the group.
CREATE TABLE IF NOT EXISTS lethe_group_skips (
  group_id text NOT NULL,
  job_id text NOT NULL,
  PRIMARY KEY (group_id, job_id)
);
`,
  },
  {
    version: 5,
    name: 'undo window: trash locations, purge due dates, settled trash',
    sql: `
-- Undo window (docs/safety.md#undo-window-default-off). A file erased with an undo window is 'trashed' (kept at trash_location until
-- purge_after); its purge or restore adds a 'purged' / 'restored' row and settles the trashed one.
-- No defaults: adding these columns is a catalogue change only, whatever the ledger's size.
ALTER TABLE lethe_ledger ADD COLUMN IF NOT EXISTS trash_location text;
ALTER TABLE lethe_ledger ADD COLUMN IF NOT EXISTS undo_window interval;
ALTER TABLE lethe_ledger ADD COLUMN IF NOT EXISTS purge_after timestamptz;
ALTER TABLE lethe_ledger ADD COLUMN IF NOT EXISTS settled_at timestamptz;
-- Trash still waiting for its purge: small whatever the ledger's size, read by every purge.
CREATE INDEX IF NOT EXISTS lethe_ledger_trash_due_idx ON lethe_ledger (purge_after) WHERE outcome = 'trashed' AND settled_at IS NULL;
`,
  },
  {
    version: 6,
    name: 'batches in flight (intents), group blast-radius verdicts',
    sql: `
-- A batch records the job ids it is about to erase (committed before the storage call) and the
-- transaction that records its outcomes removes the row. What a crashed run leaves here is what
-- the next run may find already absent without suspecting the storage (docs/safety.md#storage-that-lies).
CREATE TABLE IF NOT EXISTS lethe_inflight (
  id bigserial PRIMARY KEY,
  run_id uuid NOT NULL,
  job_ids text[] NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- The blast-radius guard's verdict on a worker group's whole backlog, written once by its creator.
ALTER TABLE lethe_run_groups ADD COLUMN IF NOT EXISTS blast_radius jsonb;
`,
  },
  {
    version: 7,
    name: 'monthly report snapshots',
    sql: `
-- A closed month's compliance report as first generated, with the sha256 of its canonical JSON:
-- later reports for that month print this snapshot, so the record handed to the compliance
-- officer is reproducible (runbook "Compliance Reporting"). One per month and grace.
CREATE TABLE IF NOT EXISTS lethe_monthly_reports (
  month text NOT NULL CHECK (month ~ '^[0-9]{4}-[0-9]{2}$'),
  grace_seconds bigint NOT NULL,
  generated_at timestamptz NOT NULL DEFAULT now(),
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  report jsonb NOT NULL,
  PRIMARY KEY (month, grace_seconds)
);
`,
  },
  {
    version: 8,
    name: 'erasure requests: requests, processor notices, ledger request_ref',
    sql: `
-- docs/rights.md: a data principal's erasure request (DPDP s.12(3), consent withdrawal), stored
-- once per reference (the ticket) and run through the same batch path as retention runs.
CREATE TABLE IF NOT EXISTS lethe_erasure_requests (
  id bigserial PRIMARY KEY,
  reference text NOT NULL UNIQUE,
  target_kind text NOT NULL CHECK (target_kind IN ('job', 'key', 'principal')),
  target_values text[] NOT NULL,
  requested_by text NOT NULL,
  reason text NOT NULL CHECK (reason IN ('request', 'consent-withdrawn')),
  note text,
  received_at timestamptz NOT NULL DEFAULT now(),
  due_at timestamptz NOT NULL,
  state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'completed')),
  completed_at timestamptz,
  last_run_id uuid,
  submitted_by text NOT NULL
);
-- Open requests, by due date: small whatever the history (health, metrics, the next run).
CREATE INDEX IF NOT EXISTS lethe_erasure_requests_open_idx ON lethe_erasure_requests (due_at) WHERE state = 'open';

-- One row per configured processor and request: the notice sent and its acknowledgement.
CREATE TABLE IF NOT EXISTS lethe_erasure_notices (
  request_id bigint NOT NULL REFERENCES lethe_erasure_requests (id),
  processor text NOT NULL,
  sent_at timestamptz,
  status text NOT NULL DEFAULT 'pending',
  error text,
  acknowledged_at timestamptz,
  acknowledged_by text,
  PRIMARY KEY (request_id, processor)
);

-- Every ledger row a request wrote carries its reference. No default: a catalogue change only.
ALTER TABLE lethe_ledger ADD COLUMN IF NOT EXISTS request_ref text;
CREATE INDEX IF NOT EXISTS lethe_ledger_request_ref_idx ON lethe_ledger (request_ref) WHERE request_ref IS NOT NULL;
`,
  },
  {
    version: 9,
    name: 'derived data evidence: one row per derived object and child-row set',
    sql: `
-- Derived data (docs/rights.md#derived-data). A derived object (an OCR text, a thumbnail, a dedup
-- blob) or a set of child rows deleted with a job gets its own evidence row, written in the job's
-- batch transaction: kind 'object' has the object's key (as the ledger writes keys: plain or HMAC)
-- and its storage; kind 'rows' has the child table and how many rows went. Outcomes: erased,
-- absent, deleted (rows), kept_shared (another job still refers to the object).
CREATE TABLE IF NOT EXISTS lethe_ledger_derived (
  id bigserial PRIMARY KEY,
  run_id uuid NOT NULL,
  job_id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('object', 'rows')),
  declaration text NOT NULL,
  storage text,
  object_key text,
  row_count integer,
  outcome text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS lethe_ledger_derived_job_idx ON lethe_ledger_derived (job_id);
CREATE INDEX IF NOT EXISTS lethe_ledger_derived_run_idx ON lethe_ledger_derived (run_id);
`,
  },
  {
    version: 10,
    name: 'tamper-evident ledger: hash chain of ledger batches, its head, run heads and signatures',
    sql: `
-- docs/safety.md#tamper-evident-ledger. One link per batch of ledger rows (db/tables/ledger-chain.ts
-- writes them in the batch's statement): the previous link's hash, the digest of the batch's rows
-- (ids first_ledger_id..last_ledger_id) and the hash of both.
CREATE TABLE IF NOT EXISTS lethe_ledger_chain (
  seq bigint PRIMARY KEY,
  run_id uuid NOT NULL,
  prev_hash text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  batch_digest text NOT NULL CHECK (batch_digest ~ '^[0-9a-f]{64}$'),
  link_hash text NOT NULL CHECK (link_hash ~ '^[0-9a-f]{64}$'),
  row_count integer NOT NULL CHECK (row_count > 0),
  first_ledger_id bigint NOT NULL,
  last_ledger_id bigint NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS lethe_ledger_chain_run_idx ON lethe_ledger_chain (run_id);

-- The one head row, locked by every ledger insert (so the chain cannot fork). The anchor is where
-- verification starts: the genesis, or the head of the segment \`lethe prune\` removed. Ledger rows
-- with ids up to start_ledger_id are not in the chain (written before it, or kept by a prune).
CREATE TABLE IF NOT EXISTS lethe_ledger_chain_head (
  id integer PRIMARY KEY CHECK (id = 1),
  seq bigint NOT NULL,
  link_hash text NOT NULL,
  anchor_seq bigint NOT NULL,
  anchor_hash text NOT NULL,
  start_ledger_id bigint NOT NULL,
  pruned_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO lethe_ledger_chain_head (id, seq, link_hash, anchor_seq, anchor_hash, start_ledger_id)
SELECT 1, 0, repeat('0', 64), 0, repeat('0', 64), coalesce((SELECT max(id) FROM lethe_ledger), 0)
ON CONFLICT (id) DO NOTHING;

-- Each run's last link when it ended, and its Ed25519 signature when a signing key is configured.
ALTER TABLE lethe_runs ADD COLUMN IF NOT EXISTS chain_seq bigint;
ALTER TABLE lethe_runs ADD COLUMN IF NOT EXISTS chain_head text;
ALTER TABLE lethe_runs ADD COLUMN IF NOT EXISTS chain_signature text;
${CHAIN_FUNCTIONS_SQL}`,
  },
  {
    version: 11,
    name: 'erasure journal: replays, checked journal objects, detected restores',
    sql: `
-- The erasure journal (docs/safety.md#erasures-survive-a-backup-restore) lives outside the database; these tables are the
-- database's side of it. A restore rolls them back with everything else, which is what makes
-- a restore visible: journal objects checked after the backup are unchecked again.
-- One row per \`lethe replay\` (dry runs too): what it was asked and what it found.
CREATE TABLE IF NOT EXISTS lethe_journal_replays (
  id bigserial PRIMARY KEY,
  run_id uuid NOT NULL,
  since timestamptz,
  dry_run boolean NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  counts jsonb NOT NULL DEFAULT '{}'::jsonb,
  requested_by text
);
-- Journal objects whose every entry the ledger was seen to hold (or a replay settled): not read again.
CREATE TABLE IF NOT EXISTS lethe_journal_checked (
  name text PRIMARY KEY,
  checked_at timestamptz NOT NULL DEFAULT now(),
  replay_id bigint
);
-- A restore seen (the journal ahead of the ledger): scheduled runs wait until a replay clears it.
CREATE TABLE IF NOT EXISTS lethe_journal_restores (
  id bigserial PRIMARY KEY,
  detected_at timestamptz NOT NULL DEFAULT now(),
  objects integer NOT NULL,
  entries integer NOT NULL,
  example text,
  cleared_at timestamptz,
  replay_id bigint
);
CREATE UNIQUE INDEX IF NOT EXISTS lethe_journal_restores_open_idx ON lethe_journal_restores ((true)) WHERE cleared_at IS NULL;
-- Replays' own ledger rows, by job: small (only replays write them); journal entries are looked up by run_id otherwise.
CREATE INDEX IF NOT EXISTS lethe_ledger_replayed_job_idx ON lethe_ledger (job_id) WHERE outcome = 'replayed';
`,
  },
];

export const LATEST_MIGRATION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** JSON Schemas (OpenAPI 3.1 = JSON Schema 2020-12) of every response body, shared by $id (`Run#`); see openapi.ts. */

const str = { type: 'string' } as const;
const nstr = { type: ['string', 'null'] } as const;
const time = { type: 'string', format: 'date-time' } as const;
const ntime = { type: ['string', 'null'], format: 'date-time' } as const;
const int = { type: 'integer', minimum: 0 } as const;
const nint = { type: ['integer', 'null'] } as const;
const bool = { type: 'boolean' } as const;
const ref = (name: string) => ({ $ref: `${name}#` });

export const schemas = {
  Error: {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: { code: { type: 'string', pattern: '^LETHE_E_' }, message: str },
      },
    },
  },
  Health: {
    type: 'object',
    description: 'The runbook health JSON plus pause state and the reasons behind a status other than healthy.',
    required: ['status', 'last_run', 'next_run', 'deleted_last_24h', 'failed_last_24h', 'paused', 'overdue_requests', 'reasons'],
    properties: {
      status: { type: 'string', enum: ['healthy', 'degraded', 'unhealthy'] },
      last_run: ntime,
      last_success: ntime,
      last_run_status: nstr,
      next_run: ntime,
      deleted_last_24h: int,
      failed_last_24h: int,
      paused: bool,
      paused_by: nstr,
      paused_at: ntime,
      pause_reason: nstr,
      scheduler_running: bool,
      schedulers: int,
      overdue_requests: { type: 'integer', minimum: 0, description: 'Erasure requests open past their deadline (docs/rights.md#overdue, runbook REQ-003); 0 when the database did not answer.' },
      reasons: { type: 'array', items: str },
      version: { type: 'string', description: 'the Lethe version answering (EMERGENCY-003)' },
    },
  },
  Liveness: { type: 'object', required: ['status'], properties: { status: { const: 'ok' } } },
  Readiness: {
    type: 'object',
    required: ['status', 'checks'],
    properties: {
      status: { type: 'string', enum: ['ready', 'not_ready'] },
      checks: { type: 'object', required: ['database', 'process'], properties: { database: bool, process: bool } },
    },
  },
  Control: {
    type: 'object',
    required: ['paused', 'paused_by', 'paused_at', 'reason'],
    properties: { paused: bool, paused_by: nstr, paused_at: ntime, reason: nstr },
  },
  RestoreResult: {
    type: 'object',
    description: 'A restore from the undo window (engine operation restoreFile).',
    required: ['restore_id', 'file_key', 'trash_location', 'trashed_by_run', 'trashed_at', 'restored_job_ids', 'already_present_job_ids', 'still_expired_job_ids'],
    properties: {
      restore_id: str, file_key: str, trash_location: str, trashed_by_run: str, trashed_at: str, purge_after: { type: ['string', 'null'] },
      restored_job_ids: { type: 'array', items: str }, already_present_job_ids: { type: 'array', items: str }, still_expired_job_ids: { type: 'array', items: str },
    },
  },
  Hold: {
    type: 'object',
    description: 'A legal hold (engine operation placeHold).',
    required: ['id', 'fileKey', 'jobId', 'reason', 'until', 'createdBy', 'createdAt', 'releasedAt', 'releasedBy', 'warnings'],
    properties: {
      id: str, fileKey: str, jobId: { type: ['string', 'null'] }, reason: str, until: { type: ['string', 'null'] }, createdBy: str, createdAt: str,
      releasedAt: { type: ['string', 'null'] }, releasedBy: { type: ['string', 'null'] }, warnings: { type: 'array', items: str },
    },
  },
  ErasureRequest: {
    type: 'object',
    description: 'A stored erasure request (docs/rights.md), as `lethe requests` lists it.',
    required: ['id', 'reference', 'target_kind', 'target_values', 'requested_by', 'reason', 'note', 'submitted_by', 'received_at', 'due_at', 'state', 'completed_at', 'last_run_id', 'overdue', 'seconds_left'],
    properties: {
      id: str, reference: str, target_kind: { type: 'string', enum: ['job', 'key', 'principal'] }, target_values: { type: 'array', items: str },
      requested_by: str, reason: { type: 'string', enum: ['request', 'consent-withdrawn'] }, note: nstr, submitted_by: str,
      received_at: time, due_at: time, state: { type: 'string', enum: ['open', 'completed'] }, completed_at: ntime, last_run_id: nstr,
      overdue: bool, seconds_left: { type: ['integer', 'null'], description: 'Seconds to the deadline (negative: overdue); null once completed.' },
    },
  },
  ErasureSubmitted: {
    type: 'object',
    description: 'The stored request after a submission: created (201) or the one already stored under the reference (200).',
    required: ['created', 'request', 'run', 'location'],
    properties: {
      created: bool,
      request: ref('ErasureRequest'),
      run: {
        type: 'string',
        enum: ['started', 'next-run', 'none'],
        description: 'started: mode immediate, a run of its own started in the background (poll the location); next-run: mode next-run, the next full run serves it; none: already completed.',
      },
      location: str,
    },
  },
  ErasureRequestList: { type: 'object', required: ['requests'], properties: { requests: { type: 'array', items: ref('ErasureRequest') } } },
  ErasureRequestDetail: {
    type: 'object',
    required: ['request', 'record'],
    properties: {
      request: ref('ErasureRequest'),
      record: {
        type: 'object',
        description: 'The completion record (docs/rights.md#the-reply): what was erased, when, what was kept and why, from the ledger rows that carry the reference.',
        required: ['reference', 'reason', 'requested_by', 'received_at', 'due_at', 'state', 'completed_at', 'overdue', 'rows_erased', 'files_erased', 'rows_unlinked', 'retained', 'held_rows', 'first_erased_at', 'last_erased_at', 'runs', 'processors'],
        properties: {
          reference: str, reason: str, requested_by: str, received_at: time, due_at: time, state: str, completed_at: ntime, overdue: bool,
          rows_erased: int, files_erased: int, rows_unlinked: int,
          retained: { type: 'array', items: { type: 'object', required: ['purpose', 'statute', 'rows'], properties: { purpose: str, statute: str, rows: int } } },
          held_rows: int, first_erased_at: ntime, last_erased_at: ntime, runs: { type: 'array', items: str },
          processors: {
            type: 'array',
            items: { type: 'object', required: ['processor', 'status', 'sent_at', 'acknowledged_at'], properties: { processor: str, status: str, sent_at: ntime, acknowledged_at: ntime } },
          },
        },
      },
    },
  },
  RunAccepted: {
    type: 'object',
    required: ['run_id', 'dry_run', 'status', 'location'],
    properties: { run_id: { type: 'string', format: 'uuid' }, dry_run: bool, status: { const: 'running' }, location: str },
  },
  Run: {
    type: 'object',
    required: ['id', 'trigger', 'status', 'dry_run', 'started_at', 'ended_at', 'deleted_count', 'failed_count', 'duration_seconds'],
    properties: {
      id: { type: 'string', format: 'uuid' },
      trigger: str,
      status: { type: 'string', enum: ['running', 'completed', 'failed', 'paused', 'interrupted'] },
      status_label: { type: 'string', description: "The status for people: 'completed (degraded)' when a completed run's failures were above the degraded share." },
      degraded: bool,
      dry_run: bool,
      started_at: time,
      ended_at: ntime,
      cutoff: ntime,
      policy_version: nint,
      host: nstr,
      version: nstr,
      deleted_count: nint,
      failed_count: nint,
      would_delete_count: { type: ['integer', 'null'], description: 'Dry runs: rows the run would have deleted (deleted_count is 0 for them); null for real runs.' },
      duration_seconds: { type: ['number', 'null'] },
      error: nstr,
      progress: { type: ['object', 'null'] },
    },
  },
  RunList: { type: 'object', required: ['runs'], properties: { runs: { type: 'array', items: ref('Run') } } },
  RunDetail: {
    type: 'object',
    required: ['run', 'summary', 'failures_by_code'],
    properties: {
      run: ref('Run'),
      summary: {
        type: ['object', 'null'],
        description: 'The run summary (the details of its audit_logs row); null while running.',
        required: ['run_id', 'status', 'deleted_count', 'failed_count', 'by_purpose', 'errors', 'duration_seconds'],
      },
      failures_by_code: {
        type: 'array',
        items: {
          type: 'object',
          required: ['outcome', 'code', 'count', 'sample_keys'],
          properties: { outcome: str, code: str, count: int, sample_keys: { type: 'array', items: str } },
        },
      },
    },
  },
  LedgerLookup: {
    type: 'object',
    description: 'What Lethe knows about a file key (engine operation lookupFileKey).',
    required: ['file_key', 'checked_at', 'state', 'policy_version', 'ledger', 'ledger_truncated', 'rows', 'rows_truncated', 'storage'],
    properties: {
      file_key: str,
      checked_at: time,
      state: { type: 'string', enum: ['erased', 'retained', 'expired', 'held', 'orphan_file', 'unknown'] },
      policy_version: int,
      ledger: {
        type: 'array',
        description: 'Ledger entries, newest first: when, by which run, purpose and policy version.',
        items: {
          type: 'object',
          required: ['run_id', 'job_id', 'purpose', 'outcome', 'erased_at', 'expires_at', 'policy_version', 'retention'],
          properties: {
            run_id: str, run_trigger: nstr, job_id: str, purpose: nstr, outcome: str, error_code: nstr, error: nstr,
            created_at: ntime, expires_at: ntime, erased_at: time, policy_version: nint, retention: nstr, after_expiry_seconds: { type: ['number', 'null'] },
          },
        },
      },
      ledger_truncated: bool,
      rows: {
        type: 'array',
        description: 'Jobs rows that still refer to the key, with their expiry under the current policy.',
        items: {
          type: 'object',
          required: ['job_id', 'purpose', 'created_at', 'expires_at', 'expired'],
          properties: {
            job_id: str, purpose: nstr, created_at: ntime, retention: nstr, expires_at: ntime, expired: bool,
            expires_in_seconds: { type: ['number', 'null'] }, unjudged_reason: { type: ['string', 'null'], enum: ['unknown_purpose', 'null_created_at', 'infinite_created_at', null] },
          },
        },
      },
      rows_truncated: bool,
      storage: { type: 'object', required: ['checked', 'exists'], properties: { checked: bool, exists: { type: ['boolean', 'null'] } } },
      holds: {
        type: 'array',
        description: 'Active legal holds on the key (state `held`), newest first.',
        items: { type: 'object', required: ['id', 'reason', 'created_by', 'created_at', 'until'], properties: { id: str, reason: str, created_by: str, created_at: time, until: ntime } },
      },
    },
  },
  Report: {
    type: 'object',
    description: 'The monthly compliance report (engine operation monthlyReport).',
    required: ['month', 'period_start', 'period_end', 'generated_at', 'month_complete', 'totals', 'by_purpose', 'runs', 'still_present', 'status', 'reasons', 'notes'],
    properties: {
      month: { type: 'string', pattern: '^\\d{4}-\\d{2}$' },
      period_start: time,
      period_end: time,
      generated_at: time,
      month_complete: bool,
      schedule_period_seconds: int,
      grace_seconds: int,
      allowed_lateness_seconds: int,
      totals: {
        type: 'object',
        required: ['deleted', 'failed', 'failure_rate'],
        properties: { deleted: int, erased: int, absent: int, failed: int, failed_files: int, refused: int, late_erasures: int, failure_rate: { type: 'number', minimum: 0, maximum: 1 } },
      },
      by_purpose: {
        type: 'array',
        items: {
          type: 'object',
          required: ['purpose', 'retentions', 'deleted', 'failed'],
          properties: { purpose: str, retentions: { type: 'array', items: str }, deleted: int, erased: int, absent: int, failed: int, failed_files: int, refused: int, late_erasures: int },
        },
      },
      worst_lateness: { type: ['object', 'null'] },
      runs: { type: 'object', required: ['total', 'completed', 'failed', 'interrupted', 'paused'], properties: { total: int, completed: int, failed: int, interrupted: int, paused: int } },
      reconciled: { type: 'object' },
      still_present: { type: 'object', required: ['checked', 'present', 'late'], properties: { checked: int, present: int, late: int, unverifiable: int } },
      unreadable: { type: 'array' },
      daily: {
        type: 'array',
        description: 'Every UTC day of the month (up to now while it runs): files erased and failed attempts, from the ledger.',
        items: { type: 'object', required: ['date', 'erased', 'failed'], properties: { date: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' }, erased: int, failed: int } },
      },
      held: { type: 'object', description: 'Files under a legal hold as of judged_as_of.', required: ['files', 'holds'], properties: { files: int, holds: int } },
      status: { type: 'string', enum: ['COMPLIANT', 'NON-COMPLIANT'] },
      reasons: { type: 'array', items: str },
      notes: { type: 'array', items: str },
    },
  },
} as const;

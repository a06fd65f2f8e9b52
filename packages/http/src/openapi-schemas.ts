/** JSON Schemas (OpenAPI 3.1 = JSON Schema 2020-12) of every response body; see openapi.ts. */

const str = { type: 'string' } as const;
const nstr = { type: ['string', 'null'] } as const;
const time = { type: 'string', format: 'date-time' } as const;
const ntime = { type: ['string', 'null'], format: 'date-time' } as const;
const int = { type: 'integer', minimum: 0 } as const;
const nint = { type: ['integer', 'null'] } as const;
const bool = { type: 'boolean' } as const;
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

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
    required: ['status', 'last_run', 'next_run', 'deleted_last_24h', 'failed_last_24h', 'paused', 'reasons'],
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
      reasons: { type: 'array', items: str },
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
      dry_run: bool,
      started_at: time,
      ended_at: ntime,
      cutoff: ntime,
      policy_version: nint,
      host: nstr,
      version: nstr,
      deleted_count: nint,
      failed_count: nint,
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
    required: ['file_key', 'status', 'erasures', 'attempts', 'present'],
    properties: {
      file_key: str,
      status: { type: 'string', enum: ['present', 'erased', 'unknown'] },
      erasures: {
        type: 'array',
        items: {
          type: 'object',
          required: ['run_id', 'job_id', 'outcome', 'erased_at', 'purpose', 'policy_version', 'expires_at'],
          properties: { run_id: str, job_id: str, outcome: str, erased_at: time, purpose: nstr, policy_version: nint, created_at: ntime, expires_at: ntime },
        },
      },
      attempts: {
        type: 'array',
        items: { type: 'object', required: ['run_id', 'outcome', 'at', 'error_code'], properties: { run_id: str, job_id: str, outcome: str, at: time, error_code: nstr, error: nstr } },
      },
      present: {
        type: 'array',
        items: {
          type: 'object',
          required: ['job_id', 'purpose', 'created_at', 'expires_at', 'expired'],
          properties: { job_id: str, purpose: nstr, created_at: ntime, expires_at: ntime, expired: { type: ['boolean', 'null'] } },
        },
      },
    },
  },
  Report: {
    type: 'object',
    required: ['month', 'period', 'generated_at', 'totals', 'by_purpose', 'runs', 'late', 'compliance'],
    properties: {
      month: { type: 'string', pattern: '^\\d{4}-\\d{2}$' },
      period: { type: 'object', required: ['from', 'to'], properties: { from: time, to: time } },
      generated_at: time,
      as_of: time,
      policy_version: int,
      totals: {
        type: 'object',
        required: ['deleted', 'failed', 'failure_rate'],
        properties: { deleted: int, erased: int, absent: int, failed: int, refused: int, failure_rate: { type: 'number', minimum: 0, maximum: 1 } },
      },
      by_purpose: {
        type: 'array',
        items: {
          type: 'object',
          required: ['purpose', 'retention', 'deleted', 'failed'],
          properties: { purpose: str, retention: nstr, deleted: int, erased: int, absent: int, failed: int, refused: int },
        },
      },
      runs: { type: 'object', additionalProperties: int, description: 'Real runs started in the month, by status.' },
      late: {
        type: 'object',
        required: ['schedule_period_hours', 'grace_hours', 'erased_late', 'still_present'],
        properties: {
          schedule_period_hours: { type: 'number' },
          grace_hours: { type: 'number' },
          erased_late: int,
          erased_late_sample_keys: { type: 'array', items: str },
          still_present: {
            type: 'array',
            items: { type: 'object', required: ['purpose', 'count', 'capped', 'sample_keys'], properties: { purpose: str, count: int, capped: bool, sample_keys: { type: 'array', items: str } } },
          },
        },
      },
      compliance: {
        type: 'object',
        required: ['status', 'reasons'],
        properties: { status: { type: 'string', enum: ['COMPLIANT', 'NON_COMPLIANT'] }, reasons: { type: 'array', items: str } },
      },
    },
  },
} as const;

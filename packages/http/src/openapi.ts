import { schemas } from './openapi-schemas.js';

/**
 * The OpenAPI 3.1 document of every route, written by hand (test/http/openapi.test.ts checks the
 * real responses against it). Admin routes exist only when a token is configured; otherwise they
 * answer 404. Every admin route, read or write, needs the bearer token by default.
 */
const json = (schema: string, description: string) => ({ description, content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } } });
const error = (description: string) => json('Error', description);

const adminErrors = {
  '401': error('Missing or wrong bearer token.'),
  '404': error('The admin API is disabled (no token configured), or no such resource.'),
  '500': error('Internal error (details in the service log).'),
};
const bodyErrors = {
  '400': error('Malformed JSON, wrong type, unknown field, or a bad X-Lethe-Actor header.'),
  '413': error('Body larger than the limit (16 KiB by default).'),
  '415': error('A non-empty body that is not application/json.'),
};
/** Pause and resume read the body as JSON whatever its content type (`curl -d` sends a form type): never 415. */
const emergencyBodyErrors = { '400': bodyErrors['400'], '413': bodyErrors['413'] };
const writeSecurity = [{ bearerAuth: [] }];
/**
 * Reads disclose per-file and per-run records (file keys, purposes, dates): the token is required
 * by default. A service started with `protectReads: false` (LETHE_ADMIN_PROTECT_READS=false)
 * answers them without it; that deployment choice is not part of this document.
 */
const readSecurity = [{ bearerAuth: [] }];
const actor = { name: 'X-Lethe-Actor', in: 'header', required: false, description: 'Who is calling (recorded in audit_logs as "http:<actor>").', schema: { type: 'string', maxLength: 100 } };

function body(properties: Record<string, unknown>, required: string[] = []) {
  return {
    required: required.length > 0,
    content: { 'application/json': { schema: { type: 'object', additionalProperties: false, required, properties } } },
  };
}

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Lethe HTTP API',
    version: '1',
    description: 'Health, metrics and the guarded admin API of Lethe, the retention-deletion engine (runbook: Monitoring, OP-001..OP-004, EMERGENCY-001, Compliance Reporting).',
  },
  paths: {
    '/api/health/cleanup': {
      get: {
        operationId: 'getCleanupHealth',
        summary: 'Runbook health check: 200 when healthy, 503 when degraded or unhealthy.',
        responses: { '200': json('Health', 'Healthy.'), '503': json('Health', 'Degraded or unhealthy; `reasons` says why.'), '500': error('Internal error.') },
      },
    },
    '/livez': { get: { operationId: 'liveness', summary: 'The process is up (Kubernetes liveness).', responses: { '200': json('Liveness', 'Alive.') } } },
    '/readyz': {
      get: {
        operationId: 'readiness',
        summary: 'The database answers and the process is ready (Kubernetes readiness). A pause does not make it unready.',
        responses: { '200': json('Readiness', 'Ready.'), '503': json('Readiness', 'Not ready.') },
      },
    },
    '/metrics': {
      get: {
        operationId: 'metrics',
        summary: 'Prometheus metrics (text exposition format 0.0.4).',
        responses: { '200': { description: 'Metrics.', content: { 'text/plain': { schema: { type: 'string' } } } }, '500': error('Internal error.') },
      },
    },
    '/api/openapi.json': {
      get: { operationId: 'openapi', summary: 'This document.', responses: { '200': { description: 'OpenAPI 3.1.', content: { 'application/json': { schema: { type: 'object' } } } } } },
    },
    '/api/admin/cleanup/pause': {
      post: {
        operationId: 'pause',
        summary: 'Pause Lethe everywhere (runbook OP-003, EMERGENCY-001); a running run stops at its next batch.',
        security: writeSecurity,
        parameters: [actor],
        requestBody: body({ reason: { type: 'string', minLength: 1, maxLength: 500 } }, ['reason']),
        responses: { '200': json('Control', 'Paused.'), ...emergencyBodyErrors, ...adminErrors },
      },
    },
    '/api/admin/cleanup/resume': {
      post: {
        operationId: 'resume',
        summary: 'Resume Lethe (runbook OP-003).',
        security: writeSecurity,
        parameters: [actor],
        requestBody: body({ reason: { type: 'string', maxLength: 500 } }),
        responses: { '200': json('Control', 'Resumed.'), ...emergencyBodyErrors, ...adminErrors },
      },
    },
    '/api/admin/cleanup/runs': {
      post: {
        operationId: 'triggerRun',
        summary: 'Start a run now (runbook OP-001); answers with its id at once while the run goes on.',
        security: writeSecurity,
        parameters: [actor],
        requestBody: body({ dryRun: { type: 'boolean', default: false }, allowLarge: { type: 'boolean', default: false, description: 'Proceed past the blast-radius guard (issue 7).' } }),
        responses: {
          '202': json('RunAccepted', 'Started; poll the location for its outcome.'),
          '409': error('Paused (real runs only), another run is in progress, or the blast-radius guard refused the run.'),
          '503': error('This service cannot start runs (no engine, not migrated, or no storage configured).'),
          ...bodyErrors,
          ...adminErrors,
        },
      },
      get: {
        operationId: 'listRuns',
        summary: 'Run history, newest first (runbook OP-004).',
        security: readSecurity,
        parameters: [
          { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 100, default: 10 } },
          { name: 'include_dry_runs', in: 'query', required: false, schema: { type: 'boolean', default: false } },
        ],
        responses: { '200': json('RunList', 'Runs.'), '400': error('Bad query parameter.'), ...adminErrors },
      },
    },
    '/api/admin/cleanup/runs/{id}': {
      get: {
        operationId: 'getRun',
        summary: 'One run with its summary and its failures grouped by code (runbook FM-002).',
        security: readSecurity,
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
        responses: { '200': json('RunDetail', 'The run.'), '400': error('Not a run id.'), ...adminErrors },
      },
    },
    '/api/admin/cleanup/ledger': {
      get: {
        operationId: 'lookupFileKey',
        summary: 'When a file was erased, by which run, purpose and policy version; or its expiry if still present (runbook FM-003).',
        security: readSecurity,
        parameters: [actor, { name: 'file_key', in: 'query', required: true, schema: { type: 'string', minLength: 1, maxLength: 1024 } }],
        responses: { '200': json('LedgerLookup', 'What the ledger and the jobs table say about the key.'), '400': error('Missing or bad file_key.'), ...adminErrors },
      },
    },
    '/api/admin/cleanup/restore': {
      post: {
        operationId: 'restoreFile',
        summary: 'Bring a file and its jobs rows back from the undo window (issue 7, runbook EMERGENCY-002), optionally under a legal hold.',
        security: writeSecurity,
        parameters: [actor],
        requestBody: body({ file_key: { type: 'string', minLength: 1, maxLength: 1024 }, hold_reason: { type: 'string', maxLength: 500 } }, ['file_key']),
        responses: {
          '200': json('RestoreResult', 'Restored.'),
          '409': error('A different file is at the key now, or a run holds the lock.'),
          '410': error('The undo window is over (purged) or the trash copy is gone.'),
          '503': error('This service has no engine configured.'),
          ...bodyErrors,
          ...adminErrors,
        },
      },
    },
    '/api/admin/cleanup/holds': {
      post: {
        operationId: 'placeHold',
        summary: 'Place a legal hold on a file key (or the file of a job row), serialized with batches in flight: 201 means the file is protected (docs/safety.md#holds).',
        security: writeSecurity,
        parameters: [actor],
        requestBody: body({
          file_key: { type: 'string', minLength: 1, maxLength: 1024 }, job_id: { type: 'string', minLength: 1, maxLength: 200 },
          reason: { type: 'string', minLength: 1, maxLength: 500 }, until: { type: 'string', maxLength: 40 },
        }, ['reason']),
        responses: {
          '201': json('Hold', 'The hold, with warnings (no row has the key, a key differing only in case). 404: no such job row (or the admin API is disabled).'),
          '410': error('The file was already erased (the message names the run and the time).'),
          ...bodyErrors,
          ...adminErrors,
        },
      },
    },
    '/api/admin/cleanup/report': {
      get: {
        operationId: 'monthlyReport',
        summary: 'Monthly compliance report (runbook Compliance Reporting).',
        security: readSecurity,
        parameters: [actor, { name: 'month', in: 'query', required: true, schema: { type: 'string', pattern: '^\\d{4}-(0[1-9]|1[0-2])$' } }],
        responses: { '200': json('Report', 'The report.'), '400': error('Missing, malformed or future month.'), ...adminErrors },
      },
    },
  },
  components: {
    securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'LETHE_ADMIN_TOKEN' } },
    schemas,
  },
} as const;

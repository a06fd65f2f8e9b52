// @lethe/engine: the retention-deletion engine. Read top to bottom in the order of one run
// (docs/design.md#source-map); operator commands have their own entry, @lethe/engine/operations.

// The engine: options in, one object out that runs, migrates and closes.
export { createEngine } from './engine.js';
export type { Engine, MigrateCallOptions } from './engine.js';
export { resolveOptions, silentLogger } from './options.js';
export type { EngineOptions, ResolvedOptions } from './options.js';
export type { JournalSetting } from './journal/config.js';
export type { JournalStore } from './journal/store.js';
// Every setting's bounds, default, env var and flag, in one table the runtimes derive from.
export { CONFIG_FILE_SETTING, SETTINGS, boundsOf, defaultOf, settingSpec } from './option-spec.js';
export type { ConfigSettingName, SettingKind, SettingName, SettingOwner, SettingSpec, StorageDefault } from './option-spec.js';

// Errors: one base class with stable codes (scripts and the HTTP API match on them).
// Each code carries its HTTP status and CLI exit code (ERROR_ANSWERS); one mapping per runtime.
export {
  ConfigError,
  ERROR_ANSWERS,
  ErrorCodes,
  LetheError,
  RETRYABLE_SQLSTATES,
  RunInProgressError,
  SchemaError,
  describeError,
  errorAnswer,
  errorBody,
  errorCodeOf,
  exitCodeOf,
  httpStatusOf,
  isErrorCode,
  isLetheError,
  isRetryableSqlState,
} from './errors.js';
export type { ErrorAnswer, ErrorCode } from './errors.js';

// Ports: the small interfaces the engine consumes, and the system clock.
export type {
  Clock,
  ExpiredRow,
  KeyOutcome,
  Logger,
  ObjectBody,
  ObjectInfo,
  OutcomeKind,
  ProbeResult,
  ProbeStep,
  RestoreOutcome,
  RunProgress,
  StoragePort,
  TrashRecordTimes,
  TrashRequest,
  WriteOutcome,
} from './ports.js';
export { systemClock } from './clock.js';
// Durations as operators read them (`1d 1h`), for the runtimes' human output.
export { formatSeconds } from './duration-text.js';

// Policy (no I/O): retentions, undo windows, ledger keys.
export {
  DEFAULT_POLICIES,
  formatRetention,
  isCalendarRetention,
  parsePolicies,
  parseRetention,
  policiesFromJson,
  policiesToJson,
  retentionApproxMs,
  retentionToInterval,
} from './policy/retention.js';
export type { PolicySet, Retention, RetentionUnit } from './policy/retention.js';
export { DEFAULT_UNDO_WINDOW, anyUndoWindow, parseUndoWindow, undoWindowFor } from './policy/undo-window.js';
export type { UndoWindow, UndoWindows } from './policy/undo-window.js';
export { LEDGER_KEY_PREFIX, ledgerKeyFor } from './policy/ledger-keys.js';

// Database: the pool (UTC sessions), migrations, the platform's jobs table.
export { createPool, ensureUtcSession, utcConnectionConfig, withTransaction } from './db/pool.js';
export type { Queryable } from './db/pool.js';
export { migrate, schemaVersion } from './db/migrate.js';
export type { MigrateReport } from './db/migrate.js';
export { DEFAULT_JOBS_TABLE, inspectJobsTable } from './db/jobs-table.js';
export type { JobsTable, JobsTableNames } from './db/jobs-table.js';

// Lethe's own tables: policy versions, pause control, audit rows, legal holds, scheduler heartbeats.
export { listPolicyVersions, loadCurrentPolicies, loadPolicyVersion, savePolicyVersion } from './db/tables/policy-versions.js';
export type { PolicyVersion } from './db/tables/policy-versions.js';
export { pause, readControl, resume } from './db/tables/control.js';
export type { ControlState, PauseRequest } from './db/tables/control.js';
export { AuditActions, writeAudit } from './db/tables/audit.js';
export type { AuditAction } from './db/tables/audit.js';
export { listHolds, placeHold, releaseHolds } from './db/tables/holds.js';
export type { Hold, HoldRequest, PlacedHold } from './db/tables/holds.js';
export * from './db/tables/schedulers.js';

// One run: its options, its summary and the types it carries. The stages themselves (preflight,
// trash purge, lock, plan, source, rate limiter, breaker, status) are internals of run/ and are
// not exported; tests reach the few they drive directly through @lethe/engine/testing.
export type { RunOptions } from './run/index.js';
export type { RunStopFacts, RunVerdict, StopReason } from './run/status.js';
export type { DerivedDeclarations, DerivedKeepInput, DerivedObjectInput, DerivedOptions, DerivedTableInput } from './run/derived/declarations.js';
export type { BlastRadiusCheck, BlastRadiusOptions } from './run/plan/blast-radius.js';
export type { ExpiredCount } from './run/plan/counts.js';
export type { PurposeSelection } from './run/source.js';
export type { FailureSample, PurposeCounts, RunStatus, RunSummary, RunTrigger, UnreadableReason, UnreadableRows } from './run/summary.js';
// The one background starter (http's trigger, the daemon): the run's id as soon as it has one.
export { startInBackground } from './run/background.js';
export type { BackgroundStart } from './run/background.js';

// Storage: URL config, key safety, the adapters and the worker pool around them.
export { createStorage, describeStorage, parseStorageUrl } from './storage/index.js';
export type { FileStorageConfig, S3StorageConfig, StorageConfig } from './storage/index.js';
export { checkKey } from './storage/keys.js';
export { TRASH_DIR } from './storage/trash-keys.js';
export { FileStorage, RESERVED_PREFIX } from './storage/fs/file-storage.js';
export { WorkerPoolStorage } from './storage/pool/worker-pool.js';

// Notifications: the port, the events a run and a pause send, the webhook adapter.
export { noopNotifier, safeNotify } from './notify/notifier.js';
export type { Notification, NotificationKind, NotificationSeverity, Notifier } from './notify/notifier.js';
export { deadRunNotification, pauseCause, pausedNotification, resumedNotification, runEndNotification, runNotStartedNotification } from './notify/events.js';
export type { PauseCause } from './notify/events.js';
export { createWebhookNotifier, isRetryableStatus, resolveWebhookOptions } from './notify/webhook.js';
export type { WebhookNotifierOptions, WebhookPayload } from './notify/webhook.js';

// Erasure on request (docs/rights.md): the CLI's `lethe erase` / `lethe requests` and the admin route use these.
export {
  submitErasureRequest,
  listErasureRequests,
  getRequest as getErasureRequest,
  requireRequest as requireErasureRequest,
  countOverdueRequests,
} from './requests/request-store.js';
export type { ErasureRequest, ListRequestsFilter, SubmittedRequest } from './requests/request-store.js';
export { runErasureRequest, runOpenErasureRequests } from './requests/request-run.js';
export type { RequestRunOptions, RequestRunResult } from './requests/request-run.js';
export { previewErasureRequest } from './requests/request-preview.js';
export type { PreviewList, PreviewRow, RequestPreview } from './requests/request-preview.js';
export { completionRecord } from './requests/completion-record.js';
export type { CompletionRecord } from './requests/completion-record.js';
export { acknowledgeNotice, listUnacknowledgedNotices } from './requests/processors.js';
export type { ProcessorNotice } from './requests/processors.js';
export { DEFAULT_ERASURE_OPTIONS, parseDue, resolveErasureOptions, validateRequestInput } from './requests/request.js';
export type {
  ErasureRequestInput,
  ErasureRequestOptions,
  ErasureTarget,
  ProcessorConfig,
  RequestMode,
  RequestReason,
  RequestState,
  TargetKind,
} from './requests/request.js';
export { FINANCIAL_RETAINED_UNDER, MEDICAL_RETAINED_UNDER, policiesToStoredJson, retainedUnderOf } from './policy/retention.js';

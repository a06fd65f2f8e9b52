export { createEngine } from './engine.js';
export type { Engine, MigrateCallOptions } from './engine.js';
export { resolveOptions, silentLogger } from './options.js';
export type { EngineOptions, ResolvedOptions } from './options.js';
export { CONFIG_FILE_SETTING, SETTINGS, boundsOf, defaultOf, settingSpec } from './option-spec.js';
export type { ConfigSettingName, SettingKind, SettingName, SettingOwner, SettingSpec, StorageDefault } from './option-spec.js';
export type { RunOptions } from './run.js';
export { migrate, schemaVersion } from './migrate.js';
export type { MigrateReport } from './migrate.js';
export { createPool, ensureUtcSession, utcConnectionConfig, withTransaction } from './db.js';
export type { Queryable } from './db.js';
export {
  ConfigError, ERROR_ANSWERS, ErrorCodes, LetheError, RETRYABLE_SQLSTATES, RunInProgressError, SchemaError, describeError, errorAnswer, errorBody, errorCodeOf, exitCodeOf, httpStatusOf,
  isErrorCode, isLetheError, isRetryableSqlState,
} from './errors.js';
export type { ErrorAnswer, ErrorCode } from './errors.js';
export {
  DEFAULT_POLICIES, formatRetention, isCalendarRetention, parsePolicies, parseRetention, policiesFromJson, policiesToJson, retentionApproxMs, retentionToInterval,
} from './policy.js';
export type { PolicySet, Retention, RetentionUnit } from './policy.js';
export { listPolicyVersions, loadCurrentPolicies, loadPolicyVersion, savePolicyVersion } from './policy-store.js';
export type { PolicyVersion } from './policy-store.js';
export { pause, readControl, resume } from './control.js';
export type { ControlState, PauseRequest } from './control.js';
export { AuditActions, writeAudit } from './audit.js';
export type { AuditAction } from './audit.js';
export { DEFAULT_JOBS_TABLE, inspectJobsTable } from './jobs-table.js';
export type { JobsTable, JobsTableNames } from './jobs-table.js';
export { expiredRowsSql, readExpiredRows } from './expired-rows.js';
export type { PurposeSelection } from './expired-rows.js';
export { createStorage, describeStorage, parseStorageUrl } from './storage/config.js';
export type { FileStorageConfig, S3StorageConfig, StorageConfig } from './storage/config.js';
export { FileStorage, RESERVED_PREFIX } from './storage/fs.js';
export { checkKey } from './storage/keys.js';
export { WorkerPoolStorage } from './storage/worker-pool.js';
export { TokenBucket } from './rate-limiter.js';
export { FailureBreaker } from './failure-breaker.js';
export { blastRadiusThreshold, judgeBlastRadius, recentMedian } from './blast-radius.js';
export type { BlastRadiusCheck, BlastRadiusOptions } from './blast-radius.js';
export { countExpired as countExpiredCapped } from './expired-count.js';
export type { ExpiredCount } from './expired-count.js';
export { listHolds, placeHold, releaseHolds } from './holds.js';
export { LEDGER_KEY_PREFIX, ledgerKeyFor } from './ledger-keys.js';
export { DEFAULT_UNDO_WINDOW, anyUndoWindow, parseUndoWindow, undoWindowFor } from './undo-window.js';
export type { UndoWindow, UndoWindows } from './undo-window.js';
export { TRASH_DIR } from './storage/trash-keys.js';
export type { Hold, HoldRequest, PlacedHold } from './holds.js';
export { systemClock } from './clock.js';
export { RUN_LOCK_KEY } from './run-lock.js';
export type { Clock, ExpiredRow, KeyOutcome, Logger, ObjectBody, ObjectInfo, OutcomeKind, ProbeResult, ProbeStep, RestoreOutcome, RunProgress, StoragePort, TrashRecordTimes, TrashRequest, WriteOutcome } from './ports.js';
export type { FailureSample, PurposeCounts, RunStatus, RunSummary, RunTrigger, UnreadableReason, UnreadableRows } from './summary.js';
export { noopNotifier, safeNotify } from './notify/notifier.js';
export type { Notification, NotificationKind, NotificationSeverity, Notifier } from './notify/notifier.js';
export { deadRunNotification, pauseCause, pausedNotification, resumedNotification, runEndNotification, runNotStartedNotification } from './notify/events.js';
export type { PauseCause } from './notify/events.js';
export { createWebhookNotifier, isRetryableStatus, resolveWebhookOptions } from './notify/webhook.js';
export type { WebhookNotifierOptions, WebhookPayload } from './notify/webhook.js';
export * from './operations/index.js';

// @lethe/engine/operations: the operator commands (lethe status, plan, verify, restore, ...), each
// a function of an Engine. What runs on every run lives in ../run/; the root entry re-exports these.

// Run history, totals and health (runbook OP-002 to OP-004).
export * from './history.js';
export * from './run-totals.js';
export * from './health.js';
export * from './runs-in-flight.js';
export * from './run-preview.js';

// What expires and what was erased: plan, verify, lookup, erasures.
export * from './plan.js';
export * from './verify.js';
export * from './lookup.js';
export * from './erasures.js';

// Reports for compliance (monthly report and the legacy service's rows).
export * from './report.js';
export * from './report-sources.js';
export * from './report-snapshot.js';
export { reportHtml, type HtmlReportInput, type ReportEvidence } from './report-html.js';
export { escapeHtml, htmlDocument, field as htmlField, countText, durationText } from './report-html-parts.js';

// Policies: versions, changes, revert.
export * from './policies.js';
export * from './policy-revert.js';

// Repairs: reconcile orphans, verify and repair the ledger, prune old evidence.
export * from './reconcile.js';
export * from './ledger-verify.js';
export * from './ledger-chain.js';
export { loadPublicKey, loadSigningKey, signChainHead, verifyChainHead, chainHeadMessage, signReport, verifyReport } from '../ledger-signing.js';
export * from './ledger-repair.js';
export * from './prune.js';

// The undo window: purge the trash now, restore from it or from a backup.
export { purgeTrash } from '../run/purge-due.js';
export type { PurgeFailure, PurgeOptions, PurgeReport } from '../run/purge-due.js';
export * from './restore.js';
export * from './restore-from-backup.js';

// After a database restore: the erasure journal, restore detection and replay (docs/safety.md#erasures-survive-a-backup-restore).
export { replayJournal } from './replay.js';
export type { ReplayCounts, ReplayDeps, ReplayOptions, ReplayReport } from './replay.js';
export { writeReplayedLedger } from './replay-ledger.js';
export type { ReplayedRow } from './replay-ledger.js';
export { checkForRestore, restoreDetected } from '../journal/detect.js';
export type { RestoreCheck } from '../journal/detect.js';

// Diagnosis: lethe doctor.
export * from './doctor.js';
export { checkCoverage, DEFAULT_COVERAGE_OBJECTS, describeUncovered } from './coverage.js';
export type { CoverageReport, PrefixFinding, TableFinding } from './coverage.js';
export { verifyDerived } from './derived-verify.js';
export type { DerivedFinding, DerivedVerifyReport } from './derived-verify.js';

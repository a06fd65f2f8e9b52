// @lethe/engine/testing: fakes and suites for tests and benches (vitest collects none of these).

// Fakes: in-memory storage, a clock moved by hand, storage that fails on purpose.
export { MemoryStorage } from './memory-storage.js';
export { FakeClock } from './fake-clock.js';
export {
  FaultInjectingStorage,
  seededRandom,
  type CrashFault,
  type FaultCode,
  type FaultPlan,
  type InjectedFault,
  type KeyFault,
} from './fault-injecting-storage.js';

// The storage contract every StoragePort adapter passes (test/storage/<adapter>-contract.test.ts).
export { storageContract, UNSAFE_KEYS, type ContractOptions, type ContractSubject } from './storage-contract.js';

// S3 helpers: the SDK commands tests use to arrange a real S3 server, and the adapter opened directly.
export * from './s3.js';

// The one bounded-concurrency loop (storage/map-limit.ts), for tests and benches that seed or stat many keys.
export { mapLimit } from '../storage/map-limit.js';

// For tests: internals that integration tests drive directly (not part of the engine's API).
export { openS3Storage, type S3Storage, type S3StorageOptions } from '../storage/s3/s3-storage.js';
export { heldKeysNow, withHoldsLocked } from '../run/keep/hold-guard.js';
export { eraseOrphanFiles, removeOrphanRows, type ActContext } from '../operations/reconcile-act.js';
export { orphanFileBatches, orphanRowBatches, type OrphanRow, type ScanContext } from '../operations/reconcile-scan.js';

// For tests: the run's source and its statement (the selection test EXPLAINs it to prove an index
// serves it), and the run lock's advisory key (tests hold it to stand for a run in progress).
export { expiredRowsSql, readExpiredRows } from '../run/source.js';
export { RUN_LOCK_KEY } from '../run/lock.js';

// For tests of the tamper-evident ledger (docs/safety.md#tamper-evident-ledger): the canonical row and link
// hashing (fixed vectors, SQL/JS agreement) and the one append statement (tests seed chained rows with it).
export { batchDigest, canonicalLedgerRow, chainedRowSelect, ledgerInsertSql, linkHash, type ChainedRow } from '../db/tables/ledger-chain.js';

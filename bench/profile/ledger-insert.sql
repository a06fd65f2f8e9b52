-- 1000 ledger rows in one INSERT, as a batch's outcome statement writes them (without the chain
-- link): for pgbench, to price the ledger's indexes (docs/performance.md#peers-what-if). On a
-- migrated scratch database (`lethe migrate`), drop or recreate lethe_ledger_file_key_idx and
-- lethe_ledger_run_id_idx between runs of:
--   pgbench -h 127.0.0.1 -U postgres -n -f bench/profile/ledger-insert.sql -t 60 <database>
INSERT INTO lethe_ledger (run_id, job_id, file_key, purpose_code, created_at, expires_at, outcome, policy_version, job_row)
SELECT '00000000-0000-0000-0000-000000000001'::uuid, 'job-' || g || '-' || random(), 'd' || (g % 100) || '/' || g || '-' || random() || '.pdf', 'System Testing', now() - interval '2 days', now() - interval '1 day', 'erased', 1,
  jsonb_build_object('id', 'job-' || g, 'file_key', 'd/' || g || '.pdf', 'status', 'COMPLETED', 'purpose_code', 'System Testing', 'consent_verified', true, 'created_at', now())
FROM generate_series(1, 1000) g;

-- Retention (payorch-admin jobs prune) and table maintenance for a history that grows for years.

-- The one exception to append-only history: pruning.
--
-- job_attempts and job_audit reject UPDATE and DELETE (migrations 0001, 0003), so a bug or a
-- hand-typed statement cannot rewrite the payment audit trail. Retention must delete old history
-- all the same, so a DELETE is allowed when BOTH hold:
--   1. the session declared it is pruning, for this transaction only:
--        SET LOCAL payorch.pruning = 'on'    (or set_config('payorch.pruning', 'on', true))
--      Nothing in the running system sets it; db/job_retention.cpp does, inside each prune
--      batch's transaction, and it ends with the transaction.
--   2. the row's job is final (succeeded, dead or cancelled): history of a job that can still
--      change (queued, running, in_doubt, or replayed since it was selected) is never deleted.
--      The prune holds the job's row lock (FOR UPDATE) while it deletes, so the state checked
--      here cannot change before the commit.
-- UPDATE stays forbidden without exception. The check costs one primary-key probe of jobs per
-- deleted row, only on DELETE.
CREATE OR REPLACE FUNCTION history_delete_allowed(job bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('payorch.pruning', true), '') = 'on'
       AND EXISTS (SELECT 1 FROM jobs
                   WHERE id = job AND state IN ('succeeded', 'dead', 'cancelled'));
$$;

-- One trigger function for both tables (it replaces job_attempts_append_only and
-- job_audit_append_only); both tables have job_id.
CREATE FUNCTION history_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND history_delete_allowed(OLD.job_id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% is append-only (only payorch-admin jobs prune deletes, and only the history of final jobs)',
        TG_TABLE_NAME;
END;
$$;

DROP TRIGGER job_attempts_no_update_or_delete ON job_attempts;
CREATE TRIGGER job_attempts_no_update_or_delete
    BEFORE UPDATE OR DELETE ON job_attempts
    FOR EACH ROW EXECUTE FUNCTION history_append_only();
DROP FUNCTION job_attempts_append_only();

DROP TRIGGER job_audit_no_update_or_delete ON job_audit;
CREATE TRIGGER job_audit_no_update_or_delete
    BEFORE UPDATE OR DELETE ON job_audit
    FOR EACH ROW EXECUTE FUNCTION history_append_only();
DROP FUNCTION job_audit_append_only();

-- The prune walks finished jobs oldest first through jobs_finished_idx (0003), deletes attempts
-- by job through job_attempts' UNIQUE (job_id, attempt) and audit rows through job_audit_job_idx.
-- Ignored events had no index on their time: without one, each prune batch would scan the table.
CREATE INDEX ignored_events_received_idx ON ignored_events (received_at);

-- Autovacuum for the hot tables. The defaults (vacuum after 20% of a table's rows are dead,
-- analyze after 10%) are tuned for tables that change a little everywhere; payorch's change at
-- one end and grow for years, so a percentage of the whole table means "almost never" once the
-- history is large: at 10 million jobs, 2 million dead row versions before a vacuum.
--
-- jobs: every job is inserted once and updated 2-3 times (the claim, then the recorded outcome or
-- a retry), and no update is HOT (state is in index keys and partial-index predicates), so each
-- leaves a dead row version, and dead entries in the partial indexes the claim walks
-- (jobs_due_idx, jobs_running_lease_idx, jobs_subscription_unfinished_idx): until a vacuum, each
-- claim visits those dead entries' heap rows. So the trigger must not grow with the history:
-- vacuum after a fixed 20,000 dead rows (scale factor 0), a few seconds of full load, whatever
-- the table's size. Measured with 10 million finished jobs (bench/history): with the default
-- 20% (and even with 1%) no vacuum ran during the benchmark, 60,000 dead rows accumulated, and the
-- claim statement visited 20,000 heap pages to find no expired lease. A vacuum of a large jobs table
-- stays cheap: the visibility map skips the all-visible history, and with few dead rows
-- PostgreSQL skips the index pass. A cost limit of 1000 (5x the default 200) lets it finish
-- quickly. Analyze after a fixed 50,000 changed rows for the same reason (it samples a fixed
-- number of rows, so its cost does not grow with the table either).
ALTER TABLE jobs SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 20000,
    autovacuum_analyze_scale_factor = 0,
    autovacuum_analyze_threshold = 50000,
    autovacuum_vacuum_cost_limit = 1000
);

-- job_attempts: insert-only (until pruned). Nothing is dead, so only the insert trigger
-- (PostgreSQL 13+) vacuums it: after 10,000 + 1% new rows instead of 1,000 + 20% (at 10 million
-- attempts, every 110,000 inserts instead of every 2 million). That keeps the
-- visibility map current (index-only scans for stats by adapter and the list --adapter filter)
-- and freezes rows in small steps instead of one anti-wraparound vacuum over years of history.
-- After a prune, 5% dead rows start a vacuum that makes the space reusable.
ALTER TABLE job_attempts SET (
    autovacuum_vacuum_insert_scale_factor = 0.01,
    autovacuum_vacuum_insert_threshold = 10000,
    autovacuum_vacuum_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_cost_limit = 1000
);

-- ignored_events: insert-only like job_attempts, much smaller; pruned with the jobs.
ALTER TABLE ignored_events SET (
    autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_vacuum_scale_factor = 0.05
);

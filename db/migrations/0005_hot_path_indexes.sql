-- Fewer index entries per job on the hot path (issues 3 and 4).
--
-- jobs is updated twice per job (claim, record) and never HOT: the updates change `state`, which
-- every partial index's predicate reads. So every version of a row (insert, claim, record) gets
-- an entry in every index whose predicate it matches: about 20 index insertions per job with 0004's
-- indexes, and index maintenance is the largest share of PostgreSQL's CPU per webhook and per job.
--
-- jobs_state_created_idx (state, created_at DESC, id DESC) held every version of every job. What
-- it served is served without it:
--   * payorch-admin `jobs list` without a state filter, or for succeeded jobs (the bulk of the
--     table): jobs_created_idx, newest first, as before;
--   * queued / running jobs: jobs_due_idx / jobs_running_lease_idx (the backlog and the leases);
--   * in_doubt, dead and cancelled jobs, which an operator looks for among millions of succeeded
--     ones, and the worker's oldest-in-doubt gauge: the partial index below, which a job enters
--     only when it ends up in one of those states (never on the insert, the claim, a success);
--   * the claim's rescue CTE (state = 'running' AND locked_until < now()): jobs_running_lease_idx,
--     which the generic plan chose jobs_state_created_idx over.
-- EXPLAIN of each of these against 300,000 jobs is in the perf helper's round-3 report.
DROP INDEX jobs_state_created_idx;

CREATE INDEX jobs_exceptional_created_idx ON jobs (created_at DESC, id DESC)
    WHERE state IN ('in_doubt', 'dead', 'cancelled');

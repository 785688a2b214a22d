-- The event key's uniqueness moves from jobs into an insert-only table (issues 4 and 9).
--
-- Why: jobs is updated twice per job (the claim, then the recorded outcome) and those updates are
-- never HOT (0005), so each one inserts a new entry into every index of jobs. In a UNIQUE index
-- that insertion is the dearest of all: before adding the entry PostgreSQL looks up the entries
-- the row's earlier versions left under the same key and fetches their heap tuples to prove them
-- dead. EXPLAIN ANALYZE of the claim's and the record's UPDATE of 256 jobs: 6.2 ms without the
-- constraint against 10-13 ms with it; with 10 million finished jobs, 15.5 ms against about 25.
-- A row of job_event_keys is written once and never updated, so its unique check happens once
-- per event, at the intake, and the claim and the record no longer touch a unique index.
--
-- How the intake uses it (db/job_intake.cpp): one statement inserts the keys with
-- ON CONFLICT DO NOTHING and, for the keys that were new, the jobs, with ids taken from the
-- jobs' identity sequence. Keys that conflicted are deliveries of an event payorch already has;
-- a second statement counts them on their jobs. It runs with a new snapshot, so it also sees a
-- job a concurrent transaction committed while the first statement waited on its key.
--
-- The key's order: the unique index leads with the key's last '|'-separated field (see
-- services/core/event.cpp), which for renewals is "dunning=<date>" and for terminations
-- "expiration=<date>", and only then the whole key. Uniqueness is unchanged (the leading field is
-- a function of the key, so two rows with one key always meet in the index), but new events, whose
-- dates lie near the present, go to one end of the index instead of to random pages of a B-tree
-- that holds every event of the history: with 10 million keys, 256 key insertions took 10.1 ms
-- ordered by the key alone, 4.9 ms ordered this way, and 3.9 ms into an empty table (medians of
-- 12, EXPLAIN ANALYZE). Events without a date ("data-sha256=...") stay in random order among
-- themselves. split_part never returns NULL for a non-NULL key, so no key escapes the uniqueness
-- (NULLs are distinct in a unique index). Every statement that looks a key up names both
-- expressions, so that it uses this index.
--
-- Every job inserted by payorch has its key here (same statement), and retention deletes a key
-- with its job (db/job_retention.cpp). No foreign key: its check would take a KEY SHARE lock on
-- the job's row at every intake, and the key row is inserted before its job in the statement.
--
-- Upgrade: the copy below locks jobs against writes (SHARE) until the migration commits, so no
-- job can be inserted without its key meanwhile; at 10 million jobs it takes about a minute.
-- Stop the ingress first (an older ingress's ON CONFLICT (event_key) fails once the constraint
-- is gone), run `payorch-admin migrate`, then start the new binaries.
LOCK TABLE jobs IN SHARE MODE;

CREATE TABLE job_event_keys (
    event_key  text   NOT NULL,
    job_id     bigint NOT NULL
);

INSERT INTO job_event_keys (event_key, job_id) SELECT event_key, id FROM jobs;

-- Built after the copy: one sort instead of millions of random insertions.
CREATE UNIQUE INDEX job_event_keys_key_idx
    ON job_event_keys ((split_part(event_key, '|', -1)), event_key);

ALTER TABLE jobs DROP CONSTRAINT jobs_event_key_key;

-- Insert-only (until pruned), like job_attempts (0006): vacuumed by the insert trigger so that
-- rows are frozen in small steps, and after a prune for the space.
ALTER TABLE job_event_keys SET (
    autovacuum_vacuum_insert_scale_factor = 0.01,
    autovacuum_vacuum_insert_threshold = 10000,
    autovacuum_vacuum_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.02
);

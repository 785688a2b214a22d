-- jobs is partitioned by ranges of id, so that the hot path works on a partition whose size is
-- bounded, not on the whole history (issue 9).
--
-- Why: migrations 0005-0012 kept the hot path off the history where an index could do it, but
-- some costs of a single jobs table follow its size whatever the indexes:
--   * a finished job enters jobs_finished_subscription_idx at its subscription's random place. In
--     an index as large as the history (324 MB at 10 million jobs) that is a different page per
--     record, and after each checkpoint the first change to each page writes the whole page to
--     the WAL;
--   * each vacuum of jobs reads every index of jobs (0012 turned index cleanup on so that the
--     claim's partial indexes lose their dead entries): about 4 s at 10 million jobs, once a
--     minute under load;
--   * the primary key, jobs_created_idx and jobs_finished_idx grow with the history (new entries go
--     to their right end, which stays cached: these cost little).
-- With partitions of a million ids, new jobs, their claims and their records all touch the
-- newest partition or two. Its indexes are at most a million jobs large, a vacuum reads only
-- them, and the finished history rests in older partitions that nothing writes to until
-- `jobs prune` deletes from them. A range of ids rather than of time: id is the primary key and
-- the key every foreign key (job_attempts, job_audit, job_steps) names, and a partitioned table's
-- unique constraints must contain the partition key; ids also grow with time.
--
-- What reads the whole table now reads each partition: a claim probes each partition's small
-- partial indexes (one descent each, a few buffers for a partition with nothing due), and a
-- lookup by subscription probes each partition's hash index. That cost grows with the number of
-- partitions, a few dozen over years, not with the rows in them.
--
-- New partitions: jobs_add_partitions() below keeps at least a partition of room above the
-- next id. Migrations call it, and the ingress (the only writer of new jobs) calls it when the
-- ids it receives come within half a partition of the last bound (services/ingress/
-- job_writer.cpp). A partition is created and then attached: ATTACH takes a SHARE UPDATE
-- EXCLUSIVE lock on jobs, which does not block reads or writes.
--
-- Upgrade (docs/operations.md): the table becomes the first partition, jobs_before_partitioning,
-- holding ids below the next one. Attaching it reads it once to check the range, and the foreign
-- keys are checked again: stop the ingress and the workers, run `payorch-admin migrate`, start
-- the new binaries. Measured on the 10-million-job bench history: see docs/operations.md.

LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE;

-- The existing table and its indexes step aside; the partitioned table takes their names.
ALTER TABLE jobs RENAME TO jobs_before_partitioning;
ALTER INDEX jobs_pkey RENAME TO jobs_before_partitioning_pkey;
ALTER INDEX jobs_due_idx RENAME TO jobs_before_partitioning_due_idx;
ALTER INDEX jobs_running_lease_idx RENAME TO jobs_before_partitioning_running_lease_idx;
ALTER INDEX jobs_subscription_unfinished_idx
    RENAME TO jobs_before_partitioning_subscription_unfinished_idx;
ALTER INDEX jobs_created_idx RENAME TO jobs_before_partitioning_created_idx;
ALTER INDEX jobs_finished_idx RENAME TO jobs_before_partitioning_finished_idx;
ALTER INDEX jobs_exceptional_created_idx RENAME TO jobs_before_partitioning_exceptional_created_idx;
ALTER INDEX jobs_finished_subscription_idx
    RENAME TO jobs_before_partitioning_finished_subscription_idx;
DROP TRIGGER jobs_notify_after_insert ON jobs_before_partitioning;
ALTER TABLE job_attempts DROP CONSTRAINT job_attempts_job_id_fkey;
ALTER TABLE job_audit DROP CONSTRAINT job_audit_job_id_fkey;
ALTER TABLE job_steps DROP CONSTRAINT job_steps_job_id_fkey;

-- A partitioned table cannot have an identity column in PostgreSQL 15, so ids come from a plain
-- sequence, continuing where the identity stopped. It keeps the name the intake draws from.
CREATE SEQUENCE jobs_id_seq_next AS bigint;
SELECT setval('jobs_id_seq_next', last_value, is_called) FROM jobs_id_seq;
ALTER TABLE jobs_before_partitioning ALTER COLUMN id DROP IDENTITY;  -- drops jobs_id_seq
ALTER SEQUENCE jobs_id_seq_next RENAME TO jobs_id_seq;

CREATE TABLE jobs (LIKE jobs_before_partitioning INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (id);
ALTER TABLE jobs ALTER COLUMN id SET DEFAULT nextval('jobs_id_seq');
ALTER SEQUENCE jobs_id_seq OWNED BY jobs.id;

-- The indexes of 0001-0012, unchanged. Each partition has its own; ATTACH below adopts the old
-- table's indexes instead of building new ones, because their definitions are the same.
ALTER TABLE jobs ADD CONSTRAINT jobs_pkey PRIMARY KEY (id);
CREATE INDEX jobs_due_idx ON jobs (run_after, id) WHERE state IN ('queued', 'in_doubt');
CREATE INDEX jobs_running_lease_idx ON jobs (locked_until) WHERE state = 'running';
CREATE INDEX jobs_subscription_unfinished_idx
    ON jobs (broadcaster_id, subscription_id, (coalesce(dunning_attempt_date, created_at)), id)
    WHERE state IN ('queued', 'running', 'in_doubt');
CREATE INDEX jobs_created_idx ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_exceptional_created_idx ON jobs (created_at DESC, id DESC)
    WHERE state IN ('in_doubt', 'dead', 'cancelled');
CREATE INDEX jobs_finished_subscription_idx ON jobs USING hash (subscription_id)
    WHERE state IN ('succeeded', 'dead', 'cancelled');

CREATE TRIGGER jobs_notify_after_insert
    AFTER INSERT ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify_inserted();

-- The old table becomes the partition of every id below the next one (a new installation has
-- no jobs yet, and drops it). It keeps its storage settings (0006, 0011, 0012).
DO $$
DECLARE
    bound bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM jobs_before_partitioning) THEN
        DROP TABLE jobs_before_partitioning;
        RETURN;
    END IF;
    SELECT greatest(CASE WHEN is_called THEN last_value + 1 ELSE last_value END,
                    (SELECT max(id) + 1 FROM jobs_before_partitioning))
      INTO bound FROM jobs_id_seq;
    EXECUTE format('ALTER TABLE jobs ATTACH PARTITION jobs_before_partitioning '
                   'FOR VALUES FROM (MINVALUE) TO (%s)', bound);
END;
$$;

-- The history tables' foreign keys, now to the partitioned table. Adding each checks every
-- existing row with one join (PostgreSQL's initial check), not one probe per row.
ALTER TABLE job_attempts ADD CONSTRAINT job_attempts_job_id_fkey
    FOREIGN KEY (job_id) REFERENCES jobs (id);
ALTER TABLE job_audit ADD CONSTRAINT job_audit_job_id_fkey
    FOREIGN KEY (job_id) REFERENCES jobs (id);
ALTER TABLE job_steps ADD CONSTRAINT job_steps_job_id_fkey
    FOREIGN KEY (job_id) REFERENCES jobs (id) ON DELETE CASCADE;

-- PostgreSQL names the indexes it creates on a partition (by ATTACH, or by CREATE INDEX on jobs)
-- after their columns. This names each after the partition and the index of jobs it belongs to
-- instead, as jobs_before_partitioning's are (jobs_due_idx of jobs_from_1 is jobs_from_1_due_idx),
-- so that a plan says which index it reads.
CREATE FUNCTION jobs_name_partition_indexes(jobs_partition regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    partition_index regclass;
    wanted text;
BEGIN
    FOR partition_index, wanted IN
        SELECT i.inhrelid::regclass,
               jobs_partition::text || substr(i.inhparent::regclass::text, length('jobs') + 1)
          FROM pg_inherits i JOIN pg_index x ON x.indexrelid = i.inhrelid
         WHERE x.indrelid = jobs_partition
    LOOP
        IF partition_index::text <> wanted THEN
            EXECUTE format('ALTER INDEX %s RENAME TO %I', partition_index, wanted);
        END IF;
    END LOOP;
END;
$$;

-- Creates the next partition when fewer than a partition's worth of ids remain above the next
-- id, and returns the upper bound of the partitions (exclusive): ids below it can be inserted.
-- Safe to call from several processes at once (an advisory lock orders them) and cheap when
-- there is room (two catalogue reads). A partition holds 1,000,000 ids: small enough that its
-- indexes stay cached and a vacuum of it reads little, large enough that a busy year makes a few
-- dozen partitions. Its storage settings are those of 0006, 0011 and 0012, for the same reasons:
-- autovacuum after a fixed number of dead rows, a tenth of each page kept for new versions of its
-- rows, and index cleanup on every vacuum.
CREATE FUNCTION jobs_add_partitions() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    partition_ids constant bigint := 1000000;
    next_id bigint;
    upper_bound bigint;
    lower_bound bigint;
    partition_name text;
BEGIN
    -- Serialises concurrent callers (the key is arbitrary and used by nothing else).
    PERFORM pg_advisory_xact_lock(7234190013);
    -- ATTACH takes SHARE ROW EXCLUSIVE locks on job_attempts, job_audit and job_steps (their
    -- foreign keys gain the new partition) and so waits for their writers to commit; while it
    -- waits, new writers queue behind it. A second at most: the caller tries again later.
    PERFORM set_config('lock_timeout', '1s', true);
    SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END INTO next_id
      FROM jobs_id_seq;
    SELECT max(substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \(''?(-?[0-9]+)''?\)')::bigint)
      INTO upper_bound
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'jobs'::regclass;
    IF upper_bound IS NOT NULL AND upper_bound >= next_id + partition_ids THEN
        RETURN upper_bound;
    END IF;
    -- Ids the sequence handed out past the last partition were never stored (no partition
    -- could take them), so a new partition may start at the next id.
    lower_bound := greatest(coalesce(upper_bound, next_id), next_id);
    partition_name := format('jobs_from_%s', lower_bound);
    EXECUTE format(
        'CREATE TABLE %I (LIKE jobs INCLUDING DEFAULTS INCLUDING CONSTRAINTS) WITH ('
        'fillfactor = 90, vacuum_index_cleanup = on, '
        'autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 20000, '
        'autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 50000, '
        'autovacuum_vacuum_cost_limit = 1000)', partition_name);
    EXECUTE format('ALTER TABLE jobs ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',
                   partition_name, lower_bound, lower_bound + partition_ids);
    PERFORM jobs_name_partition_indexes(partition_name::regclass);
    RETURN lower_bound + partition_ids;
END;
$$;

SELECT jobs_add_partitions();

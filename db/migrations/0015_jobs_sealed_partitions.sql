-- Sealed partitions: a partition of jobs that new ids have left behind and that holds only
-- finished jobs gets a CHECK constraint saying so, and every plan that asks for unfinished jobs
-- leaves it out (issue 9).
--
-- Why: the claim asks for unfinished jobs in three places, and with partitions each place reads
-- every partition. Its scans of the running and due jobs run once per claim. Its
-- per-subscription check runs once for each candidate and probes one partial index per
-- partition. Measured against 10 million finished jobs in 10 partitions (bench/run, session 9):
--   * PostgreSQL's CPU per claimed job was 1.20 and 1.40 times the empty database's;
--   * a claim of one job took 0.9-1.1 ms against 0.6-0.7 (about 35 us per partition);
--   * each candidate's check took 10-11 us against 2 with one partition;
--   * end to end, the worker ran at 0.88-0.91 of the empty database's throughput.
-- The claim's state lists are constants, so PostgreSQL's constraint exclusion (on by default for
-- partitions' own CHECK constraints) removes a sealed partition from those plans, generic plans
-- included. Only the partitions that can hold an unfinished job stay: the newest ones.
--
-- The promise: the claim's per-subscription order (DESIGN.md promise 4) needs every unfinished
-- job of a subscription seen. A sealed partition cannot hold one: PostgreSQL rejects any row of
-- it whose state is unfinished. Two things could put one there:
--   * a replay (the only change that makes a finished job unfinished): db/job_admin.cpp calls
--     jobs_unseal_partition_of() in the replay's transaction, before its update;
--   * an intake of an id below the partition's bound: a partition is sealed only once the next
--     id is a whole partition (a million ids) past its bound. An intake that drew an id so long
--     ago and has not committed would fail its batch, which Cleeng resends.
--
-- Sealing (db/job_retention.cpp, called by `jobs prune`) takes two transactions per partition.
-- jobs_seal_partition() locks the partition for a moment, checks under that lock that no job in
-- it is unfinished (one probe of a partial index), and adds the constraint NOT VALID, which is
-- enforced from then on. Then VALIDATE CONSTRAINT reads the partition to mark the constraint
-- valid, which constraint exclusion requires, under a lock that blocks no reads or writes.
-- Adding or dropping the constraint invalidates the cached plans over jobs, and the workers'
-- next claims plan again.

-- A partition's upper bound (exclusive), parsed from its definition as jobs_add_partitions()
-- (0013) does; shared by the seal below and the prune's drop of empty partitions.
CREATE FUNCTION jobs_partition_upper_bound(partition regclass) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT substring(pg_get_expr(relpartbound, oid) FROM 'TO \(''?(-?[0-9]+)''?\)')::bigint
  FROM pg_class WHERE oid = partition
$$;

-- The partitions whose ids the next id has passed by a whole partition and whose seal is not yet
-- valid.
CREATE FUNCTION jobs_partitions_to_seal() RETURNS SETOF text
LANGUAGE sql STABLE AS $$
  SELECT c.relname::text
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
  WHERE i.inhparent = 'jobs'::regclass
    AND jobs_partition_upper_bound(c.oid) <= (SELECT last_value FROM jobs_id_seq) - 1000000
    AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                    WHERE k.conrelid = c.oid AND k.conname = 'jobs_partition_sealed'
                      AND k.convalidated)
  ORDER BY c.relname
$$;

-- Step one of sealing: true when the constraint is in place (added now or before), false when the
-- partition holds an unfinished job. The caller sets a lock timeout.
CREATE FUNCTION jobs_seal_partition(partition regclass) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  unfinished boolean;
BEGIN
  IF EXISTS (SELECT 1 FROM pg_constraint
             WHERE conrelid = partition AND conname = 'jobs_partition_sealed') THEN
    RETURN true;
  END IF;
  EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', partition);
  EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s'
                 ' WHERE state IN (''queued'', ''running'', ''in_doubt''))', partition)
    INTO unfinished;
  IF unfinished THEN
    RETURN false;
  END IF;
  EXECUTE format('ALTER TABLE %s ADD CONSTRAINT jobs_partition_sealed'
                 ' CHECK (state IN (''succeeded'', ''dead'', ''cancelled'')) NOT VALID',
                 partition);
  RETURN true;
END
$$;

-- Step two, in its own transaction: SHARE UPDATE EXCLUSIVE while it reads the partition.
CREATE FUNCTION jobs_validate_partition_seal(partition regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s VALIDATE CONSTRAINT jobs_partition_sealed', partition);
END
$$;

-- Before a replay makes job_id unfinished: drops the seal of its partition, if any, holding the
-- partition's ACCESS EXCLUSIVE lock until the replay commits (a moment). An unsealed partition
-- is locked as the replay's update would lock it (ROW EXCLUSIVE) before the seal is looked for
-- again: a seal being added meanwhile has then committed and is dropped, and a seal that starts
-- later waits for the replay and finds its job unfinished.
CREATE FUNCTION jobs_unseal_partition_of(job_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  partition regclass;
BEGIN
  SELECT tableoid::regclass INTO partition FROM jobs WHERE id = job_id;
  IF partition IS NULL THEN
    RETURN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_constraint
                 WHERE conrelid = partition AND conname = 'jobs_partition_sealed') THEN
    EXECUTE format('LOCK TABLE %s IN ROW EXCLUSIVE MODE', partition);
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = partition AND conname = 'jobs_partition_sealed') THEN
      RETURN;
    END IF;
  END IF;
  EXECUTE format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS jobs_partition_sealed', partition);
END
$$;

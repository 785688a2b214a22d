-- The ids of the partitions that hold jobs finished in a time range, for `jobs list
-- --finished-since/--finished-until` (issue 9).
--
-- Why: the listing orders by (created_at DESC, id DESC), which each partition's jobs_created_idx
-- gives in order, so PostgreSQL plans a Merge Append of one such scan per partition and filters
-- on finished_at. A Merge Append must read the first matching row of every partition before it
-- returns any. Jobs finish soon after they are created, so a partition of older jobs has no job
-- finished in the last days, and its scan reads every one of its jobs to learn that. Measured on
-- the bench history seeded into 11 partitions (bench/run, 10 million jobs): `jobs list
-- --finished-since 30d` took 21.8 s, against 33 ms on the empty database. PostgreSQL 15 never
-- sorts a partition's matching rows instead when an index gives the order, so no statistics help.
--
-- jobs_finished_id_bounds(range) answers which partitions can match with one probe of each
-- partition's jobs_finished_idx, and returns the lowest and highest id of those partitions. The
-- listing (db/job_queries.cpp) calls it first, in the same repeatable-read transaction, and then
-- asks for ids in [low, high] with those values as parameters, planned with them, so that the
-- partitions outside are pruned at planning. When nothing finished in the range, both are NULL
-- and the listing is empty, as it should be.
--
-- A partition whose ids lie between two matching ones but which holds no match is still read:
-- it needs jobs of one age finishing on either side of it, which a replay of old jobs can make.
CREATE FUNCTION jobs_finished_id_bounds(finished tstzrange, OUT low bigint, OUT high bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  partition regclass;
  partition_low bigint;
  partition_high bigint;
BEGIN
  FOR partition IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'jobs'::regclass
  LOOP
    EXECUTE format(
        'SELECT min(id), max(id) FROM %s'
        ' WHERE EXISTS (SELECT 1 FROM %s WHERE finished_at >= $1 AND finished_at < $2)',
        partition, partition)
      INTO partition_low, partition_high
      USING coalesce(lower(finished), '-infinity'), coalesce(upper(finished), 'infinity');
    IF partition_low IS NOT NULL THEN
      low := least(low, partition_low);
      high := greatest(high, partition_high);
    END IF;
  END LOOP;
END
$$;

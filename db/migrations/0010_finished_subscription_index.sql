-- Jobs by subscription: the hash index holds finished jobs only (issues 3, 4 and 9).
--
-- 0009's hash index held every version of every job: the insert, the claim and the record each
-- added an entry at the subscription's random place in an index as large as the whole history
-- (324 MB at 10 million jobs). Random pages of a large index are what a history costs the hot
-- path: after every checkpoint the first change to each such page writes the whole page to the
-- WAL. Measured in 10 s of bench/ingress/run right after a CHECKPOINT (pg_stat_statements on the
-- intake statement, pg_stat_wal): against 10 million finished jobs, 0.27 and 0.48 full-page
-- images per webhook and 3,239 WAL bytes; without the history 0.03 and 1,831-2,015 bytes.
--
-- Now a job enters this index once, when it finishes (its predicate is the finished states, the
-- states in which finished_at is set), and never on the intake or the claim. The unfinished jobs
-- of a subscription are in 0002's jobs_subscription_unfinished_idx, whose size follows the
-- backlog. Between them the two partial indexes hold every job, each visible version in exactly
-- one: a statement that needs all of a subscription's jobs reads both, as a UNION ALL of the two
-- state sets (db/subscription_jobs.hpp), and sees each job once because it reads both on one
-- snapshot. A capture's lookup of its authorisation (state = 'succeeded') reads this index alone.
--
-- Upgrade (docs/operations.md): building it locks jobs against writes (about 40 s at 10 million
-- jobs). The earlier release's worker (a capture's open authorisation) and admin (`jobs list
-- --subscription`) look jobs up by subscription without naming states; after this migration they
-- scan the table. So stop the workers, migrate, and start the new ones.
CREATE INDEX jobs_finished_subscription_idx ON jobs USING hash (subscription_id)
    WHERE state IN ('succeeded', 'dead', 'cancelled');
DROP INDEX jobs_subscription_hash_idx;

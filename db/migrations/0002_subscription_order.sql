-- Per-subscription order (DESIGN.md promise 4): the claim skips a job while an earlier job of the
-- same subscription is unfinished, or while any job of the subscription is running. The claim
-- asks that with NOT EXISTS for every candidate, so the question must cost one probe of a small
-- index: this one holds only unfinished jobs (its size follows the backlog, not the history),
-- keyed by subscription and then by the order key.
--
-- The order key is coalesce(dunning_attempt_date, created_at), then id. Renewal events carry the
-- dunning date Cleeng scheduled them for; a termination has none, and is ordered by when payorch
-- received it: Cleeng sends it after the renewal events it ends, whose dunning dates lie in the
-- past by then, so it sorts after them. id breaks ties (arrival order).
CREATE INDEX jobs_subscription_unfinished_idx
    ON jobs (broadcaster_id, subscription_id, (coalesce(dunning_attempt_date, created_at)), id)
    WHERE state IN ('queued', 'running', 'in_doubt');

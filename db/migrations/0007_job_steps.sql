-- Recovery points of the Cleeng flows (services/cleeng/flows.hpp, docs/cleeng.md).
--
-- A job that reports to Cleeng runs several steps (create the order, call the adapter, report the
-- payment, ...). Each completed step is one row, written (fenced by the job's fence) before the
-- next step starts, so an attempt that dies between two steps is resumed after the last recorded
-- one by the next attempt, with what that step produced (the Cleeng order id and amount, the
-- gateway's answer, the Cleeng payment id). Insert-only: a step is recorded once per job.
CREATE TABLE job_steps (
    -- Cascades so that a retention job deleting old jobs takes their steps along.
    job_id      bigint      NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step        text        NOT NULL CHECK (step <> ''),
    -- The fence of the attempt that recorded the step (an attempt whose lease was lost records
    -- nothing).
    fence       bigint      NOT NULL,
    result      jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, step)
);

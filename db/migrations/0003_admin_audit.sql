-- Operator actions (payorch-admin jobs replay / jobs cancel) and what the admin filters need.

-- One row per job an operator action changed, inserted by the same statement (so the same
-- transaction) as the change itself. `operation_id` groups the rows of one command ("which jobs"
-- a bulk replay touched); the previous_* columns keep what the change overwrote.
CREATE SEQUENCE job_audit_operation_seq;

CREATE TABLE job_audit (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    operation_id         bigint      NOT NULL,
    job_id               bigint      NOT NULL REFERENCES jobs (id),
    action               text        NOT NULL CHECK (action IN ('replay', 'cancel')),
    actor                text        NOT NULL CHECK (actor <> ''),
    reason               text        NOT NULL CHECK (reason <> ''),
    previous_state       text        NOT NULL,
    new_state            text        NOT NULL,
    previous_attempts    integer     NOT NULL,
    previous_outcome     text,
    previous_last_error  text,
    created_at           timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX job_audit_job_idx ON job_audit (job_id, id);

CREATE OR REPLACE FUNCTION job_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'job_audit is append-only';
END;
$$;

CREATE TRIGGER job_audit_no_update_or_delete
    BEFORE UPDATE OR DELETE ON job_audit
    FOR EACH ROW EXECUTE FUNCTION job_audit_append_only();

-- A replay gives a job a fresh attempt budget without renumbering its attempts (job_attempts is
-- unique on (job_id, attempt) and append-only): the replay stores the attempts spent so far here,
-- and the attempts that count against the worker's --max-attempts are attempts - attempts_at_replay.
ALTER TABLE jobs ADD COLUMN attempts_at_replay integer NOT NULL DEFAULT 0
    CHECK (attempts_at_replay >= 0);

-- jobs list: newest first without a state filter, "used this adapter", finished since/until.
CREATE INDEX jobs_created_idx ON jobs (created_at DESC, id DESC);
CREATE INDEX job_attempts_adapter_idx ON job_attempts (adapter, job_id);
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE finished_at IS NOT NULL;

-- Jobs, their attempts, and the events payorch received but does not act on.
--
-- A job is one distinct Cleeng event (see services/core/event.hpp for how the event key is
-- derived). The event key is unique: however often and however concurrently an event is
-- delivered, it makes one row. Rows are never deleted by the running system.

CREATE TABLE jobs (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Identity of the event, and the key every gateway call for this job carries.
    event_key             text        NOT NULL UNIQUE,
    idempotency_key       text        NOT NULL UNIQUE,
    -- Normalised envelope fields (ids are text whatever JSON type Cleeng used).
    broadcaster_id        bigint      NOT NULL,
    topic                 text        NOT NULL,
    subscription_id       text        NOT NULL,
    payment_gateway       text,
    payment_method_id     text,
    dunning_attempt_date  timestamptz,
    -- The body exactly as received (it holds the token and personal data: never log it).
    raw_event             text        NOT NULL,
    -- Lifecycle. queued and in_doubt are claimable once run_after has passed; running is owned
    -- by locked_by until locked_until; succeeded, dead and cancelled are final.
    state                 text        NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'in_doubt', 'succeeded', 'dead', 'cancelled')),
    run_after             timestamptz NOT NULL DEFAULT now(),
    attempts              integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- Fencing token: bumped on every claim; every write for an attempt checks it.
    fence                 bigint      NOT NULL DEFAULT 0,
    locked_by             text,
    locked_until          timestamptz,
    -- Business outcome (approved, declined) once succeeded, and the last error or dead reason.
    outcome               text,
    gateway_reference     text,
    decline_code          text,
    last_error            text,
    -- Deliveries of the same event (Cleeng may resend).
    deliveries            integer     NOT NULL DEFAULT 1,
    last_delivery_at      timestamptz NOT NULL DEFAULT now(),
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    finished_at           timestamptz,
    CONSTRAINT jobs_final_has_finished_at
        CHECK ((state IN ('succeeded', 'dead', 'cancelled')) = (finished_at IS NOT NULL)),
    CONSTRAINT jobs_running_has_lease
        CHECK (state <> 'running' OR (locked_by IS NOT NULL AND locked_until IS NOT NULL))
);

-- What the claim query scans: only unfinished jobs, so its cost does not grow with history.
CREATE INDEX jobs_due_idx ON jobs (run_after, id) WHERE state IN ('queued', 'in_doubt');
CREATE INDEX jobs_running_lease_idx ON jobs (locked_until) WHERE state = 'running';
CREATE INDEX jobs_subscription_idx ON jobs (subscription_id, id);
CREATE INDEX jobs_state_created_idx ON jobs (state, created_at DESC, id DESC);

-- Append-only: one row per execution of a job by a worker, written when the attempt ends.
CREATE TABLE job_attempts (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id             bigint      NOT NULL REFERENCES jobs (id),
    attempt            integer     NOT NULL CHECK (attempt >= 1),
    fence              bigint      NOT NULL,
    worker_id          text        NOT NULL,
    adapter            text        NOT NULL,
    -- The RPC called (Authorize, Capture, Terminate, GetPaymentStatus) and a summary of the
    -- request without secrets.
    rpc                text        NOT NULL,
    request_summary    text        NOT NULL DEFAULT '',
    started_at         timestamptz NOT NULL,
    finished_at        timestamptz NOT NULL,
    -- gRPC status code name (OK, UNAVAILABLE, ...) and the gateway's business result if OK.
    grpc_status        text        NOT NULL,
    gateway_status     text,
    gateway_reference  text,
    decline_code       text,
    error              text,
    -- What the worker decided: succeeded, retry, in_doubt, dead, or lease_expired for attempts
    -- whose worker vanished.
    decision           text        NOT NULL,
    UNIQUE (job_id, attempt)
);

CREATE OR REPLACE FUNCTION job_attempts_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'job_attempts is append-only';
END;
$$;

CREATE TRIGGER job_attempts_no_update_or_delete
    BEFORE UPDATE OR DELETE ON job_attempts
    FOR EACH ROW EXECUTE FUNCTION job_attempts_append_only();

-- Events with a topic payorch does not act on, kept for audit. Not jobs.
CREATE TABLE ignored_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    broadcaster_id  bigint,
    topic           text        NOT NULL,
    raw_event       text        NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);

-- Workers LISTEN on this channel; inserting a job wakes them (polling remains the fallback).
CREATE OR REPLACE FUNCTION jobs_notify_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('payorch_jobs', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER jobs_notify_after_insert
    AFTER INSERT ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify_inserted();

-- The idempotency key is derived from the event key alone (services/core/event.hpp), so its
-- uniqueness follows from jobs.event_key's. As a second UNIQUE constraint it did harm: the
-- ingress inserts with ON CONFLICT (event_key), and when two transactions insert the same new
-- event at once, PostgreSQL resolves the conflict on the arbiter (event_key) but raises a unique
-- violation on any other unique index, failing the batch with a 503. It also cost one index
-- update per insert. Nothing looks jobs up by idempotency key.
ALTER TABLE jobs DROP CONSTRAINT jobs_idempotency_key_key;

#pragma once

// How SQL finds an event key in job_event_keys. Its unique index (migration 0008) is
// ((split_part(event_key, '|', -1)), event_key): the key's last field (the dunning or expiration
// date), then the key. PostgreSQL uses that index only for a condition, or infers it as an
// ON CONFLICT target only for a column list, that names both expressions exactly as the index
// does; these macros are the one place that spells them, for db/job_intake.cpp,
// db/job_queries.cpp and db/job_retention.cpp. They expand to string literals, so statements
// stay compile-time constants. A change here needs a migration that rebuilds the index.

// The ON CONFLICT target of an insert into job_event_keys.
#define PAYORCH_EVENT_KEY_CONFLICT_TARGET "((split_part(event_key, '|', -1)), event_key)"

// A condition true when the stored key (a column of job_event_keys) equals `wanted` (a column or
// parameter), written so that the unique index serves it.
#define PAYORCH_EVENT_KEY_MATCHES(stored, wanted)                                        \
  "split_part(" stored ", '|', -1) = split_part(" wanted ", '|', -1) AND " stored " = " \
  wanted

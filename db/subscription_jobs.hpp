#pragma once

// The jobs of one subscription, as SQL text for the statements that need all of them (migration
// 0010). No index holds every job by subscription: finished jobs are in the hash index
// jobs_finished_subscription_idx, unfinished ones in the B-tree jobs_subscription_unfinished_idx
// (0002). This reads each through its own index, as a UNION ALL of the two state sets; one
// statement reads both on one snapshot, so a job that finishes meanwhile is seen once.
//
// `columns` is the select list; `condition` selects the subscription and must not name `state`.
// Both are string literals, and so is the result (a macro: it is concatenated into the
// statements' literals at compile time).
#define PAYORCH_SUBSCRIPTION_JOBS(columns, condition)                              \
  "SELECT " columns " FROM jobs WHERE " condition                                  \
  " AND state IN ('succeeded', 'dead', 'cancelled')"                               \
  " UNION ALL SELECT " columns " FROM jobs WHERE " condition                       \
  " AND state IN ('queued', 'running', 'in_doubt')"

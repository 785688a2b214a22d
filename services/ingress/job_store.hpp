#pragma once

#include <cstdint>
#include <functional>
#include <variant>

#include "db/job_intake.hpp"

namespace payorch::ingress {

// What the request handler asks the store to make durable, or to check.
struct ReadinessProbe {};
using IntakeItem = std::variant<db::NewJob, db::IgnoredEvent, ReadinessProbe>;

// The store's answer for one item.
struct StoreOutcome {
  enum class Kind {
    kStored,       // committed; job_id/duplicate are set for a NewJob
    kReady,        // ReadinessProbe: database reachable and migrations current
    kNotReady,     // ReadinessProbe: reachable but migrations not current
    kUnavailable,  // the database failed or is unreachable: nothing may be reported as stored
    kOverloaded,   // the bounded queue is full; nothing was attempted
  };
  Kind kind = Kind::kUnavailable;
  std::int64_t job_id = 0;
  bool duplicate = false;
};

// Where the ingress stores what it receives. The production implementation is JobWriter
// (PostgreSQL on its own threads); unit tests of the request handler use an in-memory one.
class JobStore {
 public:
  using Completion = std::function<void(StoreOutcome)>;
  virtual ~JobStore() = default;

  // Takes `item` and calls `done` exactly once, from any thread (the caller hops back to its own
  // executor), possibly before Submit returns (kOverloaded). `done` must not block.
  virtual void Submit(IntakeItem item, Completion done) = 0;
};

}  // namespace payorch::ingress

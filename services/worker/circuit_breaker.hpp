#pragma once

#include <grpcpp/support/status_code_enum.h>

#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <string_view>

namespace payorch::worker {

// When the breaker opens and how long it stays open.
struct BreakerPolicy {
  // Consecutive adapter failures (IsAdapterFailure) that open the breaker.
  int failure_threshold = 5;
  // How long an open breaker refuses calls before it lets one probe through; also the delay after
  // which parked jobs become claimable again.
  std::chrono::milliseconds probe_interval{2000};
};

// True for the gRPC codes that say the adapter is unreachable, overloaded or too slow
// (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED). Business answers (APPROVED, DECLINED)
// and request errors (INVALID_ARGUMENT, ...) are the adapter working, not failing.
[[nodiscard]] bool IsAdapterFailure(grpc::StatusCode code);

// A circuit breaker as a pure state machine: time is passed in, nothing sleeps, not thread-safe
// (AdapterGate locks around it).
//   closed     every call is admitted; `failure_threshold` consecutive failures open it
//   open       no call is admitted until probe_interval has passed since it opened; then the
//              next Admit turns it half-open and admits that one call (the probe)
//   half-open  no call is admitted while the probe is out; the probe's success closes the breaker,
//              its failure opens it again for another probe_interval
class CircuitBreaker {
 public:
  enum class State { kClosed = 0, kOpen = 1, kHalfOpen = 2 };
  using TimePoint = std::chrono::steady_clock::time_point;

  struct Admission {
    bool allowed = true;
    // When refused: how long until a call may be admitted again (at least 1 ms).
    std::chrono::milliseconds retry_after{0};
  };

  explicit CircuitBreaker(BreakerPolicy policy) : policy_(policy) {}
  // A new policy (a reload); the state and failure count stay.
  void SetPolicy(BreakerPolicy policy) { policy_ = policy; }

  [[nodiscard]] Admission Admit(TimePoint now);
  // The end of an admitted call. A call that is neither (it was never made) must not be reported.
  void RecordSuccess();
  void RecordFailure(TimePoint now);
  // An admitted call that was not made after all (the job needed no call): a probe that was not
  // made leaves the breaker open with the probe due at once.
  void RecordNoCall();

  [[nodiscard]] State state() const { return state_; }
  // Without changing state: how long until Admit could admit a call (0 when it could now).
  [[nodiscard]] std::chrono::milliseconds TimeUntilAdmission(TimePoint now) const;

 private:
  BreakerPolicy policy_;
  State state_ = State::kClosed;
  int consecutive_failures_ = 0;
  TimePoint opened_at_{};
};

[[nodiscard]] std::string_view BreakerStateName(CircuitBreaker::State state);

// The per-adapter limits in front of every call: at most `max_in_flight` calls at once, and a
// circuit breaker. Thread-safe, never blocks. Use: TryAcquire ->
//   kAdmitted: make the call, then Release with its gRPC code (ReleaseWithoutCall if none was made);
//   kRefused:  the breaker refuses: make no call, park the job for `retry_after`;
//   kFull:     at the in-flight limit: the gate keeps `on_free` and calls it once (outside its
//              lock, on the thread that frees room) when a call ends or the limit rises; the
//              caller then tries again. No thread waits, so one adapter at its limit never holds
//              up calls to another.
class AdapterGate {
 public:
  using Clock = std::chrono::steady_clock;
  AdapterGate(int max_in_flight, BreakerPolicy policy)
      : max_in_flight_(max_in_flight), breaker_(policy) {}

  struct Entry {
    enum class Kind { kAdmitted, kRefused, kFull };
    Kind kind = Kind::kAdmitted;
    std::chrono::milliseconds retry_after{0};  // kRefused
  };
  [[nodiscard]] Entry TryAcquire(std::function<void()> on_free);
  void Release(grpc::StatusCode code);
  // For an admission whose call was not made.
  void ReleaseWithoutCall();
  // A reload's new limits for the same adapter: the in-flight count and breaker state stay.
  void SetLimits(int max_in_flight, BreakerPolicy policy);

  [[nodiscard]] CircuitBreaker::State state();
  // How long until the breaker could admit a call (0 when it could now).
  [[nodiscard]] std::chrono::milliseconds TimeUntilAdmission();
  [[nodiscard]] int in_flight();
  // Jobs waiting for room (kFull, not yet called back).
  [[nodiscard]] int waiting();

 private:
  // Ends one call under the lock; wakes the next waiter outside it.
  void Freed();

  std::mutex mutex_;
  int max_in_flight_;
  int in_flight_ = 0;
  CircuitBreaker breaker_;
  std::deque<std::function<void()>> waiters_;
};

}  // namespace payorch::worker

#include "services/worker/circuit_breaker.hpp"

#include <algorithm>

namespace payorch::worker {

using std::chrono::milliseconds;

bool IsAdapterFailure(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED ||
         code == grpc::StatusCode::RESOURCE_EXHAUSTED;
}

std::string_view BreakerStateName(CircuitBreaker::State state) {
  switch (state) {
    case CircuitBreaker::State::kClosed: return "closed";
    case CircuitBreaker::State::kOpen: return "open";
    case CircuitBreaker::State::kHalfOpen: return "half_open";
  }
  return "closed";
}

CircuitBreaker::Admission CircuitBreaker::Admit(TimePoint now) {
  switch (state_) {
    case State::kClosed: return Admission{true, milliseconds(0)};
    case State::kOpen: {
      const auto reopen_at = opened_at_ + policy_.probe_interval;
      if (now >= reopen_at) {
        state_ = State::kHalfOpen;  // this call is the probe
        return Admission{true, milliseconds(0)};
      }
      const auto left = std::chrono::duration_cast<milliseconds>(reopen_at - now);
      return Admission{false, std::max(left, milliseconds(1))};
    }
    case State::kHalfOpen:
      return Admission{false, std::max(policy_.probe_interval, milliseconds(1))};
  }
  return Admission{};
}

milliseconds CircuitBreaker::TimeUntilAdmission(TimePoint now) const {
  switch (state_) {
    case State::kClosed: return milliseconds(0);
    case State::kOpen: {
      const auto reopen_at = opened_at_ + policy_.probe_interval;
      if (now >= reopen_at) return milliseconds(0);
      return std::max(std::chrono::duration_cast<milliseconds>(reopen_at - now), milliseconds(1));
    }
    case State::kHalfOpen: return std::max(policy_.probe_interval, milliseconds(1));
  }
  return milliseconds(0);
}

// Any success closes the breaker, also one of a call admitted before it opened: the adapter has
// just shown it works.
void CircuitBreaker::RecordSuccess() {
  state_ = State::kClosed;
  consecutive_failures_ = 0;
}

void CircuitBreaker::RecordNoCall() {
  if (state_ == State::kHalfOpen) {
    state_ = State::kOpen;
    opened_at_ = TimePoint::min();  // the probe interval has long passed: the next Admit probes
  }
}

void CircuitBreaker::RecordFailure(TimePoint now) {
  ++consecutive_failures_;
  // A failed probe reopens at once; a closed breaker opens at the threshold. A failure reported
  // while already open (a call admitted before it opened) changes nothing but the count.
  if (state_ == State::kHalfOpen ||
      (state_ == State::kClosed && consecutive_failures_ >= policy_.failure_threshold)) {
    state_ = State::kOpen;
    opened_at_ = now;
  }
}

AdapterGate::Entry AdapterGate::TryAcquire(std::function<void()> on_free) {
  std::lock_guard lock(mutex_);
  if (in_flight_ >= max_in_flight_) {
    waiters_.push_back(std::move(on_free));
    return Entry{Entry::Kind::kFull, milliseconds(0)};
  }
  const auto admission = breaker_.Admit(Clock::now());
  if (!admission.allowed) return Entry{Entry::Kind::kRefused, admission.retry_after};
  ++in_flight_;
  return Entry{Entry::Kind::kAdmitted, milliseconds(0)};
}

void AdapterGate::Freed() {
  std::function<void()> next;
  {
    std::lock_guard lock(mutex_);
    if (waiters_.empty() || in_flight_ >= max_in_flight_) return;
    next = std::move(waiters_.front());
    waiters_.pop_front();
  }
  next();
}

void AdapterGate::Release(grpc::StatusCode code) {
  {
    std::lock_guard lock(mutex_);
    --in_flight_;
    if (IsAdapterFailure(code)) {
      breaker_.RecordFailure(Clock::now());
    } else {
      breaker_.RecordSuccess();
    }
  }
  Freed();
}

void AdapterGate::ReleaseWithoutCall() {
  {
    std::lock_guard lock(mutex_);
    --in_flight_;
    breaker_.RecordNoCall();
  }
  Freed();
}

void AdapterGate::SetLimits(int max_in_flight, BreakerPolicy policy) {
  int room = 0;
  {
    std::lock_guard lock(mutex_);
    max_in_flight_ = max_in_flight;
    breaker_.SetPolicy(policy);
    room = std::max(0, max_in_flight_ - in_flight_);
  }
  for (int i = 0; i < room; ++i) Freed();
}

int AdapterGate::waiting() {
  std::lock_guard lock(mutex_);
  return static_cast<int>(waiters_.size());
}

CircuitBreaker::State AdapterGate::state() {
  std::lock_guard lock(mutex_);
  return breaker_.state();
}

milliseconds AdapterGate::TimeUntilAdmission() {
  std::lock_guard lock(mutex_);
  return breaker_.TimeUntilAdmission(Clock::now());
}

int AdapterGate::in_flight() {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

}  // namespace payorch::worker

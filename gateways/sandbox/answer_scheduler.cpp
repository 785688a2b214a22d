#include "gateways/sandbox/answer_scheduler.hpp"

#include <vector>

namespace payorch::gateways::sandbox {

bool InFlightCalls::TryEnter() {
  std::lock_guard lock(mutex_);
  if (count_ >= limit_) return false;
  ++count_;
  return true;
}

void InFlightCalls::Exit() {
  std::lock_guard lock(mutex_);
  if (--count_ == 0) idle_.notify_all();
}

bool InFlightCalls::WaitIdle(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return idle_.wait_until(lock, deadline, [this] { return count_ == 0; });
}

void ScheduledAnswer::OnCancel() { scheduler_.AnswerEarly(this); }

void ScheduledAnswer::Answer() {
  InFlightCalls& in_flight = in_flight_;
  Finish(std::move(status_));
  in_flight.Exit();
}

AnswerScheduler::AnswerScheduler() : timer_([this] { Run(); }) {}

AnswerScheduler::~AnswerScheduler() {
  AnswerAllNow();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  timer_.join();
}

void AnswerScheduler::Schedule(ScheduledAnswer* call, std::chrono::steady_clock::time_point due) {
  {
    std::lock_guard lock(mutex_);
    if (!open_) {
      call->key_ = {due, arrivals_++};
      const bool earliest = pending_.empty() || call->key_ < pending_.begin()->first;
      pending_.emplace(call->key_, call);
      if (earliest) changed_.notify_one();
      return;
    }
  }
  call->Answer();
}

void AnswerScheduler::AnswerEarly(ScheduledAnswer* call) {
  {
    std::lock_guard lock(mutex_);
    // Not found: answered already (by the timer or shutdown), or being answered right now.
    const auto found = pending_.find(call->key_);
    if (found == pending_.end() || found->second != call) return;
    pending_.erase(found);
  }
  call->Answer();
}

void AnswerScheduler::AnswerAllNow() {
  std::map<ScheduledAnswer::Key, ScheduledAnswer*> all;
  {
    std::lock_guard lock(mutex_);
    open_ = true;
    all.swap(pending_);
  }
  for (const auto& [key, call] : all) call->Answer();
}

void AnswerScheduler::Run() {
  std::vector<ScheduledAnswer*> due;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (pending_.empty()) {
      changed_.wait(lock);
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    const auto first = pending_.begin()->first.first;
    if (first > now) {
      changed_.wait_until(lock, first);
      continue;
    }
    // Answer outside the lock: Finish may run gRPC work, and OnCancel takes the lock.
    while (!pending_.empty() && pending_.begin()->first.first <= now) {
      due.push_back(pending_.begin()->second);
      pending_.erase(pending_.begin());
    }
    lock.unlock();
    for (ScheduledAnswer* call : due) call->Answer();
    due.clear();
    lock.lock();
  }
}

}  // namespace payorch::gateways::sandbox

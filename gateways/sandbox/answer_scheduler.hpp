#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include <grpcpp/grpcpp.h>

namespace payorch::gateways::sandbox {

// The default and the largest bound on PaymentGateway calls in flight (--max-in-flight). Each
// pending call costs a few KB (its request, response and reactor), so the default is well under
// 100 MB while far above what payorch's worker keeps in flight.
inline constexpr int kDefaultMaxInFlight = 10'000;
inline constexpr int kMaxMaxInFlight = 1'000'000;

// Counts the PaymentGateway calls in flight (from the start of a call until its Finish is
// issued), so that shutdown can wait for them and then close at once (gRPC's Shutdown(deadline)
// otherwise also waits out the deadline for idle client connections, which only notice the GOAWAY
// at their next poll), and so that their number is bounded explicitly: with the callback API no
// thread pool bounds it any more.
class InFlightCalls {
 public:
  explicit InFlightCalls(int limit) : limit_(limit) {}

  // Counts one more call; false (and nothing counted) when `limit` calls are in flight already.
  [[nodiscard]] bool TryEnter();
  // The call's Finish has been issued.
  void Exit();
  // True when no call is in flight, false when some still are at `deadline`.
  bool WaitIdle(std::chrono::steady_clock::time_point deadline);

  int limit() const { return limit_; }

 private:
  const int limit_;
  std::mutex mutex_;
  std::condition_variable idle_;
  int count_ = 0;
};

class AnswerScheduler;

// A call answered later, by the AnswerScheduler: its response message is filled already and its
// status decided, only the answer waits. Owns itself (created with new, deleted by gRPC's OnDone,
// which comes after Finish). Finish is issued exactly once, by whoever removes the call from the
// scheduler: the timer at its due time, OnCancel (client cancelled or deadline passed), or
// shutdown.
class ScheduledAnswer final : public grpc::ServerUnaryReactor {
 public:
  // `in_flight` has counted the call (TryEnter); Exit is called once Finish is issued.
  ScheduledAnswer(AnswerScheduler& scheduler, InFlightCalls& in_flight, grpc::Status status)
      : scheduler_(scheduler), in_flight_(in_flight), status_(std::move(status)) {}

  // The client has gone: nobody waits for the scripted delay any more.
  void OnCancel() override;
  void OnDone() override { delete this; }

 private:
  friend class AnswerScheduler;
  using Key = std::pair<std::chrono::steady_clock::time_point, std::uint64_t>;

  // Finish, then Exit. Touches nothing of *this after Finish (OnDone may delete it at once).
  void Answer();

  AnswerScheduler& scheduler_;
  InFlightCalls& in_flight_;
  grpc::Status status_;
  Key key_;  // its place in the scheduler's queue; guarded by the scheduler's mutex
};

// One timer thread that answers delayed calls at their due time, so that no gRPC thread ever
// waits out a scripted delay. The queue is ordered by (due time, arrival) and holds at most the
// calls in flight (InFlightCalls bounds them). An ordered map rather than a heap, so that a
// cancelled call can leave it early.
//
// After AnswerAllNow (shutdown) every pending call is answered at once and so is every call
// scheduled later. Thread-safe.
class AnswerScheduler {
 public:
  AnswerScheduler();
  // Answers whatever is still pending and stops the timer thread.
  ~AnswerScheduler();
  AnswerScheduler(const AnswerScheduler&) = delete;
  AnswerScheduler& operator=(const AnswerScheduler&) = delete;

  // Answers `call` at `due` (at once after AnswerAllNow). After this the caller may only hand
  // `call` to gRPC (return it from the handler): it may be answered already.
  void Schedule(ScheduledAnswer* call, std::chrono::steady_clock::time_point due);
  // Answers `call` now if it is still pending; nothing when it has been answered.
  void AnswerEarly(ScheduledAnswer* call);
  // Ends every scripted delay: answers the pending calls now and later ones at once.
  void AnswerAllNow();

 private:
  void Run();

  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<ScheduledAnswer::Key, ScheduledAnswer*> pending_;
  std::uint64_t arrivals_ = 0;
  bool open_ = false;      // AnswerAllNow has been called
  bool stopping_ = false;  // the destructor runs
  std::thread timer_;      // last: started once the rest is initialised
};

}  // namespace payorch::gateways::sandbox

#include "services/admin/conformance.hpp"

#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <functional>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "payorch/gateway/v1/gateway.grpc.pb.h"

namespace payorch::admin {

namespace {

namespace v1 = payorch::gateway::v1;

enum class Rpc { kAuthorize, kCapture, kTerminate };

const char* RpcName(Rpc rpc) {
  switch (rpc) {
    case Rpc::kAuthorize: return "Authorize";
    case Rpc::kCapture: return "Capture";
    case Rpc::kTerminate: return "Terminate";
  }
  return "?";
}

const char* TopicOf(Rpc rpc) {
  switch (rpc) {
    case Rpc::kAuthorize: return "subscriptionReadyForPaymentAuthorisation";
    case Rpc::kCapture: return "subscriptionReadyForPaymentCapture";
    case Rpc::kTerminate: return "subscriptionReadyForTermination";
  }
  return "";
}

// What one effect-causing call answered.
struct Answer {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  std::string error;  // the status message when not OK
  v1::PaymentResult result;
  bool ok() const { return code == grpc::StatusCode::OK; }
};

struct StatusAnswer {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  std::string error;
  v1::GetPaymentStatusResponse response;
  bool ok() const { return code == grpc::StatusCode::OK; }
};

std::string CodeText(grpc::StatusCode code, const std::string& error) {
  std::string text = GrpcStatusName(static_cast<int>(code));
  if (!error.empty()) text += " (" + error + ")";
  return text;
}

std::string ResultText(const v1::PaymentResult& result) {
  std::string text = v1::PaymentResult::Status_IsValid(result.status())
                         ? v1::PaymentResult::Status_Name(result.status())
                         : "status " + std::to_string(result.status());
  text += result.gateway_reference().empty() ? " without reference"
                                             : " reference " + result.gateway_reference();
  return text;
}

bool SameResult(const v1::PaymentResult& a, const v1::PaymentResult& b) {
  return a.status() == b.status() && a.gateway_reference() == b.gateway_reference();
}

// The adapter, as the suite calls it. Every answer is also recorded for error_code_mapping.
// Thread-safe: the concurrency check calls it from several threads.
class AdapterClient {
 public:
  AdapterClient(const ConformanceOptions& options, std::shared_ptr<grpc::Channel> channel)
      : options_(options), channel_(std::move(channel)), stub_(v1::PaymentGateway::NewStub(channel_)) {}

  // A valid request for `rpc` with `key` (with_meta false: no meta at all).
  Answer Call(Rpc rpc, const std::string& key, std::chrono::milliseconds deadline,
              bool with_meta = true, const std::string& authorization_reference = {}) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + deadline);
    Answer answer;
    grpc::Status status;
    switch (rpc) {
      case Rpc::kAuthorize: {
        v1::AuthorizeRequest request;
        Fill(rpc, key, with_meta, request);
        SetAmount(*request.mutable_amount());
        status = stub_->Authorize(&context, request, &answer.result);
        break;
      }
      case Rpc::kCapture: {
        v1::CaptureRequest request;
        Fill(rpc, key, with_meta, request);
        SetAmount(*request.mutable_amount());
        request.set_authorization_reference(authorization_reference);
        status = stub_->Capture(&context, request, &answer.result);
        break;
      }
      case Rpc::kTerminate: {
        v1::TerminateRequest request;
        Fill(rpc, key, with_meta, request);
        request.set_authorization_reference(authorization_reference);
        status = stub_->Terminate(&context, request, &answer.result);
        break;
      }
    }
    answer.code = status.error_code();
    answer.error = status.error_message();
    Record(RpcName(rpc), answer.code, answer.ok() ? &answer.result : nullptr);
    return answer;
  }

  Answer Call(Rpc rpc, const std::string& key) { return Call(rpc, key, options_.timeout); }

  StatusAnswer GetStatus(const std::string& key) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + options_.timeout);
    v1::GetPaymentStatusRequest request;
    request.set_idempotency_key(key);
    StatusAnswer answer;
    const grpc::Status status = stub_->GetPaymentStatus(&context, request, &answer.response);
    answer.code = status.error_code();
    answer.error = status.error_message();
    const bool found = answer.ok() && answer.response.found();
    Record("GetPaymentStatus", answer.code, found ? &answer.response.result() : nullptr);
    return answer;
  }

  // Everything error_code_mapping objects to, over every answer so far.
  std::vector<std::string> Violations() const {
    std::lock_guard lock(mutex_);
    return violations_;
  }
  int answers() const {
    std::lock_guard lock(mutex_);
    return answers_;
  }

 private:
  template <typename Request>
  void Fill(Rpc rpc, const std::string& key, bool with_meta, Request& request) {
    if (with_meta) {
      request.mutable_meta()->set_idempotency_key(key);
      request.mutable_meta()->set_attempt(1);
    }
    auto& event = *request.mutable_event();
    event.set_broadcaster_id(1);
    event.set_topic(TopicOf(rpc));
    event.set_subscription_id("conformance");
    event.set_offer_id("conformance");
    event.set_customer_id("conformance");
    event.set_currency("USD");
    event.set_token(options_.token);
  }

  static void SetAmount(v1::Money& money) {
    money.set_amount_minor(100);
    money.set_currency("USD");
  }

  // `result` is the result an OK answer carried (null for errors and found=false).
  void Record(const char* rpc, grpc::StatusCode code, const v1::PaymentResult* result) {
    std::optional<std::string> problem;
    if (!IsDocumentedCode(static_cast<int>(code))) {
      problem = std::string(rpc) + " answered " + GrpcStatusName(static_cast<int>(code)) +
                ", a code the contract does not name";
    } else if (result != nullptr && result->status() == v1::PaymentResult::STATUS_UNSPECIFIED) {
      problem = std::string(rpc) + " answered OK with STATUS_UNSPECIFIED";
    } else if (result != nullptr && !v1::PaymentResult::Status_IsValid(result->status())) {
      problem =
          std::string(rpc) + " answered OK with unknown status " + std::to_string(result->status());
    }
    std::lock_guard lock(mutex_);
    ++answers_;
    // Bounded: the first few say enough.
    if (problem && violations_.size() < 5) violations_.push_back(*problem);
  }

  const ConformanceOptions& options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::PaymentGateway::Stub> stub_;
  mutable std::mutex mutex_;
  std::vector<std::string> violations_;
  int answers_ = 0;
};

CheckResult Pass(const char* name, std::string reason) {
  return {name, true, std::move(reason)};
}
CheckResult Fail(const char* name, std::string reason) {
  return {name, false, std::move(reason)};
}

// Each check as a function of the client and its own keys.
class Suite {
 public:
  Suite(const ConformanceOptions& options, std::shared_ptr<grpc::Channel> channel)
      : options_(options), client_(options, std::move(channel)) {}

  std::vector<CheckResult> Run() {
    std::vector<CheckResult> checks;
    checks.push_back(Valid(kCheckAuthorize, Rpc::kAuthorize));
    checks.push_back(Valid(kCheckCapture, Rpc::kCapture));
    checks.push_back(Valid(kCheckTerminate, Rpc::kTerminate));
    checks.push_back(MissingMeta());
    checks.push_back(EmptyKey());
    checks.push_back(Repeat());
    checks.push_back(KnownKey());
    checks.push_back(Concurrent());
    checks.push_back(UnknownKey());
    checks.push_back(ShortDeadline());
    checks.push_back(ErrorCodes());
    return checks;
  }

 private:
  std::string NextKey() { return ConformanceKey(options_.run_id, ++key_count_); }

  // OK, a known status other than STATUS_UNSPECIFIED, and a reference when APPROVED; empty
  // when so, else what is wrong.
  static std::string Problem(const Answer& answer) {
    if (!answer.ok()) return CodeText(answer.code, answer.error);
    const auto status = answer.result.status();
    if (status == v1::PaymentResult::STATUS_UNSPECIFIED) return "OK with STATUS_UNSPECIFIED";
    if (!v1::PaymentResult::Status_IsValid(status)) {
      return "OK with unknown status " + std::to_string(status);
    }
    if (status == v1::PaymentResult::APPROVED && answer.result.gateway_reference().empty()) {
      return "APPROVED without a gateway_reference";
    }
    return {};
  }

  CheckResult Valid(const char* name, Rpc rpc) {
    const auto key = NextKey();
    const auto answer = client_.Call(rpc, key, options_.timeout, true, authorization_reference_);
    if (auto problem = Problem(answer); !problem.empty()) {
      return Fail(name, std::string(RpcName(rpc)) + " " + key + ": " + problem);
    }
    // Capture and Terminate name the authorisation made just before, as payorch would.
    if (rpc == Rpc::kAuthorize) authorization_reference_ = answer.result.gateway_reference();
    return Pass(name, ResultText(answer.result));
  }

  // Authorize, Capture and Terminate must each answer INVALID_ARGUMENT to the request `what`
  // describes: permanent, so payorch marks the job dead instead of retrying a broken request.
  CheckResult Invalid(const char* name, const std::string& what, bool with_meta) {
    std::string problems;
    for (Rpc rpc : {Rpc::kAuthorize, Rpc::kCapture, Rpc::kTerminate}) {
      const auto answer = client_.Call(rpc, "", options_.timeout, with_meta);
      if (answer.code == grpc::StatusCode::INVALID_ARGUMENT) continue;
      std::string problem =
          std::string(RpcName(rpc)) + " answered " +
          (answer.ok() ? "OK " + ResultText(answer.result) : CodeText(answer.code, answer.error));
      if (IsTransientCode(static_cast<int>(answer.code))) {
        problem += " (transient: payorch would retry it forever)";
      } else if (IsInDoubtCode(static_cast<int>(answer.code))) {
        problem += " (in doubt: payorch would ask GetPaymentStatus and retry)";
      }
      problems += (problems.empty() ? "" : "; ") + problem;
    }
    if (!problems.empty()) return Fail(name, what + ": want INVALID_ARGUMENT; " + problems);
    return Pass(name, what + ": INVALID_ARGUMENT from Authorize, Capture and Terminate");
  }

  CheckResult MissingMeta() { return Invalid(kCheckMissingMeta, "no meta", false); }
  CheckResult EmptyKey() { return Invalid(kCheckEmptyKey, "empty idempotency_key", true); }

  CheckResult Repeat() {
    repeat_key_ = NextKey();
    const auto first = client_.Call(Rpc::kAuthorize, repeat_key_);
    if (auto problem = Problem(first); !problem.empty()) {
      return Fail(kCheckRepeat, "first Authorize " + repeat_key_ + ": " + problem);
    }
    repeat_result_ = first.result;
    const auto second = client_.Call(Rpc::kAuthorize, repeat_key_);
    if (auto problem = Problem(second); !problem.empty()) {
      return Fail(kCheckRepeat, "second Authorize " + repeat_key_ + ": " + problem);
    }
    if (!SameResult(first.result, second.result)) {
      return Fail(kCheckRepeat, "key " + repeat_key_ + " answered " + ResultText(first.result) +
                                    ", then " + ResultText(second.result) + " (a second effect?)");
    }
    return Pass(kCheckRepeat, "twice " + ResultText(first.result));
  }

  CheckResult KnownKey() {
    if (!repeat_result_)
      return Fail(kCheckKnownKey,
                  "not run: " + std::string(kCheckRepeat) + " got no result to look up");
    const auto answer = client_.GetStatus(repeat_key_);
    if (!answer.ok()) return Fail(kCheckKnownKey, CodeText(answer.code, answer.error));
    if (!answer.response.found()) {
      return Fail(kCheckKnownKey, "found=false for " + repeat_key_ + ", which answered " +
                                      ResultText(*repeat_result_));
    }
    if (!SameResult(answer.response.result(), *repeat_result_)) {
      return Fail(kCheckKnownKey, "found " + ResultText(answer.response.result()) +
                                      ", but the first Authorize answered " +
                                      ResultText(*repeat_result_));
    }
    return Pass(kCheckKnownKey, "found " + ResultText(answer.response.result()));
  }

  CheckResult Concurrent() {
    const auto key = NextKey();
    std::vector<Answer> answers(kConcurrentCalls);
    {
      // All threads start their call at once, to make the adapter's first-call race likely.
      std::latch start(kConcurrentCalls);
      std::vector<std::jthread> threads;
      threads.reserve(kConcurrentCalls);
      for (int i = 0; i < kConcurrentCalls; ++i) {
        threads.emplace_back([&, i] {
          start.arrive_and_wait();
          answers[i] = client_.Call(Rpc::kAuthorize, key);
        });
      }
    }
    std::set<std::string> results;
    for (const auto& answer : answers) {
      if (auto problem = Problem(answer); !problem.empty()) {
        return Fail(kCheckConcurrent, "one of " + std::to_string(kConcurrentCalls) +
                                          " concurrent Authorize " + key + ": " + problem);
      }
      results.insert(ResultText(answer.result));
    }
    if (results.size() > 1) {
      std::string seen;
      for (const auto& result : results) seen += (seen.empty() ? "" : ", ") + result;
      return Fail(kCheckConcurrent, std::to_string(results.size()) + " different results for " +
                                        std::to_string(kConcurrentCalls) +
                                        " concurrent calls with key " + key + ": " + seen);
    }
    return Pass(kCheckConcurrent, std::to_string(kConcurrentCalls) + " times " + *results.begin());
  }

  CheckResult UnknownKey() {
    const auto key = NextKey();
    for (const char* when : {"first", "second"}) {
      const auto answer = client_.GetStatus(key);
      if (!answer.ok()) {
        return Fail(kCheckUnknownKey, std::string(when) + " lookup of unused key " + key + ": " +
                                          CodeText(answer.code, answer.error));
      }
      if (answer.response.found()) {
        return Fail(
            kCheckUnknownKey,
            std::string(when) + " lookup of unused key " + key + " found " +
                ResultText(answer.response.result()) +
                (std::string(when) == "second" ? " (the first lookup caused an effect)" : ""));
      }
    }
    return Pass(kCheckUnknownKey, "found=false, twice");
  }

  CheckResult ShortDeadline() {
    const auto key = NextKey();
    const auto hurried = client_.Call(Rpc::kAuthorize, key, kShortDeadline);
    if (!hurried.ok() && hurried.code != grpc::StatusCode::DEADLINE_EXCEEDED) {
      return Fail(kCheckShortDeadline,
                  "Authorize with a 1 ms deadline: want DEADLINE_EXCEEDED "
                  "or OK, got " +
                      CodeText(hurried.code, hurried.error));
    }
    const auto normal = client_.Call(Rpc::kAuthorize, key);
    if (auto problem = Problem(normal); !problem.empty()) {
      return Fail(kCheckShortDeadline,
                  "Authorize " + key + " after a 1 ms deadline call: " + problem);
    }
    if (hurried.ok() && !SameResult(hurried.result, normal.result)) {
      return Fail(kCheckShortDeadline, "the 1 ms call answered " + ResultText(hurried.result) +
                                           ", the retry " + ResultText(normal.result));
    }
    const auto status = client_.GetStatus(key);
    if (!status.ok()) {
      return Fail(kCheckShortDeadline, "GetPaymentStatus: " + CodeText(status.code, status.error));
    }
    if (!status.response.found() || !SameResult(status.response.result(), normal.result)) {
      return Fail(kCheckShortDeadline,
                  "the retry answered " + ResultText(normal.result) + ", GetPaymentStatus " +
                      (status.response.found() ? "found " + ResultText(status.response.result())
                                               : std::string("found=false")));
    }
    return Pass(kCheckShortDeadline, std::string("1 ms call ") +
                                         (hurried.ok() ? "OK" : "DEADLINE_EXCEEDED") + ", then " +
                                         ResultText(normal.result));
  }

  CheckResult ErrorCodes() {
    const auto violations = client_.Violations();
    if (violations.empty()) {
      return Pass(kCheckErrorCodes, "every one of " + std::to_string(client_.answers()) +
                                        " answers used a documented code and status");
    }
    std::string reason;
    for (const auto& violation : violations) reason += (reason.empty() ? "" : "; ") + violation;
    return Fail(kCheckErrorCodes, reason);
  }

  const ConformanceOptions& options_;
  AdapterClient client_;
  int key_count_ = 0;
  std::string authorization_reference_;
  std::string repeat_key_;
  std::optional<v1::PaymentResult> repeat_result_;
};

}  // namespace

std::vector<std::string> ConformanceCheckNames() {
  return {kCheckHealth,      kCheckAuthorize,  kCheckCapture,       kCheckTerminate,
          kCheckMissingMeta, kCheckEmptyKey,   kCheckRepeat,        kCheckKnownKey,
          kCheckConcurrent,  kCheckUnknownKey, kCheckShortDeadline, kCheckErrorCodes};
}

bool ConformanceReport::AllPassed() const {
  for (const auto& check : checks) {
    if (!check.passed) return false;
  }
  return !checks.empty();
}

std::vector<std::string> ConformanceReport::FailedNames() const {
  std::vector<std::string> names;
  for (const auto& check : checks) {
    if (!check.passed) names.push_back(check.name);
  }
  return names;
}

std::string NewConformanceRunId(std::uint64_t random) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(random));
  return text;
}

std::string ConformanceKey(std::string_view run_id, int n) {
  return "conf_" + std::string(run_id) + "_" + std::to_string(n);
}

bool IsValidIdempotencyKeyFormat(std::string_view key) {
  if (key.empty() || key.size() > 64) return false;
  for (char c : key) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsDocumentedCode(int code) {
  return code >= 0 && code <= 16 && code != static_cast<int>(grpc::StatusCode::DATA_LOSS);
}

bool IsTransientCode(int code) {
  const auto c = static_cast<grpc::StatusCode>(code);
  return c == grpc::StatusCode::UNAVAILABLE || c == grpc::StatusCode::RESOURCE_EXHAUSTED ||
         c == grpc::StatusCode::ABORTED;
}

bool IsInDoubtCode(int code) {
  const auto c = static_cast<grpc::StatusCode>(code);
  return c == grpc::StatusCode::DEADLINE_EXCEEDED || c == grpc::StatusCode::UNKNOWN ||
         c == grpc::StatusCode::INTERNAL || c == grpc::StatusCode::CANCELLED;
}

ConformanceReport RunConformanceSuite(const ConformanceOptions& options) {
  ConformanceReport report;
  report.health =
      CheckAdapterHealth(options.address, options.service, options.timeout, options.tls);
  const auto& health = report.health;
  if (health.Serving()) {
    report.checks.push_back(Pass(kCheckHealth, "SERVING"));
  } else if (health.serving_status.empty()) {
    report.checks.push_back(Fail(kCheckHealth, health.grpc_status + ": " + health.error));
  } else {
    report.checks.push_back(Fail(kCheckHealth, health.serving_status));
  }

  // Built again after the probe (which has a channel of its own): the checks share one channel.
  auto channel = core::MakeChannel(options.address, options.tls);
  const bool unreachable = !channel || health.grpc_status == "UNAVAILABLE" ||
                           health.grpc_status == "DEADLINE_EXCEEDED";
  if (unreachable) {
    // Every other call would fail the same way, each after its deadline: say so once.
    const std::string reason =
        health.tls_handshake_failed
            ? "not run: the TLS handshake with the adapter failed (see health)"
            : "not run: the adapter is unreachable (health: " + health.grpc_status + ")";
    for (const auto& name : ConformanceCheckNames()) {
      if (name == kCheckHealth) continue;
      report.checks.push_back({name, false, reason});
    }
    return report;
  }
  auto checks = Suite(options, channel.value()).Run();
  report.checks.insert(report.checks.end(), checks.begin(), checks.end());
  return report;
}

}  // namespace payorch::admin

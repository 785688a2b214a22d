#include "services/cleeng/flows.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <map>

#include "db/database.hpp"
#include "db/job_steps.hpp"

namespace payorch::cleeng {
namespace {

namespace json = boost::json;
using Kind = FlowResult::Kind;

std::string Field(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->get_string()) : std::string();
}

std::int64_t Number(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_int64() ? value->get_int64() : 0;
}

// One run of a flow: the job, its recorded steps, and the result being built. Each step method
// returns nullopt to go on, or the result that ends this run.
class Flow {
 public:
  using Stop = std::optional<FlowResult>;

  Flow(pqxx::connection& connection, CleengClient& client, const FlowJob& job,
       const AdapterCall& adapter, const FlowHooks& hooks)
      : connection_(connection), client_(client), job_(job), adapter_(adapter), hooks_(hooks) {}

  FlowResult Run() {
    try {
      for (const auto& [step, text] : db::LoadJobSteps(connection_, job_.id)) {
        steps_[step] = json::parse(text).as_object();
        result_.last_step = step;
      }
    } catch (const db::DatabaseError& e) {
      return End(Kind::kDatabase, std::string("load steps: ") + e.what());
    } catch (const std::exception& e) {
      return End(Kind::kDatabase, std::string("recorded steps do not parse: ") + e.what());
    }
    Stop stop;
    switch (*job_.event.topic) {
      case core::Topic::kAuthorisation: stop = Authorisation(); break;
      case core::Topic::kCapture: stop = Capture(); break;
      case core::Topic::kTermination: stop = Termination(); break;
    }
    if (stop) return std::move(*stop);
    result_.kind = Kind::kSucceeded;
    Summarise();
    return result_;
  }

 private:
  Stop Authorisation() {
    if (auto stop = CreateOrder()) return stop;
    const json::object& order = steps_.at(std::string(kStepOrderCreated));
    if (auto stop = CallAdapter(AdapterRpc::kAuthorize, order, "")) return stop;
    return ReportPayment(PaymentStatus::kAuthorized);
  }

  Stop Capture() {
    if (auto stop = Plan(kStepCapturePlan)) return stop;
    const json::object& plan = steps_.at(std::string(kStepCapturePlan));
    if (Field(plan, "paymentId").empty()) {  // direct charge
      if (auto stop = CreateOrder()) return stop;
      const json::object& order = steps_.at(std::string(kStepOrderCreated));
      if (auto stop = CallAdapter(AdapterRpc::kCapture, order, "")) return stop;
      return ReportPayment(PaymentStatus::kCaptured);
    }
    if (auto stop =
            CallAdapter(AdapterRpc::kCapture, plan, Field(plan, "authorizationReference"))) {
      return stop;
    }
    return Settle(plan, Approved() ? PaymentStatus::kCaptured : PaymentStatus::kRejected);
  }

  Stop Termination() {
    if (auto stop = Plan(kStepReleasePlan)) return stop;
    const json::object& plan = steps_.at(std::string(kStepReleasePlan));
    if (auto stop =
            CallAdapter(AdapterRpc::kTerminate, plan, Field(plan, "authorizationReference"))) {
      return stop;
    }
    if (!Field(plan, "paymentId").empty()) {
      if (auto stop = Settle(plan, PaymentStatus::kCancelled)) return stop;
    }
    if (Has(kStepSubscriptionTerminated)) return std::nullopt;
    auto terminated = client_.TerminateSubscription(job_.event.subscription_id);
    if (!terminated.ok()) return CleengFailed(terminated.error());
    json::object step;
    step["subscriptionId"] = job_.event.subscription_id;
    return Record(kStepSubscriptionTerminated, std::move(step));
  }

  // The open authorisation payorch reported for the subscription, fixed once per job so that a
  // resumed attempt keeps the mode it started with.
  Stop Plan(std::string_view step_name) {
    if (Has(step_name)) return std::nullopt;
    std::optional<db::OpenAuthorization> open;
    try {
      open = db::FindOpenAuthorization(connection_, job_.event.broadcaster_id,
                                       job_.event.subscription_id, kStepPaymentReported,
                                       kStepAuthorizationSettled);
    } catch (const db::DatabaseError& e) {
      return End(Kind::kDatabase, std::string("find open authorization: ") + e.what());
    }
    json::object plan;
    if (open) {
      const json::object reported = json::parse(open->reported_json).as_object();
      plan["authorizationJobId"] = open->job_id;
      plan["paymentId"] = Field(reported, "paymentId");
      plan["orderId"] = Field(reported, "orderId");
      plan["amountMinor"] = Number(reported, "amountMinor");
      plan["currency"] = Field(reported, "currency");
      plan["authorizationReference"] = Field(reported, "gatewayReference");
    }
    return Record(step_name, std::move(plan));
  }

  Stop CreateOrder() {
    if (Has(kStepOrderCreated)) return std::nullopt;
    const core::CleengEvent& event = job_.event;
    OrderRequest request{event.customer_id,     event.offer_id,        event.currency,
                         event.payment_country, event.subscription_id, event.payment_method_id,
                         job_.idempotency_key};
    auto order = client_.EnsureOrder(request);
    if (!order.ok()) return CleengFailed(order.error());
    json::object step;
    step["orderId"] = order.value().id;
    step["amountMinor"] = order.value().amount_minor;
    step["currency"] = order.value().currency;
    return Record(kStepOrderCreated, std::move(step));
  }

  // `priced` holds amountMinor and currency (the order, or the authorisation being captured).
  Stop CallAdapter(AdapterRpc rpc, const json::object& priced, const std::string& reference) {
    result_.rpc = rpc;
    if (Has(kStepAdapterDecided)) return std::nullopt;
    AdapterRequest request;
    request.rpc = rpc;
    request.authorization_reference = reference;
    if (rpc != AdapterRpc::kTerminate) {
      gateway::v1::Money amount;
      amount.set_amount_minor(Number(priced, "amountMinor"));
      amount.set_currency(Field(priced, "currency"));
      request.amount = std::move(amount);
    }
    AdapterReply reply = adapter_(request);
    const auto status = reply.result.status();
    if (reply.code != grpc::StatusCode::OK || (status != gateway::v1::PaymentResult::APPROVED &&
                                               status != gateway::v1::PaymentResult::DECLINED)) {
      FlowResult ended = End(Kind::kAdapterUndecided,
                             std::string(AdapterRpcName(rpc)) + " did not decide: " +
                                 (reply.code == grpc::StatusCode::OK
                                      ? "status " + gateway::v1::PaymentResult::Status_Name(status)
                                      : reply.message));
      ended.adapter = std::move(reply);
      return ended;
    }
    json::object step;
    step["rpc"] = AdapterRpcName(rpc);
    step["status"] = status == gateway::v1::PaymentResult::APPROVED ? "approved" : "declined";
    step["gatewayReference"] = reply.result.gateway_reference();
    step["declineCode"] = reply.result.decline_code();
    step["message"] = reply.result.message();
    return Record(kStepAdapterDecided, std::move(step));
  }

  // POST /payments for the order: `approved_status` when the adapter approved, else rejected.
  Stop ReportPayment(PaymentStatus approved_status) {
    if (Has(kStepPaymentReported)) return std::nullopt;
    const json::object& order = steps_.at(std::string(kStepOrderCreated));
    const core::CleengEvent& event = job_.event;
    PaymentRequest request;
    request.order_id = Field(order, "orderId");
    request.status = Approved() ? approved_status : PaymentStatus::kRejected;
    request.payment_details_id = event.payment_details_id;
    request.payment_method_id = event.payment_method_id;
    request.external_payment_id = Adapter("gatewayReference");
    request.subscription_id = event.subscription_id;
    request.rejected_reason = RejectionReason();
    auto payment = client_.EnsurePayment(request);
    if (!payment.ok()) return CleengFailed(payment.error());
    json::object step;
    step["paymentId"] = payment.value().id;
    step["orderId"] = request.order_id;
    step["status"] = PaymentStatusName(request.status);
    step["amountMinor"] = Number(order, "amountMinor");
    step["currency"] = Field(order, "currency");
    step["gatewayReference"] = request.external_payment_id;
    return Record(kStepPaymentReported, std::move(step));
  }

  // Moves the planned authorisation's payment to `status` (captured, rejected or cancelled).
  Stop Settle(const json::object& plan, PaymentStatus status) {
    if (Has(kStepAuthorizationSettled)) return std::nullopt;
    const std::string payment_id = Field(plan, "paymentId");
    auto payment =
        client_.EnsurePaymentStatus(Field(plan, "orderId"), payment_id, status, RejectionReason());
    if (!payment.ok()) return CleengFailed(payment.error());
    json::object step;
    step["paymentId"] = payment_id;
    step["status"] = PaymentStatusName(status);
    return Record(kStepAuthorizationSettled, std::move(step));
  }

  bool Has(std::string_view step) const { return steps_.count(std::string(step)) == 1; }

  std::string Adapter(std::string_view key) const {
    return Field(steps_.at(std::string(kStepAdapterDecided)), key);
  }
  bool Approved() const { return Adapter("status") == "approved"; }
  std::string RejectionReason() const {
    if (Approved()) return {};
    const std::string code = Adapter("declineCode");
    return code.empty() ? Adapter("message") : code;
  }

  Stop Record(std::string_view step, json::object value) {
    db::StepWrite write;
    try {
      write = db::RecordJobStep(connection_, job_.id, job_.fence, step, json::serialize(value));
    } catch (const db::DatabaseError& e) {
      return End(Kind::kDatabase, "record step " + std::string(step) + ": " + e.what());
    }
    if (write == db::StepWrite::kLeaseLost) {
      return End(Kind::kLeaseLost, "lease lost before step " + std::string(step) + " was recorded");
    }
    // kAlreadyRecorded: this attempt's own earlier write, whose commit looked failed; same value.
    steps_[std::string(step)] = std::move(value);
    result_.last_step = std::string(step);
    spdlog::info("cleeng flow step job_id={} fence={} step={}", job_.id, job_.fence, step);
    if (hooks_.continue_after_step && !hooks_.continue_after_step(step)) {
      return End(Kind::kStopped, "stopped after step " + std::string(step));
    }
    return std::nullopt;
  }

  FlowResult CleengFailed(const CleengError& error) {
    FlowResult ended = End(
        error.kind == CleengError::Kind::kPermanent ? Kind::kCleengRefused : Kind::kCleengTransient,
        error.Describe());
    ended.cleeng_error = error;
    return ended;
  }

  FlowResult End(Kind kind, std::string error) {
    result_.kind = kind;
    result_.error = std::move(error);
    Summarise();
    return result_;
  }

  void Summarise() {
    std::string summary = "flow=" + job_.event.topic_name +
                          " subscription_id=" + job_.event.subscription_id + " steps=";
    bool first = true;
    for (const auto& [step, value] : steps_) {
      summary += (first ? "" : ",") + step;
      first = false;
      for (const char* id : {"orderId", "paymentId"}) {
        if (!Field(value, id).empty()) summary += ":" + Field(value, id);
      }
    }
    result_.summary = std::move(summary);
    if (Has(kStepAdapterDecided)) {
      result_.outcome = Approved() ? "approved" : "declined";
      result_.gateway_reference = Adapter("gatewayReference");
      result_.decline_code = Adapter("declineCode");
    }
  }

  pqxx::connection& connection_;
  CleengClient& client_;
  const FlowJob& job_;
  const AdapterCall& adapter_;
  const FlowHooks& hooks_;
  std::map<std::string, json::object> steps_;
  FlowResult result_;
};

}  // namespace

std::string_view AdapterRpcName(AdapterRpc rpc) {
  switch (rpc) {
    case AdapterRpc::kAuthorize: return "Authorize";
    case AdapterRpc::kCapture: return "Capture";
    case AdapterRpc::kTerminate: return "Terminate";
  }
  return "Authorize";
}

std::string_view FlowResultKindName(FlowResult::Kind kind) {
  switch (kind) {
    case Kind::kSucceeded: return "succeeded";
    case Kind::kAdapterUndecided: return "adapter_undecided";
    case Kind::kCleengTransient: return "cleeng_transient";
    case Kind::kCleengRefused: return "cleeng_refused";
    case Kind::kLeaseLost: return "lease_lost";
    case Kind::kDatabase: return "database";
    case Kind::kStopped: return "stopped";
  }
  return "database";
}

FlowResult RunFlow(pqxx::connection& connection, CleengClient& client, const FlowJob& job,
                   const AdapterCall& adapter, const FlowHooks& hooks) {
  if (!job.event.topic) {
    FlowResult result;
    result.kind = FlowResult::Kind::kCleengRefused;
    result.error = "topic " + job.event.topic_name + " has no Cleeng flow";
    return result;
  }
  return Flow(connection, client, job, adapter, hooks).Run();
}

}  // namespace payorch::cleeng

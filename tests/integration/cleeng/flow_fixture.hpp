#pragma once

// What the Cleeng flow tests share: a fresh database, the sandbox adapter in-process over real
// gRPC, the fake Cleeng API over loopback, and jobs inserted and claimed the way the worker does.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "db/job_intake.hpp"
#include "db/job_queue.hpp"
#include "db/job_steps.hpp"
#include "gateways/sandbox/sandbox_server.hpp"
#include "payorch/gateway/v1/gateway.grpc.pb.h"
#include "services/cleeng/flows.hpp"
#include "services/core/event.hpp"
#include "tests/fakes/cleeng/fake_cleeng_server.hpp"
#include "tests/support/job_fixtures.hpp"
#include "tests/support/test_database.hpp"

namespace payorch::cleeng {

inline constexpr const char* kFlowToken = "flow-test-token";
inline constexpr std::string_view kAuthorisation = core::kTopicAuthorisation;
inline constexpr std::string_view kCapture = core::kTopicCapture;
inline constexpr std::string_view kTermination = core::kTopicTermination;

class CleengFlowFixture : public ::testing::Test {
 protected:
  CleengFlowFixture()
      : connection_(database_.Connect()),
        channel_(grpc::CreateChannel(sandbox_.address(), grpc::InsecureChannelCredentials())),
        stub_(gateway::v1::PaymentGateway::NewStub(channel_)) {
    db::PrepareJobQueueStatements(*connection_);
    db::PrepareJobStepStatements(*connection_);
  }

  CleengConfig Config(int max_attempts = 4) const {
    CleengConfig config;
    config.enabled = true;
    config.base_url = fake_.base_url();
    config.publisher_token = kFlowToken;
    config.connect_timeout = std::chrono::milliseconds(1000);
    config.request_timeout = std::chrono::milliseconds(1000);
    config.max_attempts = max_attempts;
    config.backoff_base = std::chrono::milliseconds(1);
    config.backoff_max = std::chrono::milliseconds(5);
    return config;
  }

  // Inserts the job of a webhook as the ingress does; returns its id.
  std::int64_t Insert(std::string_view topic, const std::string& subscription,
                      const std::string& token, const std::string& date) {
    const std::string body = testing::CleengWebhook(topic, subscription, token, date);
    auto parsed = core::ParseWebhook(body);
    EXPECT_TRUE(parsed.ok());
    const core::CleengEvent& event = parsed.value();
    const auto identity = core::DeriveEventIdentity(event);
    const db::NewJob job{identity.event_key,
                         identity.idempotency_key,
                         event.broadcaster_id,
                         std::string(topic),
                         subscription,
                         event.payment_gateway,
                         event.payment_method_id,
                         event.dunning_attempt_date_utc,
                         body};
    return db::InsertJobs(*connection_, std::span<const db::NewJob>(&job, 1)).at(0).job_id;
  }

  // Claims the job (it must be the only claimable one), as a worker would.
  db::ClaimedJob Claim(std::int64_t id) {
    auto claimed = db::ClaimDueJobs(*connection_, "cleeng-test", std::chrono::seconds(60), 10);
    EXPECT_EQ(claimed.size(), 1u);
    EXPECT_EQ(claimed.empty() ? 0 : claimed[0].id, id);
    return claimed.empty() ? db::ClaimedJob{} : claimed[0];
  }

  // The worker running `job` died: its lease expires and the job is claimed again, with a new
  // fence, as in doubt.
  db::ClaimedJob CrashAndReclaim(const db::ClaimedJob& job) {
    {
      pqxx::work tx(*connection_);
      tx.exec_params("UPDATE jobs SET locked_until = now() - interval '1 second' WHERE id = $1",
                     job.id);
      tx.commit();
    }
    db::ClaimedJob again = Claim(job.id);
    EXPECT_GT(again.fence, job.fence);
    EXPECT_TRUE(again.was_in_doubt);
    return again;
  }

  // Records the attempt that ran the flow to its end, so that later jobs of the subscription can
  // be claimed.
  void Finish(const db::ClaimedJob& job, const FlowResult& result) {
    ASSERT_EQ(result.kind, FlowResult::Kind::kSucceeded) << result.error;
    db::AttemptRecord record;
    record.job_id = job.id;
    record.fence = job.fence;
    record.attempt = job.attempt;
    record.worker_id = "cleeng-test";
    record.adapter = "sandbox";
    record.rpc = "flow";
    record.started_at = record.finished_at = std::chrono::system_clock::now();
    record.grpc_status = "OK";
    record.decision = "succeeded";
    db::JobTransition transition;
    transition.kind = db::JobTransition::Kind::kSucceeded;
    transition.outcome = result.outcome;
    transition.gateway_reference = result.gateway_reference;
    ASSERT_TRUE(db::RecordAttempt(*connection_, record, transition));
  }

  FlowResult Run(const db::ClaimedJob& job, CleengClient& client, const FlowHooks& hooks = {}) {
    FlowJob flow_job;
    flow_job.id = job.id;
    flow_job.fence = job.fence;
    flow_job.idempotency_key = job.idempotency_key;
    flow_job.event = core::ParseWebhook(job.raw_event).value();
    const AdapterCall adapter = [this, &job, &flow_job](const AdapterRequest& request) {
      return CallSandbox(job, flow_job.event, request);
    };
    return RunFlow(*connection_, client, flow_job, adapter, hooks);
  }

  // Runs a job from its claim to its end in one attempt and records it.
  FlowResult RunToEnd(std::int64_t id, CleengClient& client) {
    const db::ClaimedJob job = Claim(id);
    FlowResult result = Run(job, client);
    Finish(job, result);
    return result;
  }

  // The adapter call as the worker makes it: the job's key, id and attempt, the event, over gRPC.
  AdapterReply CallSandbox(const db::ClaimedJob& job, const core::CleengEvent& event,
                           const AdapterRequest& request) {
    {
      std::lock_guard lock(mutex_);
      adapter_requests_.push_back(request);
    }
    gateway::v1::RequestMeta meta;
    meta.set_idempotency_key(job.idempotency_key);
    meta.set_job_id(job.id);
    meta.set_attempt(job.attempt);
    gateway::v1::SubscriptionEvent proto_event;
    proto_event.set_topic(event.topic_name);
    proto_event.set_subscription_id(event.subscription_id);
    proto_event.set_token(event.token);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    AdapterReply reply;
    grpc::Status status;
    switch (request.rpc) {
      case AdapterRpc::kAuthorize: {
        gateway::v1::AuthorizeRequest call;
        *call.mutable_meta() = meta;
        *call.mutable_event() = proto_event;
        if (request.amount) *call.mutable_amount() = *request.amount;
        status = stub_->Authorize(&context, call, &reply.result);
        break;
      }
      case AdapterRpc::kCapture: {
        gateway::v1::CaptureRequest call;
        *call.mutable_meta() = meta;
        *call.mutable_event() = proto_event;
        if (request.amount) *call.mutable_amount() = *request.amount;
        call.set_authorization_reference(request.authorization_reference);
        status = stub_->Capture(&context, call, &reply.result);
        break;
      }
      case AdapterRpc::kTerminate: {
        gateway::v1::TerminateRequest call;
        *call.mutable_meta() = meta;
        *call.mutable_event() = proto_event;
        call.set_authorization_reference(request.authorization_reference);
        status = stub_->Terminate(&context, call, &reply.result);
        break;
      }
    }
    reply.code = status.error_code();
    reply.message = status.error_message();
    return reply;
  }

  // What the fake Cleeng holds for one subscription.
  std::vector<testing::fakes::FakeCleengApi::Order> OrdersOf(const std::string& subscription) {
    std::vector<testing::fakes::FakeCleengApi::Order> out;
    for (const auto& order : fake_.api().State().orders) {
      if (order.subscription_id == subscription) out.push_back(order);
    }
    return out;
  }
  std::vector<testing::fakes::FakeCleengApi::Payment> PaymentsOf(const std::string& subscription) {
    std::vector<testing::fakes::FakeCleengApi::Payment> out;
    for (const auto& payment : fake_.api().State().payments) {
      if (payment.subscription_id == subscription) out.push_back(payment);
    }
    return out;
  }
  // How many effects the sandbox applied under the job's idempotency key.
  std::int64_t Effects(const db::ClaimedJob& job) {
    const auto record = sandbox_.store().Find(job.idempotency_key);
    return record ? record->effects : 0;
  }
  std::vector<AdapterRequest> AdapterRequests() {
    std::lock_guard lock(mutex_);
    return adapter_requests_;
  }

  testing::TestDatabase database_;
  std::unique_ptr<pqxx::connection> connection_;
  gateways::sandbox::SandboxServer sandbox_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<gateway::v1::PaymentGateway::Stub> stub_;
  testing::fakes::FakeCleengServer fake_{{"127.0.0.1", 0, kFlowToken, "", ""}};
  std::mutex mutex_;
  std::vector<AdapterRequest> adapter_requests_;
};

}  // namespace payorch::cleeng

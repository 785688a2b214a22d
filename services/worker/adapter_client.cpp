#include "services/worker/adapter_client.hpp"

namespace payorch::worker {
namespace {

CallResult FromStatus(const grpc::Status& status, gateway_v1::PaymentResult result) {
  CallResult call;
  call.code = status.error_code();
  call.message = status.error_message();
  if (status.ok()) call.result = std::move(result);
  return call;
}

}  // namespace

AdapterClient::AdapterClient(const std::string& address, std::chrono::milliseconds deadline)
    : deadline_(deadline) {
  grpc::ChannelArguments arguments;
  // gRPC's default reconnect backoff grows to two minutes; an adapter that comes back after an
  // outage should be used again within seconds, since every failed call spends a job's attempt.
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  channel_ = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), arguments);
  stub_ = gateway_v1::PaymentGateway::NewStub(channel_);
}

std::unique_ptr<grpc::ClientContext> AdapterClient::NewContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + deadline_);
  return context;
}

CallResult AdapterClient::Authorize(const gateway_v1::AuthorizeRequest& request) {
  auto context = NewContext();
  gateway_v1::PaymentResult result;
  const grpc::Status status = stub_->Authorize(context.get(), request, &result);
  return FromStatus(status, std::move(result));
}

CallResult AdapterClient::Capture(const gateway_v1::CaptureRequest& request) {
  auto context = NewContext();
  gateway_v1::PaymentResult result;
  const grpc::Status status = stub_->Capture(context.get(), request, &result);
  return FromStatus(status, std::move(result));
}

CallResult AdapterClient::Terminate(const gateway_v1::TerminateRequest& request) {
  auto context = NewContext();
  gateway_v1::PaymentResult result;
  const grpc::Status status = stub_->Terminate(context.get(), request, &result);
  return FromStatus(status, std::move(result));
}

CallResult AdapterClient::GetPaymentStatus(const std::string& idempotency_key) {
  auto context = NewContext();
  gateway_v1::GetPaymentStatusRequest request;
  request.set_idempotency_key(idempotency_key);
  gateway_v1::GetPaymentStatusResponse response;
  const grpc::Status status = stub_->GetPaymentStatus(context.get(), request, &response);
  CallResult call = FromStatus(status, response.result());
  call.found = status.ok() && response.found();
  return call;
}

}  // namespace payorch::worker

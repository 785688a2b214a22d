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

core::Result<std::shared_ptr<grpc::Channel>, std::string> MakeAdapterChannel(
    const std::string& address, const core::GrpcClientTls& tls) {
  grpc::ChannelArguments arguments;
  // gRPC's default reconnect backoff grows to two minutes; an adapter that comes back after an
  // outage should be used again within seconds, since every failed call spends a job's attempt.
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  return core::MakeChannel(address, tls, arguments);
}

AdapterClient::AdapterClient(std::shared_ptr<grpc::Channel> channel,
                             std::chrono::milliseconds deadline)
    : deadline_(deadline),
      channel_(std::move(channel)),
      stub_(gateway_v1::PaymentGateway::NewStub(channel_)) {}

std::chrono::system_clock::time_point AdapterClient::Deadline() const {
  return std::chrono::system_clock::now() + deadline_;
}

namespace {

// What one call owns until it ends: gRPC needs the context, request and response alive until the
// callback, which holds the only reference.
template <typename Request, typename Response>
struct PendingCall {
  grpc::ClientContext context;
  Request request;
  Response response;
  AdapterClient::Done done;
};

}  // namespace

void AdapterClient::Authorize(gateway_v1::AuthorizeRequest request, Done done) {
  auto call = std::make_shared<PendingCall<gateway_v1::AuthorizeRequest, gateway_v1::PaymentResult>>();
  call->context.set_deadline(Deadline());
  call->request = std::move(request);
  call->done = std::move(done);
  stub_->async()->Authorize(&call->context, &call->request, &call->response,
                            [call](grpc::Status status) {
                              call->done(FromStatus(status, std::move(call->response)));
                            });
}

void AdapterClient::Capture(gateway_v1::CaptureRequest request, Done done) {
  auto call = std::make_shared<PendingCall<gateway_v1::CaptureRequest, gateway_v1::PaymentResult>>();
  call->context.set_deadline(Deadline());
  call->request = std::move(request);
  call->done = std::move(done);
  stub_->async()->Capture(&call->context, &call->request, &call->response,
                          [call](grpc::Status status) {
                            call->done(FromStatus(status, std::move(call->response)));
                          });
}

void AdapterClient::Terminate(gateway_v1::TerminateRequest request, Done done) {
  auto call =
      std::make_shared<PendingCall<gateway_v1::TerminateRequest, gateway_v1::PaymentResult>>();
  call->context.set_deadline(Deadline());
  call->request = std::move(request);
  call->done = std::move(done);
  stub_->async()->Terminate(&call->context, &call->request, &call->response,
                            [call](grpc::Status status) {
                              call->done(FromStatus(status, std::move(call->response)));
                            });
}

void AdapterClient::GetPaymentStatus(const std::string& idempotency_key, Done done) {
  auto call = std::make_shared<PendingCall<gateway_v1::GetPaymentStatusRequest,
                                           gateway_v1::GetPaymentStatusResponse>>();
  call->context.set_deadline(Deadline());
  call->request.set_idempotency_key(idempotency_key);
  call->done = std::move(done);
  stub_->async()->GetPaymentStatus(&call->context, &call->request, &call->response,
                                   [call](grpc::Status status) {
                                     CallResult result = FromStatus(status, call->response.result());
                                     result.found = status.ok() && call->response.found();
                                     call->done(std::move(result));
                                   });
}

}  // namespace payorch::worker

#include "gateways/sandbox/control_service.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace payorch::gateways::sandbox {
namespace {

namespace sv1 = payorch::sandbox::v1;

void ToProto(const KeyRecord& record, sv1::KeyEffects& out) {
  out.set_idempotency_key(record.idempotency_key);
  out.set_rpc(std::string(RpcName(record.rpc)));
  out.set_effects(record.effects);
  out.set_calls(record.calls);
  out.set_status_queries(record.status_queries);
  if (record.result) {
    out.set_result_status(std::string(StatusName(record.result->status)));
    out.set_gateway_reference(record.result->gateway_reference);
    out.set_decline_code(record.result->decline_code);
  }
}

}  // namespace

grpc::Status ControlServiceImpl::GetEffects(grpc::ServerContext* /*context*/,
                                            const sv1::GetEffectsRequest* request,
                                            sv1::GetEffectsResponse* response) {
  const auto record = store_.Find(request->idempotency_key());
  response->set_found(record.has_value());
  if (!record) return grpc::Status::OK;
  response->set_rpc(std::string(RpcName(record->rpc)));
  response->set_effects(record->effects);
  response->set_calls(record->calls);
  response->set_status_queries(record->status_queries);
  ToProto(*record, *response->mutable_record());
  return grpc::Status::OK;
}

grpc::Status ControlServiceImpl::ListEffects(grpc::ServerContext* /*context*/,
                                             const sv1::ListEffectsRequest* request,
                                             sv1::ListEffectsResponse* response) {
  if (request->limit() < 0) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "limit must not be negative"};
  }
  const int limit = request->limit() == 0 ? kMaxListedRecords
                                          : std::min(request->limit(), kMaxListedRecords);
  EffectTotals totals;
  const auto records = store_.List(static_cast<std::size_t>(limit), totals);
  for (const auto& record : records) ToProto(record, *response->add_records());
  response->set_total_keys(totals.keys);
  response->set_total_effects(totals.effects);
  response->set_total_calls(totals.calls);
  response->set_truncated(static_cast<std::int64_t>(records.size()) < totals.keys);
  return grpc::Status::OK;
}

grpc::Status ControlServiceImpl::SetHealth(grpc::ServerContext* /*context*/,
                                           const sv1::SetHealthRequest* request,
                                           sv1::SetHealthResponse* response) {
  if (request->delay_ms() < 0 || request->delay_ms() > HealthState::kMaxDelay.count()) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "delay_ms must be in 0..60000"};
  }
  health_.Set(!request->not_serving(), std::chrono::milliseconds(request->delay_ms()));
  response->set_serving(health_.serving());
  response->set_delay_ms(static_cast<std::int32_t>(health_.delay().count()));
  spdlog::info("msg=\"sandbox health set\" status={} delay_ms={}",
               health_.serving() ? "SERVING" : "NOT_SERVING", health_.delay().count());
  return grpc::Status::OK;
}

}  // namespace payorch::gateways::sandbox

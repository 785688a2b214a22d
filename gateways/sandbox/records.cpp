#include "gateways/sandbox/records.hpp"

namespace payorch::gateways::sandbox {

std::string_view RpcName(Rpc rpc) {
  switch (rpc) {
    case Rpc::kAuthorize: return "Authorize";
    case Rpc::kCapture: return "Capture";
    case Rpc::kTerminate: return "Terminate";
  }
  return "Unknown";
}

std::optional<Rpc> RpcFromName(std::string_view name) {
  for (const Rpc rpc : {Rpc::kAuthorize, Rpc::kCapture, Rpc::kTerminate}) {
    if (RpcName(rpc) == name) return rpc;
  }
  return std::nullopt;
}

std::string_view StatusName(PaymentOutcome::Status status) {
  switch (status) {
    case PaymentOutcome::Status::kApproved: return "APPROVED";
    case PaymentOutcome::Status::kDeclined: return "DECLINED";
  }
  return "UNKNOWN";
}

std::optional<PaymentOutcome::Status> StatusFromName(std::string_view name) {
  if (name == "APPROVED") return PaymentOutcome::Status::kApproved;
  if (name == "DECLINED") return PaymentOutcome::Status::kDeclined;
  return std::nullopt;
}

}  // namespace payorch::gateways::sandbox

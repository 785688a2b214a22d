#include "services/core/grpc_runtime.hpp"

#include <absl/synchronization/mutex.h>

namespace payorch::core {

void ConfigureGrpcRuntime() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace payorch::core

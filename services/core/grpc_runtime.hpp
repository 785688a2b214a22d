#pragma once

namespace payorch::core {

// Process-wide settings for the gRPC runtime, applied once at the start of main by the processes
// that make or serve many gRPC calls (the worker, the sandbox adapter), before any call.
//
// Abseil's mutexes (gRPC locks them several times per call) check for lock-order cycles by
// default when Abseil is built without NDEBUG, as Debian's is: a global graph updated on every
// lock and unlock, measured at about 3% of all CPU in the worker benchmark (perf). That check is
// a debugging aid; it is switched off.
void ConfigureGrpcRuntime();

}  // namespace payorch::core

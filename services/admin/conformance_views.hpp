#pragma once

#include <boost/json.hpp>
#include <ostream>

#include "services/admin/conformance.hpp"

namespace payorch::admin {

// How `adapter check` shows a conformance report. Pure functions of the report.
//
// Text: the health table of the one-call probe (address, service, status, grpc status, error,
// latency), a blank line, then one row per check (check, result PASS/FAIL, reason) and a last
// line "N of M checks passed".
//
// JSON: the probe's keys, unchanged, plus the checks:
//   {"address": "127.0.0.1:50051", "service": "", "status": "SERVING" or null,
//    "grpc_status": "OK", "error": null or "...", "latency_ms": 3, "serving": true,
//    "checks": [{"name": "health", "passed": true, "reason": "SERVING"}, ...],
//    "passed": 12, "failed": 0, "conformant": true}
boost::json::object ConformanceReportDocument(const ConformanceReport& report);
void PrintConformanceReport(const ConformanceReport& report, std::ostream& out);

}  // namespace payorch::admin

#include "services/admin/conformance_views.hpp"

#include "services/admin/stats_views.hpp"
#include "services/admin/table.hpp"

namespace payorch::admin {

namespace {

// Reasons quote adapter error messages: long ones are cut in the table (never in JSON).
constexpr std::size_t kMaxReasonWidth = 160;

std::size_t PassedCount(const ConformanceReport& report) {
  return report.checks.size() - report.FailedNames().size();
}

}  // namespace

boost::json::object ConformanceReportDocument(const ConformanceReport& report) {
  boost::json::object document = HealthReportDocument(report.health);
  boost::json::array checks;
  for (const auto& check : report.checks) {
    checks.push_back({{"name", check.name}, {"passed", check.passed}, {"reason", check.reason}});
  }
  document["checks"] = std::move(checks);
  document["passed"] = PassedCount(report);
  document["failed"] = report.FailedNames().size();
  document["conformant"] = report.AllPassed();
  return document;
}

void PrintConformanceReport(const ConformanceReport& report, std::ostream& out) {
  PrintHealthReport(report.health, out);
  out << '\n';
  Table table({"check", "result", "reason"});
  for (const auto& check : report.checks) {
    table.AddRow(
        {check.name, check.passed ? "PASS" : "FAIL", Truncate(check.reason, kMaxReasonWidth)});
  }
  table.Print(out);
  out << PassedCount(report) << " of " << report.checks.size() << " checks passed\n";
}

}  // namespace payorch::admin

// payorch-admin: the operator CLI (DESIGN.md, "Admin CLI"). Everything but process set-up lives
// in the payorch_admin library (cli.hpp), which the tests link.
#include <cstdlib>
#include <iostream>

#include "services/admin/cli.hpp"
#include "services/core/logging.hpp"

int main(int argc, char** argv) {
  // Library code may log (to stderr); stdout carries only the command's result.
  if (!payorch::core::InitLogging("admin", "warn")) return 2;
  // Bound the connection attempt for an unreachable host unless the caller chose a bound
  // (the URL's connect_timeout still wins over this).
  ::setenv("PGCONNECT_TIMEOUT", "10", /*overwrite=*/0);
  return payorch::admin::RunAdminCli(argc, argv, std::cout, std::cerr);
}

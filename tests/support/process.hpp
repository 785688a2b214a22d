#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace payorch::testing {

// A real child process running one of payorch's binaries (a bare name is looked up in
// PAYORCH_BIN_DIR) or any program named by an absolute path (/usr/bin/python3 for the Python
// example adapter), with stdout and stderr captured to a log file. The destructor kills it (SIGKILL) if it still runs, so a failing
// test never leaves processes behind.
class Process {
 public:
  Process(const std::string& binary, const std::vector<std::string>& args,
          const std::map<std::string, std::string>& extra_env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool Running();
  void Signal(int signal_number);
  // Waits for the process to exit; its exit code (128 + signal for a signal), or nullopt when it
  // is still running after `timeout`.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  // Everything the process printed so far.
  std::string Output() const;
  const std::string& log_path() const { return log_path_; }

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string log_path_;
};

// Runs a binary to completion (bounded by `timeout`) and returns its exit code and output.
struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr interleaved
  std::string stdout_text;
};
CommandResult RunCommand(const std::string& binary, const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& extra_env = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

// The repository's root (PAYORCH_SOURCE_DIR in the environment, else where CMake configured it),
// for tests that run files from the tree such as gateways/examples/python/server.py.
std::string SourceDir();

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0 and release).
int FreeTcpPort();
// True once something accepts connections on 127.0.0.1:port, false after `timeout`.
bool WaitForTcpPort(int port, std::chrono::milliseconds timeout);
// Polls `predicate` every 20 ms until it is true or `timeout` passes; returns its last value.
template <typename Predicate>
bool Eventually(Predicate predicate, std::chrono::milliseconds timeout);

}  // namespace payorch::testing

#include <thread>

template <typename Predicate>
bool payorch::testing::Eventually(Predicate predicate, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return predicate();
}

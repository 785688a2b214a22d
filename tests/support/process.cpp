#include "tests/support/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace payorch::testing {

namespace {

std::string BinaryPath(const std::string& binary) {
  if (!binary.empty() && binary.front() == '/') return binary;
  const char* dir = std::getenv("PAYORCH_BIN_DIR");
#ifdef PAYORCH_BIN_DIR
  if (dir == nullptr) dir = PAYORCH_BIN_DIR;
#endif
  if (dir == nullptr) throw std::runtime_error("PAYORCH_BIN_DIR is not set");
  return std::string(dir) + "/" + binary;
}

std::string NewLogPath(std::string binary) {
  static std::atomic<int> counter{0};
  if (const auto slash = binary.rfind('/'); slash != std::string::npos) binary.erase(0, slash + 1);
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp != nullptr ? tmp : "/tmp") + "/payorch-test-" + binary + "-" +
         std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".log";
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Spawns `binary` with stdout to `stdout_path` and stderr to `stderr_path` (may be equal).
pid_t Spawn(const std::string& binary, const std::vector<std::string>& args,
            const std::map<std::string, std::string>& extra_env, const std::string& stdout_path,
            const std::string& stderr_path) {
  std::vector<std::string> argv_storage{BinaryPath(binary)};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);

  std::map<std::string, std::string> env_map;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string text(*entry);
    const auto eq = text.find('=');
    if (eq != std::string::npos) env_map[text.substr(0, eq)] = text.substr(eq + 1);
  }
  for (const auto& [key, value] : extra_env) env_map[key] = value;
  std::vector<std::string> env_storage;
  for (const auto& [key, value] : env_map) env_storage.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (auto& entry : env_storage) envp.push_back(entry.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  if (stderr_path == stdout_path) {
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  }
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    throw std::runtime_error("cannot start " + argv_storage[0] + ": " + std::strerror(rc));
  }
  return pid;
}

}  // namespace

Process::Process(const std::string& binary, const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& extra_env)
    : log_path_(NewLogPath(binary)) {
  pid_ = Spawn(binary, args, extra_env, log_path_, log_path_);
}

Process::~Process() {
  if (Running()) {
    ::kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

bool Process::Running() {
  if (exit_code_) return false;
  int status = 0;
  const pid_t rc = ::waitpid(pid_, &status, WNOHANG);
  if (rc == pid_) {
    exit_code_ = DecodeStatus(status);
    return false;
  }
  return rc == 0;
}

void Process::Signal(int signal_number) {
  if (Running()) ::kill(pid_, signal_number);
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (Running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return exit_code_;
}

std::string Process::Output() const { return ReadFile(log_path_); }

CommandResult RunCommand(const std::string& binary, const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& extra_env,
                         std::chrono::milliseconds timeout) {
  const std::string out_path = NewLogPath(binary + "-stdout");
  const std::string err_path = NewLogPath(binary + "-stderr");
  const pid_t pid = Spawn(binary, args, extra_env, out_path, err_path);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  CommandResult result;
  int status = 0;
  while (true) {
    const pid_t rc = ::waitpid(pid, &status, WNOHANG);
    if (rc == pid) {
      result.exit_code = DecodeStatus(status);
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      result.exit_code = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  result.stdout_text = ReadFile(out_path);
  result.output = result.stdout_text + ReadFile(err_path);
  ::unlink(out_path.c_str());
  ::unlink(err_path.c_str());
  return result;
}

std::string SourceDir() {
  if (const char* dir = std::getenv("PAYORCH_SOURCE_DIR"); dir != nullptr) return dir;
  return PAYORCH_SOURCE_DIR;
}

int FreeTcpPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot find a free TCP port");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

bool WaitForTcpPort(int port, std::chrono::milliseconds timeout) {
  return Eventually(
      [port] {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = htons(static_cast<uint16_t>(port));
        const bool open =
            ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
        ::close(fd);
        return open;
      },
      timeout);
}

}  // namespace payorch::testing

#include "gateways/sandbox/state_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

namespace payorch::gateways::sandbox {
namespace {

namespace json = boost::json;

// The format version, written on every line so that a later format can read old files.
constexpr std::int64_t kFormatVersion = 1;
// A line longer than this is not one the sandbox wrote.
constexpr std::size_t kMaxLineLength = 4096;

std::string ErrnoText(int error) { return std::strerror(error); }

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(written));
  }
  return true;
}

std::optional<std::string> StringField(const json::object& object, std::string_view name) {
  const auto* value = object.if_contains(name);
  if (value == nullptr || !value->is_string()) return std::nullopt;
  return std::string(value->get_string());
}

}  // namespace

std::string StateFile::EncodeLine(const PersistedEffect& effect) {
  json::object line;
  line["v"] = kFormatVersion;
  line["key"] = effect.idempotency_key;
  line["rpc"] = RpcName(effect.rpc);
  line["status"] = StatusName(effect.outcome.status);
  line["gateway_reference"] = effect.outcome.gateway_reference;
  line["decline_code"] = effect.outcome.decline_code;
  line["message"] = effect.outcome.message;
  if (effect.outcome.amount) {
    line["amount_minor"] = effect.outcome.amount->amount_minor;
    line["currency"] = effect.outcome.amount->currency;
  }
  return json::serialize(line);
}

std::optional<PersistedEffect> StateFile::DecodeLine(std::string_view line) {
  if (line.empty() || line.size() > kMaxLineLength) return std::nullopt;
  json::error_code error;
  const json::value value = json::parse(line, error);
  if (error || !value.is_object()) return std::nullopt;
  const auto& object = value.get_object();
  const auto* version = object.if_contains("v");
  if (version == nullptr || !version->is_int64() || version->get_int64() != kFormatVersion) {
    return std::nullopt;
  }
  const auto key = StringField(object, "key");
  const auto rpc_name = StringField(object, "rpc");
  const auto status_name = StringField(object, "status");
  const auto reference = StringField(object, "gateway_reference");
  const auto decline_code = StringField(object, "decline_code");
  const auto message = StringField(object, "message");
  if (!key || key->empty() || !rpc_name || !status_name || !reference || !decline_code ||
      !message) {
    return std::nullopt;
  }
  const auto rpc = RpcFromName(*rpc_name);
  const auto status = StatusFromName(*status_name);
  if (!rpc || !status) return std::nullopt;

  PersistedEffect effect{*key, *rpc,
                         PaymentOutcome{*status, *reference, *decline_code, *message, {}}};
  if (const auto* amount = object.if_contains("amount_minor")) {
    const auto currency = StringField(object, "currency");
    if (!amount->is_int64() || !currency) return std::nullopt;
    effect.outcome.amount = Money{amount->get_int64(), *currency};
  }
  return effect;
}

std::unique_ptr<StateFile> StateFile::Open(const std::string& path, Loaded& loaded) {
  const int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw std::runtime_error("cannot open state file " + path + ": " + ErrnoText(errno));
  }
  std::unique_ptr<StateFile> file(new StateFile(path, fd));

  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read state file " + path);
  std::string line;
  bool ends_with_newline = true;
  while (std::getline(in, line)) {
    ends_with_newline = !in.eof();
    if (auto effect = DecodeLine(line)) {
      loaded.effects.push_back(std::move(*effect));
    } else {
      ++loaded.skipped_lines;
    }
  }
  if (in.bad()) throw std::runtime_error("cannot read state file " + path);
  // A torn last line: end it, so that the next append starts on a line of its own.
  if (!ends_with_newline && !WriteAll(fd, "\n")) {
    throw std::runtime_error("cannot write state file " + path + ": " + ErrnoText(errno));
  }
  if (::fsync(fd) != 0) {
    throw std::runtime_error("cannot fsync state file " + path + ": " + ErrnoText(errno));
  }
  return file;
}

StateFile::StateFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

StateFile::~StateFile() {
  if (fd_ >= 0) ::close(fd_);
}

bool StateFile::Append(const PersistedEffect& effect) {
  const std::string line = EncodeLine(effect) + "\n";
  std::lock_guard lock(mutex_);
  if (!WriteAll(fd_, line)) {
    spdlog::error("msg=\"state file write failed\" path={} error=\"{}\"", path_,
                  ErrnoText(errno));
    return false;
  }
  if (::fsync(fd_) != 0) {
    spdlog::error("msg=\"state file fsync failed\" path={} error=\"{}\"", path_,
                  ErrnoText(errno));
    return false;
  }
  return true;
}

}  // namespace payorch::gateways::sandbox

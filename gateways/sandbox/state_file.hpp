#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "gateways/sandbox/records.hpp"

namespace payorch::gateways::sandbox {

// An append-only file of applied effects, one JSON object per line, so that a restarted sandbox
// still honours the keys it has seen (the idempotency rule asks for a durable record of keys).
// Append returns only after the line is fsync'd: the sandbox answers a call only after its effect
// is durable, as a real gateway would.
//
// A crash can leave a torn last line (the call it belonged to was never answered, so its effect
// counts as not having happened): Open skips lines it cannot read, and starts a new line before
// the next append.
class StateFile {
 public:
  struct Loaded {
    std::vector<PersistedEffect> effects;  // in file order
    std::size_t skipped_lines = 0;         // unreadable lines (torn or foreign)
  };

  // Opens or creates `path` and reads what it holds. Throws std::runtime_error (with the path and
  // errno text) when the file cannot be opened, read or created: a startup failure.
  static std::unique_ptr<StateFile> Open(const std::string& path, Loaded& loaded);

  ~StateFile();
  StateFile(const StateFile&) = delete;
  StateFile& operator=(const StateFile&) = delete;

  // Appends one line and fsyncs it. False (and an error log line) when the write or the fsync
  // failed; the caller must then not treat the effect as applied. Thread-safe.
  [[nodiscard]] bool Append(const PersistedEffect& effect);

  const std::string& path() const { return path_; }

  // Pure: one line of the file (without the newline) and back. Exposed for tests.
  static std::string EncodeLine(const PersistedEffect& effect);
  static std::optional<PersistedEffect> DecodeLine(std::string_view line);

 private:
  StateFile(std::string path, int fd);

  std::string path_;
  // Serialises appends: lines from concurrent calls must not interleave.
  std::mutex mutex_;
  int fd_ = -1;
};

}  // namespace payorch::gateways::sandbox

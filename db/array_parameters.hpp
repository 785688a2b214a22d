#pragma once

// Array parameters for the statements that take a batch as one array per column (unnest): one
// prepared statement serves every batch size, and no value is ever spliced into SQL text.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <pqxx/binarystring>

namespace payorch::db {

// Builds a PostgreSQL array literal ({"a","b",NULL}) element by element. Every text element is
// double-quoted with '"' and '\' escaped, which is all array_in needs: any other byte, braces,
// commas and newlines included, stands for itself inside quotes.
class ArrayLiteral {
 public:
  explicit ArrayLiteral(std::size_t reserve = 0) {
    text_.reserve(reserve + 2);
    text_.push_back('{');
  }
  void AddText(std::string_view value) {
    Separate();
    text_.push_back('"');
    // Copy the runs between characters that need escaping in one go. One pass with two
    // comparisons per byte: find_first_of("\"\\") calls memchr on the set for every byte, and
    // raw events are JSON, full of quotes; callgrind counted that search as 14% of the ingress's
    // instructions per webhook.
    const char* run = value.data();
    const char* const end = run + value.size();
    for (const char* p = run; p != end; ++p) {
      if (*p == '"' || *p == '\\') {
        text_.append(run, p);
        text_.push_back('\\');
        run = p;  // the special character itself starts the next run
      }
    }
    text_.append(run, end);
    text_.push_back('"');
  }
  // Empty means NULL (optional columns).
  void AddTextOrNull(std::string_view value) {
    if (value.empty()) {
      AddNull();
    } else {
      AddText(value);
    }
  }
  // nullopt means NULL; an empty string stays an empty string.
  void AddOptionalText(const std::optional<std::string>& value) {
    if (value) {
      AddText(*value);
    } else {
      AddNull();
    }
  }
  void AddInteger(std::int64_t value) {
    Separate();
    text_ += std::to_string(value);
  }
  void AddNull() {
    Separate();
    text_ += "NULL";
  }
  std::string Finish() {
    text_.push_back('}');
    return std::move(text_);
  }

 private:
  void Separate() {
    if (text_.size() > 1) text_.push_back(',');
  }
  std::string text_;
};

// A text[] parameter in PostgreSQL's binary array format (what array_recv reads): a header, then
// each element as its length (4 bytes, big-endian; -1 for NULL) and its bytes. The raw events are
// JSON, full of the quotes a text literal must escape: in binary they are copied as they are, and
// the server reads them without unescaping (array_in took 7% of its CPU per webhook, this
// escaping 8% of the ingress's instructions).
class BinaryTextArray {
 public:
  explicit BinaryTextArray(std::size_t reserve = 0) {
    bytes_.reserve(kHeaderBytes + reserve);
    AppendInt32(1);         // dimensions
    AppendInt32(0);         // has NULLs (array_recv checks only that it is 0 or 1)
    AppendInt32(kTextOid);  // element type
    AppendInt32(0);         // elements, set by Finish
    AppendInt32(1);         // lower bound
  }
  void AddText(std::string_view value) {
    AppendInt32(static_cast<std::uint32_t>(value.size()));
    bytes_.append(value);
    ++count_;
  }
  // Empty means NULL (optional columns).
  void AddTextOrNull(std::string_view value) {
    if (value.empty()) {
      AppendInt32(0xFFFFFFFFu);  // -1
      ++count_;
    } else {
      AddText(value);
    }
  }
  pqxx::binarystring Finish() {
    WriteInt32(kCountOffset, count_);
    return pqxx::binarystring(bytes_.data(), bytes_.size());
  }

 private:
  static constexpr std::uint32_t kTextOid = 25;
  static constexpr std::size_t kCountOffset = 12;
  static constexpr std::size_t kHeaderBytes = 20;
  void AppendInt32(std::uint32_t value) {
    bytes_.resize(bytes_.size() + 4);
    WriteInt32(bytes_.size() - 4, value);
  }
  void WriteInt32(std::size_t at, std::uint32_t value) {
    bytes_[at] = static_cast<char>(value >> 24);
    bytes_[at + 1] = static_cast<char>(value >> 16);
    bytes_[at + 2] = static_cast<char>(value >> 8);
    bytes_[at + 3] = static_cast<char>(value);
  }
  std::string bytes_;
  std::uint32_t count_ = 0;
};

}  // namespace payorch::db

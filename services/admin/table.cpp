#include "services/admin/table.hpp"

#include <algorithm>
#include <cassert>

namespace payorch::admin {

namespace {

constexpr std::string_view kColumnGap = "  ";
constexpr std::string_view kEllipsis = "...";

bool IsContinuationByte(unsigned char byte) { return (byte & 0xC0) == 0x80; }

}  // namespace

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::AddRow(std::vector<std::string> cells) {
  assert(cells.size() == headers_.size());
  for (auto& cell : cells) cell = SanitizeCell(cell);
  rows_.push_back(std::move(cells));
}

void Table::Print(std::ostream& out) const {
  const bool print_header =
      std::any_of(headers_.begin(), headers_.end(), [](const auto& h) { return !h.empty(); });
  std::vector<std::size_t> widths(headers_.size(), 0);
  if (print_header) {
    for (std::size_t c = 0; c < headers_.size(); ++c) widths[c] = DisplayWidth(headers_[c]);
  }
  for (const auto& row : rows_) {
    for (std::size_t c = 0; c < row.size(); ++c) {
      widths[c] = std::max(widths[c], DisplayWidth(row[c]));
    }
  }

  auto print_line = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      if (c > 0) line += kColumnGap;
      line += cells[c];
      if (c + 1 < cells.size()) line.append(widths[c] - DisplayWidth(cells[c]), ' ');
    }
    // The last columns may be empty: no trailing spaces.
    line.erase(line.find_last_not_of(' ') + 1);
    out << line << '\n';
  };

  if (print_header) print_line(headers_);
  for (const auto& row : rows_) print_line(row);
}

std::string SanitizeCell(std::string_view text) {
  std::string clean;
  clean.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x20 || byte == 0x7F) {
      clean += ' ';
    } else if (byte == 0xC2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
      // U+0080..U+009F, the C1 controls (U+009B is a one-character CSI on many terminals).
      clean += ' ';
      ++i;
    } else {
      clean += static_cast<char>(byte);
    }
  }
  return clean;
}

std::size_t DisplayWidth(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return !IsContinuationByte(static_cast<unsigned char>(c));
  }));
}

std::string Truncate(std::string_view text, std::size_t max_width) {
  max_width = std::max<std::size_t>(max_width, kEllipsis.size() + 1);
  if (DisplayWidth(text) <= max_width) return std::string(text);
  const std::size_t keep = max_width - kEllipsis.size();
  std::size_t code_points = 0;
  std::size_t end = 0;
  // Advance `end` over `keep` whole code points.
  while (end < text.size()) {
    if (!IsContinuationByte(static_cast<unsigned char>(text[end]))) {
      if (code_points == keep) break;
      ++code_points;
    }
    ++end;
  }
  return std::string(text.substr(0, end)) + std::string(kEllipsis);
}

}  // namespace payorch::admin

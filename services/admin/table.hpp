#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace payorch::admin {

// A plain-text table for people: left-aligned columns separated by two spaces, a header line
// when any header is non-empty, no trailing spaces. Widths are counted in code points, so
// UTF-8 text lines up as long as it has no wide (CJK) or combining characters.
//
// Cells come from the database and ultimately from webhook senders, so every cell is passed
// through SanitizeCell: a stored value can never move the cursor or recolour the terminal.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);

  // `cells` must have one entry per header (a programmer error otherwise: asserted).
  void AddRow(std::vector<std::string> cells);
  std::size_t row_count() const { return rows_.size(); }
  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// Replaces line breaks, tabs and every other C0/C1 control character (including ESC and CSI)
// by a space, so that a value prints on one line and cannot inject terminal escape sequences.
std::string SanitizeCell(std::string_view text);

// The number of code points in UTF-8 `text` (bytes that are not continuation bytes).
std::size_t DisplayWidth(std::string_view text);

// `text` cut to at most `max_width` code points, ending in "..." when it was cut. Never splits a
// UTF-8 sequence. `max_width` below 4 is treated as 4.
std::string Truncate(std::string_view text, std::size_t max_width);

}  // namespace payorch::admin

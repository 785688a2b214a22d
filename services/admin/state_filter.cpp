#include "services/admin/state_filter.hpp"

#include <algorithm>
#include <string_view>

#include "services/admin/table.hpp"

namespace payorch::admin {

namespace {

constexpr core::JobState kAllStates[] = {core::JobState::kQueued,    core::JobState::kRunning,
                                         core::JobState::kInDoubt,   core::JobState::kSucceeded,
                                         core::JobState::kDead,      core::JobState::kCancelled};

std::string_view Trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

}  // namespace

std::string ValidStateNames() {
  std::string names;
  for (auto state : kAllStates) {
    if (!names.empty()) names += ", ";
    names += core::JobStateName(state);
  }
  return names;
}

core::Result<std::vector<core::JobState>, std::string> ParseStateFilter(
    const std::vector<std::string>& values) {
  std::vector<core::JobState> states;
  for (const auto& value : values) {
    std::string_view rest = value;
    while (true) {
      const auto comma = rest.find(',');
      const std::string_view name = Trim(rest.substr(0, comma));
      const auto state = core::JobStateFromName(name);
      if (!state) {
        // Quote the name, bounded and on one line: the message is for a terminal.
        const std::string shown = SanitizeCell(Truncate(name, 40));
        return "unknown job state \"" + shown + "\" (valid states: " + ValidStateNames() + ")";
      }
      if (std::find(states.begin(), states.end(), *state) == states.end()) {
        states.push_back(*state);
      }
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return states;
}

}  // namespace payorch::admin

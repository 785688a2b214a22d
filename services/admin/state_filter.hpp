#pragma once

#include <string>
#include <vector>

#include "services/core/job_state.hpp"
#include "services/core/result.hpp"

namespace payorch::admin {

// "queued, running, in_doubt, succeeded, dead, cancelled": for messages and --help.
std::string ValidStateNames();

// The states named by `--state` values. Each value is one state name or a comma-separated list
// of them ("dead,in_doubt"); blanks around names are ignored; duplicates collapse, first
// occurrence order kept. An unknown or empty name is an error whose one-line message names the
// valid states. No values means no filter (an empty vector).
core::Result<std::vector<core::JobState>, std::string> ParseStateFilter(
    const std::vector<std::string>& values);

}  // namespace payorch::admin

#include "services/admin/state_filter.hpp"

#include <gtest/gtest.h>

namespace payorch::admin {
namespace {

using core::JobState;

TEST(StateFilterTest, NoValuesMeansNoFilter) {
  auto states = ParseStateFilter({});
  ASSERT_TRUE(states.ok());
  EXPECT_TRUE(states->empty());
}

TEST(StateFilterTest, ParsesEveryStateName) {
  auto states =
      ParseStateFilter({"queued", "running", "in_doubt", "succeeded", "dead", "cancelled"});
  ASSERT_TRUE(states.ok()) << states.error();
  EXPECT_EQ(*states, (std::vector<JobState>{JobState::kQueued, JobState::kRunning,
                                            JobState::kInDoubt, JobState::kSucceeded,
                                            JobState::kDead, JobState::kCancelled}));
}

TEST(StateFilterTest, AcceptsCommaSeparatedListsWithBlanksAndCollapsesDuplicates) {
  auto states = ParseStateFilter({"dead, in_doubt", "dead", " queued "});
  ASSERT_TRUE(states.ok()) << states.error();
  EXPECT_EQ(*states,
            (std::vector<JobState>{JobState::kDead, JobState::kInDoubt, JobState::kQueued}));
}

TEST(StateFilterTest, UnknownStateIsAnErrorNamingTheValidStates) {
  auto states = ParseStateFilter({"dead", "failed"});
  ASSERT_FALSE(states.ok());
  EXPECT_EQ(states.error(),
            "unknown job state \"failed\" (valid states: queued, running, in_doubt, succeeded, "
            "dead, cancelled)");
}

TEST(StateFilterTest, NamesAreCaseSensitiveAsStored) {
  EXPECT_FALSE(ParseStateFilter({"DEAD"}).ok());
}

TEST(StateFilterTest, EmptyNamesAreErrors) {
  EXPECT_FALSE(ParseStateFilter({""}).ok());
  EXPECT_FALSE(ParseStateFilter({"dead,"}).ok());
  EXPECT_FALSE(ParseStateFilter({",dead"}).ok());
}

TEST(StateFilterTest, ErrorMessageIsOneBoundedLine) {
  auto states = ParseStateFilter({std::string(500, 'x') + "\n\x1b[2J"});
  ASSERT_FALSE(states.ok());
  EXPECT_EQ(states.error().find('\n'), std::string::npos);
  EXPECT_EQ(states.error().find('\x1b'), std::string::npos);
  EXPECT_LT(states.error().size(), 200u);
}

}  // namespace
}  // namespace payorch::admin

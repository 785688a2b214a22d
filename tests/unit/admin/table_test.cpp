#include "services/admin/table.hpp"

#include <sstream>

#include <gtest/gtest.h>

namespace payorch::admin {
namespace {

std::string Render(const Table& table) {
  std::ostringstream out;
  table.Print(out);
  return out.str();
}

TEST(TableTest, AlignsColumnsToTheWidestCellWithoutTrailingSpaces) {
  Table table({"ID", "STATE", "LAST ERROR"});
  table.AddRow({"1", "succeeded", "-"});
  table.AddRow({"1234", "dead", "UNAVAILABLE"});
  EXPECT_EQ(Render(table),
            "ID    STATE      LAST ERROR\n"
            "1     succeeded  -\n"
            "1234  dead       UNAVAILABLE\n");
  EXPECT_EQ(table.row_count(), 2u);
}

TEST(TableTest, EmptyLastCellLeavesNoTrailingSpaces) {
  Table table({"A", "B"});
  table.AddRow({"long value", ""});
  EXPECT_EQ(Render(table), "A           B\nlong value\n");
}

TEST(TableTest, AllEmptyHeadersPrintNoHeaderLine) {
  Table table({"", ""});
  table.AddRow({"id", "7"});
  table.AddRow({"state", "dead"});
  EXPECT_EQ(Render(table), "id     7\nstate  dead\n");
}

TEST(TableTest, HeaderOnlyTablePrintsTheHeader) {
  Table table({"ID", "STATE"});
  EXPECT_EQ(Render(table), "ID  STATE\n");
}

TEST(TableTest, CountsUtf8CodePointsNotBytes) {
  Table table({"NAME", "X"});
  table.AddRow({"Łódź", "1"});  // 4 code points, 7 bytes
  table.AddRow({"abcd", "2"});
  EXPECT_EQ(Render(table), "NAME  X\nŁódź  1\nabcd  2\n");
}

TEST(TableTest, CellsAreSanitisedOntoOneLine) {
  Table table({"ERROR"});
  table.AddRow({"first\nsecond\tthird\x1b[31m"});
  EXPECT_EQ(Render(table), "ERROR\nfirst second third [31m\n");
}

TEST(SanitizeCellTest, ReplacesC0AndC1ControlsAndKeepsOtherUtf8) {
  EXPECT_EQ(SanitizeCell("a\rb\x7f" "c"), "a b c");
  EXPECT_EQ(SanitizeCell("csi\xc2\x9b" "2J"), "csi 2J");  // U+009B
  EXPECT_EQ(SanitizeCell("caf\xc3\xa9 \xc2\xa0ok"), "caf\xc3\xa9 \xc2\xa0ok");  // é, NBSP kept
  EXPECT_EQ(SanitizeCell(""), "");
}

TEST(DisplayWidthTest, CountsCodePoints) {
  EXPECT_EQ(DisplayWidth(""), 0u);
  EXPECT_EQ(DisplayWidth("abc"), 3u);
  EXPECT_EQ(DisplayWidth("\xc5\x81\xc3\xb3"), 2u);   // Łó
  EXPECT_EQ(DisplayWidth("\xe2\x82\xac"), 1u);       // €
}

TEST(TruncateTest, KeepsShortTextAndCutsLongTextWithAnEllipsis) {
  EXPECT_EQ(Truncate("short", 10), "short");
  EXPECT_EQ(Truncate("exactly10!", 10), "exactly10!");
  EXPECT_EQ(Truncate("this is too long", 10), "this is...");
  EXPECT_EQ(DisplayWidth(Truncate("this is too long", 10)), 10u);
}

TEST(TruncateTest, NeverSplitsAUtf8Sequence) {
  // Seven "€" (3 bytes each) cut to 5 code points: two euros and the ellipsis.
  const std::string euros = "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
                            "\xe2\x82\xac\xe2\x82\xac";
  EXPECT_EQ(Truncate(euros, 5), "\xe2\x82\xac\xe2\x82\xac...");
}

TEST(TruncateTest, TinyWidthsAreRaisedToFour) {
  EXPECT_EQ(Truncate("abcdefgh", 1), "a...");
}

}  // namespace
}  // namespace payorch::admin

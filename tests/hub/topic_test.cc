#include <algorithm>

#include <catch2/catch.hpp>

#include "hub/topic/topic.h"

using hub::topic::matches;
using hub::topic::topic_trie;
using hub::topic::validate_pattern;

TEST_CASE("patterns follow NATS wildcard rules", "[topic]") {
  CHECK(matches("peacekeeping.SSD.mandate_activity", "peacekeeping.SSD.mandate_activity"));
  CHECK(matches("peacekeeping.*.mandate_activity", "peacekeeping.SSD.mandate_activity"));
  CHECK(matches("*.SSD.*", "development.SSD.programme_activity"));
  CHECK(matches(">", "development.SSD.programme_activity"));
  CHECK(matches("development.>", "development.SSD.programme_activity"));
  CHECK_FALSE(matches("development.>", "development"));
  CHECK_FALSE(matches("peacekeeping.*", "peacekeeping.SSD.mandate_activity"));
  CHECK_FALSE(matches("peacekeeping.SSD.mandate_activity.x", "peacekeeping.SSD.mandate_activity"));
  CHECK_FALSE(matches("peacekeeping.CAF.*", "peacekeeping.SSD.mandate_activity"));
}

TEST_CASE("bad patterns are refused with a reason", "[topic]") {
  CHECK_FALSE(validate_pattern("a.b.c").has_value());
  CHECK_FALSE(validate_pattern("*.*.>").has_value());
  CHECK(validate_pattern("").has_value());
  CHECK(validate_pattern("a..b").has_value());
  CHECK(validate_pattern("a.>.b").has_value());
  CHECK(validate_pattern("a.b>").has_value());
  CHECK(validate_pattern("a.b*").has_value());
  CHECK(validate_pattern("a b").has_value());
  CHECK(validate_pattern(std::string(300, 'a')).has_value());
}

TEST_CASE("the trie finds exactly the patterns a scan would", "[topic][trie]") {
  const std::vector<std::string> patterns = {
      ">", "peacekeeping.>", "peacekeeping.SSD.*", "*.SSD.mandate_activity", "*.*.coherence_alert",
      "development.CAF.programme_activity", "*.*.*", "peacekeeping.SSD.mandate_activity", "coordination.>"};
  const std::vector<std::string> topics = {
      "peacekeeping.SSD.mandate_activity", "development.CAF.programme_activity",
      "coordination.SSD.coherence_alert", "country_team.LBN.country_team_activity", "hub.XXX.adapter_heartbeat"};
  topic_trie trie;
  for (std::size_t i = 0; i < patterns.size(); ++i) trie.insert(patterns[i], i);
  for (const auto& t : topics) {
    std::vector<std::uint64_t> got;
    trie.match(t, got);
    std::sort(got.begin(), got.end());
    std::vector<std::uint64_t> want;
    for (std::size_t i = 0; i < patterns.size(); ++i)
      if (matches(patterns[i], t)) want.push_back(i);
    INFO(t);
    CHECK(got == want);
  }
  SECTION("erased patterns no longer match") {
    for (std::size_t i = 0; i < patterns.size(); ++i) trie.erase(patterns[i], i);
    CHECK(trie.size() == 0);
    std::vector<std::uint64_t> got;
    trie.match("peacekeeping.SSD.mandate_activity", got);
    CHECK(got.empty());
  }
}

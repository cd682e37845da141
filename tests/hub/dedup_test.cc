#include <catch2/catch.hpp>

#include "hub/dedup/dedup.h"

using hub::offset;
using hub::dedup::dedup_window;
using hub::schema::Id128;

TEST_CASE("a remembered id returns its offset", "[dedup]") {
  dedup_window w(10);
  w.insert(Id128(1, 2), offset{7});
  REQUIRE(w.find(Id128(1, 2)).has_value());
  CHECK(w.find(Id128(1, 2))->value == 7);
  CHECK_FALSE(w.find(Id128(2, 1)).has_value());
}

TEST_CASE("the window forgets the oldest ids beyond its capacity", "[dedup]") {
  dedup_window w(3);
  for (std::uint64_t i = 1; i <= 5; ++i) w.insert(Id128(0, i), offset{i});
  CHECK(w.size() == 3);
  CHECK_FALSE(w.find(Id128(0, 1)).has_value());
  CHECK_FALSE(w.find(Id128(0, 2)).has_value());
  CHECK(w.find(Id128(0, 5)).has_value());
}

TEST_CASE("an erased id is no longer a duplicate", "[dedup]") {
  dedup_window w(4);
  w.insert(Id128(9, 9), offset{1});
  w.erase(Id128(9, 9));
  CHECK_FALSE(w.find(Id128(9, 9)).has_value());
}

#include <optional>
#include <unordered_map>
#include <vector>

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

TEST_CASE("an id inserted again keeps its place until its newest insertion is the oldest", "[dedup]") {
  dedup_window w(3);
  w.insert(Id128(0, 1), offset{1});
  w.insert(Id128(0, 2), offset{2});
  w.erase(Id128(0, 1));
  w.insert(Id128(0, 1), offset{3});  // stored again after a failed append, at a new offset
  w.insert(Id128(0, 4), offset{4});  // full: forgets the first insertion of id 1, which is stale
  REQUIRE(w.find(Id128(0, 1)).has_value());
  CHECK(w.find(Id128(0, 1))->value == 3);
  w.insert(Id128(0, 5), offset{5});  // forgets id 2
  CHECK_FALSE(w.find(Id128(0, 2)).has_value());
  CHECK(w.find(Id128(0, 1)).has_value());
  w.insert(Id128(0, 6), offset{6});  // now id 1's own insertion is the oldest
  CHECK_FALSE(w.find(Id128(0, 1)).has_value());
  CHECK(w.size() == 3);
}

TEST_CASE("the window agrees with a plain model through many inserts, erases, evictions and growth", "[dedup]") {
  // Small capacities make long probe runs and every wrap-around of the table; 5000 makes
  // the table grow twice. The model: an id is remembered if its newest insertion is among
  // the last `cap` insertions and it was not erased after it.
  for (std::size_t cap : {1u, 2u, 7u, 64u, 1000u, 5000u}) {
    dedup_window w(cap);
    std::uint64_t inserts = 0;
    std::unordered_map<std::uint64_t, std::pair<std::uint64_t, std::uint64_t>> newest;  // id -> (insert no, offset)
    std::uint64_t state = 0x243f6a8885a308d3ull;
    auto rnd = [&] {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      return state;
    };
    auto model_find = [&](std::uint64_t id) -> std::optional<std::uint64_t> {
      auto it = newest.find(id);
      if (it == newest.end() || it->second.first + cap < inserts + 1) return std::nullopt;
      return it->second.second;
    };
    const std::uint64_t ids = cap * 3 + 1;
    for (std::uint64_t step = 1; step <= 30000; ++step) {
      const std::uint64_t id = rnd() % ids;
      if (rnd() % 5 == 0) {
        w.erase(Id128(id, ~id));
        newest.erase(id);
      } else {
        w.insert(Id128(id, ~id), offset{step});
        ++inserts;
        newest[id] = {inserts, step};
      }
      if (step % 97 == 0 || cap < 10) {
        for (std::uint64_t probe = 0; probe < ids; ++probe) {
          auto got = w.find(Id128(probe, ~probe));
          auto want = model_find(probe);
          INFO("capacity " << cap << ", step " << step << ", id " << probe);
          REQUIRE(got.has_value() == want.has_value());
          if (got) REQUIRE(got->value == *want);
        }
      }
    }
    CHECK(w.size() <= cap);
  }
}

TEST_CASE("erase_from forgets the ids stored at or after an offset and keeps the others", "[dedup]") {
  dedup_window w(10000);
  for (std::uint64_t i = 0; i < 6000; ++i) w.insert(Id128(i * 7919, i), offset{i});
  w.erase_from(offset{4000});
  CHECK(w.size() == 4000);
  for (std::uint64_t i = 0; i < 6000; ++i) {
    INFO("id " << i);
    REQUIRE(w.find(Id128(i * 7919, i)).has_value() == (i < 4000));
  }
  // Stored again (the publishers' resends), at new offsets.
  for (std::uint64_t i = 4000; i < 6000; ++i) w.insert(Id128(i * 7919, i), offset{i + 10});
  REQUIRE(w.find(Id128(4000 * 7919, 4000)).has_value());
  CHECK(w.find(Id128(4000 * 7919, 4000))->value == 4010);
}

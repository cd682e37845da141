// Unit tests for the publisher's store-and-forward spool (adapters/sdk/spool.h).
#include "adapters/sdk/spool.h"

#include <fstream>
#include <vector>

#include <catch2/catch.hpp>

#include "adapters/sdk/sdk.h"
#include "tests/support/temp_dir.h"

namespace {

std::vector<std::uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

}  // namespace

TEST_CASE("a spool keeps unacknowledged envelopes across a reopen", "[sdk][spool]") {
  hub::test::temp_dir dir("spool");
  auto path = dir / "pub.spool";
  {
    hub::sdk::detail::spool s(path, 1 << 20);
    auto a = s.append(bytes_of("first"));
    auto b = s.append(bytes_of("second"));
    auto c = s.append(bytes_of("third"));
    REQUIRE(a);
    REQUIRE(b);
    REQUIRE(c);
    s.sync();
    s.mark_done(*b);
    CHECK(s.live() == 2);
  }
  hub::sdk::detail::spool s(path, 1 << 20);
  auto loaded = s.take_loaded();
  REQUIRE(loaded.size() == 2);
  CHECK(loaded[0].bytes == bytes_of("first"));
  CHECK(loaded[1].bytes == bytes_of("third"));
  // New keys never collide with loaded ones.
  auto d = s.append(bytes_of("fourth"));
  REQUIRE(d);
  CHECK(*d > loaded[1].key);
}

TEST_CASE("a spool shrinks to its header when everything is acknowledged", "[sdk][spool]") {
  hub::test::temp_dir dir("spool");
  auto path = dir / "pub.spool";
  hub::sdk::detail::spool s(path, 1 << 20);
  std::vector<std::uint64_t> keys;
  for (int i = 0; i < 10; ++i) keys.push_back(*s.append(bytes_of(std::string(100, 'x'))));
  s.sync();
  CHECK(std::filesystem::file_size(path) > 1000);
  for (auto k : keys) s.mark_done(k);
  CHECK(s.live() == 0);
  CHECK(std::filesystem::file_size(path) == 8);
}

TEST_CASE("a torn spool tail is truncated and the records before it are kept", "[sdk][spool]") {
  hub::test::temp_dir dir("spool");
  auto path = dir / "pub.spool";
  {
    hub::sdk::detail::spool s(path, 1 << 20);
    REQUIRE(s.append(bytes_of("kept-1")));
    REQUIRE(s.append(bytes_of("kept-2")));
    s.sync();
  }
  auto good_size = std::filesystem::file_size(path);
  {
    // Half a record, as a crash in the middle of a write leaves it.
    std::ofstream out(path, std::ios::binary | std::ios::app);
    const char torn[] = {40, 0, 0, 0, 1, 2, 3, 4, 1, 9};
    out.write(torn, sizeof torn);
  }
  hub::sdk::detail::spool s(path, 1 << 20);
  auto loaded = s.take_loaded();
  REQUIRE(loaded.size() == 2);
  CHECK(loaded[1].bytes == bytes_of("kept-2"));
  CHECK(std::filesystem::file_size(path) == good_size);
}

TEST_CASE("a full spool refuses new envelopes until some are acknowledged", "[sdk][spool]") {
  hub::test::temp_dir dir("spool");
  hub::sdk::detail::spool s(dir / "pub.spool", 4096);
  std::vector<std::uint64_t> keys;
  for (int i = 0; i < 100; ++i) {
    auto k = s.append(bytes_of(std::string(500, 'e')));
    if (!k) break;
    keys.push_back(*k);
  }
  CHECK(keys.size() == 7);  // 8-byte header + 7 x 517-byte records fit in 4096
  CHECK_FALSE(s.append(bytes_of(std::string(500, 'e'))));
  s.mark_done(keys[0]);
  s.mark_done(keys[1]);
  CHECK(s.append(bytes_of(std::string(500, 'e'))));
}

TEST_CASE("a file that is not a spool is refused with a clear error", "[sdk][spool]") {
  hub::test::temp_dir dir("spool");
  auto path = dir / "notes.txt";
  {
    std::ofstream out(path);
    out << "these are someone's notes, not a spool\n";
  }
  try {
    hub::sdk::detail::spool s(path, 1 << 20);
    FAIL("opening a non-spool file must throw");
  } catch (const hub::sdk::error& e) {
    CHECK(e.kind() == hub::sdk::error_kind::spool_error);
    CHECK_THAT(e.what(), Catch::Contains(path.string()) && Catch::Contains("not a spool"));
  }
  // The file is left as it was.
  CHECK(std::filesystem::file_size(path) > 20);
}

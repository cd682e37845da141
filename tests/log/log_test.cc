// The event log as a store: round trips, rolls, reopen, time lookups, retention,
// checkpoints and durability per fsync policy, on real files in a temp dir.
#include "hub/log/log.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <thread>

#include "tests/log/log_test_support.h"
#include "tests/support/hubd_process.h"
#include "tests/support/temp_dir.h"

using namespace hub;
using namespace hub::log;
using namespace hub::log::test;

namespace {

log_options small_segments() {
  log_options o;
  o.segment_bytes = 4096;
  o.index_interval_bytes = 512;
  return o;
}

}  // namespace

TEST_CASE("records read back in order across segment rolls", "[log]") {
  hub::test::temp_dir dir("log");
  auto s = open_or_fail(dir / "data", small_segments());
  REQUIRE(append_range(*s, 0, 500, 7));
  CHECK(s->end().value == 500);
  CHECK(s->begin().value == 0);
  CHECK(s->stats().segments > 5);
  CHECK(s->stats().records == 500);

  auto all = read_all(*s);
  REQUIRE(all.size() == 500);
  for (std::uint64_t i = 0; i < 500; ++i) {
    INFO("record " << i);
    CHECK(all[i].off == i);
    CHECK(is_record(all[i], i));
  }

  SECTION("a read from the middle starts at that offset") {
    auto part = read_all(*s, 321);
    REQUIRE(part.size() == 179);
    CHECK(part.front().off == 321);
    CHECK(is_record(part.front(), 321));
  }
  SECTION("limit and max_records stop the read and say where to go on") {
    std::vector<std::uint64_t> seen;
    auto next = s->read(offset{100}, offset{150}, 1000, [&](const store::record_view& v) {
      seen.push_back(v.off.value);
      return true;
    });
    REQUIRE(next);
    CHECK(next.value().value == 150);
    CHECK(seen.size() == 50);
    seen.clear();
    next = s->read(offset{100}, s->end(), 20, [&](const store::record_view& v) {
      seen.push_back(v.off.value);
      return true;
    });
    REQUIRE(next);
    CHECK(next.value().value == 120);
    REQUIRE(seen.size() == 20);
    CHECK(seen.back() == 119);
  }
  SECTION("a visitor returning false stops after that record") {
    int calls = 0;
    auto next = s->read(offset{10}, s->end(), 1000, [&](const store::record_view&) { return ++calls < 3; });
    REQUIRE(next);
    CHECK(calls == 3);
    CHECK(next.value().value == 13);
  }
  SECTION("a read past the end visits nothing") {
    int calls = 0;
    auto next = s->read(offset{900}, offset{1000}, 10, [&](const store::record_view&) { return ++calls > 0; });
    REQUIRE(next);
    CHECK(calls == 0);
  }
}

TEST_CASE("large records and a batch bigger than a segment are kept whole", "[log]") {
  hub::test::temp_dir dir("log");
  auto s = open_or_fail(dir / "data", small_segments());
  REQUIRE(append_range(*s, 0, 3, 3, 20000));  // one batch of 60 kB, segment size 4 kB
  REQUIRE(append_range(*s, 3, 2, 1, 20000));
  auto all = read_all(*s);
  REQUIRE(all.size() == 5);
  for (std::uint64_t i = 0; i < 5; ++i) CHECK(is_record(all[i], i, 20000));
}

TEST_CASE("a reopened log keeps every record and continues at the right offset", "[log]") {
  hub::test::temp_dir dir("log");
  {
    auto s = open_or_fail(dir / "data", small_segments());
    REQUIRE(append_range(*s, 0, 300, 9));
  }
  SECTION("with the index files it wrote") {}
  SECTION("with its index files gone") {
    for (const auto& e : std::filesystem::directory_iterator(dir / "data"))
      if (e.path().extension() == ".index") std::filesystem::remove(e.path());
  }
  SECTION("with an index file that does not match its segment") {
    auto idx = segment_files(dir / "data").front();
    idx.replace_extension(".index");
    REQUIRE(std::filesystem::exists(idx));
    std::fstream f(idx, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(60);
    f.put('\x7f');
  }
  auto s = open_or_fail(dir / "data", small_segments());
  CHECK(s->end().value == 300);
  CHECK(s->durable_end().value == 300);
  auto all = read_all(*s);
  REQUIRE(all.size() == 300);
  for (std::uint64_t i = 0; i < 300; ++i) CHECK(is_record(all[i], i));
  CHECK(s->offset_at_time(1'700'000'000'000 + 1500) == offset{150});

  REQUIRE(append_range(*s, 300, 50, 5));
  CHECK(s->end().value == 350);
  all = read_all(*s, 290);
  REQUIRE(all.size() == 60);
  for (std::uint64_t i = 0; i < 60; ++i) CHECK(is_record(all[i], 290 + i));
}

TEST_CASE("offset_at_time finds the first record at or after a time", "[log]") {
  hub::test::temp_dir dir("log");
  auto s = open_or_fail(dir / "data", small_segments());
  REQUIRE(append_range(*s, 0, 400, 13));
  const millis t0 = 1'700'000'000'000;
  CHECK(s->offset_at_time(0) == offset{0});
  CHECK(s->offset_at_time(t0) == offset{0});
  CHECK(s->offset_at_time(t0 + 1) == offset{1});
  CHECK(s->offset_at_time(t0 + 10) == offset{1});
  CHECK(s->offset_at_time(t0 + 2345) == offset{235});
  CHECK(s->offset_at_time(t0 + 3990) == offset{399});
  CHECK(s->offset_at_time(t0 + 3991) == s->end());
  for (std::uint64_t n = 0; n < 400; n += 37) CHECK(s->offset_at_time(t0 + static_cast<millis>(n) * 10) == offset{n});
}

TEST_CASE("retention drops the oldest whole segments by size, never the active one", "[log][retention]") {
  hub::test::temp_dir dir("log");
  auto o = small_segments();
  o.retention_bytes = 20000;
  auto s = open_or_fail(dir / "data", o);
  REQUIRE(append_range(*s, 0, 1000, 10));
  auto before = s->stats();
  CHECK(before.bytes > 20000);
  s->enforce_retention(now_millis());
  auto after = s->stats();
  CHECK(after.bytes <= 20000);
  CHECK(after.bytes > 20000 - 4096 - 2000);  // whole segments only: close to the limit
  CHECK(s->begin().value > 0);
  CHECK(s->end().value == 1000);
  CHECK(segment_files(dir / "data").size() == after.segments);
  auto all = read_all(*s);
  REQUIRE(!all.empty());
  CHECK(all.front().off == s->begin().value);
  CHECK(all.back().off == 999);
  CHECK(all.size() == 1000 - s->begin().value);
  CHECK(s->offset_at_time(0) == s->begin());

  SECTION("a read from before begin starts at begin") {
    auto part = read_all(*s, 0);
    CHECK(part.front().off == s->begin().value);
  }
  SECTION("the dropped segments stay dropped after reopen") {
    auto b = s->begin();
    s.reset();
    auto again = open_or_fail(dir / "data", o);
    CHECK(again->begin() == b);
    CHECK(again->end().value == 1000);
  }
  SECTION("a limit below one segment still keeps the active segment") {
    s.reset();
    auto tiny = o;
    tiny.retention_bytes = 1;
    auto again = open_or_fail(dir / "data", tiny);
    again->enforce_retention(now_millis());
    CHECK(again->stats().segments == 1);
    CHECK(again->end().value == 1000);
    CHECK(!read_all(*again).empty());
    REQUIRE(append_range(*again, 1000, 5));
    CHECK(read_all(*again).back().off == 1004);
  }
}

TEST_CASE("retention drops segments older than the retention age", "[log][retention]") {
  hub::test::temp_dir dir("log");
  auto o = small_segments();
  o.retention_age = std::chrono::seconds(60);
  auto s = open_or_fail(dir / "data", o);
  REQUIRE(append_range(*s, 0, 400, 10));  // log times t0 .. t0 + 3990 ms
  const millis t0 = 1'700'000'000'000;
  s->enforce_retention(t0 + 30'000);  // everything younger than 60 s
  CHECK(s->begin().value == 0);
  s->enforce_retention(t0 + 60'000 + 2'000);  // records before t0 + 2 s are too old
  CHECK(s->begin().value > 0);
  CHECK(s->begin().value <= 200);
  auto all = read_all(*s);
  REQUIRE(!all.empty());
  // Whole segments only: the first kept segment holds a record younger than the cut.
  CHECK(all.front().off == s->begin().value);
  s->enforce_retention(t0 + 10'000'000);  // all too old, but the active segment stays
  CHECK(s->stats().segments == 1);
  CHECK(s->end().value == 400);
}

TEST_CASE("a consumer checkpoint survives reopen and is written atomically", "[log][checkpoint]") {
  hub::test::temp_dir dir("log");
  {
    auto s = open_or_fail(dir / "data");
    CHECK_FALSE(s->consumer_offset("rules").has_value());
    REQUIRE(s->commit_consumer("rules", offset{42}));
    REQUIRE(s->commit_consumer("unmiss-sync", offset{7}));
    REQUIRE(s->commit_consumer("rules", offset{43}));
    CHECK(s->consumer_offset("rules") == offset{43});
    CHECK_FALSE(std::filesystem::exists(dir / "data" / "consumers.tmp"));
  }
  // A crash while writing the next checkpoint leaves a temp file; it is ignored.
  { std::ofstream(dir / "data" / "consumers.tmp") << "half written"; }
  auto s = open_or_fail(dir / "data");
  CHECK(s->consumer_offset("rules") == offset{43});
  CHECK(s->consumer_offset("unmiss-sync") == offset{7});
  CHECK(s->consumers().size() == 2);
  CHECK_FALSE(std::filesystem::exists(dir / "data" / "consumers.tmp"));
  CHECK(s->commit_consumer("", offset{1}).code() == errc::invalid_argument);
}

TEST_CASE("a failed checkpoint write keeps the previous checkpoint", "[log][checkpoint]") {
  hub::test::temp_dir dir("log");
  faulty_file_system ffs;
  {
    auto s = open_or_fail(dir / "data", {}, &ffs);
    REQUIRE(s->commit_consumer("rules", offset{10}));
    ffs.fail_write_from = ffs.writes.load();
    auto st = s->commit_consumer("rules", offset{20});
    CHECK(st.code() == errc::no_space);
    CHECK_THAT(st.message(), Catch::Contains("previous checkpoint is kept"));
    CHECK(s->consumer_offset("rules") == offset{10});
    ffs.fail_write_from = -1;
  }
  auto s = open_or_fail(dir / "data");
  CHECK(s->consumer_offset("rules") == offset{10});
}

TEST_CASE("a corrupt consumer checkpoint is refused with a clear message", "[log][checkpoint]") {
  hub::test::temp_dir dir("log");
  {
    auto s = open_or_fail(dir / "data");
    REQUIRE(s->commit_consumer("rules", offset{10}));
  }
  {
    std::fstream f(dir / "data" / "consumers", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(14);
    f.put('X');
  }
  auto r = open_log(dir / "data", {});
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == errc::corruption);
  CHECK_THAT(r.error().message(), Catch::Contains("consumers") && Catch::Contains("move it away"));
}

TEST_CASE("durable_end follows the fsync policy", "[log][durability]") {
  hub::test::temp_dir dir("log");
  faulty_file_system ffs;

  SECTION("batch: records become durable only through sync") {
    auto s = open_or_fail(dir / "data", {}, &ffs);
    CHECK_FALSE(s->needs_sync());
    REQUIRE(append_range(*s, 0, 25, 25));
    CHECK(s->durable_end().value == 0);
    CHECK(s->needs_sync());
    int syncs = ffs.syncs.load();
    REQUIRE(s->sync());
    CHECK(ffs.syncs.load() > syncs);
    CHECK(s->durable_end().value == 25);
    CHECK_FALSE(s->needs_sync());
    // Nothing new: sync does not touch the disk.
    syncs = ffs.syncs.load();
    REQUIRE(s->sync());
    CHECK(ffs.syncs.load() == syncs);
  }
  SECTION("batch: a sync covers segments rolled since the last sync") {
    auto s = open_or_fail(dir / "data", small_segments(), &ffs);
    int syncs = ffs.syncs.load();
    REQUIRE(append_range(*s, 0, 200, 10));
    CHECK(s->stats().segments > 3);
    REQUIRE(s->sync());
    CHECK(ffs.syncs.load() - syncs >= static_cast<int>(s->stats().segments));
    CHECK(s->durable_end().value == 200);
  }
  SECTION("interval: durable at append, and a background fsync follows") {
    log_options o;
    o.fsync = fsync_policy::interval;
    o.fsync_interval = std::chrono::milliseconds(20);
    auto s = open_or_fail(dir / "data", o, &ffs);
    int syncs = ffs.syncs.load();
    REQUIRE(append_range(*s, 0, 10, 10));
    CHECK(s->durable_end().value == 10);
    CHECK_FALSE(s->needs_sync());
    CHECK(hub::test::wait_for([&] { return ffs.syncs.load() > syncs; }, std::chrono::seconds(5)));
  }
  SECTION("never: durable at append, no fsync") {
    log_options o;
    o.fsync = fsync_policy::never;
    auto s = open_or_fail(dir / "data", o, &ffs);
    REQUIRE(append_range(*s, 0, 10, 10));
    CHECK(s->durable_end().value == 10);
    CHECK_FALSE(s->needs_sync());
  }
}

TEST_CASE("a sync thread running beside appends and rolls loses nothing", "[log][durability]") {
  hub::test::temp_dir dir("log");
  auto s = open_or_fail(dir / "data", small_segments());
  std::atomic<bool> done{false};
  std::atomic<int> sync_errors{0};
  std::thread syncer([&] {
    while (!done.load()) {
      if (!s->sync()) ++sync_errors;
    }
  });
  for (std::uint64_t i = 0; i < 3000; i += 10) {
    REQUIRE(append_range(*s, i, 10, 10));
    CHECK(s->durable_end().value <= s->end().value);
  }
  done = true;
  syncer.join();
  CHECK(sync_errors.load() == 0);
  REQUIRE(s->sync());
  CHECK(s->durable_end().value == 3000);
  s.reset();
  auto again = open_or_fail(dir / "data", small_segments());
  auto all = read_all(*again);
  REQUIRE(all.size() == 3000);
  for (std::uint64_t i = 0; i < 3000; ++i) CHECK(is_record(all[i], i));
}

TEST_CASE("a second open of the same data directory is refused and names the holder", "[log][lock]") {
  hub::test::temp_dir dir("log");
  auto first = open_or_fail(dir / "data");
  auto second = open_log(dir / "data", {});
  REQUIRE_FALSE(second);
  CHECK(second.error().code() == errc::unavailable);
  CHECK_THAT(second.error().message(),
             Catch::Contains((dir / "data").string()) && Catch::Contains("pid " + std::to_string(::getpid())));
  first.reset();
  auto third = open_log(dir / "data", {});
  CHECK(third);
}

TEST_CASE("a data directory that cannot be used is refused with a clear message", "[log][lock]") {
  hub::test::temp_dir dir("log");
  SECTION("the path is a file") {
    { std::ofstream(dir / "plain") << "not a directory"; }
    auto r = open_log(dir / "plain", {});
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message(), Catch::Contains((dir / "plain").string()));
  }
  SECTION("permission is denied") {
    faulty_file_system ffs;
    ffs.deny_lock = true;
    auto r = open_log(dir / "data", {}, &ffs);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == errc::io_error);
    CHECK_THAT(r.error().message(),
               Catch::Contains((dir / "data").string()) && Catch::Contains("Permission denied") &&
                   Catch::Contains("readable and writable"));
  }
  SECTION("the directory mode forbids access") {
    if (::geteuid() == 0) return;  // root ignores file modes; the injected case covers it
    std::filesystem::create_directories(dir / "locked");
    std::filesystem::permissions(dir / "locked", std::filesystem::perms::none);
    auto r = open_log(dir / "locked", {});
    std::filesystem::permissions(dir / "locked", std::filesystem::perms::owner_all);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message(), Catch::Contains((dir / "locked").string()));
  }
  SECTION("options out of range") {
    log_options o;
    o.segment_bytes = 10;
    auto r = open_log(dir / "data", o);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == errc::invalid_argument);
  }
}

TEST_CASE("a log with many segments keeps a bounded number of files open", "[log]") {
  hub::test::temp_dir dir("log");
  auto count_fds = [] {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
  };
  const std::size_t before = count_fds();
  auto s = open_or_fail(dir / "data", small_segments());
  for (std::uint64_t i = 0; i < 3000; i += 100) {
    REQUIRE(append_range(*s, i, 100, 10));
    REQUIRE(s->sync());  // as the hub's sync thread does; it releases rolled segments
  }
  REQUIRE(s->stats().segments > 100);
  CHECK(count_fds() - before < 80);
  s.reset();
  s = open_or_fail(dir / "data", small_segments());
  CHECK(count_fds() - before < 10);
  auto all = read_all(*s);
  REQUIRE(all.size() == 3000);
  for (std::uint64_t i = 0; i < 3000; ++i) CHECK(is_record(all[i], i));
  CHECK(count_fds() - before < 80);
  CHECK(s->offset_at_time(1'700'000'000'000 + 5) == offset{1});
}

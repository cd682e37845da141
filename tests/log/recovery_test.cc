// The event log under faults: torn tails, corrupt records, a full disk, failing fsync.
#include <catch2/catch.hpp>

#include <fstream>
#include <random>

#include "hub/log/format.h"
#include "hub/log/log.h"
#include "tests/log/log_test_support.h"
#include "tests/support/hubd_process.h"
#include "tests/support/temp_dir.h"

using namespace hub;
using namespace hub::log;
using namespace hub::log::test;
namespace fs = std::filesystem;

namespace {

log_options small_segments() {
  log_options o;
  o.segment_bytes = 4096;
  o.index_interval_bytes = 512;
  return o;
}

// Recovery does not depend on the policy; "never" spares the many opens an fsync each.
log_options small_segments_no_fsync() {
  log_options o = small_segments();
  o.fsync = fsync_policy::never;
  return o;
}

// Start positions of the records in a segment file, following the length fields.
std::vector<std::uint64_t> record_positions(const fs::path& seg) {
  std::ifstream in(seg, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::uint64_t> out;
  std::uint64_t pos = format::segment_header_bytes;
  while (pos + format::frame_bytes <= bytes.size()) {
    out.push_back(pos);
    pos += format::frame_bytes + format::get_u32(reinterpret_cast<const std::uint8_t*>(bytes.data() + pos));
  }
  return out;
}

void flip_byte(const fs::path& p, std::uint64_t pos) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(pos));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(pos));
  f.put(static_cast<char>(c ^ 0x5A));
}

void copy_dir(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  for (const auto& e : fs::directory_iterator(from)) fs::copy_file(e.path(), to / e.path().filename());
}

}  // namespace

TEST_CASE("a torn last segment is cut back to its last whole record at any byte position", "[log][recovery]") {
  hub::test::temp_dir dir("log");
  const fs::path src = dir / "src";
  // Record by record, remember where each record of the final segment ends.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ends;  // (file size after record, offset + 1)
  fs::path last;
  {
    auto s = open_or_fail(src, small_segments_no_fsync());
    for (std::uint64_t i = 0; i < 60; ++i) {
      REQUIRE(append_range(*s, i, 1, 1));
      auto segs = segment_files(src);
      if (segs.back() != last) {
        last = segs.back();
        ends.clear();
      }
      ends.emplace_back(fs::file_size(last), i + 1);
    }
  }
  const std::uint64_t first_in_last = ends.front().second - 1;
  const std::uint64_t full = fs::file_size(last);
  REQUIRE(ends.size() >= 5);

  std::vector<std::uint64_t> cuts;
  for (std::uint64_t c = 0; c < full; c += 5) cuts.push_back(c);
  for (const auto& [size, _] : ends) {
    cuts.push_back(size);
    cuts.push_back(size - 1);
    cuts.push_back(size + 1);
  }
  int n = 0;
  for (std::uint64_t cut : cuts) {
    if (cut > full) continue;
    INFO("segment cut to " << cut << " of " << full << " bytes");
    const fs::path work = dir / ("cut" + std::to_string(n++));
    copy_dir(src, work);
    fs::resize_file(work / last.filename(), cut);

    std::uint64_t expect_end = first_in_last;
    for (const auto& [size, end] : ends)
      if (size <= cut) expect_end = end;
    log_capture cap;
    auto s = open_or_fail(work, small_segments_no_fsync());
    REQUIRE(s->end().value == expect_end);
    auto all = read_all(*s);
    REQUIRE(all.size() == expect_end);
    for (std::uint64_t i = 0; i < expect_end; ++i) REQUIRE(is_record(all[i], i));
    bool at_boundary = cut <= format::segment_header_bytes || cut == full ||
                       std::any_of(ends.begin(), ends.end(), [&](const auto& e) { return e.first == cut; });
    if (!at_boundary) {
      CHECK_THAT(cap.text(), Catch::Contains("torn or corrupt tail") &&
                                 Catch::Contains(last.filename().string()) && Catch::Contains("cut"));
    }
    REQUIRE(append_range(*s, expect_end, 2, 2));
    CHECK(s->end().value == expect_end + 2);
    s.reset();
    auto again = open_or_fail(work, small_segments_no_fsync());
    CHECK(again->end().value == expect_end + 2);
    CHECK(read_all(*again, expect_end).size() == 2);
    again.reset();
    fs::remove_all(work);
  }
}

TEST_CASE("garbage after the last record is cut and reported", "[log][recovery]") {
  hub::test::temp_dir dir("log");
  {
    auto s = open_or_fail(dir / "data");
    REQUIRE(append_range(*s, 0, 20, 5));
  }
  const fs::path seg = segment_files(dir / "data").back();
  const auto size = fs::file_size(seg);
  SECTION("zeros, as after a power cut") {
    std::ofstream(seg, std::ios::app | std::ios::binary) << std::string(3000, '\0');
  }
  SECTION("random bytes") {
    std::mt19937 rng(7);
    std::string junk(3000, ' ');
    for (auto& c : junk) c = static_cast<char>(rng());
    std::ofstream(seg, std::ios::app | std::ios::binary) << junk;
  }
  log_capture cap;
  auto s = open_or_fail(dir / "data");
  CHECK(s->end().value == 20);
  CHECK(fs::file_size(seg) == size);
  CHECK_THAT(cap.text(), Catch::Contains("cut 3000 bytes"));
  CHECK(read_all(*s).size() == 20);
}

TEST_CASE("a corrupt record in an older segment is skipped, counted and reported", "[log][recovery]") {
  hub::test::temp_dir dir("log");
  {
    auto s = open_or_fail(dir / "data", small_segments());
    REQUIRE(append_range(*s, 0, 100, 1));
  }
  auto segs = segment_files(dir / "data");
  REQUIRE(segs.size() >= 3);
  const fs::path victim = segs[1];
  auto positions = record_positions(victim);
  REQUIRE(positions.size() > 8);
  const std::uint64_t pos = positions[5];
  std::uint64_t base = std::stoull(victim.stem().string());
  const std::uint64_t bad = base + 5;

  SECTION("a byte of the envelope") { flip_byte(victim, pos + 120); }
  SECTION("a byte of the length") { flip_byte(victim, pos + 1); }
  SECTION("a byte of the offset") { flip_byte(victim, pos + 9); }
  SECTION("a byte of the envelope, with the index gone so that open scans the segment") {
    flip_byte(victim, pos + 120);
    auto idx = victim;
    fs::remove(idx.replace_extension(".index"));
  }

  log_capture cap;
  auto s = open_or_fail(dir / "data", small_segments());
  CHECK(s->end().value == 100);
  auto all = read_all(*s);
  REQUIRE(all.size() == 99);
  std::uint64_t n = 0;
  for (const auto& r : all) {
    if (n == bad) ++n;
    CHECK(r.off == n);
    CHECK(is_record(r, n));
    ++n;
  }
  CHECK(s->stats().corrupt_skipped == 1);
  CHECK_THAT(cap.text(), Catch::Contains(victim.filename().string()) &&
                             Catch::Contains("at byte " + std::to_string(pos)) && Catch::Contains("skipped"));
  // Reading again skips it again without counting it twice.
  CHECK(read_all(*s).size() == 99);
  CHECK(s->stats().corrupt_skipped == 1);
  // A read that starts on the bad record continues after it.
  auto from_bad = read_all(*s, bad);
  REQUIRE(!from_bad.empty());
  CHECK(from_bad.front().off == bad + 1);
  // Appends go on.
  REQUIRE(append_range(*s, 100, 3, 3));
  CHECK(s->end().value == 103);
}

TEST_CASE("a corrupt record in the middle of the last segment keeps the records after it", "[log][recovery]") {
  hub::test::temp_dir dir("log");
  {
    auto s = open_or_fail(dir / "data");
    REQUIRE(append_range(*s, 0, 30, 1));
  }
  const fs::path seg = segment_files(dir / "data").back();
  auto positions = record_positions(seg);
  flip_byte(seg, positions[10] + 100);
  log_capture cap;
  auto s = open_or_fail(dir / "data");
  CHECK(s->end().value == 30);
  CHECK(read_all(*s).size() == 29);
  CHECK(s->stats().corrupt_skipped == 1);
  CHECK_THAT(cap.text(), Catch::Contains("at byte " + std::to_string(positions[10])));
}

TEST_CASE("a full disk fails the append cleanly and the log recovers when space returns", "[log][faults]") {
  hub::test::temp_dir dir("log");
  faulty_file_system ffs;
  auto s = open_or_fail(dir / "data", {}, &ffs);
  REQUIRE(append_range(*s, 0, 50, 10));
  const fs::path seg = segment_files(dir / "data").back();
  const auto size_before = fs::file_size(seg);

  SECTION("nothing written") { ffs.partial = false; }
  SECTION("half the batch written before the error") { ffs.partial = true; }

  ffs.fail_write_from = ffs.writes.load();
  auto b = make_batch(50, 10);
  auto st = s->append(b.records);
  CHECK(st.code() == errc::no_space);
  CHECK_THAT(st.message(), Catch::Contains("No space left on device") &&
                               Catch::Contains("nothing of this batch was stored") && Catch::Contains("offset 50"));
  CHECK(s->end().value == 50);
  CHECK_FALSE(s->stats().writable);
  CHECK_THAT(s->stats().last_error, Catch::Contains("No space"));
  CHECK(fs::file_size(seg) == size_before);
  auto all = read_all(*s);
  REQUIRE(all.size() == 50);
  CHECK(is_record(all.back(), 49));
  CHECK(s->append(b.records).code() == errc::no_space);  // still full

  ffs.fail_write_from = -1;  // space returns
  REQUIRE(s->append(b.records));
  CHECK(s->stats().writable);
  CHECK(s->end().value == 60);
  REQUIRE(s->sync());
  CHECK(s->durable_end().value == 60);
  s.reset();
  auto again = open_or_fail(dir / "data");
  all = read_all(*again);
  REQUIRE(all.size() == 60);
  for (std::uint64_t i = 0; i < 60; ++i) CHECK(is_record(all[i], i));
}

TEST_CASE("a write failing at any point of a run with rolls loses only the failed batches", "[log][faults]") {
  hub::test::temp_dir dir("log");
  for (int fail_at = 0; fail_at < 40; ++fail_at) {
    INFO("the write number " << fail_at << " after open fails, and three after it");
    faulty_file_system ffs;
    const fs::path data = dir / ("run" + std::to_string(fail_at));
    std::vector<std::uint64_t> stored;  // record numbers in the order they were stored
    {
      auto s = open_or_fail(data, small_segments(), &ffs);
      int start = ffs.writes.load();
      for (std::uint64_t n = 0; n < 60; ++n) {
        int w = ffs.writes.load() - start;
        ffs.fail_write_from = (w >= fail_at && w < fail_at + 3) ? ffs.writes.load() : -1;
        auto b = make_batch(n, 1);
        auto st = s->append(b.records);
        if (st) {
          stored.push_back(n);
        } else {
          REQUIRE((st.code() == errc::no_space || st.code() == errc::io_error));
        }
      }
      ffs.fail_write_from = -1;
      REQUIRE(s->sync());
      auto all = read_all(*s);
      REQUIRE(all.size() == stored.size());
    }
    auto s = open_or_fail(data, small_segments());
    auto all = read_all(*s);
    REQUIRE(all.size() == stored.size());
    for (std::size_t i = 0; i < all.size(); ++i) {
      CHECK(all[i].off == i);
      CHECK(all[i].id_lo == stored[i]);
      CHECK(all[i].envelope == envelope_for(stored[i], 100));
    }
    s.reset();
    fs::remove_all(data);
  }
}

TEST_CASE("a failed fsync drops only what was not synced and the log writes again once fsync works",
          "[log][faults]") {
  hub::test::temp_dir dir("log");
  faulty_file_system ffs;
  log_options o;
  std::uint64_t rolled_from = 0;
  SECTION("within one segment") {}
  SECTION("with segments rolled since the last good sync") {
    o.segment_bytes = 4096;
    o.index_interval_bytes = 512;
    rolled_from = 1;
  }
  {
    auto s = open_or_fail(dir / "data", o, &ffs);
    REQUIRE(append_range(*s, 0, 10, 10));
    REQUIRE(s->sync());
    const auto segments_synced = s->stats().segments;
    REQUIRE(append_range(*s, 10, 60, 10));
    if (rolled_from != 0) REQUIRE(s->stats().segments > segments_synced);
    ffs.fail_sync = true;
    auto st = s->sync();
    CHECK(st.code() == errc::io_error);
    CHECK_THAT(st.message(), Catch::Contains("fsync failed") && Catch::Contains("drops those records"));
    CHECK(s->durable_end().value == 10);
    CHECK_FALSE(s->needs_sync());
    auto b = make_batch(10, 1);
    CHECK(s->append(b.records).code() == errc::io_error);  // nothing before the cut
    CHECK_FALSE(s->stats().writable);

    log_capture logs;
    s->discard_undurable();
    CHECK(s->end().value == 10);
    CHECK(s->durable_end().value == 10);
    CHECK(s->stats().segments == segments_synced);
    CHECK_THAT(logs.text(), Catch::Contains("dropped 60 record(s) at offsets 10..70"));
    auto kept = read_all(*s);
    REQUIRE(kept.size() == 10);
    for (std::uint64_t n = 0; n < 10; ++n) CHECK(is_record(kept[n], n));

    // Still failing: refused, and tried again at every append.
    CHECK(s->append(b.records).code() == errc::io_error);
    CHECK_THAT(s->stats().last_error, Catch::Contains("still fails"));
    ffs.fail_sync = false;
    REQUIRE(append_range(*s, 10, 30, 10));  // the resends
    CHECK(s->stats().writable);
    CHECK(s->needs_sync());
    REQUIRE(s->sync());
    CHECK(s->durable_end().value == 40);
  }
  auto s = open_or_fail(dir / "data", o);
  REQUIRE(s->end().value == 40);
  auto all = read_all(*s);
  REQUIRE(all.size() == 40);
  for (std::uint64_t n = 0; n < 40; ++n) CHECK(is_record(all[n], n));
  CHECK(s->stats().corrupt_skipped == 0);
}

TEST_CASE("a failed fsync under fsync interval keeps everything and stops writes until reopen", "[log][faults]") {
  hub::test::temp_dir dir("log");
  faulty_file_system ffs;
  log_options o;
  o.fsync = fsync_policy::interval;
  o.fsync_interval = std::chrono::milliseconds(5);
  {
    auto s = open_or_fail(dir / "data", o, &ffs);
    // The disk fails before the append, so that the interval's sync cannot have made
    // the records durable first (on a loaded machine it could, and then never fail).
    ffs.fail_sync = true;
    REQUIRE(append_range(*s, 0, 10, 10));
    REQUIRE(hub::test::wait_for([&] { return !s->stats().writable; }));
    s->discard_undurable();  // acknowledged under interval: nothing is dropped
    CHECK(s->end().value == 10);
    ffs.fail_sync = false;
    auto b = make_batch(10, 1);
    CHECK(s->append(b.records).code() == errc::io_error);
    CHECK_THAT(s->stats().last_error, Catch::Contains("restart"));
    CHECK(read_all(*s).size() == 10);  // reads go on
  }
  auto s = open_or_fail(dir / "data");
  CHECK(s->end().value == 10);
  REQUIRE(append_range(*s, 10, 1, 1));
}

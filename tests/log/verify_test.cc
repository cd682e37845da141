// Provenance of the event log (issue 7): records are hash-chained, and the real
// `hubctl log verify` binary names any record altered or removed after the fact.
// The logs are written by the real store into temp dirs and then tampered with as an
// attacker with access to the files would.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <openssl/evp.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "hub/log/crc32c.h"
#include "hub/log/format.h"
#include "hub/log/log.h"
#include "tests/log/log_test_support.h"
#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"

using namespace hub;
using namespace hub::log;
using namespace hub::log::test;
namespace fs = std::filesystem;

namespace {

// The real hubctl, its stdout and stderr together (verify reports on both).
struct run_result {
  int exit_code = -1;
  std::string out;
};

run_result hubctl(const std::vector<std::string>& args) {
  auto r = hub::test::run_program(HUBCTL_PATH, args);
  return {r.exit_code, r.out + r.err};
}

run_result verify(const fs::path& data, std::vector<std::string> more = {}) {
  std::vector<std::string> args = {"log", "verify", "--data-dir", data.string()};
  args.insert(args.end(), more.begin(), more.end());
  auto r = hubctl(args);
  UNSCOPED_INFO("hubctl log verify said:\n" << r.out);
  return r;
}

std::vector<std::uint8_t> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& p, const std::vector<std::uint8_t>& b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// Start positions of the records in a segment file, following the length fields.
std::vector<std::size_t> record_positions(const std::vector<std::uint8_t>& b) {
  std::vector<std::size_t> out;
  std::size_t pos = format::segment_header_bytes;
  while (pos + format::frame_bytes <= b.size()) {
    out.push_back(pos);
    pos += format::frame_bytes + format::get_u32(b.data() + pos);
  }
  return out;
}

// Recomputes the CRC of the record at pos, as an attacker who knows the format would.
void fix_crc(std::vector<std::uint8_t>& b, std::size_t pos) {
  const std::uint32_t len = format::get_u32(b.data() + pos);
  format::put_u32(b.data() + pos + 4,
                  crc32c_extend(crc32c(std::span<const std::uint8_t>(b.data() + pos, 4)),
                                std::span<const std::uint8_t>(b.data() + pos + 8, len)));
}

log_options small_segments() {
  log_options o;
  o.segment_bytes = 4096;
  o.index_interval_bytes = 512;
  o.fsync = fsync_policy::never;
  return o;
}

// Writes records [0, n) and returns the chain head the log reports.
std::string write_log(const fs::path& data, std::size_t n, const log_options& o = {}) {
  auto s = open_or_fail(data, o);
  REQUIRE(append_range(*s, 0, n, 7));
  return s->stats().chain_head;
}

}  // namespace

TEST_CASE("a clean log verifies and prints the chain head the log reports", "[log][verify]") {
  hub::test::temp_dir dir("verify");
  const auto head = write_log(dir / "data", 200, small_segments());
  REQUIRE(segment_files(dir / "data").size() > 3);
  REQUIRE(head.size() == 64);
  auto r = verify(dir / "data");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("OK") && Catch::Contains("200 record(s), offsets 0..199") &&
                        Catch::Contains("head  offset 199 hash " + head));
  CHECK(verify(dir / "data", {"--anchor", "199:" + head}).exit_code == 0);
}

TEST_CASE("a log that went through retention still verifies from its first kept record", "[log][verify]") {
  hub::test::temp_dir dir("verify");
  log_options o = small_segments();
  write_log(dir / "data", 200, o);
  o.retention_bytes = 3 * 4096;
  {
    auto s = open_or_fail(dir / "data", o);
    s->enforce_retention(0);
    REQUIRE(s->begin().value > 0);
    REQUIRE(append_range(*s, 200, 20, 5));
  }
  auto r = verify(dir / "data");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("OK") && Catch::Contains("dropped by retention") && Catch::Contains("..219"));
}

TEST_CASE("one altered byte of a stored envelope is found and the record named", "[log][verify]") {
  hub::test::temp_dir dir("verify");
  write_log(dir / "data", 30);
  const fs::path seg = segment_files(dir / "data").front();
  auto b = read_file(seg);
  const auto pos = record_positions(b).at(12);
  b[pos + format::record_header_bytes + 10] ^= 0x01;  // a byte of record 12's envelope

  SECTION("CRC fixed too: only the hash chain can tell") {
    fix_crc(b, pos);
    write_file(seg, b);
    {
      // The log itself still serves it (its CRC is good): only verify can tell.
      auto s = open_or_fail(dir / "data");
      CHECK(read_all(*s).size() == 30);
    }
    auto r = verify(dir / "data");
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.out, Catch::Contains("offset 12 (segment " + seg.filename().string() + ", byte " +
                                      std::to_string(pos) + ")") &&
                          Catch::Contains("chain break") && Catch::Contains("record 12 was altered"));
    CHECK_THAT(r.out, !Catch::Contains("offset 11 ") && !Catch::Contains("offset 13 "));
  }
  SECTION("CRC left as it was: a checksum mismatch") {
    write_file(seg, b);
    auto r = verify(dir / "data");
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.out, Catch::Contains("offset 12 (segment " + seg.filename().string() + ", byte " +
                                      std::to_string(pos) + "): checksum mismatch"));
  }
}

TEST_CASE("a record removed from the middle of a segment is named", "[log][verify]") {
  hub::test::temp_dir dir("verify");
  write_log(dir / "data", 30);
  const fs::path seg = segment_files(dir / "data").front();
  auto b = read_file(seg);
  const auto positions = record_positions(b);
  // Rewrite the file without record 12: every other byte as it was.
  b.erase(b.begin() + static_cast<std::ptrdiff_t>(positions.at(12)),
          b.begin() + static_cast<std::ptrdiff_t>(positions.at(13)));
  write_file(seg, b);
  auto r = verify(dir / "data");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("offset gap: offset 12 missing") && Catch::Contains("chain break") &&
                        Catch::Contains("record 13's prev-hash does not match record 11"));
}

TEST_CASE("a whole segment removed from the middle is named", "[log][verify]") {
  hub::test::temp_dir dir("verify");
  write_log(dir / "data", 200, small_segments());
  auto segs = segment_files(dir / "data");
  REQUIRE(segs.size() > 3);
  const fs::path victim = segs[2];
  const std::uint64_t first = std::stoull(victim.filename().string().substr(0, 20));
  const std::uint64_t next = std::stoull(segs[3].filename().string().substr(0, 20));
  fs::remove(victim);
  fs::remove(fs::path(victim).replace_extension(".index"));
  auto r = verify(dir / "data");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("offset gap: offsets " + std::to_string(first) + ".." + std::to_string(next - 1) +
                                    " missing"));
}

TEST_CASE("after a torn tail is cut at open the chain goes on from the last good record", "[log][verify]") {
  hub::test::temp_dir dir("verify");
  write_log(dir / "data", 20);
  const fs::path seg = segment_files(dir / "data").front();
  const auto positions = record_positions(read_file(seg));
  fs::resize_file(seg, positions.at(17) + 30);  // record 17 torn, 18 and 19 lost
  auto torn = verify(dir / "data");
  CHECK(torn.exit_code == 0);  // a torn tail is what a crash leaves: a note, not a problem
  CHECK_THAT(torn.out, Catch::Contains("torn tail") && Catch::Contains("offsets 0..16"));
  std::string head;
  {
    auto s = open_or_fail(dir / "data");
    REQUIRE(s->end().value == 17);
    REQUIRE(append_range(*s, 17, 10, 3));
    head = s->stats().chain_head;
  }
  auto r = verify(dir / "data");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("OK") && Catch::Contains("head  offset 26 hash " + head));
}

TEST_CASE("records cut from the end are found with an anchor kept elsewhere", "[log][verify]") {
  hub::test::temp_dir dir("verify");
  const auto head = write_log(dir / "data", 20);
  const fs::path seg = segment_files(dir / "data").front();
  const auto positions = record_positions(read_file(seg));
  fs::resize_file(seg, positions.at(15));  // a clean cut: records 15..19 gone
  CHECK(verify(dir / "data").exit_code == 0);  // the log alone cannot tell
  auto r = verify(dir / "data", {"--anchor", "19:" + head});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("offset 19: anchor") && Catch::Contains("from offset 15 on were removed"));
}

TEST_CASE("a segment of log format 1 is refused with a clear message", "[log][verify]") {
  hub::test::temp_dir dir("verify");
  fs::create_directories(dir / "data");
  std::vector<std::uint8_t> v1(16, 0);
  std::memcpy(v1.data(), format::segment_magic_v1.data(), 8);
  write_file(dir / "data" / format::segment_name(0), v1);
  auto opened = open_log(dir / "data", {});
  REQUIRE_FALSE(opened);
  CHECK_THAT(opened.error().message(), Catch::Contains("log format 1") && Catch::Contains("new --data-dir"));
  auto r = verify(dir / "data");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("log format 1"));
}

TEST_CASE("a log of format 2 opens, grows into format 3 segments and verifies across the change", "[log][verify]") {
  // The fixture was written by the hub before format 3 (fixtures/format2/README.md).
  const std::string old_head = "bcbb84505660134a9febaf37a551922bf258cc7afdd51cb9c7d26207e45800e7";
  hub::test::temp_dir dir("verify");
  const fs::path data = dir / "data";
  fs::create_directories(data);
  for (const auto& e : fs::directory_iterator(FORMAT2_FIXTURE))
    if (e.path().extension() != ".md") fs::copy_file(e.path(), data / e.path().filename());
  auto before = verify(data);
  CHECK(before.exit_code == 0);
  CHECK_THAT(before.out, Catch::Contains("60 record(s), offsets 0..59") &&
                             Catch::Contains("head  offset 59 hash " + old_head));

  auto magic_of = [&](std::uint64_t base) {
    auto b = read_file(data / format::segment_name(base));
    REQUIRE(b.size() >= 8);
    return std::string(b.begin(), b.begin() + 8);
  };
  {
    log_options o = small_segments();
    o.segment_bytes = 8192;  // records 60-79 still fit the last format 2 segment (base 50)
    auto s = open_or_fail(data, o);
    REQUIRE(append_range(*s, 60, 60, 10));
    auto all = read_all(*s);
    REQUIRE(all.size() == 120);
    for (std::uint64_t n = 0; n < 120; ++n) CHECK(is_record(all[n], n));
  }
  CHECK(magic_of(50) == "HUBLOG02");  // extended in its own format
  CHECK(magic_of(80) == "HUBLOG03");  // new segments are format 3
  {
    // Reopened (the last segment is scanned and its chain recomputed): grows on.
    auto s = open_or_fail(data, small_segments());
    REQUIRE(append_range(*s, 120, 20, 10));
    REQUIRE(read_all(*s).size() == 140);
  }
  auto after = verify(data, {"--anchor", "59:" + old_head});
  CHECK(after.exit_code == 0);
  CHECK_THAT(after.out, Catch::Contains("140 record(s), offsets 0..139") && Catch::Contains("OK"));

  // Format 3 is SHA-256 of the whole record, as docs/log_format.md says: in segment 80,
  // each record's prev-hash is the SHA-256 of the record before it, computed here by
  // OpenSSL directly, and its first record's is the header's (BLAKE2b of record 79).
  auto b = read_file(data / format::segment_name(80));
  auto pos = record_positions(b);
  REQUIRE(pos.size() >= 3);
  CHECK(std::equal(b.begin() + 16, b.begin() + 48, b.begin() + static_cast<long>(pos[0] + format::at_prev_hash)));
  for (std::size_t k = 0; k + 1 < pos.size(); ++k) {
    const std::size_t len = format::frame_bytes + format::get_u32(b.data() + pos[k]);
    std::array<unsigned char, 32> sha{};
    unsigned int n = 0;
    REQUIRE(EVP_Digest(b.data() + pos[k], len, sha.data(), &n, EVP_sha256(), nullptr) == 1);
    CHECK(std::equal(sha.begin(), sha.end(), b.begin() + static_cast<long>(pos[k + 1] + format::at_prev_hash)));
  }
}

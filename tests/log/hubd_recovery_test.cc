// The event log's faults as an operator meets them, on a real hubd: a torn last
// segment after a crash, a second hubd on the same data directory, and a data directory
// hubd cannot use (all of which must hold for root too, as CI runs as root).
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "adapters/sdk/sdk.h"
#include "hub/log/format.h"
#include "tests/support/envelopes.h"
#include "tests/support/hubd_process.h"
#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

hub::sdk::connection_options connect_to(const std::string& endpoint) {
  hub::sdk::connection_options c;
  c.endpoints = {endpoint};
  c.client_name = "hubd-recovery-test";
  c.heartbeat = 200ms;
  c.hub_timeout = 3000ms;
  return c;
}

std::vector<std::uint8_t> event(std::uint64_t n) {
  hub::test::envelope_spec spec;
  spec.id_hi = 0x0190000000000004ull;
  spec.id_lo = n;
  spec.pad_to = 300;
  return hub::test::make_envelope(spec);
}

// Start positions of the records of a segment file, following the length fields.
std::vector<std::uint64_t> record_positions(const fs::path& seg) {
  std::ifstream in(seg, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::uint64_t> out;
  std::uint64_t pos = hub::log::format::segment_header_bytes;
  while (pos + hub::log::format::frame_bytes <= bytes.size()) {
    out.push_back(pos);
    pos += hub::log::format::frame_bytes +
           hub::log::format::get_u32(reinterpret_cast<const std::uint8_t*>(bytes.data() + pos));
  }
  return out;
}

// Every event from the earliest, until none comes for `quiet`.
std::vector<hub::sdk::event> read_everything(const std::string& endpoint, std::chrono::milliseconds quiet = 500ms) {
  hub::sdk::subscriber::options so;
  so.connection = connect_to(endpoint);
  so.start = hub::sdk::start_position::earliest();
  hub::sdk::subscriber sub(so);
  std::vector<hub::sdk::event> out;
  // The first event may take the connection's set-up; the quiet time counts after it.
  if (auto first = sub.next(5s)) out.push_back(std::move(*first));
  while (!out.empty()) {
    auto e = sub.next(quiet);
    if (!e) break;
    out.push_back(std::move(*e));
  }
  return out;
}

}  // namespace

TEST_CASE("hubd on a torn last segment cuts it, says what it dropped, and serves every record before the cut",
          "[log][hubd][recovery]") {
  hub::test::temp_dir work("hubd-torn");
  hub::test::hubd_options ho;
  ho.data_dir = work / "data";
  ho.extra_args = {"--fsync", "batch"};
  const std::uint64_t n = 40;
  {
    hub::test::hubd_process hub(ho);
    hub::sdk::publisher::options po;
    po.connection = connect_to(hub.endpoint());
    hub::sdk::publisher pub(po);
    for (std::uint64_t i = 0; i < n; ++i) REQUIRE(pub.publish(event(i)));
    REQUIRE(pub.flush(10s));
    REQUIRE(pub.stats().acked == n);
    REQUIRE(hub.stop() == 0);
  }
  const fs::path seg_name = hub::log::format::segment_name(0);
  const auto positions = record_positions(work / "data" / seg_name);
  REQUIRE(positions.size() == n);
  const auto file_size = fs::file_size(work / "data" / seg_name);

  struct cut {
    const char* where;
    std::uint64_t at;    // the segment's new size
    std::uint64_t kept;  // records wholly before it
  };
  const std::vector<cut> cuts = {
      {"one byte short of the end", file_size - 1, n - 1},
      {"inside the last record's envelope", positions[n - 1] + 120, n - 1},
      {"inside a record's length and checksum", positions[25] + 5, 25},
      {"just after the first record's first byte", positions[0] + 1, 0},
  };
  int i = 0;
  for (const auto& c : cuts) {
    INFO("cut " << c.where << " (byte " << c.at << " of " << file_size << ")");
    const fs::path dir = work / ("cut-" + std::to_string(i++));
    fs::create_directories(dir);
    for (const auto& e : fs::directory_iterator(work / "data")) fs::copy_file(e.path(), dir / e.path().filename());
    fs::resize_file(dir / seg_name, c.at);

    hub::test::hubd_options co = ho;
    co.data_dir = dir;
    hub::test::hubd_process hub(co);
    CHECK(hub.running());
    const std::string log = hub.log();
    INFO(log);
    CHECK_THAT(log, Catch::Contains(fmt::format("segment {}: torn or corrupt tail at byte {}; cut {} bytes",
                                                seg_name.string(), positions[c.kept], c.at - positions[c.kept])));
    CHECK_THAT(log, Catch::Contains(fmt::format("the log continues at offset {}", c.kept)));

    auto got = read_everything(hub.endpoint());
    REQUIRE(got.size() == c.kept);
    for (std::uint64_t k = 0; k < c.kept; ++k) {
      CHECK(got[k].offset == k);
      CHECK(got[k].bytes == event(k));
    }
    // It goes on writing after the cut: a resend of the first lost event is stored anew.
    if (c.kept < n) {
      hub::sdk::publisher::options po;
      po.connection = connect_to(hub.endpoint());
      hub::sdk::publisher pub(po);
      std::uint64_t at = 0;
      bool dup = true;
      pub.on_acked([&](const hub::schema::Id128&, std::uint64_t off, bool d) {
        at = off;
        dup = d;
      });
      REQUIRE(pub.publish(event(c.kept)));
      REQUIRE(pub.flush(10s));
      CHECK(at == c.kept);
      CHECK_FALSE(dup);
    }
  }
}

TEST_CASE("a second hubd on the same data directory refuses to start, names the holder and exits non-zero",
          "[log][hubd][lock]") {
  hub::test::temp_dir work("hubd-lock");
  hub::test::hubd_options ho;
  ho.data_dir = work / "data";
  hub::test::hubd_process first(ho);

  auto second = hub::test::run_program(
      HUBD_PATH, {"--endpoint", "tcp://127.0.0.1:*", "--mirror-endpoint", "tcp://127.0.0.1:*", "--data-dir",
                  (work / "data").string(), "--store", "embedded"});
  INFO(second.out << second.err);
  CHECK(second.exit_code == 1);
  CHECK_THAT(second.out + second.err,
             Catch::Contains((work / "data").string() + " is in use by another process (pid " +
                             std::to_string(first.pid()) + " holds LOCK); stop it or choose another data directory"));
  // The first one was not disturbed.
  CHECK(first.running());
  CHECK(hub::sdk::fetch_status(connect_to(first.endpoint())));
}

TEST_CASE("hubd refuses a data directory it cannot use with a clear message and a non-zero exit",
          "[log][hubd][lock]") {
  hub::test::temp_dir work("hubd-baddir");
  std::ofstream(work / "plain-file") << "not a directory\n";
  fs::path data;
  std::string expected;
  SECTION("the path is a regular file") {
    data = work / "plain-file";
    expected = "cannot use data directory " + data.string() + ": " + data.string() +
               ": cannot create directory: Not a directory";
  }
  SECTION("the path lies below a regular file") {
    data = work / "plain-file" / "data";
    expected = "cannot use data directory " + data.string() + ": " + data.string() +
               ": cannot create directory: Not a directory";
  }
  SECTION("its lock file cannot be opened (a directory stands in its place)") {
    data = work / "data";
    fs::create_directories(data / hub::log::format::lock_name);
    expected = "cannot lock data directory " + data.string() + " (check that it is readable and writable by this user)";
  }
  auto r = hub::test::run_program(HUBD_PATH, {"--endpoint", "tcp://127.0.0.1:*", "--mirror-endpoint",
                                              "tcp://127.0.0.1:*", "--data-dir", data.string(), "--store", "embedded"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out + r.err, Catch::Contains(expected));
}

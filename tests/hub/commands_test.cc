#include <catch2/catch.hpp>

#include "hub/broker/commands.h"
#include "schemas/wire.h"

using namespace hub::broker;
using hub::schema::Reason;

namespace {
struct msg {
  std::vector<std::string> parts;
  std::vector<frame> frames() const {
    std::vector<frame> f;
    for (const auto& p : parts) f.emplace_back(reinterpret_cast<const std::uint8_t*>(p.data()), p.size());
    return f;
  }
};
command parse(std::vector<std::string> parts) {
  static msg m;  // views must outlive the returned command within a check
  m.parts = std::move(parts);
  static std::vector<frame> f;
  f = m.frames();
  return parse_command(f);
}
const std::string u1 = hub::wire::u64_frame(1), u0 = hub::wire::u64_frame(0), u9 = hub::wire::u64_frame(9);
}  // namespace

TEST_CASE("well-formed commands parse into their fields", "[broker][commands]") {
  auto sub = parse({"SUB", u1, "*.SSD.>", "earliest", u0, "rco", u9});
  REQUIRE(std::holds_alternative<cmd_sub>(sub));
  CHECK(std::get<cmd_sub>(sub).pattern == "*.SSD.>");
  CHECK(std::get<cmd_sub>(sub).start == start_kind::earliest);
  CHECK(std::get<cmd_sub>(sub).durable == "rco");
  CHECK(std::get<cmd_sub>(sub).credit == 9);
  CHECK(std::get<cmd_sub>(sub).batch == 0);  // no batch frame: one EVT per event
  auto batched = parse({"SUB", u1, ">", "new", u0, "", u9, hub::wire::u64_frame(64)});
  REQUIRE(std::holds_alternative<cmd_sub>(batched));
  CHECK(std::get<cmd_sub>(batched).batch == 64);
  CHECK(std::get<cmd_sub>(batched).credit == 9);
  auto pub = parse({"PUB", u9, "envelope-bytes"});
  REQUIRE(std::holds_alternative<cmd_pub>(pub));
  CHECK(std::get<cmd_pub>(pub).seq == 9);
  CHECK(std::get<cmd_pub>(pub).signature.empty());
  CHECK(std::holds_alternative<cmd_ping>(parse({"PING"})));
  CHECK(std::holds_alternative<cmd_hello>(parse({"HELLO", "1", "me"})));
}

TEST_CASE("each malformed command gets its reason", "[broker][commands]") {
  auto reason = [](const command& c) { return std::get<parse_error>(c).reason; };
  SECTION("a wrong number of frames") {
    auto c = parse({"PUB", u1});
    CHECK(reason(c) == Reason::malformed_frames);
    CHECK(std::get<parse_error>(c).seq == 1u);  // a NAK for seq 1, not an ERR
    CHECK(reason(parse({"SUB", u1, ">"})) == Reason::malformed_frames);
    CHECK(reason(parse({"UNSUB"})) == Reason::malformed_frames);
  }
  SECTION("a number frame of the wrong size") {
    CHECK(reason(parse({"CREDIT", "123", u1})) == Reason::malformed_frames);
    CHECK(reason(parse({"SUB", u1, ">", "new", u0, "", u9, "64"})) == Reason::malformed_frames);  // batch
    CHECK(reason(parse({"SUB", u1, ">", "new", u0, "", u9, u1, u1})) == Reason::malformed_frames);  // 9 frames
    auto c = parse({"PUB", "1", "env"});
    CHECK(reason(c) == Reason::malformed_frames);
    CHECK_FALSE(std::get<parse_error>(c).seq.has_value());
  }
  SECTION("an unknown command, shown printable") {
    auto c = parse({std::string("DROP\x01TABLE", 10)});
    CHECK(reason(c) == Reason::unknown_command);
    CHECK_THAT(std::get<parse_error>(c).text, Catch::Contains("DROP?TABLE"));
  }
  SECTION("a bad start and a bad protocol version") {
    CHECK(reason(parse({"SUB", u1, ">", "yesterday", u0, "", u9})) == Reason::bad_start);
    CHECK(reason(parse({"HELLO", "2", "me"})) == Reason::protocol_version);
  }
}

TEST_CASE("an EVTS events frame carries each event's offset, topic, envelope and signature, 8-byte aligned",
          "[wire][evts]") {
  const std::vector<std::uint8_t> env1 = {1, 2, 3, 4, 5}, env2(300, 7), sig(64, 9);
  std::string frame;
  hub::wire::evts_append(frame, 17, "peacekeeping.SSD.mandate_activity", env1, {});
  const std::size_t second_at = frame.size();
  hub::wire::evts_append(frame, 18, "development.CAF.programme_activity", env2, sig);
  CHECK(second_at % 8 == 0);
  CHECK(frame.size() % 8 == 0);
  CHECK(second_at == hub::wire::evts_record_bytes(33, 5, 0));
  std::vector<hub::wire::evts_record> got;
  const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(frame.data()), frame.size());
  REQUIRE(hub::wire::evts_for_each(bytes, [&](const hub::wire::evts_record& r) { got.push_back(r); }));
  REQUIRE(got.size() == 2);
  CHECK(got[0].offset == 17);
  CHECK(got[0].topic == "peacekeeping.SSD.mandate_activity");
  CHECK(std::vector<std::uint8_t>(got[0].envelope.begin(), got[0].envelope.end()) == env1);
  CHECK(got[0].signature.empty());
  CHECK(got[1].offset == 18);
  CHECK(got[1].topic == "development.CAF.programme_activity");
  CHECK(std::vector<std::uint8_t>(got[1].envelope.begin(), got[1].envelope.end()) == env2);
  CHECK(std::vector<std::uint8_t>(got[1].signature.begin(), got[1].signature.end()) == sig);
  CHECK((got[1].envelope.data() - bytes.data()) % 8 == 0);  // readable in place by FlatBuffers

  SECTION("an empty frame holds no events") {
    int n = 0;
    CHECK(hub::wire::evts_for_each({}, [&](const hub::wire::evts_record&) { ++n; }));
    CHECK(n == 0);
  }
  SECTION("a frame cut anywhere inside its second record yields the first and reports the rest malformed") {
    for (std::size_t cut = second_at + 1; cut < frame.size(); cut += 7) {
      int n = 0;
      CHECK_FALSE(hub::wire::evts_for_each(bytes.first(cut), [&](const hub::wire::evts_record&) { ++n; }));
      CHECK(n == 1);
    }
  }
  SECTION("a length field larger than the frame is malformed, not read past the end") {
    std::string bad = frame;
    bad[second_at + 11] = '\x7f';  // envelope length of the second record: about 2 GB
    int n = 0;
    CHECK_FALSE(hub::wire::evts_for_each({reinterpret_cast<const std::uint8_t*>(bad.data()), bad.size()},
                                         [&](const hub::wire::evts_record&) { ++n; }));
    CHECK(n == 1);
  }
}

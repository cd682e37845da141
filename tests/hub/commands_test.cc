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

// Parsing of client commands (docs/protocol.md), separate from acting on them so that
// it can be tested and fuzzed alone. Pure functions over untrusted frames: every frame
// count and size is checked before anything is read; nothing is copied.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "schemas/protocol_generated.h"

namespace hub::broker {

using frame = std::span<const std::uint8_t>;

struct cmd_hello { std::string_view version, name; };
struct cmd_pub { std::uint64_t seq; frame envelope; frame signature; };
enum class start_kind : std::uint8_t { new_only, earliest, at_offset, at_time };
struct cmd_sub {
  std::uint64_t sub_id;
  std::string_view pattern;
  start_kind start;
  std::uint64_t start_arg;
  std::string_view durable;
  std::uint64_t credit;
  std::uint64_t batch = 0;  // most events per EVTS frame; 0 or 1: one EVT per event
};
struct cmd_credit { std::uint64_t sub_id, n; };
struct cmd_commit { std::uint64_t sub_id, next; };
struct cmd_unsub { std::uint64_t sub_id; };
struct cmd_ping {};
struct cmd_status {};
struct cmd_bye {};

// A command that cannot be carried out as sent. `seq` is set when it was a PUB whose
// sequence number could be read (the reply is then a NAK for it, else an ERR).
struct parse_error {
  schema::Reason reason;
  std::string text;
  std::optional<std::uint64_t> seq;
  std::uint64_t ref = 0;  // the sub-id concerned, if known
};

using command = std::variant<cmd_hello, cmd_pub, cmd_sub, cmd_credit, cmd_commit, cmd_unsub, cmd_ping, cmd_status,
                             cmd_bye, parse_error>;

// Parses the frames of one message (after the routing id). Views point into `frames`.
[[nodiscard]] command parse_command(std::span<const frame> frames);

}  // namespace hub::broker

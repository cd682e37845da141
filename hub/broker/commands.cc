#include "hub/broker/commands.h"

#include <fmt/format.h>

#include "schemas/wire.h"

namespace hub::broker {
namespace {

using schema::Reason;

std::string_view text(frame f) { return {reinterpret_cast<const char*>(f.data()), f.size()}; }

// The command name as it may be shown in a message: printable, bounded.
std::string printable(frame f) {
  std::string s;
  for (auto c : f.first(std::min<std::size_t>(f.size(), 32))) s += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  return s;
}

parse_error error(Reason r, std::string t, std::uint64_t ref = 0) { return {r, std::move(t), std::nullopt, ref}; }

}  // namespace

command parse_command(std::span<const frame> f) {
  if (f.empty()) return error(Reason::malformed_frames, "empty message");
  auto name = text(f[0]);
  const std::size_t n = f.size();  // including the command frame
  auto u64 = [&](std::size_t i) { return wire::parse_u64(f[i]); };

  if (name == wire::cmd_pub) {
    if (n != 3 && n != 4) {
      parse_error e = error(Reason::malformed_frames,
                            fmt::format("PUB takes 3 or 4 frames (PUB seq envelope [signature]), got {}", n));
      if (n >= 2) e.seq = u64(1);
      return e;
    }
    auto seq = u64(1);
    if (!seq) return error(Reason::malformed_frames, "PUB: seq must be an 8-byte little-endian number");
    return cmd_pub{*seq, f[2], n == 4 ? f[3] : frame{}};
  }
  if (name == wire::cmd_credit) {
    if (n != 3 || !u64(1) || !u64(2))
      return error(Reason::malformed_frames, "CREDIT takes sub-id and n as 8-byte numbers");
    return cmd_credit{*u64(1), *u64(2)};
  }
  if (name == wire::cmd_sub) {
    if (n != 7 && n != 8)
      return error(Reason::malformed_frames,
                   fmt::format("SUB takes 7 or 8 frames (SUB sub-id pattern start start-arg durable credit [batch]), got {}",
                               n));
    auto sub_id = u64(1), arg = u64(4), credit = u64(6);
    auto batch = n == 8 ? u64(7) : std::optional<std::uint64_t>(0);
    if (!sub_id || !arg || !credit || !batch)
      return error(Reason::malformed_frames, "SUB: sub-id, start-arg, credit and batch must be 8-byte numbers");
    auto start = text(f[3]);
    start_kind k;
    if (start == wire::start_new) k = start_kind::new_only;
    else if (start == wire::start_earliest) k = start_kind::earliest;
    else if (start == wire::start_offset) k = start_kind::at_offset;
    else if (start == wire::start_time) k = start_kind::at_time;
    else
      return error(Reason::bad_start,
                   fmt::format("start '{}' is not one of new, earliest, offset, time", printable(f[3])), *sub_id);
    if (f[5].size() > 256) return error(Reason::bad_field, "durable name longer than 256 bytes", *sub_id);
    return cmd_sub{*sub_id, text(f[2]), k, *arg, text(f[5]), *credit, *batch};
  }
  if (name == wire::cmd_commit) {
    if (n != 3 || !u64(1) || !u64(2))
      return error(Reason::malformed_frames, "COMMIT takes sub-id and next offset as 8-byte numbers");
    return cmd_commit{*u64(1), *u64(2)};
  }
  if (name == wire::cmd_unsub) {
    if (n != 2 || !u64(1)) return error(Reason::malformed_frames, "UNSUB takes a sub-id as an 8-byte number");
    return cmd_unsub{*u64(1)};
  }
  if (name == wire::cmd_ping) return cmd_ping{};
  if (name == wire::cmd_status) return cmd_status{};
  if (name == wire::cmd_bye) return cmd_bye{};
  if (name == wire::cmd_hello) {
    if (n != 3) return error(Reason::malformed_frames, "HELLO takes 3 frames (HELLO version name)");
    if (text(f[1]) != wire::protocol_version)
      return error(Reason::protocol_version, fmt::format("protocol version '{}' is not spoken here; this hub speaks {}",
                                                         printable(f[1]), wire::protocol_version));
    return cmd_hello{text(f[1]), text(f[2]).substr(0, 128)};
  }
  return error(Reason::unknown_command, fmt::format("unknown command '{}'", printable(f[0])));
}

}  // namespace hub::broker

// The wire protocol's frame vocabulary, shared by hubd, the SDK and hubctl.
// docs/protocol.md is the normative description; this header only names its parts.
// Numbers on the wire are unsigned little-endian: 8 bytes (u64) unless said otherwise,
// reason codes 2 bytes (u16, values of hub.schema.Reason).
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace hub::wire {

inline constexpr std::string_view protocol_version = "1";

// Client -> hub commands (first frame).
inline constexpr std::string_view cmd_hello = "HELLO";    // HELLO version name
inline constexpr std::string_view cmd_pub = "PUB";        // PUB seq envelope
inline constexpr std::string_view cmd_sub = "SUB";        // SUB sub-id pattern start start-arg durable credit
inline constexpr std::string_view cmd_credit = "CREDIT";  // CREDIT sub-id n
inline constexpr std::string_view cmd_commit = "COMMIT";  // COMMIT sub-id next-offset
inline constexpr std::string_view cmd_unsub = "UNSUB";    // UNSUB sub-id
inline constexpr std::string_view cmd_ping = "PING";      // PING
inline constexpr std::string_view cmd_status = "STATUS";  // STATUS
inline constexpr std::string_view cmd_bye = "BYE";        // BYE

// Hub -> client replies (first frame).
inline constexpr std::string_view rep_welcome = "WELCOME";   // WELCOME version hub-id max-envelope
inline constexpr std::string_view rep_ack = "ACK";           // ACK entries(n x {seq, offset})
inline constexpr std::string_view rep_nak = "NAK";           // NAK seq code reason
inline constexpr std::string_view rep_subok = "SUBOK";       // SUBOK sub-id first-offset
inline constexpr std::string_view rep_evt = "EVT";           // EVT sub-id offset topic envelope
inline constexpr std::string_view rep_commitok = "COMMITOK"; // COMMITOK sub-id next-offset
inline constexpr std::string_view rep_unsubok = "UNSUBOK";   // UNSUBOK sub-id
inline constexpr std::string_view rep_pong = "PONG";         // PONG hub-id session
inline constexpr std::string_view session_known = "1";       // PONG: the hub holds this client's session
inline constexpr std::string_view session_unknown = "0";     // PONG: it does not (timed out, or no HELLO)
inline constexpr std::string_view rep_status = "STATUS";     // STATUS json
inline constexpr std::string_view rep_err = "ERR";           // ERR code reason ref

// SUB start positions (third frame), with the u64 start-arg frame.
inline constexpr std::string_view start_new = "new";            // only events appended from now on
inline constexpr std::string_view start_earliest = "earliest";  // the first retained event
inline constexpr std::string_view start_offset = "offset";      // start-arg is the offset
inline constexpr std::string_view start_time = "time";          // start-arg is ms since epoch (log time)

inline void put_u64(std::uint8_t* out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
inline std::uint64_t get_u64(const std::uint8_t* in) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | in[i];
  return v;
}
inline std::string u64_frame(std::uint64_t v) {
  std::string s(8, '\0');
  put_u64(reinterpret_cast<std::uint8_t*>(s.data()), v);
  return s;
}
inline std::optional<std::uint64_t> parse_u64(std::span<const std::uint8_t> frame) {
  if (frame.size() != 8) return std::nullopt;
  return get_u64(frame.data());
}
inline std::string u16_frame(std::uint16_t v) {
  std::string s(2, '\0');
  s[0] = static_cast<char>(v & 0xff);
  s[1] = static_cast<char>(v >> 8);
  return s;
}
inline std::optional<std::uint16_t> parse_u16(std::span<const std::uint8_t> frame) {
  if (frame.size() != 2) return std::nullopt;
  return static_cast<std::uint16_t>(frame[0] | (frame[1] << 8));
}

}  // namespace hub::wire

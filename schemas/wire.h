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
inline constexpr std::string_view cmd_sub = "SUB";        // SUB sub-id pattern start start-arg durable credit [batch]
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
inline constexpr std::string_view rep_evts = "EVTS";         // EVTS sub-id events (a batch; see below)
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

// The events frame of EVTS: records one after another, each starting at a multiple of
// 8 bytes from the frame's start (so that an envelope, at +16, can be read in place):
//   offset:u64  envelope-length:u32  topic-length:u16  signature-length:u16
//   envelope  signature  topic  zero padding to a multiple of 8
inline constexpr std::size_t evts_record_header_bytes = 16;
// The most events one EVTS carries, whatever a SUB asks for.
inline constexpr std::uint64_t max_evts_events = 1024;

inline std::size_t evts_record_bytes(std::size_t topic, std::size_t envelope, std::size_t signature) {
  return (evts_record_header_bytes + envelope + signature + topic + 7) & ~std::size_t{7};
}

// Appends one record to an events frame being built.
inline void evts_append(std::string& out, std::uint64_t offset, std::string_view topic,
                        std::span<const std::uint8_t> envelope, std::span<const std::uint8_t> signature) {
  const std::size_t at = out.size();
  out.resize(at + evts_record_bytes(topic.size(), envelope.size(), signature.size()));
  auto* p = reinterpret_cast<std::uint8_t*>(out.data() + at);
  put_u64(p, offset);
  const auto env = static_cast<std::uint32_t>(envelope.size());
  for (int i = 0; i < 4; ++i) p[8 + i] = static_cast<std::uint8_t>(env >> (8 * i));
  p[12] = static_cast<std::uint8_t>(topic.size() & 0xff);
  p[13] = static_cast<std::uint8_t>(topic.size() >> 8);
  p[14] = static_cast<std::uint8_t>(signature.size() & 0xff);
  p[15] = static_cast<std::uint8_t>(signature.size() >> 8);
  std::uint8_t* q = p + evts_record_header_bytes;
  if (!envelope.empty()) std::memcpy(q, envelope.data(), envelope.size());
  q += envelope.size();
  if (!signature.empty()) std::memcpy(q, signature.data(), signature.size());
  q += signature.size();
  if (!topic.empty()) std::memcpy(q, topic.data(), topic.size());
  q += topic.size();
  std::memset(q, 0, static_cast<std::size_t>(reinterpret_cast<std::uint8_t*>(out.data()) + out.size() - q));
}

struct evts_record {
  std::uint64_t offset = 0;
  std::string_view topic;
  std::span<const std::uint8_t> envelope;
  std::span<const std::uint8_t> signature;
};

// Calls f(const evts_record&) for each record of an events frame, in order. Returns
// false, having called f for the records before it, at the first record that does not
// fit the frame (a malformed frame); true for a well-formed one (an empty frame too).
template <typename F>
bool evts_for_each(std::span<const std::uint8_t> frame, F&& f) {
  std::size_t at = 0;
  while (at < frame.size()) {
    if (frame.size() - at < evts_record_header_bytes) return false;
    const std::uint8_t* p = frame.data() + at;
    evts_record r;
    r.offset = get_u64(p);
    const std::size_t env = static_cast<std::size_t>(p[8]) | static_cast<std::size_t>(p[9]) << 8 |
                            static_cast<std::size_t>(p[10]) << 16 | static_cast<std::size_t>(p[11]) << 24;
    const std::size_t topic = static_cast<std::size_t>(p[12] | p[13] << 8);
    const std::size_t sig = static_cast<std::size_t>(p[14] | p[15] << 8);
    const std::size_t len = evts_record_bytes(topic, env, sig);
    if (len > frame.size() - at) return false;
    const std::uint8_t* q = p + evts_record_header_bytes;
    r.envelope = {q, env};
    r.signature = {q + env, sig};
    r.topic = {reinterpret_cast<const char*>(q + env + sig), topic};
    f(static_cast<const evts_record&>(r));
    at += len;
  }
  return true;
}

}  // namespace hub::wire

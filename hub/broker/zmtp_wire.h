// ZMTP 3 framing shared by hubd's own ZMTP endpoints: the mirror (zmtp_mirror.h) and the
// client socket (zmtp_router.h). RFC 23/ZMTP; the CURVE boxes are in zmtp_curve.h.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "hub/common/status.h"

namespace hub::broker::zmtp {

constexpr std::size_t greeting_size = 64;
constexpr std::uint8_t flag_more = 0x01, flag_long = 0x02, flag_command = 0x04;

// Our greeting: ZMTP 3.0 with `mechanism` (NULL or CURVE). Offering 3.0 rather than 3.1
// makes every peer speak 3.0 (the lower version wins).
std::string greeting(std::string_view mechanism, bool as_server);

// What a peer's greeting says so far; a greeting arrives in pieces like any TCP bytes.
struct greeting_check {
  enum class state { partial, complete, broken } at = state::partial;
  std::string why;        // when broken
  std::string mechanism;  // when complete: NULL, CURVE, PLAIN...
};
// `peer_hint` ends the refusal of a peer that does not speak ZMTP ("connect a ... socket").
greeting_check check_greeting(std::string_view bytes, std::string_view peer_hint);

void put_frame_header(std::string& out, std::uint8_t flags, std::size_t size);
constexpr std::size_t frame_header_size(std::size_t size) { return size <= 255 ? 2 : 9; }
void put_command(std::string& out, std::string_view name, std::string_view data);
// A metadata property as READY and INITIATE carry them: name (1-byte size), value (4-byte size).
void put_property(std::string& out, std::string_view name, std::string_view value);

// A property's value by name (ASCII case does not matter), nullopt if absent; `broken`
// is set when the list does not parse.
std::optional<std::string_view> find_property(std::string_view props, std::string_view name, bool& broken);

// A command frame's body: name (1-byte size) and data. nullopt if the name does not fit.
struct command_view {
  std::string_view name, data;
};
std::optional<command_view> split_command(std::string_view body);

std::uint64_t be64(const char* p);
std::uint32_t be32(const char* p);
void put_be64(std::string& out, std::uint64_t v);

// Bytes queued for one peer; data[0, pos) are written.
struct out_buffer {
  std::string data;
  std::size_t pos = 0;
  [[nodiscard]] std::size_t queued() const { return data.size() - pos; }
  // Writes as much as the socket takes now. Empty on success (also when the socket is
  // full), else why the connection is broken.
  std::string write_to(int fd);
};

// Listens on tcp://HOST:PORT: HOST is *, an IPv4 address, [an IPv6 address] or a name;
// PORT is a number, or * (or 0) for any free port. `bound` is then tcp://ADDRESS:PORT.
// `what` names the endpoint in errors ("mirror endpoint").
status listen_tcp(const std::string& endpoint, std::string_view what, int& fd, std::string& bound);
std::string address_text(const sockaddr_storage& a);

// The accepting side of a non-blocking listener, shared by the mirror and the client
// socket. `name` starts its log lines ("mirror"), `unit` names what `cap` counts.
class acceptor {
 public:
  acceptor(std::string name, std::string unit) : name_(std::move(name)), unit_(std::move(unit)) {}
  // The next waiting connection (non-blocking, TCP_NODELAY) and its address, or -1 when
  // none waits. With `open` at `cap`, a new connection is closed at once (logged at most
  // every 10 s). After an error such as EMFILE accepting pauses for 100 ms, logged.
  int next(int listen_fd, std::size_t open, std::size_t cap, std::string& peer);
  // What to poll for the listener: -1 while accepting is paused.
  [[nodiscard]] int poll_fd(int listen_fd) const;

 private:
  std::string name_, unit_;
  std::chrono::steady_clock::time_point paused_until_{};
  std::chrono::steady_clock::time_point last_refusal_log_{};
};

}  // namespace hub::broker::zmtp

// hubd's client socket: the ROUTER side of ZMTP 3.0 (RFC 23/ZMTP, 28/REQREP), written
// and read from the broker's loop thread.
//
// Adapters, subscribers and hubctl connect ZeroMQ DEALER sockets, in any language, as
// to a libzmq ROUTER socket: with the NULL mechanism, or with CURVE (RFC 26) when the hub
// has a secret key, in which case a client is admitted only if the `admit` hook accepts
// its long-term public key. Each connection gets a routing id (5 bytes, 0x00 then a
// counter, as libzmq's); next() yields whole messages with that id as the first frame,
// send() takes the id and the frames to send back.
//
// Why not libzmq's ROUTER socket: every message crossed hubd's ZeroMQ I/O thread on its
// way in and out, one more thread to wake per event on a busy machine (tens of µs at
// the p99; docs/benchmarks.md, Profiling, items 18-21). Here the loop thread reads and
// writes each client's TCP socket itself, as it does the mirror's (zmtp_mirror.h).
//
// Limits much as libzmq's socket options had them: a message over max_message_bytes
// closes the connection (ZMQ_MAXMSGSIZE, which libzmq applied to each frame alone); at
// most max_queued_messages wait in each direction (ZMQ_SNDHWM, ZMQ_RCVHWM): beyond them
// send() answers `full` and reading from that client pauses.
//
// Threading: one thread (the broker's loop thread) calls everything.
#pragma once

#include <zmq.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hub/broker/zmtp_curve.h"
#include "hub/broker/zmtp_wire.h"
#include "hub/common/status.h"

namespace hub::broker {

struct router_limits {
  std::size_t max_message_bytes = (std::size_t{4} << 20) + 4096;  // a larger message closes the connection
  std::size_t max_frames = 64;             // frames in one message; more close the connection
  std::size_t max_queued_messages = 1000;  // per connection and direction
  std::size_t max_read_ahead = std::size_t{4} << 20;  // bytes read and not yet taken by next()
  std::size_t max_connections = 10'000;    // beyond, a new connection is closed at once
  std::chrono::milliseconds handshake_timeout{10'000};  // from accept to the end of the handshake
};

class zmtp_router {
 public:
  // Why a connection ended.
  enum class end_kind {
    closed,   // the client closed it, or the network broke it
    fault,    // the client broke the protocol or a limit (the reason says which)
    refused,  // security: wrong mechanism, a key the hub does not know, not on the list
  };
  struct hooks {
    // With CURVE: whether a client with this long-term public key may connect. Returns
    // an empty string and sets `user` (its name on the list), or the reason to refuse.
    std::function<std::string(const curve_key& client_key, std::string& user)> admit;
    // A connection ended. `identity` is empty if it ended before its handshake did.
    std::function<void(std::string_view identity, std::string_view peer, std::string_view why, end_kind kind)> ended;
  };

  // With `secret`, clients must use CURVE with the matching public key; without, NULL.
  zmtp_router(router_limits limits, std::optional<curve_key> secret, hooks h);
  ~zmtp_router();
  zmtp_router(const zmtp_router&) = delete;
  zmtp_router& operator=(const zmtp_router&) = delete;

  // tcp://HOST:PORT as for the mirror (zmtp::listen_tcp); endpoint() names the bound port.
  status bind(const std::string& endpoint);
  [[nodiscard]] const std::string& endpoint() const { return endpoint_; }

  // Appends what the loop must poll: the listener, then each connection.
  void add_poll_items(std::vector<zmq::pollitem_t>& items) const;
  // After the poll, with the items add_poll_items appended: accepts, reads, writes.
  void handle(const zmq::pollitem_t* items, std::size_t count);

  // The next whole message from any client, taking clients in turn: `frames` gets the
  // routing id, then the message's frames. False when none waits.
  bool next(std::vector<zmq::message_t>& frames);
  [[nodiscard]] bool pending() const { return inbound_ > 0; }
  [[nodiscard]] std::size_t waiting() const { return inbound_; }  // whole messages next() would give

  enum class send_result { sent, full, unreachable };
  // Queues one message of `parts` for the client with this routing id. Nothing is
  // written until flush() or the loop's next handle().
  send_result send(std::string_view identity, std::span<const zmq::const_buffer> parts);
  // Writes what is queued as far as each socket takes it now, without blocking.
  void flush();
  // Closes connections whose handshake has not finished within the limit.
  void expire(std::chrono::steady_clock::time_point now);

  // The name `admit` gave the client (CURVE), or nullptr.
  [[nodiscard]] const std::string* user_of(std::string_view identity) const;
  [[nodiscard]] std::size_t connections() const { return conns_.size(); }

  // The client side of the protocol without a socket, for the fuzz target (NULL
  // mechanism): feeds `bytes` to a new connection's parser `chunk` bytes at a time.
  struct parse_outcome {
    bool open = true;        // false: the connection would be closed...
    std::string why;         // ...for this reason
    bool ready = false;      // the handshake finished
    std::size_t messages = 0;  // whole messages received
  };
  static parse_outcome parse_only(std::string_view bytes, std::size_t chunk, router_limits limits = {});

 private:
  struct conn;
  void accept_all();
  void read_from(conn& c);
  bool parse(conn& c);  // false: close the connection
  bool on_frame(conn& c, std::uint8_t flags, std::string_view body);
  bool on_command(conn& c, std::string_view body);
  bool on_data(conn& c, bool more, std::string_view body);
  bool finish_handshake(conn& c, std::string_view metadata);
  void write_to(conn& c);
  void put_frame(conn& c, bool more, std::string_view bytes);
  void put_command(conn& c, std::string_view name, std::string_view data);
  void kill(conn& c, std::string why, end_kind kind);
  void reap();  // forgets closed connections whose messages have all been taken

  router_limits limits_;
  std::optional<curve_key> secret_;
  hooks hooks_;
  int listen_fd_ = -1;
  std::string endpoint_;
  std::vector<std::unique_ptr<conn>> conns_;  // in accept order
  std::unordered_map<std::string, conn*> by_id_;
  std::uint32_t next_id_ = 0x6B8B4567;  // as libzmq: the first id is arbitrary
  std::size_t inbound_ = 0;   // whole messages waiting over all connections
  std::size_t turn_ = 0;      // next() starts its search here
  bool reap_due_ = false;
  zmtp::acceptor acceptor_{"client socket", "connections"};
};

}  // namespace hub::broker

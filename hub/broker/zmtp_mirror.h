// The best-effort mirror: hubd's own ZMTP publisher, written from the loop thread.
//
// Any ZeroMQ SUB or XSUB socket, in any language, connects to it as to an XPUB socket
// (ZMTP 3.0 with the NULL mechanism: RFC 23/ZMTP, 29/PUBSUB) and receives a two-frame
// message [topic][envelope] for each stored event whose topic starts with one of its
// subscriptions. Readers subscribe, unsubscribe and send heartbeats as with libzmq's XPUB.
//
// Why not libzmq's XPUB socket: every event it sent crossed hubd's ZeroMQ I/O thread, one
// more thread to wake per event (tens of µs on a busy VM, docs/benchmarks.md, Profiling,
// item 18); here the loop thread writes to the reader's TCP socket itself. And each
// reader has its own buffer: a reader that does not read loses its own events, where
// ZMQ_XPUB_NODROP made one stuck reader drop events for every reader.
//
// Threading: one thread (the broker's loop thread) calls everything.
#pragma once

#include <zmq.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hub/broker/zmtp_wire.h"
#include "hub/common/status.h"

namespace hub::broker {

struct mirror_limits {
  // Bytes queued for one reader beyond what its socket took; an event that does not fit
  // is dropped for that reader and counted.
  std::size_t max_buffered_bytes = std::size_t{32} << 20;
  std::size_t max_readers = 1024;                // connections beyond are closed at once
  std::size_t max_frame_bytes = 64 * 1024;       // from a reader: subscriptions, PING
  std::chrono::milliseconds handshake_timeout{10'000};  // from accept to the reader's READY
};

class zmtp_mirror {
 public:
  explicit zmtp_mirror(mirror_limits limits = {});
  ~zmtp_mirror();
  zmtp_mirror(const zmtp_mirror&) = delete;
  zmtp_mirror& operator=(const zmtp_mirror&) = delete;

  // Listens on tcp://HOST:PORT: HOST is *, an IPv4 address, [an IPv6 address] or a name;
  // PORT is a number, or * (or 0) for any free port. endpoint() then names the bound port.
  status bind(const std::string& endpoint);
  [[nodiscard]] const std::string& endpoint() const { return endpoint_; }

  // Appends what the loop must poll: the listening socket, then each connection (for
  // writing too while bytes wait for it).
  void add_poll_items(std::vector<zmq::pollitem_t>& items) const;
  // After the poll, with the items add_poll_items appended: accepts, reads handshakes,
  // subscriptions and heartbeats, writes what waits.
  void handle(const zmq::pollitem_t* items, std::size_t count);

  // Queues one event for every reader subscribed to a prefix of `topic`. Returns how many
  // readers it was dropped for (their buffer was full). Nothing is written until flush().
  std::size_t publish(std::string_view topic, const void* body, std::size_t size);
  // Writes what is queued as far as each socket takes it now, without blocking.
  void flush();
  // Closes connections whose handshake has not finished within the limit.
  void expire(std::chrono::steady_clock::time_point now);

  [[nodiscard]] std::size_t readers() const;  // connections past the handshake
  [[nodiscard]] std::size_t connections() const;  // with those still in the handshake
  [[nodiscard]] std::size_t subscriptions() const;  // prefixes held, over all readers

  // The reader side of the protocol without a socket, for the fuzz target: feeds `bytes`
  // to a new connection's parser `chunk` bytes at a time, as TCP may cut them.
  struct parse_outcome {
    bool open = true;       // false: the mirror would close the connection...
    std::string why;        // ...for this reason
    bool ready = false;     // the handshake finished
    std::size_t subscriptions = 0;
    std::size_t reply_bytes = 0;  // greeting, READY and PONGs it would send
  };
  static parse_outcome parse_only(std::string_view bytes, std::size_t chunk, mirror_limits limits = {});

 private:
  struct reader;
  void accept_all();
  void read_from(reader& r);
  bool parse(reader& r);  // false: close the connection
  bool on_frame(reader& r, std::uint8_t flags, std::string_view body);
  void write_to(reader& r);
  void reap();  // closes the connections marked dead, with a log line each

  mirror_limits limits_;
  int listen_fd_ = -1;
  std::string endpoint_;
  std::vector<std::unique_ptr<reader>> readers_;  // in accept order
  zmtp::acceptor acceptor_{"mirror", "readers"};
};

}  // namespace hub::broker

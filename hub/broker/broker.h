// The broker: hubd's event loop. It owns every socket (the client ROUTER, the mirror's
// TCP connections, the inproc pair to the sync thread) and speaks docs/protocol.md.
//
// Data flow per loop turn: drain up to max_batch client messages; verify each PUB's
// envelope, drop resends by id, append the batch to the store with one call; ask the
// sync thread to make it durable when the store needs that (group commit); once
// durable, mirror the events and deliver them to live subscriptions through the topic
// trie (from the records kept since the append), then ACK every PUB of the batch (one
// ACK message per client); then serve lagging subscriptions with credit from the
// store, one pass for those whose cursors are close.
//
// Threading: construct, bind() and run() on one thread (the loop thread); stop() may be
// called from any thread or a signal handler. No exception escapes run(): a client's
// fault is a NAK/ERR and a counter, our bug an error line, and the loop goes on.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hub/common/status.h"
#include "hub/broker/zmtp_mirror.h"
#include "hub/common/types.h"
#include "hub/security/security.h"
#include "hub/store/store.h"

namespace hub::broker {

struct broker_options {
  std::string hub_name = "hubd";
  std::string store_kind = "memory";  // shown in the status: embedded, memory, jetstream
  std::string endpoint = "tcp://127.0.0.1:7460";
  std::string mirror_endpoint = "tcp://127.0.0.1:7461";  // empty: no mirror
  mirror_limits mirror;                                   // its readers, their buffers, their handshake
  std::size_t dedup_window = 1'000'000;
  millis client_timeout_ms = 10'000;
  std::size_t max_envelope_bytes = 1 << 20;
  std::size_t max_batch = 1024;           // client messages handled per loop turn
  int client_hwm = 100'000;               // messages queued per client connection, each way
  // Replies (ACK, NAK, STATUS...) queued for a client beyond a full connection queue. A client
  // that leaves more unread is dropped: its subscriptions end and its queue is freed.
  // Deliveries never queue here: credit bounds them.
  std::size_t max_outbox = 10'000;
  // Subscriptions one client may hold at a time; a SUB beyond gets ERR too_many_subscriptions.
  std::size_t max_subscriptions = 10'000;
  // Durable consumer names the store keeps; a SUB or COMMIT under one more new name gets
  // ERR too_many_consumers.
  std::size_t max_consumers = 10'000;
  std::size_t delivery_burst = 512;       // events sent to one lagging subscription per turn
  // How long the loop keeps polling its sockets without sleeping after a wake-up that had
  // work. A message arriving within it is read at once, without waking a sleeping thread
  // (tens of µs on a busy VM, the bulk of the hub's latency at moderate rates); the price
  // is up to one core while traffic flows. An idle hub sleeps. 0 (the default) sleeps at once.
  std::chrono::microseconds idle_poll{0};
  millis retention_interval_ms = 10'000;  // how often retention runs
  // Security: with an ACL, the client socket requires CURVE (curve_secret_key, Z85) and
  // admits only the ACL's public keys; every PUB, SUB and delivery is
  // checked against the client's identity; the mirror carries public events only.
  std::shared_ptr<const security::acl> acl;
  std::string curve_secret_key;
};

// Hooks for modules that live beside the broker (rules engine, ops). Each is called on
// the loop thread and must be quick.
struct broker_hooks {
  // Called for every durable event, in offset order, after delivery. Envelopes
  // appended to `out` are published by the hub itself (verified like any PUB).
  std::function<void(const store::record_view&, std::vector<std::vector<std::uint8_t>>& out)> on_durable;
  // Called about once a second with the wall-clock time; may publish like on_durable.
  std::function<void(millis now, std::vector<std::vector<std::uint8_t>>& out)> on_tick;
  // Called about twice a second with the status JSON (as STATUS returns it).
  std::function<void(const std::string& status_json)> on_status;
  // Called after request_reload() (SIGHUP): reload what can be reloaded.
  std::function<void()> on_reload;
  // Adds sections to the status JSON: returns a JSON object whose members are merged in.
  std::function<std::string()> extra_status;
  // Measurements for metrics (loop thread): an event delivered (EVT sent), the time from
  // a PUB's arrival to its ACK, the duration of one sync (group commit).
  std::function<void(const store::record_view&)> on_delivered;
  std::function<void(double seconds)> on_ack_latency;
  std::function<void(double seconds)> on_sync;
};

struct broker_counters {
  std::uint64_t events_in = 0;        // PUBs stored
  std::uint64_t events_out = 0;       // EVTs sent
  std::uint64_t duplicates = 0;       // PUBs whose id was already stored
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t mirror_sent = 0;
  std::uint64_t mirror_dropped = 0;
  std::uint64_t credit_stalls = 0;    // times a live subscription ran out of credit
  std::uint64_t pipe_stalls = 0;      // deliveries a subscriber's full pipe refused (read again from the store)
  std::uint64_t clients_dropped = 0;  // clients gone (unreachable or timed out)
  std::uint64_t auth_denied = 0;      // connections refused by security (key not listed, no CURVE)
  std::uint64_t acl_denied = 0;       // PUB, SUB or deliveries refused by the ACL
  std::uint64_t busy_polled_turns = 0; // wake-ups whose work the idle poll found (no sleep)
  std::uint64_t disconnects = 0;      // client connections that ended: closed by the client, or by
                                      // the hub for a fault or limit (the log says which)
  std::uint64_t naks[32] = {};        // by hub.schema.Reason
  std::uint64_t errs[32] = {};        // by hub.schema.Reason
};

class broker {
 public:
  broker(broker_options opts, std::unique_ptr<store::store> store, broker_hooks hooks = {});
  ~broker();
  broker(const broker&) = delete;
  broker& operator=(const broker&) = delete;

  // Binds the sockets. Endpoints may use port `*`; the bound ones are then readable.
  status bind();
  [[nodiscard]] const std::string& endpoint() const;
  [[nodiscard]] const std::string& mirror_endpoint() const;
  [[nodiscard]] const std::string& hub_id() const;

  // Runs the loop until stop(). Drains: stops accepting, acks what became durable,
  // commits nothing further, and returns.
  void run();

  // Async-signal-safe.
  void stop();
  // Async-signal-safe: on_reload runs on the loop thread soon after.
  void request_reload();
  // Loop thread (e.g. from on_reload): replaces the ACL; takes effect for every
  // connected client and existing subscription at once.
  void set_acl(std::shared_ptr<const security::acl> acl);

  [[nodiscard]] const broker_counters& counters() const;
  [[nodiscard]] store::store& store();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace hub::broker

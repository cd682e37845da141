// The Integration Hub client library: what every adapter and hubctl links.
// Speaks docs/protocol.md over one ZeroMQ DEALER socket per object.
//
// Threading: a publisher or subscriber belongs to the thread that uses it; it has no
// background thread (call poll() or any blocking call to make progress). Different
// objects may live on different threads.
//
// Errors: connection trouble is never an exception: the object reconnects by itself
// and resends. A refusal by the hub (NAK with a final reason) is reported through
// on_refused and counters. Exceptions (hub::sdk::error) are thrown only for misuse
// and bad options (empty endpoint, bad pattern syntax caught locally, bad spool file).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "schemas/events_generated.h"
#include "schemas/protocol_generated.h"

namespace hub::sdk {

// What went wrong, for the one exception type the SDK throws.
enum class error_kind : std::uint8_t {
  bad_options = 1,   // an option is missing or malformed
  bad_envelope = 2,  // the bytes given to publish() are not a valid envelope
  spool_error = 3,   // the store-and-forward spool file cannot be used
  protocol = 4,      // the hub answered something this library does not understand
};

class error : public std::runtime_error {
 public:
  error(error_kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  [[nodiscard]] error_kind kind() const { return kind_; }

 private:
  error_kind kind_;
};

// Where and how to reach the hub.
struct connection_options {
  std::vector<std::string> endpoints;                  // e.g. {"tcp://127.0.0.1:7460"}; tried in order on failover
  std::string client_name = "sdk-client";               // shown in the hub's logs and status
  std::chrono::milliseconds heartbeat{1000};            // PING when idle this long
  std::chrono::milliseconds hub_timeout{4000};          // no reply this long: reconnect (next endpoint)
  // CURVE security (issue 7): empty means plain TCP.
  std::string curve_server_public_key;                  // Z85, 40 chars
  std::string curve_client_public_key;
  std::string curve_client_secret_key;
};

// Where a subscription starts.
struct start_position {
  enum class kind : std::uint8_t { new_only, earliest, at_offset, at_time } what = kind::new_only;
  std::uint64_t arg = 0;  // the offset, or the time in ms since epoch
  static start_position new_only() { return {kind::new_only, 0}; }
  static start_position earliest() { return {kind::earliest, 0}; }
  static start_position at_offset(std::uint64_t o) { return {kind::at_offset, o}; }
  static start_position at_time(std::int64_t ms) { return {kind::at_time, static_cast<std::uint64_t>(ms)}; }
};

// Counters a publisher keeps; read them for an adapter's summary or heartbeat.
struct publisher_stats {
  std::uint64_t published = 0;   // publish() calls accepted
  std::uint64_t acked = 0;       // acknowledged by the hub (stored, or already stored)
  std::uint64_t duplicates = 0;  // acknowledged as already stored (the hub returned an older offset)
  std::uint64_t refused = 0;     // NAKed with a final reason
  std::uint64_t resent = 0;      // sent again after a reconnect or a temporary NAK
  std::uint64_t reconnects = 0;  // times the connection was rebuilt
  std::uint64_t renewals = 0;    // new sessions on the same connection: the hub restarted
                                 // behind it, or timed this client out (PONG said so)
  std::uint64_t spooled = 0;     // events currently waiting in the spool
};

class publisher {
 public:
  struct options {
    connection_options connection;
    std::size_t window = 1000;                         // PUBs in flight before publish() waits
    std::chrono::milliseconds publish_timeout{30000};  // how long publish() may wait for room
    // Store-and-forward (field sites with intermittent links): when set, every event is
    // written to this file before it is sent and removed once acknowledged, so events
    // survive the adapter's restart and long outages.
    std::filesystem::path spool_file;
    std::uint64_t spool_max_bytes = 256ull << 20;      // refuse new events beyond this
    // Provenance: an Ed25519 secret key file (hex, as `hubctl keys generate --signing`
    // writes it; readable by its owner alone). Every PUB then carries a signature over
    // the envelope bytes, which the hub checks against the key registered for this
    // identity. Empty: envelopes are not signed.
    std::filesystem::path signing_key_file;
  };

  explicit publisher(options opts);
  ~publisher();
  publisher(const publisher&) = delete;
  publisher& operator=(const publisher&) = delete;

  // Queues one envelope (copied) and sends it when the window has room. Blocks while
  // the window is full, serving replies, up to publish_timeout; returns false on
  // timeout (the event is not queued). Throws error(bad_envelope) if the bytes are not
  // an envelope with an id.
  bool publish(std::span<const std::uint8_t> envelope);

  // Serves replies and heartbeats for up to `wait`.
  void poll(std::chrono::milliseconds wait = std::chrono::milliseconds(0));

  // Waits until every published event is acknowledged or refused; false on timeout.
  bool flush(std::chrono::milliseconds timeout);

  [[nodiscard]] std::size_t in_flight() const;  // published, not yet acked or refused
  [[nodiscard]] const publisher_stats& stats() const;
  [[nodiscard]] bool connected() const;         // the hub answered within hub_timeout

  // Called for each acknowledgement: the event id and its offset in the log.
  void on_acked(std::function<void(const schema::Id128&, std::uint64_t offset, bool duplicate)> cb);
  // Called for each final refusal, with the reason code and text.
  void on_refused(std::function<void(const schema::Id128&, schema::Reason, const std::string&)> cb);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// One delivered event. The envelope bytes were verified by the hub; envelope() reads them.
struct event {
  std::uint64_t offset = 0;
  std::string topic;
  std::vector<std::uint8_t> bytes;
  std::vector<std::uint8_t> signature;  // the publisher's Ed25519 signature the hub stored, or empty
  [[nodiscard]] const schema::Envelope* envelope() const { return schema::GetEnvelope(bytes.data()); }
};

class subscriber {
 public:
  struct options {
    connection_options connection;
    std::string pattern = ">";                 // NATS-style: `*` one token, `>` the rest
    start_position start = start_position::new_only();
    std::string durable_name;                  // empty: ephemeral
    std::uint32_t credit_window = 256;         // events granted at a time
    // Most events the hub packs into one EVTS message (docs/protocol.md); 1: one EVT
    // per event (the only form hubs before EVTS send; against such a hub, which refuses
    // the batch frame, the subscriber asks again without it).
    std::uint32_t batch = 64;
  };

  explicit subscriber(options opts);
  ~subscriber();
  subscriber(const subscriber&) = delete;
  subscriber& operator=(const subscriber&) = delete;

  // The next event, waiting up to `timeout`; nullopt when none came. Grants credit as
  // events are consumed. After a reconnect it resubscribes from the offset after the
  // last event returned (or the durable offset), so nothing is skipped.
  std::optional<event> next(std::chrono::milliseconds timeout);

  // Durable subscriptions: everything before `next_offset` is processed. Waits for the
  // hub's COMMITOK up to timeout; false if it did not come, or at once if the hub
  // answered with an error (its reason in last_error(), e.g. a subscription without a
  // durable name, or a name beyond the hub's max_durable_consumers).
  bool commit(std::uint64_t next_offset, std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // The offset delivery started at (from SUBOK), once subscribed.
  [[nodiscard]] std::optional<std::uint64_t> first_offset() const;
  // The last error the hub sent for this subscription (ERR reason text), if any.
  [[nodiscard]] const std::string& last_error() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// Ask a hub for its status JSON (STATUS command); nullopt if no answer within timeout.
std::optional<std::string> fetch_status(const connection_options& conn,
                                        std::chrono::milliseconds timeout = std::chrono::seconds(3));

}  // namespace hub::sdk

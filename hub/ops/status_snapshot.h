// The hub's status as /api/status serves it (and the STATUS command returns it): a plain
// struct the broker fills on its loop thread about twice a second, turned into JSON with
// to_json(). docs/ops.md describes every field in plain words; field names here are the
// JSON names.
//
// status_slot hands the latest snapshot from the loop thread to the HTTP thread: the
// loop publishes, the HTTP thread reads; neither waits on the other for longer than a
// string copy. rate_meter turns counter samples into per-second rates over a window.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "hub/common/status.h"
#include "hub/common/types.h"

namespace hub::ops {

struct store_status {
  std::string kind;            // "embedded" or "memory"
  std::uint64_t begin = 0;     // first retained offset
  std::uint64_t end = 0;       // offset the next record will get
  std::uint64_t durable_end = 0;  // records before this offset are on stable storage
  std::uint64_t records = 0;   // records retained
  std::uint64_t bytes = 0;     // bytes on disk (or in memory)
  std::uint64_t segments = 0;  // log segments (0 for the memory store)
  bool writable = true;        // false: publishes are refused (disk full, I/O error)
  std::string last_error;      // the last write error, empty if none
};

struct counters_status {
  std::uint64_t events_in = 0;        // events stored
  std::uint64_t events_out = 0;       // events delivered to subscribers
  std::uint64_t duplicates = 0;       // resends acknowledged without storing again
  std::uint64_t bytes_in = 0;         // envelope bytes stored
  std::uint64_t bytes_out = 0;        // envelope bytes delivered
  std::uint64_t mirror_dropped = 0;   // events the mirror could not send
  std::uint64_t credit_stalls = 0;    // times a subscription ran out of credit
  std::uint64_t pipe_stalls = 0;      // deliveries a subscriber's full pipe refused
  std::uint64_t clients_dropped = 0;  // clients forgotten (timed out or unreachable)
  std::uint64_t disconnects = 0;      // client connections that ended (closed, or cut off by ZeroMQ)
  std::uint64_t rules_evaluated = 0;  // rule evaluations
  std::uint64_t busy_polled_turns = 0;  // loop wake-ups the idle poll found
  std::map<std::string, std::uint64_t> naks;  // NAKs by reason name
  std::map<std::string, std::uint64_t> errs;  // ERRs by reason name
};

struct rates_status {
  double events_in_per_s = 0;   // events stored per second over the window
  double events_out_per_s = 0;  // events delivered per second over the window
  double window_s = 0;          // the window actually covered (up to 10 s)
};

struct client_status {
  std::string identity;             // the connection's routing identity, hex
  std::string name;                 // from HELLO, empty if none
  std::string role;                 // "publisher", "subscriber", "both" or "idle"
  std::int64_t last_seen_ms_ago = 0;
  std::uint64_t in_flight = 0;      // PUBs received but not yet acknowledged
};

struct subscription_status {
  std::string client;        // the client's name (or identity if it sent no name)
  std::uint64_t sub_id = 0;
  std::string pattern;
  std::uint64_t next = 0;    // next offset to deliver
  std::uint64_t credit = 0;  // events the hub may still send
  std::uint64_t lag = 0;     // events stored but not yet delivered (log end - next)
  std::string durable;       // durable name, empty if ephemeral
};

struct adapter_status {
  std::string adapter;                     // the adapter's name from its heartbeat
  std::string source;                      // what it reads
  std::int64_t last_heartbeat_ms_ago = 0;  // age of its latest heartbeat
  std::uint64_t backlog = 0;               // records waiting to be published
  std::uint64_t published = 0;             // events published since the adapter started
  std::uint64_t skipped = 0;               // records that could not be mapped
  std::uint64_t errors = 0;                // errors since the adapter started
};

struct alert_status {
  std::string rule;      // rule id
  std::string key;       // what the alert is about
  std::string country;   // ISO 3166-1 alpha-3
  std::string severity;  // "info", "warning" or "critical"
  millis since = 0;      // when it started firing
};

struct status_snapshot {
  std::string hub_id;    // random per hub start
  std::string version;   // hubd version
  double uptime_s = 0;
  store_status store;
  counters_status counters;
  rates_status rates;
  std::vector<client_status> clients;
  std::vector<subscription_status> subscriptions;
  std::vector<adapter_status> adapters;
  std::vector<alert_status> alerts_firing;  // "alerts.firing"; by_country_severity is derived

  // The JSON object, compact. alerts.by_country_severity counts alerts_firing as
  // {"SSD": {"critical": 1, "warning": 0, "info": 0}, ...}.
  [[nodiscard]] std::string to_json() const;
  // Reads a document produced by to_json() (missing fields keep their defaults).
  // Malformed JSON or a field of the wrong type is an invalid_argument status naming it.
  [[nodiscard]] static result<status_snapshot> from_json(std::string_view json);
};

// Hands the latest status JSON from the loop thread to readers. Thread-safe.
class status_slot {
 public:
  void publish(std::string json);
  void publish(const status_snapshot& s) { publish(s.to_json()); }
  // The latest JSON, or nullopt before the first publish.
  [[nodiscard]] std::optional<std::string> read() const;

 private:
  mutable std::mutex mutex_;
  std::optional<std::string> json_;
};

// Rates of two monotonic counters over a sliding window. One thread (the loop).
class rate_meter {
 public:
  explicit rate_meter(millis window_ms = 10'000) : window_ms_(window_ms) {}
  void sample(millis now, std::uint64_t events_in, std::uint64_t events_out);
  // Rates over the samples within the window (0 with fewer than two samples).
  [[nodiscard]] rates_status rates() const;

 private:
  struct point {
    millis at;
    std::uint64_t in;
    std::uint64_t out;
  };
  millis window_ms_;
  std::deque<point> points_;
};

}  // namespace hub::ops

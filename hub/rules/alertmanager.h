// Sends coherence alerts to Prometheus Alertmanager (HTTP API v2, POST /api/v2/alerts).
//
// submit() never blocks the caller: it queues the alert and returns. One worker thread
// owned by the sink posts the queue, retries with backoff while Alertmanager is down,
// and re-sends firing alerts every `resend_interval` (Alertmanager resolves an alert it
// has not heard about within its resolve_timeout). The queue is bounded: when full, the
// oldest queued post is dropped and counted. All member functions are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "schemas/events_generated.h"

namespace hub::rules {

struct alertmanager_options {
  std::string url = "http://127.0.0.1:9093";   // scheme, host and port of Alertmanager
  std::size_t max_queue = 10000;                // posts waiting; beyond it the oldest is dropped
  std::chrono::milliseconds retry_initial{500}; // first backoff after a failed post
  std::chrono::milliseconds retry_max{30000};   // longest backoff
  std::chrono::milliseconds resend_interval{60000};  // re-send of firing alerts
  std::chrono::milliseconds timeout{5000};      // connect and read timeout per post
  std::string generator_url;                    // link back to the hub's dashboard, if any
};

struct alertmanager_stats {
  std::uint64_t sent = 0;      // alerts Alertmanager accepted
  std::uint64_t failures = 0;  // posts that failed (and were retried)
  std::uint64_t dropped = 0;   // alerts dropped because the queue was full
  std::uint64_t queued = 0;    // alerts waiting now
};

class alertmanager_sink {
 public:
  explicit alertmanager_sink(alertmanager_options opts);
  // Stops the worker; alerts still queued are dropped (and logged with their count).
  ~alertmanager_sink();
  alertmanager_sink(const alertmanager_sink&) = delete;
  alertmanager_sink& operator=(const alertmanager_sink&) = delete;

  // Queues a CoherenceAlert envelope (firing: labels and startsAt; resolved: endsAt).
  // Other event types are ignored. Returns false if `e` is not a CoherenceAlert.
  bool submit(const schema::Envelope& e);
  // The same for verified envelope bytes (as emitted by engine::on_event).
  bool submit(std::span<const std::uint8_t> envelope);

  // Waits until the queue is empty and nothing is in flight, up to `deadline`.
  bool flush(std::chrono::milliseconds deadline);
  [[nodiscard]] alertmanager_stats stats() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace hub::rules

// Glue between the broker's hooks and the ops module, so that hubd's main wires ops in
// a few lines:
//
//   hub::ops::hub_metrics metrics;
//   hub::ops::health health;
//   hub::ops::status_slot slot;
//   hub::ops::feed feed(metrics, health, slot);
//   auto http = hub::ops::http_server::start(cfg.http, hub::ops::make_handlers(metrics, health, slot));
//   hooks.on_durable = [&](const hub::store::record_view& r, auto&) { feed.on_durable(r); };
//   hooks.on_status = [&](const std::string& j) { feed.on_status(j, hub::now_millis()); };
//   feed.set_store_kind(cfg.store.kind);
//   health.set_rules_loaded(true);   // after the rules load (or when there are none)
//
// What it does: on_durable counts every stored event by entity and event type (and its
// bytes), and remembers adapter heartbeats and coherence alerts it sees in the log.
// on_status takes the broker's status JSON, adds rates, adapters and alerts, publishes
// the result to the slot, and brings the metrics and the readiness flags up to date
// from it (gauges set, counter totals advanced, consumer lag per durable subscription).
//
// Threading: both calls on the loop thread only (they keep unsynchronised state); the
// objects they write to are thread-safe for the HTTP side.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "hub/common/types.h"
#include "hub/ops/http_server.h"
#include "hub/ops/metrics.h"
#include "hub/ops/status_snapshot.h"
#include "hub/store/store.h"

namespace hub::ops {

class feed {
 public:
  feed(hub_metrics& metrics, health& h, status_slot& slot);

  void on_durable(const store::record_view& r);

  // At start, before the loop runs: relearns the adapters from the heartbeats among the
  // last `max_records` records of the log (a bounded read), so that an adapter known
  // before a restart stays listed, its heartbeat age counted from its last heartbeat,
  // and an adapter that stays silent still ages into HubAdapterSilent. Counts nothing.
  // Returns the number of adapters recalled; a read error is logged and ends the scan.
  std::size_t recall_heartbeats(store::store& st, std::uint64_t max_records = 200'000);

  // A status JSON that is not an object is logged once and ignored.
  void on_status(const std::string& status_json, millis now);

  // Set when the broker counts events_in itself (then on_durable only tracks heartbeats
  // and alerts, so nothing is counted twice).
  void set_broker_counts_events(bool yes) { broker_counts_events_ = yes; }

  // The configured store kind ("embedded", "memory", ...), shown as store.kind when the
  // broker's status does not carry it.
  void set_store_kind(std::string kind) { store_kind_ = std::move(kind); }

 private:
  struct heartbeat {
    adapter_status status;
    millis seen_at = 0;
  };
  void remember_heartbeat(const schema::Envelope& e, const schema::AdapterHeartbeat& hb, millis log_time);
  hub_metrics& metrics_;
  health& health_;
  status_slot& slot_;
  rate_meter rates_;
  std::map<std::string, heartbeat> adapters_;                         // by adapter name
  std::map<std::pair<std::string, std::string>, alert_status> alerts_;  // by (rule, key)
  std::string store_kind_;
  bool broker_counts_events_ = false;
  bool warned_bad_status_ = false;
};

}  // namespace hub::ops

// The store on NATS JetStream: events in one replicated stream, so that several hubd
// instances can share one log and survive the loss of a machine. The embedded log stays
// the default; this one is chosen with `store.kind: jetstream`.
//
// Mapping:
// - each event is one stream message on `<subject_prefix>.<topic>`; its data is the
//   envelope; header `Nats-Msg-Id` is the event id in hex (JetStream drops a resend of
//   an id within `duplicate_window`), header `Hub-Log-Time` the hub's log time;
// - hub offset = stream sequence - 1. Nothing is ever deleted from the middle of the
//   stream, so offsets stay dense; retention (max_age, max_bytes) drops from the front
//   and moves begin();
// - durable consumers' offsets are keys of a JetStream key-value bucket (`consumers_bucket`),
//   so every hub sees the same committed offsets.
//
// Durability: append() publishes asynchronously and returns at once; an event counts
// as durable (below durable_end()) only when JetStream has acknowledged it, which it does
// once a quorum of the stream's replicas has stored it. sync() waits for outstanding
// acknowledgements and resends, with the same Nats-Msg-Id, what timed out or failed.
// What that means against power loss is written in docs/scale-out.md.
//
// Offsets when several hubs write to one stream: the broker numbers a batch from end()
// before append(); this store only lets durable_end() pass such a number once that very
// event is acknowledged, so an ACK never comes early. The offset in the ACK is then the
// number the broker chose; when another hub wrote in between, the event's real offset
// (the one subscribers see) is later. An event that JetStream reports as a duplicate
// (a resend after failing over to another hub) occupies no new offset; its ACK waits for
// the next event appended by anyone. (Exact offsets in ACKs need the store to report the
// assigned offset back to the broker; see docs/scale-out.md.)
//
// Failures: when the cluster cannot be reached, or JetStream has failed to acknowledge
// (no quorum), append() returns `unavailable` with the reason; records appended before
// stay readable from the stream; the connection reconnects by itself and sync() resends
// what is outstanding, after which append() accepts again.
//
// Threading: as in hub/store/store.h. Library callbacks (acks, the live tail) run on
// libnats threads and only touch state under an internal mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hub/common/status.h"
#include "hub/store/store.h"

namespace hub::jetstream {

struct store_options {
  std::vector<std::string> servers;           // nats://host:port of the cluster nodes
  std::string stream = "HUB_EVENTS";          // stream name
  std::string subject_prefix = "hub";         // events are on <prefix>.<topic>
  int replicas = 3;                           // stream and bucket replicas (1, 3 or 5)
  std::chrono::seconds max_age{0};            // retention by age; 0 keeps forever
  std::int64_t max_bytes = 0;                 // retention by size; 0 means no limit
  std::chrono::milliseconds duplicate_window{std::chrono::minutes(2)};  // JetStream dedup by Nats-Msg-Id
  std::string consumers_bucket = "HUB_CONSUMERS";  // key-value bucket of durable consumers' offsets
  std::chrono::milliseconds publish_timeout{5000};  // an unacknowledged publish fails after this
  std::chrono::milliseconds open_timeout{15000};    // open() waits this long for a cluster with a leader
  std::chrono::milliseconds read_timeout{3000};     // a read of committed records gives up after this
  std::size_t cache_records = 65536;          // recent records kept in memory for live delivery
  // Reads older records one request each from the stream's leader instead of through an
  // ordered consumer: slower, but never from a replica. nats-server 2.9.10 has been seen
  // to keep a divergent copy on a node killed with SIGKILL under load, which an ordered
  // consumer placed there then reads (docs/ops.md, "JetStream").
  bool read_from_leader = false;
  std::size_t max_pending = 65536;            // unacknowledged events before append() refuses
  std::string name = "hubd";                  // connection name, shown by the servers
};

// Connects to the cluster, creates the stream and the bucket (or updates the stream's
// retention to the given one), and returns the store. Fails with `unavailable` when no
// server answers or no JetStream leader is elected within open_timeout, with
// `config_error` when the options are wrong (e.g. no servers) or the existing stream
// cannot take them.
[[nodiscard]] result<std::unique_ptr<store::store>> open_store(const store_options& opts);

}  // namespace hub::jetstream

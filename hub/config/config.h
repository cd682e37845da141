// hubd's configuration: a YAML file, then command-line flags that override it.
// Loading is done once at start (and may throw nothing: errors are values that name
// the key and the line).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "hub/common/status.h"

namespace hub::config {

struct store_config {
  std::string kind = "embedded";        // embedded (durable log), memory, or jetstream (replicated)
  std::string fsync = "batch";          // batch, interval or never
  std::int64_t fsync_interval_ms = 100; // with fsync: interval
  std::uint64_t segment_bytes = 64ull << 20;   // roll segments at this size
  std::int64_t retention_age_s = 0;     // drop segments older than this; 0 keeps forever
  std::uint64_t retention_bytes = 0;    // keep at most this many bytes; 0 means no limit
  std::vector<std::string> servers;     // jetstream: nats://host:port of the cluster nodes
  std::string stream = "HUB_EVENTS";    // jetstream: the stream's name
  int replicas = 3;                     // jetstream: replicas of the stream (1, 3 or 5)
  std::int64_t open_timeout_ms = 15000; // jetstream: how long start-up waits for the cluster
  std::string read_from = "replica";    // jetstream: older records through a consumer on any replica, or leader
};

struct hub_config {
  std::string hub_name = "hubd";                       // shown in logs and status
  std::string endpoint = "tcp://127.0.0.1:7460";       // client ROUTER socket
  std::string mirror_endpoint = "tcp://127.0.0.1:7461";// best-effort XPUB mirror; empty disables
  std::string data_dir = "./hub-data";                 // where the log and checkpoints live
  std::string http = "";                               // host:port of the ops endpoint; empty disables
  store_config store;
  std::uint64_t dedup_window = 1'000'000;              // recent event ids remembered
  std::int64_t client_timeout_ms = 10'000;             // forget silent clients after this
  std::uint64_t max_envelope_bytes = 1 << 20;          // larger envelopes are refused
  std::uint64_t max_subscriptions_per_client = 10'000; // a SUB beyond is refused
  std::uint64_t max_unread_replies = 10'000;           // a client leaving more unread is dropped
  std::uint64_t max_durable_consumers = 10'000;        // a new durable name beyond is refused
  std::int64_t idle_poll_us = 0;                       // the loop polls this long without sleeping after work
  std::uint64_t mirror_max_readers = 1024;              // mirror connections at once; more are closed
  std::uint64_t mirror_buffer_bytes = 32 << 20;        // per mirror reader beyond its socket; overflow is dropped
  std::uint64_t max_messages_per_turn = 1024;          // client messages the loop reads before it stores and replies
  std::vector<std::string> rule_files;                 // rule files for the rules engine
  std::string alertmanager_url;                        // e.g. http://127.0.0.1:9093; empty: no Alertmanager
  std::int64_t rules_lease_ttl_ms = 5'000;             // jetstream: the rules lease lapses this long after its holder stops
  bool security = false;                               // CURVE + ACL on the client socket
  std::string curve_secret_key_file;                   // the hub's CURVE secret key (mode 0600)
  std::string acl_file;                                // identities, keys, permissions, clearances
  std::string log_format = "text";                     // text or json
  std::string log_level = "info";                      // trace, debug, info, warn, error
  // Where each value set came from, by dotted key ("store.segment_bytes"): "FILE:LINE"
  // for the config file, or the flag ("--fsync") that overrode it. validate() names it.
  std::map<std::string, std::string> origin;
};

// Reads a YAML config file. Unknown keys, wrong types and bad values are errors that
// name the file, the key and the line.
[[nodiscard]] result<hub_config> load_file(const std::filesystem::path& path);

// Checks values that flags may also have set (e.g. fsync is one of batch, interval, never).
// Each error names the key and, from `origin`, the file and line or the flag it came from.
[[nodiscard]] status validate(const hub_config& c);

// The configuration as YAML, as --print-config shows it.
[[nodiscard]] std::string to_yaml(const hub_config& c);

}  // namespace hub::config

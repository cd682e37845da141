// hubd: the Integration Hub daemon.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "hub/broker/broker.h"
#include "hub/config/config.h"
#include "hub/hubd/logging.h"
#include "hub/hubd/rules_runner.h"
#include "hub/ops/feed.h"
#include "hub/ops/http_server.h"
#include "hub/ops/metrics.h"
#include "hub/ops/status_snapshot.h"
#include "hub/security/security.h"
#include "hub/store/memory_store.h"
#if HUB_HAVE_LOG
#include "hub/log/log.h"
#endif
#if HUB_HAVE_JETSTREAM
#include "hub/jetstream/jetstream_store.h"
#include "hub/jetstream/lease.h"
#endif

namespace {

// What a stop signal does depends on how far the hub is: before the loop runs it ends
// the process at once, as the default action would; while it runs it stops the loop
// (the last batch is finished and made durable); after that it is ignored.
enum class phase { starting, running, stopping };
std::atomic<phase> g_phase{phase::starting};
std::atomic<hub::broker::broker*> g_broker{nullptr};
std::atomic<hub::ops::health*> g_health{nullptr};

// The stop and reload signals are blocked in every thread (see main) and taken here,
// on a thread of their own, with sigwait: no other thread is ever interrupted by them.
// (A helper thread interrupted in a blocking call gets EINTR; the broker's sync thread
// once turned that into an exception and the hub aborted on SIGTERM.)
void take_signals(sigset_t signals) {
  pthread_setname_np(pthread_self(), "hubd-signals");
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    const phase now = g_phase.load();
    if (now == phase::starting) std::_Exit(128 + sig);
    if (now == phase::stopping) continue;
    auto* broker = g_broker.load();
    if (sig == SIGHUP) {
      if (broker != nullptr) broker->request_reload();
      continue;
    }
    // Unready first, so that /readyz says so while the last batch is finished.
    if (auto* health = g_health.load(); health != nullptr) health->begin_shutdown();
    if (broker != nullptr) broker->stop();
  }
}

// Writes the bound endpoints as JSON, atomically, for scripts and tests that start the
// hub with port `*`.
void write_ready_file(const std::string& path, const hub::broker::broker& b, const std::string& http) {
  nlohmann::json j = {{"endpoint", b.endpoint()}, {"mirror_endpoint", b.mirror_endpoint()}, {"http", http},
                      {"hub_id", b.hub_id()}, {"pid", ::getpid()}};
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << j.dump() << "\n";
  }
  std::filesystem::rename(tmp, path);
}

hub::result<std::unique_ptr<hub::store::store>> open_store(const hub::config::hub_config& c) {
  if (c.store.kind == "memory") return std::unique_ptr<hub::store::store>(hub::store::make_memory_store());
  if (c.store.kind == "jetstream") {
#if HUB_HAVE_JETSTREAM
    hub::jetstream::store_options o;
    o.servers = c.store.servers;
    o.stream = c.store.stream;
    o.replicas = c.store.replicas;
    o.open_timeout = std::chrono::milliseconds(c.store.open_timeout_ms);
    o.read_from_leader = c.store.read_from == "leader";
    o.max_age = std::chrono::seconds(c.store.retention_age_s);
    o.max_bytes = static_cast<std::int64_t>(c.store.retention_bytes);
    o.name = c.hub_name;
    return hub::jetstream::open_store(o);
#else
    return hub::status::config_error("this hubd was built without libnats: store.kind jetstream is not available");
#endif
  }
#if HUB_HAVE_LOG
  hub::log::log_options o;
  o.fsync = c.store.fsync == "never"      ? hub::log::fsync_policy::never
            : c.store.fsync == "interval" ? hub::log::fsync_policy::interval
                                          : hub::log::fsync_policy::batch;
  o.fsync_interval = std::chrono::milliseconds(c.store.fsync_interval_ms);
  o.segment_bytes = c.store.segment_bytes;
  o.retention_age = std::chrono::seconds(c.store.retention_age_s);
  o.retention_bytes = c.store.retention_bytes;
  return hub::log::open_log(c.data_dir, o);
#else
  spdlog::warn("this build has no durable log; using the in-memory store");
  return std::unique_ptr<hub::store::store>(hub::store::make_memory_store());
#endif
}

}  // namespace

int main(int argc, char** argv) {
  // Blocked before any thread starts, so that every thread inherits the block; one
  // thread takes them (take_signals).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&stop_signals, sig);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::thread(take_signals, stop_signals).detach();
  signal(SIGPIPE, SIG_IGN);
  CLI::App app{"hubd: the Integration Hub daemon. Adapters publish shared-commitment events to it; "
               "subscribers and the rules module read them.\nProtocol: docs/protocol.md. Config: deploy/hubd.example.yaml."};
  std::string config_file, endpoint, mirror_endpoint, data_dir, http, store_kind, fsync, log_format, log_level,
      ready_file;
  std::vector<std::string> rules;
  std::string alertmanager;
  std::int64_t idle_poll_us = 0;
  bool print_config = false;
  app.add_option("--config", config_file, "YAML configuration file")->check(CLI::ExistingFile);
  app.add_option("--endpoint", endpoint, "client socket, e.g. tcp://127.0.0.1:7460 (port * picks a free one)")->take_last();
  app.add_option("--mirror-endpoint", mirror_endpoint, "best-effort XPUB mirror; \"\" disables it")->take_last();
  app.add_option("--data-dir", data_dir, "directory of the event log")->take_last();
  app.add_option("--http", http, "host:port of the ops HTTP endpoint (metrics, health, status, dashboard)")->take_last();
  app.add_option("--store", store_kind, "embedded (durable log, default), memory, or jetstream")
      ->check(CLI::IsMember({"embedded", "memory", "jetstream"}))->take_last();
  app.add_option("--fsync", fsync, "when the log is flushed to disk: batch (default), interval, never")
      ->check(CLI::IsMember({"batch", "interval", "never"}))->take_last();
  app.add_option("--rules", rules, "rule files (repeatable); overrides rules.files of the config");
  app.add_option("--alertmanager", alertmanager, "send alerts to this Alertmanager, e.g. http://127.0.0.1:9093")->take_last();
  app.add_option("--idle-poll-us", idle_poll_us,
                 "keep polling this many µs without sleeping after work: lower latency for up to a core (default 0)")
      ->take_last();
  app.add_option("--log-format", log_format, "text (default) or json")->check(CLI::IsMember({"text", "json"}))->take_last();
  app.add_option("--log-level", log_level, "trace, debug, info (default), warn, error")->take_last();
  app.add_option("--ready-file", ready_file, "write the bound endpoints as JSON to this file once serving");
  app.add_flag("--print-config", print_config, "print the configuration in force and exit");
  CLI11_PARSE(app, argc, argv);

  hub::config::hub_config cfg;
  if (!config_file.empty()) {
    auto loaded = hub::config::load_file(config_file);
    if (!loaded) {
      std::cerr << "hubd: configuration error:\n" << loaded.error().message() << "\n";
      return 2;
    }
    cfg = std::move(loaded.value());
  }
  // Flags override the file (and are named in validate()'s messages instead of its lines).
  auto flag = [&](const char* name, const char* key, auto& field, const auto& value) {
    if (!app.count(name)) return;
    field = value;
    cfg.origin[key] = name;
  };
  flag("--endpoint", "endpoint", cfg.endpoint, endpoint);
  flag("--mirror-endpoint", "mirror_endpoint", cfg.mirror_endpoint, mirror_endpoint);
  flag("--data-dir", "data_dir", cfg.data_dir, data_dir);
  flag("--http", "http", cfg.http, http);
  flag("--store", "store.kind", cfg.store.kind, store_kind);
  flag("--fsync", "store.fsync", cfg.store.fsync, fsync);
  flag("--rules", "rules.files", cfg.rule_files, rules);
  flag("--alertmanager", "rules.alertmanager_url", cfg.alertmanager_url, alertmanager);
  flag("--idle-poll-us", "idle_poll_us", cfg.idle_poll_us, idle_poll_us);
  flag("--log-format", "log.format", cfg.log_format, log_format);
  flag("--log-level", "log.level", cfg.log_level, log_level);
  if (auto v = hub::config::validate(cfg); !v) {
    std::cerr << "hubd: configuration error:\n" << v.message() << "\n";
    return 2;
  }
  if (print_config) {
    std::cout << hub::config::to_yaml(cfg);
    return 0;
  }
  hub::hubd::setup_logging(cfg.log_format, cfg.log_level);

  auto store = open_store(cfg);
  if (!store) {
    spdlog::critical("cannot open the store in {}: {}", cfg.data_dir, store.error().message());
    return 1;
  }

  hub::broker::broker_options bo;
  bo.hub_name = cfg.hub_name;
  bo.store_kind = cfg.store.kind;
  bo.endpoint = cfg.endpoint;
  bo.mirror_endpoint = cfg.mirror_endpoint;
  bo.dedup_window = cfg.dedup_window;
  bo.client_timeout_ms = cfg.client_timeout_ms;
  bo.max_envelope_bytes = cfg.max_envelope_bytes;
  bo.max_subscriptions = static_cast<std::size_t>(cfg.max_subscriptions_per_client);
  bo.max_outbox = static_cast<std::size_t>(cfg.max_unread_replies);
  bo.max_consumers = static_cast<std::size_t>(cfg.max_durable_consumers);
  bo.idle_poll = std::chrono::microseconds(cfg.idle_poll_us);
  bo.max_batch = static_cast<std::size_t>(cfg.max_messages_per_turn);
  bo.mirror.max_readers = static_cast<std::size_t>(cfg.mirror_max_readers);
  bo.mirror.max_buffered_bytes = static_cast<std::size_t>(cfg.mirror_buffer_bytes);
  if (cfg.security) {
    auto key = hub::security::read_secret_key_file(cfg.curve_secret_key_file);
    if (!key) {
      spdlog::critical("security: {}", key.error().message());
      return 1;
    }
    auto acl = hub::security::acl::load(cfg.acl_file);
    if (!acl) {
      spdlog::critical("security: ACL error:\n{}", acl.error().message());
      return 1;
    }
    bo.curve_secret_key = key.value();
    bo.acl = acl.value();
    spdlog::info("security on: CURVE, {} identities in {}", bo.acl->identities().size(), cfg.acl_file);
  } else {
    spdlog::warn("security is off: any client that can reach {} may publish and read everything", cfg.endpoint);
  }
  std::unique_ptr<hub::hubd::rules_runner> rules_engine;
  if (!cfg.rule_files.empty()) {
    auto r = hub::hubd::rules_runner::start(cfg.rule_files, cfg.alertmanager_url);
    if (!r) {
      spdlog::critical("rules: the rule files have errors:\n{}", r.error().message());
      return 2;
    }
    rules_engine = std::move(r.value());
    spdlog::info("rules: {} file(s) loaded{}", cfg.rule_files.size(),
                 cfg.alertmanager_url.empty() ? "" : "; alerts go to " + cfg.alertmanager_url);
  }
#if HUB_HAVE_JETSTREAM
  // Several hubs share a JetStream store: the rules engine raises alerts on one of them
  // at a time, the holder of a lease in the cluster's key-value store. The others
  // follow the log on standby and take over within lease_ttl_ms when the holder dies.
  std::unique_ptr<hub::jetstream::lease> rules_lease;
  if (rules_engine && cfg.store.kind == "jetstream") {
    hub::jetstream::lease_options lo;
    lo.servers = cfg.store.servers;
    lo.replicas = cfg.store.replicas;
    lo.open_timeout = std::chrono::milliseconds(cfg.store.open_timeout_ms);
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    lo.holder = fmt::format("{}@{}:{}", cfg.hub_name, host, ::getpid());
    lo.ttl = std::chrono::milliseconds(cfg.rules_lease_ttl_ms);
    lo.renew_every = std::chrono::milliseconds(cfg.rules_lease_ttl_ms / 5);
    auto* re = rules_engine.get();
    lo.on_change = [re, holder = lo.holder](bool held) {
      spdlog::info("rules lease {} by {}", held ? "taken" : "lost", holder);
      re->set_active(held);
    };
    auto l = hub::jetstream::lease::open(lo);
    if (!l) {
      spdlog::critical("rules lease: {}", l.error().message());
      return 1;
    }
    rules_lease = std::move(l.value());
    rules_engine->rebuild(*store.value(), false);
  } else
#endif
  if (rules_engine) {
    rules_engine->rebuild(*store.value());
  }

  // Ops: metrics, health and the status document, served over HTTP off the loop.
  hub::ops::hub_metrics metrics;
  hub::ops::health health;
  hub::ops::status_slot slot;
  hub::ops::feed ops_feed(metrics, health, slot);
  ops_feed.set_store_kind(cfg.store.kind);
  // Adapters known before a restart stay listed (and their heartbeat age keeps growing),
  // so that an adapter silent since then is still seen as silent.
  ops_feed.recall_heartbeats(*store.value());
  health.set_rules_loaded(true);
  std::unique_ptr<hub::ops::http_server> http_server;
  if (!cfg.http.empty()) {
    auto handlers = hub::ops::make_handlers(metrics, health, slot);
    if (rules_engine) {
      handlers.reload_rules = [re = rules_engine.get(), n = cfg.rule_files.size()]() -> std::pair<bool, std::string> {
        spdlog::info("rules reload requested over the ops endpoint");
        hub::status st = re->reload();
        if (!st) return {false, "rule files refused, the rules in force stay:\n" + st.message()};
        return {true, fmt::format("{} rule file(s) reloaded", n)};
      };
    }
    auto h = hub::ops::http_server::start(cfg.http, std::move(handlers));
    if (!h) {
      spdlog::critical("ops HTTP endpoint: {}", h.error().message());
      return 1;
    }
    http_server = std::move(h.value());
    spdlog::info("ops endpoint on http://{} (/metrics, /healthz, /readyz, /api/status, dashboard at /)",
                 http_server->address());
  }

  hub::broker::broker_hooks hooks;
  hub::broker::broker* self = nullptr;
  auto* re = rules_engine.get();
  hooks.on_durable = [re, &ops_feed](const hub::store::record_view& v, std::vector<std::vector<std::uint8_t>>& out) {
    ops_feed.on_durable(v);
    if (re != nullptr) {
      re->feed(v);
      re->drain(out);
    }
  };
  hooks.on_status = [&ops_feed](const std::string& j) { ops_feed.on_status(j, hub::now_millis()); };
  hooks.on_delivered = [&metrics](const hub::store::record_view& v) {
    const auto* e = hub::schema::GetEnvelope(v.envelope.data());
    metrics.events_out_for(e->entity(), e->payload_type()).inc();
  };
  hooks.on_ack_latency = [&metrics](double s) { metrics.publish_ack_seconds.observe(s); };
  hooks.on_sync = [&metrics](double s) { metrics.fsync_seconds.observe(s); };
  if (re != nullptr) {
    hooks.on_tick = [re](hub::millis now, std::vector<std::vector<std::uint8_t>>& out) {
      re->tick(now);
      re->drain(out);
    };
    hooks.extra_status = [re] {
      nlohmann::json j;
      auto st = re->stats();
      j["rules"] = {{"active", re->active()}, {"events", st.events}, {"backlog", re->backlog()},
                    {"open_expectations", st.open_expectations},
                    {"alerts_emitted", st.alerts_emitted}, {"evaluated", st.evaluated},
                    {"skipped_missing_fields", st.skipped_missing_fields},
                    {"firing_by_severity", st.firing_by_severity}};
      nlohmann::json firing = nlohmann::json::array();
      for (const auto& a : re->firing())
        firing.push_back({{"alert_id", a.alert_id}, {"rule", a.rule_id}, {"key", a.key}, {"country", a.country},
                          {"severity", a.severity}, {"title", a.title}, {"acknowledged_by", a.acknowledged_by},
                          {"silenced", a.silenced}});
      j["alerts"] = {{"firing", firing}};
      return j.dump();
    };
  }
  hooks.on_reload = [&cfg, &self, &rules_engine] {
    if (rules_engine) (void)rules_engine->reload();
    if (cfg.security && self != nullptr) {
      auto acl = hub::security::acl::load(cfg.acl_file);
      if (!acl)
        spdlog::error("ACL reload refused, the previous list stays in force:\n{}", acl.error().message());
      else
        self->set_acl(acl.value());
    }
  };
  hub::broker::broker broker(bo, std::move(store.value()), hooks);
  self = &broker;
  if (auto b = broker.bind(); !b) {
    spdlog::critical("{}", b.message());
    return 1;
  }
  g_broker = &broker;
  g_health = &health;
  g_phase = phase::running;

  health.set_accepting(true);
  if (!ready_file.empty()) write_ready_file(ready_file, broker, http_server ? http_server->address() : "");
  broker.run();
  g_phase = phase::stopping;
  health.set_accepting(false, "shutting down");
  if (http_server) http_server->stop();
  return 0;
}

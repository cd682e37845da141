// The ops HTTP endpoint: /metrics, /healthz, /readyz, /api/status and the dashboard at
// /. It runs on threads of its own (cpp-httplib's listener and a small pool), never on
// the event loop: every handler only reads state the loop publishes (atomics in the
// metrics registry, the status slot, the readiness flags).
//
//   GET /metrics     200, Prometheus text format (metrics callback)
//   GET /healthz     200 "ok" while the process serves HTTP at all
//   GET /readyz      200 "ready" when store open, rules loaded and accepting publishes;
//                    503 with the reasons, one per line, otherwise
//   GET /api/status  200 JSON (the latest status_snapshot); 503 before the first one
//   GET /            the dashboard (self-contained HTML, no outside network)
//   anything else    404; methods other than GET/HEAD 405
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "hub/common/status.h"

namespace hub::ops {

class hub_metrics;
class status_slot;

struct readiness {
  bool ready = false;
  std::string reason;  // empty when ready; else why not, one line per cause
};

// The three conditions of readiness, set by whichever thread learns of a change (the
// loop when the store fails or recovers, start-up when rules load). Thread-safe.
class health {
 public:
  void set_store_writable(bool ok, std::string reason = {});
  void set_rules_loaded(bool ok, std::string reason = {});
  void set_accepting(bool ok, std::string reason = {});
  // Shutdown has begun (SIGTERM): unready from now on, whatever the other conditions
  // say, so that a load balancer stops sending work while the hub drains. Lock-free and
  // async-signal-safe: the signal handler calls it.
  void begin_shutdown() { shutting_down_.store(true, std::memory_order_relaxed); }
  [[nodiscard]] readiness check() const;

 private:
  struct condition {
    bool ok = false;
    std::string reason;
  };
  mutable std::mutex mutex_;
  condition store_{false, "store not open yet"};
  condition rules_{false, "rules not loaded yet"};
  condition accepting_{false, "not accepting publishes yet"};
  std::atomic<bool> shutting_down_{false};
  static_assert(std::atomic<bool>::is_always_lock_free, "begin_shutdown() runs in a signal handler");
};

struct http_handlers {
  std::function<std::string()> metrics;                   // Prometheus text
  std::function<readiness()> ready;                       // for /readyz
  std::function<std::optional<std::string>()> status_json;  // nullopt: no status yet (503)
  // POST /api/rules/reload: re-reads the configured rule files (as SIGHUP does) and
  // returns {"ok": bool, "message": text}; not set: the hub runs no rules module (404).
  // Only the files named in the hub's configuration are read, so a caller can make the
  // hub re-read them but not load anything else.
  std::function<std::pair<bool, std::string>()> reload_rules;
};

// Handlers wired to the hub's metrics, health flags and status slot. The referenced
// objects must outlive the server.
[[nodiscard]] http_handlers make_handlers(const hub_metrics& metrics, const health& h, const status_slot& slot);

// Splits "host:port" ("127.0.0.1:7470", "[::1]:0", ":7470" meaning all interfaces).
struct host_port {
  std::string host;
  std::uint16_t port = 0;
};
[[nodiscard]] result<host_port> parse_host_port(std::string_view address);

class http_server {
 public:
  // Binds `address` (port 0: one chosen by the kernel) and starts serving on its own
  // threads. A malformed address is invalid_argument; a port in use or a host that
  // does not resolve is unavailable; both messages name the address.
  [[nodiscard]] static result<std::unique_ptr<http_server>> start(std::string_view address, http_handlers handlers);
  ~http_server();  // stop()
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  [[nodiscard]] std::uint16_t bound_port() const { return port_; }
  // "host:port" with the bound port, e.g. "127.0.0.1:43117", for the ready file.
  [[nodiscard]] const std::string& address() const { return address_; }

  // Stops listening, finishes requests in progress and joins the threads. Idempotent;
  // any thread except a handler's.
  void stop();

 private:
  struct impl;
  explicit http_server(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
  std::uint16_t port_ = 0;
  std::string address_;
};

// The dashboard page (HTML with inline CSS and script).
[[nodiscard]] std::string_view dashboard_html();

}  // namespace hub::ops

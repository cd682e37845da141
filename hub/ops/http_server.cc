#include "hub/ops/http_server.h"

#include <sys/socket.h>

#include <charconv>
#include <chrono>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "hub/ops/metrics.h"
#include "hub/ops/status_snapshot.h"

namespace hub::ops {

void health::set_store_writable(bool ok, std::string reason) {
  std::lock_guard lock(mutex_);
  store_ = {ok, std::move(reason)};
}

void health::set_rules_loaded(bool ok, std::string reason) {
  std::lock_guard lock(mutex_);
  rules_ = {ok, std::move(reason)};
}

void health::set_accepting(bool ok, std::string reason) {
  std::lock_guard lock(mutex_);
  accepting_ = {ok, std::move(reason)};
}

readiness health::check() const {
  std::lock_guard lock(mutex_);
  readiness r;
  const bool stopping = shutting_down_.load(std::memory_order_relaxed);
  r.ready = store_.ok && rules_.ok && accepting_.ok && !stopping;
  if (stopping) r.reason = "shutting down: no longer accepting publishes";
  auto add = [&](const condition& c, const char* what) {
    if (c.ok) return;
    if (!r.reason.empty()) r.reason += '\n';
    r.reason += c.reason.empty() ? std::string(what) : c.reason;
  };
  add(store_, "store not writable");
  add(rules_, "rules not loaded");
  add(accepting_, "not accepting publishes");
  return r;
}

http_handlers make_handlers(const hub_metrics& metrics, const health& h, const status_slot& slot) {
  http_handlers out;
  out.metrics = [&metrics] { return metrics.render(); };
  out.ready = [&h] { return h.check(); };
  out.status_json = [&slot] { return slot.read(); };
  return out;
}

result<host_port> parse_host_port(std::string_view address) {
  auto bad = [&](std::string_view why) {
    return status::invalid_argument(
        fmt::format("HTTP address \"{}\": {}; expected host:port, e.g. 127.0.0.1:7470 (port 0 picks a free one)",
                    address, why));
  };
  host_port hp;
  std::string_view port_text;
  if (address.starts_with('[')) {
    auto close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() || address[close + 1] != ':')
      return bad("unterminated [IPv6] host or no port");
    hp.host = std::string(address.substr(1, close - 1));
    port_text = address.substr(close + 2);
  } else {
    auto colon = address.rfind(':');
    if (colon == std::string_view::npos) return bad("no port");
    hp.host = std::string(address.substr(0, colon));
    if (hp.host.find(':') != std::string::npos) return bad("an IPv6 host must be written in [brackets]");
    port_text = address.substr(colon + 1);
  }
  if (hp.host.empty()) hp.host = "0.0.0.0";
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || p != port_text.data() + port_text.size() || port > 65535)
    return bad("the port is not a number from 0 to 65535");
  hp.port = static_cast<std::uint16_t>(port);
  return hp;
}

struct http_server::impl {
  httplib::Server server;
  std::thread thread;
  http_handlers handlers;
  std::mutex stop_mutex;
};

http_server::http_server(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

http_server::~http_server() { stop(); }

result<std::unique_ptr<http_server>> http_server::start(std::string_view address, http_handlers handlers) {
  auto hp = parse_host_port(address);
  if (!hp) return hp.error();
  auto i = std::make_unique<impl>();
  i->handlers = std::move(handlers);
  auto& svr = i->server;
  const http_handlers& h = i->handlers;

  // Two workers: a scrape and a dashboard poll at the same time; requests are tiny.
  svr.new_task_queue = [] { return new httplib::ThreadPool(2); };
  svr.set_read_timeout(5, 0);
  svr.set_write_timeout(5, 0);
  svr.set_keep_alive_max_count(100);
  // cpp-httplib's default sets SO_REUSEPORT, which lets a second hubd bind the same
  // port without error and steal half the scrapes. SO_REUSEADDR alone allows a quick
  // restart (TIME_WAIT) but refuses a port another process listens on.
  svr.set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });

  svr.Get("/metrics", [&h](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_content(h.metrics ? h.metrics() : std::string(), std::string(exposition_content_type));
  });
  svr.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_content("ok\n", "text/plain; charset=utf-8");
  });
  svr.Get("/readyz", [&h](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    readiness r = h.ready ? h.ready() : readiness{false, "no readiness check configured"};
    if (r.ready) {
      res.set_content("ready\n", "text/plain; charset=utf-8");
    } else {
      res.status = 503;
      res.set_content("not ready:\n" + r.reason + "\n", "text/plain; charset=utf-8");
    }
  });
  svr.Get("/api/status", [&h](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    std::optional<std::string> j = h.status_json ? h.status_json() : std::nullopt;
    if (j) {
      res.set_content(*j, "application/json");
    } else {
      res.status = 503;
      res.set_content(R"({"error":"no status yet: the hub is starting; retry in a second"})", "application/json");
    }
  });
  auto dashboard = [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-cache");
    res.set_content(std::string(dashboard_html()), "text/html; charset=utf-8");
  };
  svr.Get("/", dashboard);
  svr.Get("/dashboard", dashboard);
  auto not_allowed = [](const httplib::Request& req, httplib::Response& res) {
    res.status = 405;
    res.set_header("Allow", "GET, HEAD");
    res.set_content(fmt::format("{} {}: only GET and HEAD are served here (and POST /api/rules/reload)\n",
                                req.method, req.path),
                    "text/plain; charset=utf-8");
  };
  svr.Post("/api/rules/reload", [&h](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    if (!h.reload_rules) {
      res.status = 404;
      res.set_content(R"j({"ok":false,"message":"this hub runs no rules module (no rule files configured)"})j",
                      "application/json");
      return;
    }
    auto [ok, message] = h.reload_rules();
    // 422: the files were read and refused; the rules in force stay.
    res.status = ok ? 200 : 422;
    res.set_content(nlohmann::json{{"ok", ok}, {"message", message}}.dump(), "application/json");
  });
  svr.Post(".*", not_allowed);
  svr.Put(".*", not_allowed);
  svr.Delete(".*", not_allowed);
  svr.Patch(".*", not_allowed);
  svr.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 404 && res.body.empty()) {
      res.set_content(fmt::format("{}: not found; try /metrics, /healthz, /readyz, /api/status or /\n", req.path),
                      "text/plain; charset=utf-8");
    }
  });
  svr.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("ops http: {} {} failed: {}", req.method, req.path, what);
    res.status = 500;
    res.set_content(fmt::format("internal error: {}; see the hub's log\n", what), "text/plain; charset=utf-8");
  });

  int port = 0;
  if (hp->port == 0) {
    port = svr.bind_to_any_port(hp->host);
    if (port <= 0)
      return status::unavailable(fmt::format("HTTP address \"{}\": cannot bind a free port on host {}", address,
                                             hp->host));
  } else {
    if (!svr.bind_to_port(hp->host, hp->port))
      return status::unavailable(fmt::format(
          "HTTP address \"{}\": cannot bind (port in use or host not local); choose another with --http", address));
    port = hp->port;
  }
  i->thread = std::thread([&svr] { svr.listen_after_bind(); });
  // stop() is a no-op until the listener runs; wait for it (bounded) so that an early
  // stop() cannot miss it. The socket already listens, so no connection is lost.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!svr.is_running() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));

  std::unique_ptr<http_server> s(new http_server(std::move(i)));
  s->port_ = static_cast<std::uint16_t>(port);
  bool v6 = hp->host.find(':') != std::string::npos;
  s->address_ = v6 ? fmt::format("[{}]:{}", hp->host, port) : fmt::format("{}:{}", hp->host, port);
  return s;
}

void http_server::stop() {
  if (!impl_) return;
  std::lock_guard lock(impl_->stop_mutex);
  if (!impl_->thread.joinable()) return;
  // Until the listener runs, stop() would be lost; start() waited for it, but a loop
  // here keeps stop() safe even if that wait timed out.
  for (int i = 0; i < 5000 && !impl_->server.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  impl_->server.stop();
  impl_->thread.join();
}

}  // namespace hub::ops

#include "hub/ops/http_server.h"

#include <catch2/catch.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "hub/ops/metrics.h"
#include "hub/ops/status_snapshot.h"
#include "tests/support/hubd_process.h"

using namespace hub::ops;

namespace {

struct fixture {
  hub_metrics metrics;
  health h;
  status_slot slot;
  std::unique_ptr<http_server> server;

  fixture() {
    auto s = http_server::start("127.0.0.1:0", make_handlers(metrics, h, slot));
    if (!s) FAIL(s.error().message());
    server = std::move(s.value());
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", server->bound_port());
    c.set_connection_timeout(5, 0);
    c.set_read_timeout(5, 0);
    return c;
  }
};

}  // namespace

TEST_CASE("the server on port 0 reports the port the kernel chose", "[ops][http]") {
  fixture f;
  CHECK(f.server->bound_port() != 0);
  CHECK(f.server->address() == "127.0.0.1:" + std::to_string(f.server->bound_port()));
}

TEST_CASE("healthz answers ok while the server runs", "[ops][http]") {
  fixture f;
  auto c = f.client();
  auto res = c.Get("/healthz");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == "ok\n");
}

TEST_CASE("readyz follows the readiness conditions and names what is missing", "[ops][http]") {
  fixture f;
  auto c = f.client();
  auto res = c.Get("/readyz");
  REQUIRE(res);
  CHECK(res->status == 503);
  CHECK(res->body.find("store not open yet") != std::string::npos);
  CHECK(res->body.find("rules not loaded yet") != std::string::npos);

  f.h.set_store_writable(true);
  f.h.set_rules_loaded(true);
  f.h.set_accepting(true);
  res = c.Get("/readyz");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == "ready\n");

  f.h.set_store_writable(false, "store not writable: disk full in /var/lib/hub");
  res = c.Get("/readyz");
  REQUIRE(res);
  CHECK(res->status == 503);
  CHECK(res->body.find("disk full in /var/lib/hub") != std::string::npos);
  CHECK(res->body.find("rules") == std::string::npos);

  f.h.set_store_writable(true);
  res = c.Get("/readyz");
  REQUIRE(res);
  CHECK(res->status == 200);
}

TEST_CASE("readyz is unready once shutdown has begun, whatever the other conditions say", "[ops][http]") {
  // hubd's SIGTERM handler calls begin_shutdown() before it stops the loop; the window
  // until the HTTP server stops is too short to observe from outside, so it is shown here.
  fixture f;
  f.h.set_store_writable(true);
  f.h.set_rules_loaded(true);
  f.h.set_accepting(true);
  auto c = f.client();
  auto res = c.Get("/readyz");
  REQUIRE(res);
  CHECK(res->status == 200);
  f.h.begin_shutdown();
  res = c.Get("/readyz");
  REQUIRE(res);
  CHECK(res->status == 503);
  CHECK(res->body.find("shutting down") != std::string::npos);
  f.h.set_accepting(true);  // a late status update does not make it ready again
  res = c.Get("/readyz");
  REQUIRE(res);
  CHECK(res->status == 503);
  res = c.Get("/healthz");  // still alive while it drains
  REQUIRE(res);
  CHECK(res->status == 200);
}

TEST_CASE("metrics are served in the Prometheus text format with live values", "[ops][http]") {
  fixture f;
  auto c = f.client();
  f.metrics.bytes_in.inc(1234);
  auto res = c.Get("/metrics");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0) == 0);
  CHECK(res->body.find("hub_bytes_in_total 1234\n") != std::string::npos);
  f.metrics.bytes_in.inc(1);
  res = c.Get("/metrics");
  REQUIRE(res);
  CHECK(res->body.find("hub_bytes_in_total 1235\n") != std::string::npos);
}

TEST_CASE("the status API is 503 before the first snapshot and then serves the latest", "[ops][http]") {
  fixture f;
  auto c = f.client();
  auto res = c.Get("/api/status");
  REQUIRE(res);
  CHECK(res->status == 503);
  CHECK(nlohmann::json::parse(res->body).contains("error"));

  status_snapshot s;
  s.hub_id = "first";
  f.slot.publish(s);
  s.hub_id = "second";
  s.counters.events_in = 17;
  f.slot.publish(s);
  res = c.Get("/api/status");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type") == "application/json");
  auto j = nlohmann::json::parse(res->body);
  CHECK(j["hub_id"] == "second");
  CHECK(j["counters"]["events_in"] == 17);
}

TEST_CASE("the dashboard page is served from the hub itself with no outside links", "[ops][http][dashboard]") {
  fixture f;
  auto c = f.client();
  auto res = c.Get("/");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type").rfind("text/html", 0) == 0);
  CHECK(res->body.find("/api/status") != std::string::npos);
  CHECK(res->body.find("http://") == std::string::npos);
  CHECK(res->body.find("https://") == std::string::npos);
}

TEST_CASE("unknown paths are 404 and other methods 405, with a hint", "[ops][http]") {
  fixture f;
  auto c = f.client();
  auto res = c.Get("/nope");
  REQUIRE(res);
  CHECK(res->status == 404);
  CHECK(res->body.find("/metrics") != std::string::npos);
  res = c.Post("/metrics", "x", "text/plain");
  REQUIRE(res);
  CHECK(res->status == 405);
}

TEST_CASE("a port in use or a malformed address is refused with the address named", "[ops][http]") {
  fixture f;
  auto taken = http_server::start("127.0.0.1:" + std::to_string(f.server->bound_port()), {});
  REQUIRE_FALSE(taken);
  CHECK(taken.error().code() == hub::errc::unavailable);
  CHECK(taken.error().message().find(std::to_string(f.server->bound_port())) != std::string::npos);

  for (const char* bad : {"127.0.0.1", "127.0.0.1:http", "127.0.0.1:70000", "::1:80", "[::1"}) {
    INFO(bad);
    auto r = http_server::start(bad, {});
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == hub::errc::invalid_argument);
    CHECK(r.error().message().find(bad) != std::string::npos);
  }
}

TEST_CASE("host and port are parsed in the forms an operator writes", "[ops][http]") {
  auto a = parse_host_port("127.0.0.1:7470");
  REQUIRE(a);
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 7470);
  auto b = parse_host_port("[::1]:0");
  REQUIRE(b);
  CHECK(b->host == "::1");
  CHECK(b->port == 0);
  auto c = parse_host_port(":9000");
  REQUIRE(c);
  CHECK(c->host == "0.0.0.0");
}

TEST_CASE("stopping the server closes its port and can be repeated", "[ops][http]") {
  fixture f;
  auto port = f.server->bound_port();
  f.server->stop();
  f.server->stop();
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(1, 0);
  CHECK_FALSE(c.Get("/healthz"));
}

TEST_CASE("many concurrent requests are all answered", "[ops][http]") {
  fixture f;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      auto c = f.client();
      for (int i = 0; i < 25; ++i) {
        auto r = c.Get(i % 2 ? "/metrics" : "/healthz");
        if (r && r->status == 200) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 100);
}

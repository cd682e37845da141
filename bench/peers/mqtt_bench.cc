// bench_mqtt: Mosquitto at QoS 1 in the shapes of bench/hub, with libmosquitto.
//   throughput: --subs subscribers (QoS 1, clean sessions), then one publisher sends
//               --count events of 256 bytes at QoS 1 with up to --window unacknowledged
//               (PUBACK) at a time; rate per subscriber = count / (first publish to the
//               last subscriber's last message).
//   latency:    --rate events/s for --seconds, publish to receive.
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <mosquitto.h>

#include "bench/hub/measure.h"

namespace {

[[noreturn]] void fail(const std::string& what, int rc = MOSQ_ERR_SUCCESS) {
  std::cerr << "bench_mqtt: " << what;
  if (rc != MOSQ_ERR_SUCCESS) std::cerr << ": " << mosquitto_strerror(rc);
  std::cerr << "\n";
  std::fflush(stderr);
  std::_Exit(1);
}

struct client_state {
  std::atomic<bool> connected{false};
  std::atomic<bool> subscribed{false};
  std::atomic<std::uint64_t> count{0};
  std::atomic<std::int64_t> last_ns{0};
  std::atomic<std::uint64_t> acked{0};
  bool record_latency = false;
  bench::latency_recorder latency;  // the client's network thread only
  std::mutex m;
  std::condition_variable cv;
};

void on_connect(mosquitto*, void* obj, int rc) {
  auto* st = static_cast<client_state*>(obj);
  if (rc == 0) st->connected.store(true);
}
void on_subscribe(mosquitto*, void* obj, int, int, const int*) { static_cast<client_state*>(obj)->subscribed.store(true); }
void on_message(mosquitto*, void* obj, const mosquitto_message* m) {
  auto* st = static_cast<client_state*>(obj);
  auto now = bench::now_ns();
  if (st->record_latency && m->payloadlen >= 8)
    st->latency.add(now - bench::payload_time(static_cast<const std::uint8_t*>(m->payload)));
  st->last_ns.store(now, std::memory_order_relaxed);
  st->count.fetch_add(1, std::memory_order_relaxed);
}
void on_publish(mosquitto*, void* obj, int) {
  auto* st = static_cast<client_state*>(obj);
  st->acked.fetch_add(1, std::memory_order_relaxed);
  st->cv.notify_one();
}

mosquitto* make_client(const std::string& name, client_state* st, const std::string& host, int port,
                       unsigned inflight) {
  mosquitto* m = mosquitto_new(name.c_str(), true, st);
  if (m == nullptr) fail("mosquitto_new failed");
  mosquitto_connect_callback_set(m, on_connect);
  mosquitto_subscribe_callback_set(m, on_subscribe);
  mosquitto_message_callback_set(m, on_message);
  mosquitto_publish_callback_set(m, on_publish);
  mosquitto_max_inflight_messages_set(m, inflight);
  int rc = mosquitto_connect(m, host.c_str(), port, 60);
  if (rc != MOSQ_ERR_SUCCESS) fail("cannot connect to " + host + ":" + std::to_string(port) + "; is mosquitto running?", rc);
  rc = mosquitto_loop_start(m);
  if (rc != MOSQ_ERR_SUCCESS) fail("loop_start", rc);
  return m;
}

bool wait_flag(const std::atomic<bool>& f, std::int64_t deadline) {
  while (!f.load()) {
    if (bench::now_ns() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_mqtt: Mosquitto QoS 1 cases"};
  std::string host = "127.0.0.1", mode = "throughput";
  int port = 0, subs = 1;
  std::uint64_t count = 50000;
  unsigned window = 50;  // libmosquitto slows down sharply with thousands in flight
  double rate = 10000, seconds = 5, timeout_s = 60;
  app.add_option("--host", host);
  app.add_option("--port", port)->required();
  app.add_option("--mode", mode)->check(CLI::IsMember({"throughput", "latency"}));
  app.add_option("--count", count, "events to publish");
  app.add_option("--window", window, "unacknowledged QoS 1 publishes in flight");
  app.add_option("--subs", subs, "subscribers")->check(CLI::Range(1, 64));
  app.add_option("--rate", rate, "offered events/s (latency)");
  app.add_option("--seconds", seconds, "how long to offer them (latency)");
  app.add_option("--timeout", timeout_s, "hard limit for the whole case, s");
  CLI11_PARSE(app, argc, argv);
  const bool latency = mode == "latency";
  if (latency) count = static_cast<std::uint64_t>(rate * seconds);
  if (latency) subs = 1;
  const auto deadline = bench::now_ns() + static_cast<std::int64_t>(timeout_s * 1e9);
  mosquitto_lib_init();

  std::vector<std::unique_ptr<client_state>> states;
  std::vector<mosquitto*> clients;
  for (int i = 0; i < subs; ++i) {
    states.push_back(std::make_unique<client_state>());
    auto* st = states.back().get();
    st->record_latency = latency;
    if (latency) st->latency.reserve(count);
    auto* m = make_client("bench-sub-" + std::to_string(i), st, host, port, 0);
    if (!wait_flag(st->connected, deadline)) fail("subscriber did not connect");
    int rc = mosquitto_subscribe(m, nullptr, "bench/data", 1);
    if (rc != MOSQ_ERR_SUCCESS) fail("subscribe", rc);
    if (!wait_flag(st->subscribed, deadline)) fail("no SUBACK");
    clients.push_back(m);
  }
  client_state ps;
  auto* pub = make_client("bench-pub", &ps, host, port, window);
  if (!wait_flag(ps.connected, deadline)) fail("publisher did not connect");

  bench::result r;
  r.events = count;
  r.subscribers = subs;
  r.kind = latency ? "latency" : "throughput";
  r.id = latency ? "mqtt.latency" : "mqtt.fanout" + std::to_string(subs);
  r.row = latency ? "Mosquitto QoS 1, latency" : "Mosquitto QoS 1, 1 pub -> " + std::to_string(subs) + " sub";
  r.group = latency ? "latency_live" : "fanout" + std::to_string(subs);

  std::uint8_t buf[bench::payload_bytes] = {};
  const auto t0 = bench::now_ns();
  bench::pacer pace(rate, t0);
  std::uint64_t sent = 0;
  for (; sent < count && bench::now_ns() < deadline; ++sent) {
    // Keep at most `window` unacknowledged: wait for PUBACKs when it is full.
    if (sent - ps.acked.load() >= window) {
      std::unique_lock lk(ps.m);
      ps.cv.wait_for(lk, std::chrono::milliseconds(10), [&] { return sent - ps.acked.load() < window; });
      if (sent - ps.acked.load() >= window) {
        --sent;
        continue;
      }
    }
    auto t = latency ? pace.wait_for_slot(sent) : bench::now_ns();
    bench::fill_payload(buf, t, sent);
    int rc = mosquitto_publish(pub, nullptr, "bench/data", sizeof buf, buf, 1, false);
    if (rc != MOSQ_ERR_SUCCESS) {
      r.note = std::string("publish failed: ") + mosquitto_strerror(rc);
      break;
    }
  }
  while (ps.acked.load() < sent && bench::now_ns() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  auto t_pub = bench::now_ns();
  for (;;) {
    bool all = true;
    std::int64_t last = t_pub;
    for (auto& st : states) {
      all = all && st->count.load() >= count;
      last = std::max(last, st->last_ns.load());
    }
    auto now = bench::now_ns();
    if (all || now >= deadline || now - last > 2'000'000'000LL) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (auto* m : clients) mosquitto_disconnect(m);
  for (auto* m : clients) mosquitto_loop_stop(m, false);
  r.expected = count * static_cast<std::uint64_t>(subs);
  std::int64_t last = t0;
  for (auto& st : states) {
    r.delivered += st->count.load();
    last = std::max(last, st->last_ns.load());
    r.latency.merge(st->latency);
  }
  r.seconds = static_cast<double>(last - t0) / 1e9;
  if (r.delivered < r.expected && r.note.empty()) r.note = "timed out or lost events";
  r.print();
  std::_Exit(0);
}

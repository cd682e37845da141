// bench_zmq: one publisher and N subscribers through bench_zmq_forwarder. Two frames
// per message (topic, 256-byte payload), high-water marks 0 everywhere, each
// subscriber counting what it really receives.
//   throughput: --count N as fast as the publisher can send; rate = N / (first send to
//               the last subscriber's last receive).
//   latency:    --rate R for --seconds T; publish-to-receive percentiles.
#include <atomic>
#include <cstring>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <zmq.hpp>

#include "bench/hub/measure.h"

namespace {

struct sub_state {
  std::atomic<bool> warm{false};
  std::atomic<std::uint64_t> count{0};
  std::atomic<std::int64_t> last_ns{0};
  bench::latency_recorder latency;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_zmq: publisher and subscribers through a bare XSUB/XPUB forwarder"};
  std::string xsub, xpub, mode = "throughput", id_prefix = "zmq";
  std::uint64_t count = 100000;
  int subs = 1;
  double rate = 10000, seconds = 5, timeout_s = 60;
  app.add_option("--xsub", xsub, "forwarder's XSUB endpoint (publishers)")->required();
  app.add_option("--xpub", xpub, "forwarder's XPUB endpoint (subscribers)")->required();
  app.add_option("--mode", mode)->check(CLI::IsMember({"throughput", "latency"}));
  app.add_option("--count", count, "events to publish (throughput)");
  app.add_option("--subs", subs, "subscribers")->check(CLI::Range(1, 64));
  app.add_option("--rate", rate, "offered events/s (latency)");
  app.add_option("--seconds", seconds, "how long to offer them (latency)");
  app.add_option("--timeout", timeout_s, "hard limit for the whole case, s");
  CLI11_PARSE(app, argc, argv);

  const bool latency = mode == "latency";
  if (latency) count = static_cast<std::uint64_t>(rate * seconds);
  const auto deadline = bench::now_ns() + static_cast<std::int64_t>(timeout_s * 1e9);

  zmq::context_t ctx(2);
  std::vector<std::unique_ptr<sub_state>> states;
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  std::atomic<std::int64_t> pub_done{0};  // when the publisher finished; subscribers give up 2 s after the last event
  for (int i = 0; i < subs; ++i) {
    states.push_back(std::make_unique<sub_state>());
    if (latency) states.back()->latency.reserve(count);
    threads.emplace_back([&, st = states.back().get()] {
      zmq::socket_t s(ctx, zmq::socket_type::sub);
      s.set(zmq::sockopt::rcvhwm, 0);
      s.set(zmq::sockopt::linger, 0);
      s.set(zmq::sockopt::subscribe, "bench.");
      s.connect(xpub);
      ready.fetch_add(1);
      zmq::message_t topic, payload;
      while (st->count.load(std::memory_order_relaxed) < count && bench::now_ns() < deadline) {
        zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
        if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) {
          auto pd = pub_done.load();
          if (pd != 0 && bench::now_ns() - std::max(pd, st->last_ns.load()) > 2'000'000'000LL) break;
          continue;
        }
        while (s.recv(topic, zmq::recv_flags::dontwait)) {
          if (!s.recv(payload)) break;
          if (topic.to_string_view() == "bench.warm") {
            st->warm.store(true);
            continue;
          }
          auto now = bench::now_ns();
          if (latency && payload.size() >= 8)
            st->latency.add(now - bench::payload_time(static_cast<const std::uint8_t*>(payload.data())));
          st->last_ns.store(now, std::memory_order_relaxed);
          st->count.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }

  bench::result r;
  r.subscribers = subs;
  r.events = count;
  r.expected = count * static_cast<std::uint64_t>(subs);
  r.kind = latency ? "latency" : "throughput";
  r.id = id_prefix + (latency ? ".latency" : ".fanout" + std::to_string(subs));
  r.group = latency ? "latency_live" : "fanout" + std::to_string(subs);
  r.row = latency ? "zmq forwarder, latency" : "zmq forwarder, 1 pub -> " + std::to_string(subs) + " sub";

  {
    zmq::socket_t pub(ctx, zmq::socket_type::pub);
    pub.set(zmq::sockopt::sndhwm, 0);
    pub.set(zmq::sockopt::linger, 1000);
    pub.connect(xsub);
    // Subscriptions travel through the forwarder asynchronously: send warm-up messages
    // until every subscriber has seen one (bounded by 10 s).
    std::uint8_t buf[bench::payload_bytes] = {};
    auto warm_until = bench::now_ns() + 10'000'000'000LL;
    for (;;) {
      bool all = ready.load() == subs;
      for (auto& st : states) all = all && st->warm.load();
      if (all) break;
      if (bench::now_ns() > warm_until) {
        std::cerr << "bench_zmq: subscribers did not see the warm-up within 10 s; is the forwarder at "
                  << xsub << " / " << xpub << " running?\n";
        std::_Exit(1);  // the subscriber threads are still waiting; nothing to save

      }
      pub.send(zmq::buffer(std::string_view("bench.warm")), zmq::send_flags::sndmore);
      pub.send(zmq::buffer(buf, sizeof buf), zmq::send_flags::none);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    const std::string_view topic = "bench.data";
    auto t0 = bench::now_ns();
    bench::pacer pace(rate, t0);
    for (std::uint64_t i = 0; i < count; ++i) {
      auto t = latency ? pace.wait_for_slot(i) : bench::now_ns();
      bench::fill_payload(buf, t, i);
      pub.send(zmq::buffer(topic), zmq::send_flags::sndmore);
      pub.send(zmq::buffer(buf, sizeof buf), zmq::send_flags::none);
    }
    pub_done.store(bench::now_ns());
    for (auto& t : threads) t.join();
    std::int64_t last = t0;
    for (auto& st : states) {
      r.delivered += st->count.load();
      last = std::max(last, st->last_ns.load());
      r.latency.merge(st->latency);
    }
    r.seconds = static_cast<double>(last - t0) / 1e9;
    if (r.delivered < r.expected) r.note = "timed out or lost events";
  }
  r.print();
  return 0;
}

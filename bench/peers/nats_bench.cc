// bench_nats: NATS core and JetStream in the shapes of bench/hub, with nats.c.
//   core:       one publisher, --subs subscribers (each its own connection, pending
//               limits lifted), --count events of 256 bytes on "bench.data".
//   js:         a file-storage stream with one replica; acknowledged async publish
//               (--window in flight, clock stopped when the last ack arrives), then a
//               durable pull consumer (ack-all, acked once per batch) reads everything.
//   latency:    --rate events/s for --seconds through core (--path core) or through
//               JetStream (--path js: async publish, push consumer); the publisher
//               flushes each message at once (SendAsap).
#include <atomic>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nats/nats.h>

#include "bench/hub/measure.h"

namespace {

[[noreturn]] void fail(const std::string& what, natsStatus s = NATS_OK) {
  std::cerr << "bench_nats: " << what;
  if (s != NATS_OK) std::cerr << ": " << natsStatus_GetText(s) << " (" << nats_GetLastError(nullptr) << ")";
  std::cerr << "\n";
  std::fflush(stderr);
  std::_Exit(1);
}

void check(natsStatus s, const std::string& what) {
  if (s != NATS_OK) fail(what, s);
}

struct receiver_state {
  std::atomic<std::uint64_t> count{0};
  std::atomic<std::int64_t> last_ns{0};
  bool record_latency = false;
  bench::latency_recorder latency;  // written by the one delivery thread of the subscription
};

void on_msg(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
  auto* st = static_cast<receiver_state*>(closure);
  auto now = bench::now_ns();
  if (natsMsg_GetDataLength(m) >= 8) {
    const auto* d = reinterpret_cast<const std::uint8_t*>(natsMsg_GetData(m));
    if (st->record_latency) st->latency.add(now - bench::payload_time(d));
  }
  st->last_ns.store(now, std::memory_order_relaxed);
  st->count.fetch_add(1, std::memory_order_relaxed);
  natsMsg_Destroy(m);
}

natsConnection* connect(const std::string& url, bool send_asap) {
  natsOptions* o = nullptr;
  check(natsOptions_Create(&o), "options");
  // Several servers (a cluster) as a comma-separated list.
  std::vector<std::string> urls;
  for (std::size_t from = 0; from <= url.size();) {
    auto comma = std::min(url.find(',', from), url.size());
    urls.push_back(url.substr(from, comma - from));
    from = comma + 1;
  }
  std::vector<const char*> servers;
  for (const auto& u : urls) servers.push_back(u.c_str());
  check(natsOptions_SetServers(o, servers.data(), static_cast<int>(servers.size())), "servers " + url);
  check(natsOptions_SetSendAsap(o, send_asap), "SendAsap");
  check(natsOptions_SetMaxPendingMsgs(o, 10'000'000), "max pending");
  natsConnection* nc = nullptr;
  auto s = natsConnection_Connect(&nc, o);
  natsOptions_Destroy(o);
  if (s != NATS_OK) fail("cannot connect to " + url + "; is nats-server running there?", s);
  return nc;
}

// Waits until every receiver has `want` messages, or 2 s pass with nothing new after
// the publisher ended, or the deadline.
void wait_receivers(const std::vector<std::unique_ptr<receiver_state>>& st, std::uint64_t want, std::int64_t pub_done,
                    std::int64_t deadline) {
  for (;;) {
    bool all = true;
    std::int64_t last = pub_done;
    for (const auto& r : st) {
      all = all && r->count.load() >= want;
      last = std::max(last, r->last_ns.load());
    }
    auto now = bench::now_ns();
    if (all || now >= deadline || now - last > 2'000'000'000LL) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

struct js_acks {
  std::atomic<std::uint64_t> ok{0}, failed{0};
};

void on_js_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  auto* a = static_cast<js_acks*>(closure);
  if (pa != nullptr && pae == nullptr) a->ok.fetch_add(1, std::memory_order_relaxed);
  else a->failed.fetch_add(1, std::memory_order_relaxed);
  natsMsg_Destroy(msg);
}

jsCtx* jetstream(natsConnection* nc, std::int64_t window, js_acks* acks, int replicas) {
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = window;
  jo.PublishAsync.AckHandler = on_js_ack;
  jo.PublishAsync.AckHandlerClosure = acks;
  jo.Wait = 10000;
  jsCtx* js = nullptr;
  check(natsConnection_JetStream(&js, nc, &jo), "JetStream context");
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  const char* subjects[] = {"bench.>"};
  sc.Name = "BENCH";
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.Storage = js_FileStorage;
  sc.Replicas = replicas;
  // A cluster that has just started elects its JetStream leader first: retry for 15 s.
  natsStatus s = NATS_OK;
  for (int attempt = 0; attempt < 30; ++attempt) {
    jsErrCode ec{};
    s = js_AddStream(nullptr, js, &sc, nullptr, &ec);
    if (s == NATS_OK) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  if (s != NATS_OK) fail("cannot create the stream BENCH (is JetStream enabled, -js?)", s);
  return js;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_nats: NATS core and JetStream cases"};
  std::string url, mode = "core", path = "core";
  std::uint64_t count = 100000;
  std::int64_t window = 4000;
  int subs = 1;
  double rate = 10000, seconds = 5, timeout_s = 60;
  int replicas = 1;
  app.add_option("--url", url, "nats://127.0.0.1:PORT")->required();
  app.add_option("--mode", mode)->check(CLI::IsMember({"core", "js", "latency"}));
  app.add_option("--path", path, "latency path")->check(CLI::IsMember({"core", "js"}));
  app.add_option("--count", count, "events to publish");
  app.add_option("--window", window, "JetStream async publishes in flight");
  app.add_option("--subs", subs, "core subscribers")->check(CLI::Range(1, 64));
  app.add_option("--rate", rate, "offered events/s (latency)");
  app.add_option("--seconds", seconds, "how long to offer them (latency)");
  app.add_option("--timeout", timeout_s, "hard limit for the whole case, s");
  app.add_option("--replicas", replicas, "JetStream: replicas of the stream (3 on a three-node cluster)")
      ->check(CLI::Range(1, 5));
  CLI11_PARSE(app, argc, argv);

  const bool latency = mode == "latency";
  if (latency) count = static_cast<std::uint64_t>(rate * seconds);
  if (mode == "js") subs = 0;
  if (latency) subs = 1;
  const auto deadline = bench::now_ns() + static_cast<std::int64_t>(timeout_s * 1e9);
  std::uint8_t buf[bench::payload_bytes] = {};

  natsConnection* pub = connect(url, latency);
  js_acks acks;
  jsCtx* js = (mode == "js" || (latency && path == "js")) ? jetstream(pub, window, &acks, replicas) : nullptr;

  // Subscribers first; a flush on each connection makes sure the server has the SUB.
  std::vector<std::unique_ptr<receiver_state>> states;
  std::vector<natsConnection*> conns;
  std::vector<natsSubscription*> subscriptions;
  for (int i = 0; i < subs; ++i) {
    states.push_back(std::make_unique<receiver_state>());
    auto* st = states.back().get();
    st->record_latency = latency;
    if (latency) st->latency.reserve(count);
    natsConnection* nc = connect(url, latency);
    natsSubscription* sub = nullptr;
    if (js != nullptr) {
      jsCtx* sjs = nullptr;
      check(natsConnection_JetStream(&sjs, nc, nullptr), "JetStream context (subscriber)");
      jsSubOptions so;
      jsSubOptions_Init(&so);
      so.Config.AckPolicy = js_AckNone;
      so.Config.DeliverPolicy = js_DeliverNew;
      so.ManualAck = true;
      jsErrCode ec{};
      check(js_Subscribe(&sub, sjs, "bench.data", on_msg, st, nullptr, &so, &ec), "JetStream push subscription");
    } else {
      check(natsConnection_Subscribe(&sub, nc, "bench.data", on_msg, st), "subscribe");
    }
    check(natsSubscription_SetPendingLimits(sub, -1, -1), "pending limits");
    check(natsConnection_Flush(nc), "flush subscriber");
    conns.push_back(nc);
    subscriptions.push_back(sub);
  }

  bench::result r;
  r.events = count;
  r.subscribers = std::max(subs, 1);
  r.kind = latency ? "latency" : "throughput";
  if (latency) {
    r.id = path == "js" ? "js.latency" : "nats.latency";
    r.row = path == "js" ? "NATS JetStream, latency (file, async publish)" : "NATS core, latency";
    r.group = path == "js" ? "latency_durable" : "latency_live";
  } else if (mode == "core") {
    r.id = "nats.fanout" + std::to_string(subs);
    r.row = "NATS core, 1 pub -> " + std::to_string(subs) + " sub";
    r.group = "fanout" + std::to_string(subs);
  } else {
    r.id = replicas == 1 ? "js.publish" : "js.publish.r" + std::to_string(replicas);
    r.row = "NATS JetStream acked publish (file, R" + std::to_string(replicas) +
            (replicas == 1 ? ")" : ", " + std::to_string(replicas) + "-node cluster)");
    r.group = "acked_publish";
  }

  const auto t0 = bench::now_ns();
  bench::pacer pace(rate, t0);
  for (std::uint64_t i = 0; i < count && bench::now_ns() < deadline; ++i) {
    auto t = latency ? pace.wait_for_slot(i) : bench::now_ns();
    bench::fill_payload(buf, t, i);
    natsStatus s = js != nullptr ? js_PublishAsync(js, "bench.data", buf, sizeof buf, nullptr)
                                 : natsConnection_Publish(pub, "bench.data", buf, sizeof buf);
    if (s != NATS_OK) {
      r.note = std::string("publish failed: ") + natsStatus_GetText(s);
      break;
    }
  }
  if (js != nullptr) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = std::max<std::int64_t>(1, (deadline - bench::now_ns()) / 1'000'000);
    if (js_PublishAsyncComplete(js, &po) != NATS_OK && r.note.empty()) r.note = "not every publish was acked in time";
  } else {
    natsConnection_Flush(pub);
  }
  auto t_pub = bench::now_ns();

  if (mode == "js") {
    r.expected = count;
    r.delivered = acks.ok.load();
    r.seconds = static_cast<double>(t_pub - t0) / 1e9;
    if (acks.failed.load() > 0) r.note = std::to_string(acks.failed.load()) + " publishes failed";
    r.print();

    // A durable pull consumer reads everything, acking the last message of each batch.
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Config.AckPolicy = js_AckAll;
    so.Config.DeliverPolicy = js_DeliverAll;
    natsSubscription* sub = nullptr;
    jsErrCode ec{};
    check(js_PullSubscribe(&sub, js, "bench.data", "bench_durable", nullptr, &so, &ec), "pull subscription");
    std::uint64_t got = 0;
    auto c0 = bench::now_ns(), c_last = c0;
    while (got < count && bench::now_ns() < deadline) {
      natsMsgList list{};
      auto s = natsSubscription_Fetch(&list, sub, 1000, 2000, &ec);
      if (s == NATS_TIMEOUT) break;  // nothing more within 2 s
      if (s != NATS_OK) fail("fetch", s);
      if (list.Count > 0) {
        got += static_cast<std::uint64_t>(list.Count);
        c_last = bench::now_ns();
        natsMsg_Ack(list.Msgs[list.Count - 1], nullptr);
      }
      natsMsgList_Destroy(&list);
    }
    bench::result c;
    c.id = "js.consume";
    c.row = "NATS JetStream durable pull consumer reads all";
    c.group = "durable_read";
    c.events = count;
    c.expected = count;
    c.delivered = got;
    c.seconds = static_cast<double>(c_last - c0) / 1e9;
    if (got < count) c.note = "timed out or lost events";
    c.print();
    natsSubscription_Destroy(sub);
  } else {
    wait_receivers(states, count, t_pub, deadline);
    r.expected = count * static_cast<std::uint64_t>(subs);
    std::int64_t last = t0;
    for (auto& sub : subscriptions) natsSubscription_Unsubscribe(sub);
    for (auto& st : states) {
      r.delivered += st->count.load();
      last = std::max(last, st->last_ns.load());
      r.latency.merge(st->latency);
    }
    r.seconds = static_cast<double>(last - t0) / 1e9;
    if (r.delivered < r.expected && r.note.empty()) r.note = "timed out or lost events";
    r.print();
  }
  std::fflush(stdout);
  std::_Exit(0);  // skip the library's teardown: callbacks may still be draining
}

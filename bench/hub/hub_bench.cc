// bench_hub: drives a running hubd over docs/protocol.md with raw cppzmq (one DEALER
// per publisher or subscriber, no SDK in the loop), with real schema-valid envelopes
// of about 256 bytes.
//   publish: acknowledged publish of --count events, window --window in flight, clock
//            stopped when the last ACK arrives; with --replay, then one credit-based
//            subscriber reads everything from the earliest offset.
//   fanout:  --subs credit-based subscribers (start "new"), then acknowledged publish;
//            rate per subscriber = count / (first PUB to the last subscriber's last EVT).
//   mirror:  one ZeroMQ SUB on the best-effort XPUB mirror, then acknowledged publish.
//   latency: --rate events/s for --seconds, publish-to-receive through --path
//            mirror (the XPUB mirror) or durable (ACKed PUB, EVT on a credit subscription).
// Every receiver counts the events of this run it really got (by id); fewer than
// expected is reported, never hidden.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <flatbuffers/flatbuffers.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "bench/hub/envelope_template.h"
#include "bench/hub/measure.h"
#include "schemas/schema.h"
#include "schemas/wire.h"

namespace {

namespace wire = hub::wire;
namespace schema = hub::schema;

// id.hi of measured events is data_mark | seq, of warm-up events warm_mark | n; both
// carry a tag of this run in bits 32-47 so that events of an earlier run on the same
// hub are never counted.
std::uint64_t data_mark = 0x0190ull << 48;
std::uint64_t warm_mark = 0x0191ull << 48;
constexpr std::uint64_t mark_mask = 0xffffffffull << 32;

[[noreturn]] void fail(const std::string& what) {
  std::cerr << "bench_hub: " << what << "\n";
  std::fflush(stderr);
  std::_Exit(1);  // receiver threads may still be waiting; nothing to save
}

// The id of a delivered envelope, read without the verifier (the hub verified it).
// ZeroMQ frames carry no alignment, and FlatBuffers reads aligned scalars, so the bytes
// are copied into an 8-byte-aligned buffer first (one 256-byte copy per event).
schema::Id128 id_of(std::span<const std::uint8_t> env) {
  thread_local std::vector<std::uint64_t> aligned;
  if (env.size() < 16) return schema::Id128(0, 0);
  aligned.resize((env.size() + 7) / 8);
  std::memcpy(aligned.data(), env.data(), env.size());
  const auto* e = schema::GetEnvelope(aligned.data());
  return e->id() != nullptr ? *e->id() : schema::Id128(0, 0);
}

zmq::socket_t make_dealer(zmq::context_t& ctx, const std::string& endpoint, const std::string& name) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::sndhwm, 0);
  s.set(zmq::sockopt::rcvhwm, 0);
  s.connect(endpoint);
  s.send(zmq::buffer(wire::cmd_hello), zmq::send_flags::sndmore);
  s.send(zmq::buffer(wire::protocol_version), zmq::send_flags::sndmore);
  s.send(zmq::buffer(name), zmq::send_flags::none);
  std::vector<zmq::message_t> reply;
  zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, std::chrono::milliseconds(10000)) == 0)
    fail("no WELCOME from the hub at " + endpoint + " within 10 s; is hubd running there?");
  (void)zmq::recv_multipart(s, std::back_inserter(reply));
  if (reply.empty() || reply[0].to_string_view() != wire::rep_welcome)
    fail("the hub at " + endpoint + " answered HELLO with something other than WELCOME");
  return s;
}

// Acknowledged publisher: keeps up to `window` PUBs in flight.
class publisher {
 public:
  publisher(zmq::context_t& ctx, const std::string& endpoint, std::size_t window, std::size_t size = 256)
      : s_(make_dealer(ctx, endpoint, "bench-publisher")), window_(window), tmpl_(size, data_mark) {}

  [[nodiscard]] std::size_t envelope_size() const { return tmpl_.bytes.size(); }
  [[nodiscard]] std::uint64_t done() const { return acked_ + refused_; }
  [[nodiscard]] std::uint64_t refused() const { return refused_; }
  [[nodiscard]] bool has_room() const { return sent_ - done() < window_; }

  void send(std::uint64_t hi, std::uint64_t lo) {
    tmpl_.set_id(hi, lo);
    std::uint8_t seq[8];
    wire::put_u64(seq, ++sent_);
    s_.send(zmq::buffer(wire::cmd_pub), zmq::send_flags::sndmore);
    s_.send(zmq::buffer(seq, 8), zmq::send_flags::sndmore);
    s_.send(zmq::buffer(tmpl_.bytes), zmq::send_flags::none);
  }

  // Reads replies: waits up to `wait` for the first, then takes what is queued.
  void serve(std::chrono::milliseconds wait) {
    zmq::pollitem_t item{s_.handle(), 0, ZMQ_POLLIN, 0};
    if (wait.count() > 0 && zmq::poll(&item, 1, wait) == 0) return;
    for (;;) {
      frames_.clear();
      if (!zmq::recv_multipart(s_, std::back_inserter(frames_), zmq::recv_flags::dontwait)) return;
      auto cmd = frames_[0].to_string_view();
      if (cmd == wire::rep_ack && frames_.size() == 2) {
        acked_ += frames_[1].size() / 16;
      } else if (cmd == wire::rep_nak) {
        ++refused_;
        if (refused_ <= 3)
          std::cerr << "bench_hub: NAK: " << (frames_.size() > 3 ? frames_[3].to_string() : std::string("?")) << "\n";
      }
    }
  }

  // Publishes `count` events as fast as the window allows (or paced at `rate` when
  // rate > 0, the intended send time in id.lo). Returns when all are answered or at
  // the deadline.
  void run(std::uint64_t count, double rate, std::int64_t deadline) {
    const auto t0 = bench::now_ns();
    bench::pacer pace(rate > 0 ? rate : 1, t0);
    std::uint64_t i = 0;
    while (done() < count && bench::now_ns() < deadline) {
      if (rate > 0) {
        if (i < count && has_room()) {
          auto t = pace.wait_for_slot(i);
          send(data_mark | i, static_cast<std::uint64_t>(t));
          ++i;
        }
        serve(std::chrono::milliseconds(i < count ? 0 : 100));
      } else {
        while (i < count && has_room()) {
          send(data_mark | i, static_cast<std::uint64_t>(bench::now_ns()));
          ++i;
        }
        serve(std::chrono::milliseconds(100));
      }
    }
  }

 private:
  zmq::socket_t s_;
  std::size_t window_;
  bench::envelope_template tmpl_;  // id.hi = mark | seq, id.lo = intended send time in ns
  std::uint64_t sent_ = 0, acked_ = 0, refused_ = 0;
  std::vector<zmq::message_t> frames_;
};

struct receiver_state {
  std::atomic<bool> ready{false};
  std::atomic<bool> warm{false};
  std::atomic<std::uint64_t> count{0};
  std::atomic<std::int64_t> last_ns{0};
  bench::latency_recorder latency;
};

struct run_control {
  std::uint64_t count = 0;
  bool record_latency = false;
  std::int64_t deadline = 0;
  std::atomic<std::int64_t> pub_done{0};  // receivers give up 2 s after the publisher ended and nothing came

  [[nodiscard]] bool give_up(const receiver_state& st) const {
    auto now = bench::now_ns();
    if (now >= deadline) return true;
    auto pd = pub_done.load();
    return pd != 0 && now - std::max(pd, st.last_ns.load()) > 2'000'000'000LL;
  }
};

void count_event(receiver_state& st, const run_control& rc, std::span<const std::uint8_t> env) {
  auto id = id_of(env);
  if ((id.hi() & mark_mask) == warm_mark) {
    st.warm.store(true);
    return;
  }
  if ((id.hi() & mark_mask) != data_mark) return;
  auto now = bench::now_ns();
  if (rc.record_latency) st.latency.add(now - static_cast<std::int64_t>(id.lo()));
  st.last_ns.store(now, std::memory_order_relaxed);
  st.count.fetch_add(1, std::memory_order_relaxed);
}

// A credit-based subscriber on pattern ">" reading until it has rc.count events.
// batch > 1: the hub sends EVTS messages of up to `batch` events (SUB's eighth frame).
void credit_subscriber(zmq::context_t& ctx, const std::string& endpoint, const std::string& start,
                       std::uint64_t credit, std::uint64_t batch, receiver_state& st, run_control& rc) {
  auto s = make_dealer(ctx, endpoint, "bench-subscriber");
  std::uint8_t buf[8];
  s.send(zmq::buffer(wire::cmd_sub), zmq::send_flags::sndmore);
  s.send(zmq::buffer(wire::u64_frame(1)), zmq::send_flags::sndmore);
  s.send(zmq::buffer(std::string_view(">")), zmq::send_flags::sndmore);
  s.send(zmq::buffer(start), zmq::send_flags::sndmore);
  s.send(zmq::buffer(wire::u64_frame(0)), zmq::send_flags::sndmore);
  s.send(zmq::buffer(std::string_view()), zmq::send_flags::sndmore);
  if (batch > 1) {
    s.send(zmq::buffer(wire::u64_frame(credit)), zmq::send_flags::sndmore);
    s.send(zmq::buffer(wire::u64_frame(batch)), zmq::send_flags::none);
  } else {
    s.send(zmq::buffer(wire::u64_frame(credit)), zmq::send_flags::none);
  }
  std::vector<zmq::message_t> frames;
  std::uint64_t since_grant = 0;
  const std::uint64_t grant = std::max<std::uint64_t>(credit / 2, 1);
  zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
  while (st.count.load(std::memory_order_relaxed) < rc.count && !rc.give_up(st)) {
    if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
    for (;;) {
      frames.clear();
      if (!zmq::recv_multipart(s, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
      auto cmd = frames[0].to_string_view();
      auto consumed = [&] {
        if (++since_grant >= grant) {
          wire::put_u64(buf, grant);
          s.send(zmq::buffer(wire::cmd_credit), zmq::send_flags::sndmore);
          s.send(zmq::buffer(wire::u64_frame(1)), zmq::send_flags::sndmore);
          s.send(zmq::buffer(buf, 8), zmq::send_flags::none);
          since_grant -= grant;
        }
      };
      if (cmd == wire::rep_evt && frames.size() == 5) {
        count_event(st, rc, {frames[4].data<std::uint8_t>(), frames[4].size()});
        consumed();
      } else if (cmd == wire::rep_evts && frames.size() == 3) {
        const bool whole = wire::evts_for_each({frames[2].data<std::uint8_t>(), frames[2].size()},
                                               [&](const wire::evts_record& r) {
                                                 count_event(st, rc, r.envelope);
                                                 consumed();
                                               });
        if (!whole) fail("the hub sent a malformed EVTS message");
      } else if (cmd == wire::rep_subok) {
        st.ready.store(true);
      } else if (cmd == wire::rep_err) {
        fail("the hub refused the subscription: " + (frames.size() > 2 ? frames[2].to_string() : std::string("?")));
      }
    }
  }
}

// A ZeroMQ SUB on the mirror, everything.
void mirror_subscriber(zmq::context_t& ctx, const std::string& endpoint, receiver_state& st, run_control& rc) {
  zmq::socket_t s(ctx, zmq::socket_type::sub);
  s.set(zmq::sockopt::rcvhwm, 0);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::subscribe, "");
  s.connect(endpoint);
  st.ready.store(true);
  zmq::message_t topic, env;
  zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
  while (st.count.load(std::memory_order_relaxed) < rc.count && !rc.give_up(st)) {
    if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
    while (s.recv(topic, zmq::recv_flags::dontwait)) {
      if (!topic.more() || !s.recv(env)) break;
      count_event(st, rc, {env.data<std::uint8_t>(), env.size()});
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_hub: the hub's benchmark cases over the raw wire protocol"};
  std::string endpoint, mirror, sub_endpoint, mode = "publish", path = "durable", label = "memory";
  std::uint64_t count = 100000, credit = 4000, batch = 64;
  std::size_t window = 4000, size = 256;
  int subs = 1;
  bool replay = false, ref = false;
  double rate = 10000, seconds = 5, timeout_s = 60;
  app.add_option("--endpoint", endpoint, "hubd client endpoint (ROUTER)")->required();
  app.add_option("--mirror", mirror, "hubd mirror endpoint (XPUB)");
  app.add_option("--sub-endpoint", sub_endpoint,
                 "fanout: subscribers connect to this hub instead (another hub on the same JetStream store)");
  app.add_option("--mode", mode)->check(CLI::IsMember({"publish", "fanout", "mirror", "latency"}));
  app.add_option("--path", path, "latency path")->check(CLI::IsMember({"mirror", "durable"}));
  app.add_option("--label", label, "the hub's settings, part of the row id (e.g. fsync_never)");
  app.add_option("--count", count, "events to publish");
  app.add_option("--window", window, "PUBs in flight");
  app.add_option("--size", size, "envelope bytes (about; at least the schema's minimum)");
  app.add_option("--credit", credit, "credit window of each subscriber");
  app.add_option("--batch", batch, "most events per EVTS message to each subscriber (the SDK's default, 64); 1: one EVT each");
  app.add_option("--subs", subs, "credit-based subscribers (fanout)")->check(CLI::Range(1, 64));
  app.add_flag("--replay", replay, "publish: then read everything from the earliest offset");
  app.add_flag("--ref", ref, "mark the rows as the hub reference of their group in the report");
  app.add_option("--rate", rate, "offered events/s (latency)");
  app.add_option("--seconds", seconds, "how long to offer them (latency)");
  app.add_option("--timeout", timeout_s, "hard limit for the whole case, s");
  CLI11_PARSE(app, argc, argv);
  if (sub_endpoint.empty()) sub_endpoint = endpoint;
  if ((mode == "mirror" || (mode == "latency" && path == "mirror")) && mirror.empty())
    fail("--mirror is needed for mode " + mode);

  const auto tag = static_cast<std::uint64_t>(bench::now_ns() / 1000) & 0xffff;
  data_mark |= tag << 32;
  warm_mark |= tag << 32;
  const bool latency = mode == "latency";
  if (latency) count = static_cast<std::uint64_t>(rate * seconds);
  run_control rc;
  rc.count = count;
  rc.record_latency = latency;
  rc.deadline = bench::now_ns() + static_cast<std::int64_t>(timeout_s * 1e9);

  zmq::context_t ctx(2);
  publisher pub(ctx, endpoint, window, size);

  // Receivers first (credit subscriptions confirmed by SUBOK, the mirror by a warm-up
  // event), then the clock starts.
  int receivers = mode == "fanout" ? subs : (mode == "publish" ? 0 : 1);
  bool use_mirror = mode == "mirror" || (latency && path == "mirror");
  std::vector<std::unique_ptr<receiver_state>> states;
  std::vector<std::thread> threads;
  for (int i = 0; i < receivers; ++i) {
    states.push_back(std::make_unique<receiver_state>());
    if (latency) states.back()->latency.reserve(count);
    auto* st = states.back().get();
    if (use_mirror)
      threads.emplace_back([&, st] { mirror_subscriber(ctx, mirror, *st, rc); });
    else
      threads.emplace_back([&, st] { credit_subscriber(ctx, sub_endpoint, "new", credit, batch, *st, rc); });
  }
  auto until = bench::now_ns() + 10'000'000'000LL;
  std::uint64_t warm = 0;
  for (;;) {
    bool all = true;
    for (auto& st : states) all = all && st->ready.load() && (!use_mirror || st->warm.load());
    if (all) break;
    if (bench::now_ns() > until) fail("receivers were not ready within 10 s (no SUBOK, or nothing on the mirror)");
    if (use_mirror && pub.has_room()) pub.send(warm_mark | warm++, 0);
    pub.serve(std::chrono::milliseconds(2));
  }
  // Let the warm-up acks drain so they do not count as measured events.
  while (pub.done() < warm && bench::now_ns() < until) pub.serve(std::chrono::milliseconds(10));

  publisher& p = pub;
  const auto t0 = bench::now_ns();
  bench::result r;
  r.events = count;
  r.subscribers = std::max(receivers, 1);
  r.kind = latency ? "latency" : "throughput";
  r.id = "hub." + (latency ? "latency." + path : mode == "fanout" ? "fanout" + std::to_string(subs) : mode) + "." + label;
  r.ref = ref;
  r.group = latency ? (path == "mirror" ? "latency_live" : "latency_durable")
            : mode == "fanout" ? "fanout" + std::to_string(subs)
            : mode == "mirror" ? "fanout1" : "acked_publish";
  if (mode == "mirror") r.ref = false;
  r.row = "hub " + (latency ? path + " path, latency" : mode == "fanout" ? "credit, 1 pub -> " + std::to_string(subs) + " sub"
                                                     : mode == "mirror" ? "mirror, 1 pub -> 1 SUB" : "acked publish")
          + " (" + label + ")";

  // The publisher's own counter includes the warm-up; run() counts to warm + count.
  p.run(count + warm, latency ? rate : 0, rc.deadline);
  auto t_acked = bench::now_ns();
  rc.pub_done.store(t_acked);
  if (p.refused() > 0) r.note = std::to_string(p.refused()) + " PUBs refused";
  for (auto& t : threads) t.join();

  if (mode == "publish") {
    r.expected = count;
    r.delivered = p.done() - warm - p.refused();
    r.seconds = static_cast<double>(t_acked - t0) / 1e9;
  } else {
    r.expected = count * static_cast<std::uint64_t>(receivers);
    std::int64_t last = t0;
    for (auto& st : states) {
      r.delivered += st->count.load();
      last = std::max(last, st->last_ns.load());
      r.latency.merge(st->latency);
    }
    r.seconds = static_cast<double>(last - t0) / 1e9;
  }
  if (r.delivered < r.expected && r.note.empty()) r.note = "timed out or lost events";
  // To see when the slow events came: one latency in ns per line, in arrival order.
  if (const char* dump = std::getenv("HUB_BENCH_LATENCY_DUMP"); dump != nullptr && latency) {
    std::ofstream out(dump);
    for (auto ns : r.latency.samples()) out << ns << "\n";
  }
  r.print();

  if (mode == "publish" && replay) {
    // One credit-based subscriber reads everything the hub stored, from the start.
    receiver_state st;
    run_control rrc;
    rrc.count = count;
    rrc.deadline = rc.deadline;
    rrc.pub_done.store(bench::now_ns() + 3'000'000'000LL);  // nothing is published meanwhile
    auto r0 = bench::now_ns();
    credit_subscriber(ctx, endpoint, "earliest", credit, batch, st, rrc);
    bench::result rr;
    rr.id = "hub.replay." + label;
    rr.row = "hub durable read from earliest (" + label + ")";
    rr.group = "durable_read";
    rr.ref = ref;
    rr.events = count;
    rr.expected = count;
    rr.delivered = st.count.load();
    rr.seconds = static_cast<double>(st.last_ns.load() - r0) / 1e9;
    if (rr.delivered < rr.expected) rr.note = "timed out or lost events";
    rr.print();
  }
  return 0;
}

// The SDK subscriber against a hub that sends a malformed EVTS message. A real hubd
// never does, so the hub here is a scripted ZeroMQ ROUTER on loopback speaking
// docs/protocol.md: what the test checks is that the subscriber loses nothing and says
// so, not how the hub behaves.
#include <array>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "schemas/wire.h"
#include "tests/sdk/test_events.h"

using namespace std::chrono_literals;
namespace wire = hub::wire;

namespace {

struct sub_seen {
  std::uint64_t sub_id = 0;
  std::string start;
  std::uint64_t start_arg = 0;
  std::size_t frames = 0;
};

// Answers HELLO, PING and SUB; to the first SUB it sends two good events and a record
// cut short in one EVTS, to any later SUB all three events from its start offset. As a
// hub that predates EVTS (`old`), it refuses a SUB with a batch frame as that hub's
// parser does (ERR malformed_frames, ref 0) and sends one EVT per event.
class scripted_hub {
 public:
  explicit scripted_hub(bool old = false) : old_(old) {
    router_.set(zmq::sockopt::linger, 0);
    router_.bind("tcp://127.0.0.1:*");
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
    for (int i = 0; i < 3; ++i)
      events_.push_back(hub::test::make_event(hub::schema::Entity::peacekeeping, "SSD", "R" + std::to_string(i)));
    thread_ = std::thread([this] { serve(); });
  }
  ~scripted_hub() { stop(); }
  [[nodiscard]] const std::string& endpoint() const { return endpoint_; }
  [[nodiscard]] const std::vector<std::uint8_t>& event(std::size_t i) const { return events_[i]; }
  // Read after the hub stopped (its thread joined).
  std::vector<sub_seen> subs;
  std::vector<std::uint64_t> unsubs;

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  void send(const std::string& id, std::vector<std::string> f) {
    std::vector<zmq::const_buffer> parts{zmq::buffer(id)};
    for (auto& x : f) parts.push_back(zmq::buffer(x));
    zmq::send_multipart(router_, parts);
  }
  static std::string u64(std::uint64_t v) { return wire::u64_frame(v); }

  void serve() {
    const auto until = std::chrono::steady_clock::now() + 20s;
    zmq::pollitem_t item{router_.handle(), 0, ZMQ_POLLIN, 0};
    while (!stop_ && std::chrono::steady_clock::now() < until) {
      if (zmq::poll(&item, 1, 20ms) == 0) continue;
      std::vector<zmq::message_t> m;
      if (!zmq::recv_multipart(router_, std::back_inserter(m), zmq::recv_flags::dontwait) || m.size() < 2) continue;
      const std::string id = m[0].to_string(), cmd = m[1].to_string();
      if (cmd == wire::cmd_hello) {
        send(id, {std::string(wire::rep_welcome), "1", "scripted", u64(1 << 20)});
      } else if (cmd == wire::cmd_ping) {
        send(id, {std::string(wire::rep_pong), "scripted", "1"});
      } else if (cmd == wire::cmd_unsub && m.size() == 3) {
        unsubs.push_back(wire::get_u64(m[2].data<std::uint8_t>()));
        send(id, {std::string(wire::rep_unsubok), m[2].to_string()});
      } else if (cmd == wire::cmd_sub && m.size() >= 8) {
        sub_seen s;
        s.sub_id = wire::get_u64(m[2].data<std::uint8_t>());
        s.start = m[4].to_string();
        s.start_arg = wire::get_u64(m[5].data<std::uint8_t>());
        s.frames = m.size() - 1;
        subs.push_back(s);
        if (old_ && s.frames == 8) {
          send(id, {std::string(wire::rep_err), wire::u16_frame(static_cast<std::uint16_t>(
                                                    hub::schema::Reason::malformed_frames)),
                    "SUB takes 7 frames (SUB sub-id pattern start start-arg durable credit), got 8", u64(0)});
          continue;
        }
        const std::uint64_t from = s.start == wire::start_offset ? s.start_arg : 0;
        send(id, {std::string(wire::rep_subok), u64(s.sub_id), u64(from)});
        if (old_) {
          for (std::uint64_t off = from; off < events_.size(); ++off)
            send(id, {std::string(wire::rep_evt), u64(s.sub_id), u64(off), "peacekeeping.SSD.mandate_activity",
                      std::string(events_[off].begin(), events_[off].end())});
          continue;
        }
        std::string frame;
        for (std::uint64_t off = from; off < events_.size(); ++off)
          wire::evts_append(frame, off, "peacekeeping.SSD.mandate_activity", events_[off], {});
        if (subs.size() == 1) frame.resize(frame.size() - 24);  // the third record cut short
        send(id, {std::string(wire::rep_evts), u64(s.sub_id), frame});
      }
    }
  }

  bool old_;
  zmq::context_t ctx_;
  zmq::socket_t router_{ctx_, zmq::socket_type::router};
  std::string endpoint_;
  std::vector<std::vector<std::uint8_t>> events_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

TEST_CASE("a malformed EVTS makes the subscriber subscribe again from where it was: nothing lost or doubled",
          "[sdk][evts][bad-input]") {
  scripted_hub hub;
  hub::sdk::subscriber::options o;
  o.connection = hub::test::connect_to(hub.endpoint());
  o.pattern = ">";
  o.start = hub::sdk::start_position::earliest();
  o.credit_window = 10;
  hub::sdk::subscriber sub(o);
  std::vector<hub::sdk::event> got;
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (got.size() < 3 && std::chrono::steady_clock::now() < until) {
    if (auto e = sub.next(100ms)) got.push_back(std::move(*e));
  }
  // Nothing more comes (the good events of the broken message are not handed out twice).
  auto extra = sub.next(300ms);
  hub.stop();

  REQUIRE(got.size() == 3);
  for (std::uint64_t i = 0; i < 3; ++i) {
    CHECK(got[i].offset == i);
    CHECK(got[i].bytes == hub.event(i));
  }
  CHECK_FALSE(extra.has_value());
  REQUIRE(hub.subs.size() == 2);
  CHECK(hub.subs[0].frames == 8);  // the SDK asks for batches (SUB's eighth frame)
  CHECK(hub.subs[0].start == "earliest");
  CHECK(hub.subs[1].start == "offset");  // again from the first offset the hub named
  CHECK(hub.subs[1].start_arg == 0);
  CHECK(hub.subs[1].sub_id != hub.subs[0].sub_id);
  REQUIRE(hub.unsubs.size() == 1);
  CHECK(hub.unsubs[0] == hub.subs[0].sub_id);
}

TEST_CASE("against a hub that predates EVTS the subscriber asks again without the batch frame and gets every event",
          "[sdk][evts]") {
  scripted_hub hub(true);
  hub::sdk::subscriber::options o;
  o.connection = hub::test::connect_to(hub.endpoint());
  o.pattern = ">";
  o.start = hub::sdk::start_position::earliest();
  hub::sdk::subscriber sub(o);
  std::vector<hub::sdk::event> got;
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (got.size() < 3 && std::chrono::steady_clock::now() < until) {
    if (auto e = sub.next(100ms)) got.push_back(std::move(*e));
  }
  hub.stop();
  REQUIRE(got.size() == 3);
  for (std::uint64_t i = 0; i < 3; ++i) {
    CHECK(got[i].offset == i);
    CHECK(got[i].bytes == hub.event(i));
  }
  REQUIRE(hub.subs.size() == 2);
  CHECK(hub.subs[0].frames == 8);
  CHECK(hub.subs[1].frames == 7);
  CHECK(hub.subs[1].start == "earliest");  // no SUBOK came, so it starts where it meant to
}

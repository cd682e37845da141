// Crash test of the durable log inside a real hubd: a publisher sends events as fast
// as it can while the hub is killed with SIGKILL at random moments and restarted; at
// the end every acknowledged event is in the log exactly once and in order, and a
// durable subscriber has received every one.
#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "adapters/sdk/sdk.h"
#include "hub/log/log.h"
#include "tests/support/envelopes.h"
#include "tests/support/hubd_process.h"
#include "tests/support/temp_dir.h"

using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;

std::pair<std::uint64_t, std::uint64_t> key(const hub::schema::Id128& id) { return {id.hi(), id.lo()}; }

hub::sdk::connection_options connect_to(const std::string& endpoint) {
  hub::sdk::connection_options c;
  c.endpoints = {endpoint};
  c.client_name = "crash-test";
  c.hub_timeout = 2000ms;
  return c;
}

}  // namespace

TEST_CASE("acknowledged events survive 20 SIGKILLs of hubd exactly once and in order", "[log][crash]") {
  hub::test::temp_dir work("crash");
  hub::test::hubd_options ho;
  ho.data_dir = work / "data";
  ho.extra_args = {"--fsync", "batch"};
  hub::test::hubd_process hub(ho);

  const unsigned seed = std::random_device{}();
  INFO("random seed " << seed);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> run_ms(20, 250);

  std::uint64_t next_n = 1;                                  // publish order: id.lo = n
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::uint64_t> acked;  // id -> offset (first ack)
  std::set<std::pair<std::uint64_t, std::uint64_t>> received;              // by the durable subscriber
  std::uint64_t received_total = 0;
  std::size_t acked_under_kills = 0;  // acks before the last, quiet round

  auto make = [&](std::uint64_t n) {
    hub::test::envelope_spec spec;
    spec.id_hi = 0x0190000000000000ull;
    spec.id_lo = n;
    spec.pad_to = 300;
    return hub::test::make_envelope(spec);
  };

  const int kills = 20;
  const auto test_deadline = clock_type::now() + 90s;
  for (int round = 0; round <= kills && clock_type::now() < test_deadline; ++round) {
    hub::sdk::publisher::options po;
    po.connection = connect_to(hub.endpoint());
    po.window = 256;
    po.publish_timeout = 2000ms;
    po.spool_file = work / "publisher.spool";  // unacked events survive the publisher too
    hub::sdk::publisher pub(po);
    pub.on_acked([&](const hub::schema::Id128& id, std::uint64_t off, bool) { acked.emplace(key(id), off); });

    hub::sdk::subscriber::options so;
    so.connection = connect_to(hub.endpoint());
    so.pattern = ">";
    so.durable_name = "crash-test-consumer";
    so.start = hub::sdk::start_position::earliest();
    hub::sdk::subscriber sub(so);

    auto consume = [&] {
      std::uint64_t last = 0;
      bool any = false;
      for (int i = 0; i < 512; ++i) {
        auto e = sub.next(0ms);
        if (!e) break;
        ++received_total;
        received.insert(key(e->envelope()->id() != nullptr ? *e->envelope()->id() : hub::schema::Id128()));
        last = e->offset;
        any = true;
      }
      if (any) (void)sub.commit(last + 1, 200ms);
    };

    if (round < kills) {
      const auto until = clock_type::now() + std::chrono::milliseconds(run_ms(rng));
      while (clock_type::now() < until) {
        for (int i = 0; i < 20 && pub.publish(make(next_n)); ++i) ++next_n;
        pub.poll(0ms);
        consume();
      }
      hub.kill9();
      hub.restart();
    } else {
      // Last round: no kill; drain the spool and the subscription.
      acked_under_kills = acked.size();
      for (int i = 0; i < 200; ++i) REQUIRE(pub.publish(make(next_n++)));
      REQUIRE(pub.flush(20s));
      CHECK(pub.stats().spooled == 0);
      const std::uint64_t want = acked.size();
      hub::test::wait_for(
          [&] {
            consume();
            return received.size() >= want;
          },
          20s);
    }
  }
  const int stopped = hub.stop();
  INFO("hubd's log:\n" << hub.log());
  REQUIRE(stopped == 0);  // a clean exit on SIGTERM (6 would be SIGABRT)

  // Every acknowledged id is in the log exactly once, in publish order.
  auto opened = hub::log::open_log(work / "data", {});
  REQUIRE(opened);
  auto& log = *opened.value();
  std::map<std::pair<std::uint64_t, std::uint64_t>, int> count;
  std::vector<std::uint64_t> order;  // id.lo of each record, in log order
  REQUIRE(log.read(log.begin(), log.end(), static_cast<std::size_t>(-1), [&](const hub::store::record_view& v) {
    if (v.id.hi() == 0x0190000000000000ull) {
      ++count[key(v.id)];
      order.push_back(v.id.lo());
    }
    return true;
  }));
  CHECK(log.stats().corrupt_skipped == 0);
  INFO("published " << next_n - 1 << ", acknowledged " << acked.size() << ", in the log " << order.size()
                    << ", delivered " << received_total << " (" << received.size() << " distinct)");
  REQUIRE(acked_under_kills > 50);  // the kills did hit a publisher at work
  std::size_t missing = 0;
  std::size_t twice = 0;
  for (const auto& [id, off] : acked) {
    auto it = count.find(id);
    if (it == count.end()) ++missing;
    else if (it->second != 1) ++twice;
  }
  CHECK(missing == 0);
  CHECK(twice == 0);
  CHECK(std::all_of(count.begin(), count.end(), [](const auto& c) { return c.second == 1; }));
  CHECK(std::is_sorted(order.begin(), order.end()));
  std::size_t not_delivered = 0;
  for (const auto& [id, off] : acked)
    if (!received.contains(id)) ++not_delivered;
  CHECK(not_delivered == 0);
  // The durable subscriber resumed from its commits, not from the start, after each
  // restart: redeliveries stay below one uncommitted batch plus credit per kill.
  CHECK(received_total - received.size() <= static_cast<std::uint64_t>(kills) * 1024);
}

// The broker on a store shared with other hubs (JetStream) reads each durable event
// back before delivering it. Such reads fail while the cluster elects a leader; the
// events they would have brought must reach live subscribers once the reads work
// again, not be passed over. A real broker on loopback, a real SDK publisher and
// subscriber, and the memory store behind a switch that fails its reads.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <set>

#include "adapters/sdk/sdk.h"
#include "hub/store/memory_store.h"
#include "schemas/schema.h"
#include "tests/support/envelopes.h"
#include "tests/support/hubd_process.h"
#include "tests/support/running_broker.h"

using namespace std::chrono_literals;

namespace {

// Passes every call to a memory store, but says it is not the only writer (as a shared
// store does, so the broker reads what becomes durable back) and fails read() while
// `failing` is set.
class flaky_reads final : public hub::store::store {
 public:
  std::atomic<bool> failing{false};
  std::atomic<std::uint64_t> failed_reads{0};

  hub::status append(std::span<const hub::store::append_record> batch) override { return inner_->append(batch); }
  hub::status sync() override { return inner_->sync(); }
  [[nodiscard]] bool needs_sync() const override { return inner_->needs_sync(); }
  [[nodiscard]] hub::offset durable_end() const override { return inner_->durable_end(); }
  [[nodiscard]] bool sole_writer() const override { return false; }
  [[nodiscard]] hub::offset begin() const override { return inner_->begin(); }
  [[nodiscard]] hub::offset end() const override { return inner_->end(); }
  hub::result<hub::offset> read(hub::offset from, hub::offset limit, std::size_t max_records,
                                const hub::store::record_visitor& visit) override {
    if (failing) {
      ++failed_reads;
      return hub::status::unavailable("reads fail on purpose (the test's switch)");
    }
    return inner_->read(from, limit, max_records, visit);
  }
  [[nodiscard]] hub::offset offset_at_time(hub::millis t) override { return inner_->offset_at_time(t); }
  hub::status commit_consumer(std::string_view name, hub::offset next) override {
    return inner_->commit_consumer(name, next);
  }
  [[nodiscard]] std::optional<hub::offset> consumer_offset(std::string_view name) const override {
    return inner_->consumer_offset(name);
  }
  [[nodiscard]] std::vector<std::pair<std::string, hub::offset>> consumers() const override {
    return inner_->consumers();
  }
  hub::status remove_consumer(std::string_view name) override { return inner_->remove_consumer(name); }
  void enforce_retention(hub::millis now) override { inner_->enforce_retention(now); }
  [[nodiscard]] hub::store::store_stats stats() const override { return inner_->stats(); }

 private:
  std::unique_ptr<hub::store::store> inner_ = hub::store::make_memory_store();
};

}  // namespace

TEST_CASE("on a shared store, events whose read-back failed reach a live subscriber once the reads work again",
          "[broker][delivery][fault]") {
  auto owned = std::make_unique<flaky_reads>();
  flaky_reads& st = *owned;
  hub::test::running_broker b(hub::test::loopback_options(), std::move(owned));

  hub::sdk::subscriber::options so;
  so.connection.endpoints = {b.endpoint()};
  so.connection.client_name = "read-back-reader";
  so.start = hub::sdk::start_position::earliest();
  hub::sdk::subscriber sub(so);

  hub::sdk::publisher::options po;
  po.connection.endpoints = {b.endpoint()};
  po.connection.client_name = "read-back-publisher";
  hub::sdk::publisher pub(po);
  std::set<std::string> sent, acked;
  pub.on_acked([&](const hub::schema::Id128& id, std::uint64_t, bool) { acked.insert(hub::schema::id_to_hex(id)); });
  std::map<std::string, int> received;
  auto drain = [&] {
    while (auto e = sub.next(0ms)) ++received[hub::schema::id_to_hex(*e->envelope()->id())];
  };
  auto publish = [&](int n) {
    for (int i = 0; i < n; ++i) {
      auto env = hub::test::make_envelope({.source_system = "read-back"});
      sent.insert(hub::schema::id_to_hex(hub::test::envelope_id(env)));
      REQUIRE(pub.publish(env));
    }
    REQUIRE(pub.flush(10s));
  };

  // The subscriber is live: the first events reach it.
  publish(20);
  REQUIRE(hub::test::wait_for([&] {
    drain();
    return received.size() == 20;
  }, 10s));

  // Reads fail: the next events are stored and acknowledged, but cannot be read back.
  st.failing = true;
  publish(30);
  CHECK(acked == sent);
  REQUIRE(hub::test::wait_for([&] { return st.failed_reads >= 2; }, 10s));  // tried, and tried again
  drain();
  CHECK(received.size() == 20);

  // Reads work again: every event arrives, each once, and later ones follow.
  st.failing = false;
  publish(10);
  CHECK(hub::test::wait_for([&] {
    drain();
    return received.size() == sent.size();
  }, 10s));
  std::size_t missing = 0, twice = 0;
  for (const auto& id : sent) {
    auto it = received.find(id);
    if (it == received.end()) ++missing;
    else if (it->second > 1) ++twice;
  }
  CHECK(missing == 0);
  CHECK(twice == 0);
  CHECK(received.size() == 60);
}

// A real broker in the test's own process: its loop runs on a thread from construction
// until the object goes away, so that a test can give it a store of its own making (a
// log on a fault-injecting file system, a JetStream store) and reach that store.
// Header-only: the tests that use it link hub::broker themselves.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "hub/broker/broker.h"

namespace hub::test {

class running_broker {
 public:
  running_broker(broker::broker_options opts, std::unique_ptr<store::store> st)
      : broker_(std::move(opts), std::move(st)) {
    if (auto s = broker_.bind(); !s) throw std::runtime_error("cannot bind the broker: " + s.message());
    loop_ = std::thread([this] { broker_.run(); });
  }
  ~running_broker() {
    broker_.stop();
    loop_.join();
  }
  running_broker(const running_broker&) = delete;
  running_broker& operator=(const running_broker&) = delete;

  [[nodiscard]] const std::string& endpoint() const { return broker_.endpoint(); }
  // The store's thread-safe calls (durable_end()) only: the loop thread owns the rest.
  [[nodiscard]] store::store& store() { return broker_.store(); }

 private:
  broker::broker broker_;
  std::thread loop_;
};

// Options for a test broker: any free loopback port, no mirror.
inline broker::broker_options loopback_options() {
  broker::broker_options o;
  o.endpoint = "tcp://127.0.0.1:*";
  o.mirror_endpoint.clear();
  return o;
}

}  // namespace hub::test

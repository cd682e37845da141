// Runs the rules engine beside the broker, on a thread of its own, so that rule
// evaluation never slows publishing or delivery.
//
// The broker hands every durable event over with feed() (loop thread; one copy of the
// bytes) and collects the alerts the engine raised with drain() (loop thread), which
// the broker then publishes like any event. At start, rebuild() replays the retained
// log through the engine (replay protocol of docs/rules.md) before the loop starts, so
// a restart neither loses nor repeats an alert.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hub/common/status.h"
#include "hub/rules/alertmanager.h"
#include "hub/rules/engine.h"
#include "hub/store/store.h"

namespace hub::hubd {

class rules_runner {
 public:
  // Loads the rule files; an error names every file:line.
  static result<std::unique_ptr<rules_runner>> start(const std::vector<std::string>& files,
                                                     const std::string& alertmanager_url);
  ~rules_runner();

  // Replays records [begin, end) of the store through the engine. Before the loop runs.
  // A standby runner (active = false) keeps following the log without raising alerts
  // until set_active(true): the rules lease of docs/scale-out.md.
  void rebuild(store::store& st, bool active = true);

  // Any thread. Turning active publishes exactly the transitions the log does not
  // hold yet (the replay protocol of docs/rules.md); turning standby stops raising.
  void set_active(bool on);
  [[nodiscard]] bool active() const { return active_.load(); }

  // Loop thread: queue one durable event for the engine.
  void feed(const store::record_view& v);
  // Loop thread: alerts raised since the last call, ready to publish.
  void drain(std::vector<std::vector<std::uint8_t>>& out);
  // Loop thread: processing time passes (absence rules, escalations).
  void tick(millis now);

  // Reloads the rule files; a broken file leaves the running rules in force.
  status reload();

  [[nodiscard]] std::size_t backlog() const;
  [[nodiscard]] rules::engine_stats stats() const;
  [[nodiscard]] std::vector<rules::alert_view> firing() const;

 private:
  rules_runner(std::vector<std::string> files, std::shared_ptr<const rules::rule_set> rules,
               const std::string& alertmanager_url);
  void run();

  struct item {
    enum class kind { event, tick, activate, standby };
    kind what = kind::event;
    std::uint64_t offset = 0;
    millis log_time = 0;
    std::vector<std::uint8_t> envelope;
  };

  std::vector<std::string> files_;
  rules::engine engine_;
  std::unique_ptr<rules::alertmanager_sink> sink_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<item> queue_;
  std::vector<std::vector<std::uint8_t>> out_;
  std::shared_ptr<const rules::rule_set> pending_rules_;
  bool stop_ = false;
  std::atomic<bool> active_{false};
  std::thread thread_;
};

}  // namespace hub::hubd

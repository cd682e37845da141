// The work behind `hubctl rules check` and `hubctl rules backtest`, kept here so that
// hubctl only parses arguments and so that tests can run them without a process.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <ostream>
#include <vector>

#include "hub/common/types.h"

namespace hub::rules {

// Validates rule files offline. Prints every error as "file:line: message" and returns
// 1, or prints a summary (one line per rule) and returns 0.
int check_rules_command(const std::vector<std::filesystem::path>& files, std::ostream& out);

// One stored event for a backtest: its log offset, the time the hub stored it, and its
// envelope bytes (verified by the backtest before use).
struct stored_event {
  std::uint64_t offset = 0;
  millis log_time = 0;
  std::vector<std::uint8_t> bytes;
};
// Calls `sink` for each stored event in log order; returns false on a read error.
using event_source = std::function<bool(const std::function<void(const stored_event&)>& sink)>;

// Runs the rule files over the events stored from `from` (log time) on and prints the
// alert transitions they would have raised, then those still firing at `now`. Publishes
// nothing. The hub's own alert events in the log are ignored, so the backtest shows what
// these rules alone would say. Returns 0, 1 for rule errors, 2 if the source failed.
int backtest_command(const std::vector<std::filesystem::path>& rule_files, const event_source& source, millis from,
                     millis now, std::ostream& out);

}  // namespace hub::rules

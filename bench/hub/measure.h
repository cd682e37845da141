// What every benchmark program shares: a monotonic clock in nanoseconds, a latency
// recorder, a pacer for a fixed offered rate, and the one-JSON-object-per-line result
// format that bench/run collects and bench_report turns into the table.
//
// Threading: a recorder belongs to one thread; merge recorders after the threads end.
// Nothing here throws except std::bad_alloc.
#pragma once

#include <sys/prctl.h>
#include <time.h>

#include <cerrno>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace bench {

// CLOCK_MONOTONIC in ns: comparable across threads and processes of one machine.
inline std::int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Latencies in ns; percentiles by sorting once at the end (no allocation per sample
// after reserve()).
class latency_recorder {
 public:
  void reserve(std::size_t n) { samples_.reserve(n); }
  void add(std::int64_t ns) { samples_.push_back(ns); }
  void merge(const latency_recorder& o) { samples_.insert(samples_.end(), o.samples_.begin(), o.samples_.end()); }
  [[nodiscard]] std::size_t size() const { return samples_.size(); }
  // The samples in the order they were added (until a quantile sorts them).
  [[nodiscard]] const std::vector<std::int64_t>& samples() const { return samples_; }
  // The q-quantile (0..1) in microseconds; 0 when empty. Sorts on first call.
  [[nodiscard]] double quantile_us(double q) {
    if (samples_.empty()) return 0;
    if (!sorted_) {
      std::sort(samples_.begin(), samples_.end());
      sorted_ = true;
    }
    auto idx = static_cast<std::size_t>(q * static_cast<double>(samples_.size() - 1) + 0.5);
    return static_cast<double>(samples_[std::min(idx, samples_.size() - 1)]) / 1000.0;
  }

 private:
  std::vector<std::int64_t> samples_;
  bool sorted_ = false;
};

// Hands out send times at a fixed rate. The intended time, not the actual one, goes
// into the message, so a sender that falls behind shows up as latency (no coordinated
// omission). The sender sleeps until each slot (an absolute clock_nanosleep with 1 ns
// timer slack) instead of spinning: on a 2-core machine a spinning sender takes a core
// from the server it measures, and every server pays that in scheduling delays.
class pacer {
 public:
  pacer(double rate_per_s, std::int64_t start_ns) : interval_ns_(1e9 / rate_per_s), start_ns_(start_ns) {
    ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  }
  // The intended send time of message i; waits until it has come.
  std::int64_t wait_for_slot(std::uint64_t i) const {
    auto at = start_ns_ + static_cast<std::int64_t>(static_cast<double>(i) * interval_ns_);
    timespec ts{static_cast<time_t>(at / 1'000'000'000), static_cast<long>(at % 1'000'000'000)};
    while (now_ns() < at && ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
    return at;
  }

 private:
  double interval_ns_;
  std::int64_t start_ns_;
};

// One result row. `id` is stable (the report groups by it), `row` is for people.
struct result {
  std::string id;
  std::string row;
  std::string kind = "throughput";    // throughput | latency
  std::uint64_t expected = 0;         // deliveries that should have happened (events x subscribers)
  std::uint64_t delivered = 0;        // deliveries counted by the subscribers
  double seconds = 0;                 // measured interval
  std::uint64_t events = 0;           // events published
  int subscribers = 1;
  latency_recorder latency;           // for kind == latency
  std::string note;                   // anything a reader should know (errors, timeouts)
  std::string group;                  // rows compared with each other (fanout1, acked_publish, ...)
  bool ref = false;                   // the hub row the others in its group are compared with

  void print() {
    nlohmann::json j = {{"id", id},           {"row", row},     {"kind", kind},
                        {"expected", expected}, {"delivered", delivered}, {"seconds", seconds},
                        {"events", events},   {"subscribers", subscribers}, {"group", group},
                        {"ref", ref}};
    if (kind == "throughput") {
      double rate = seconds > 0 ? static_cast<double>(events) / seconds : 0;
      j["rate"] = rate;                                  // events/s per subscriber (or published)
      j["aggregate"] = rate * std::max(subscribers, 1);  // deliveries/s over all subscribers
    } else {
      j["samples"] = latency.size();
      j["p50_us"] = latency.quantile_us(0.50);
      j["p99_us"] = latency.quantile_us(0.99);
      j["p999_us"] = latency.quantile_us(0.999);
    }
    if (!note.empty()) j["note"] = note;
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
  }
};

// Payloads of the peer benchmarks: 256 bytes, the first 8 the intended send time (ns),
// the next 8 the sequence number, the rest filler.
inline constexpr std::size_t payload_bytes = 256;
inline void fill_payload(std::uint8_t* p, std::int64_t t_ns, std::uint64_t seq) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(t_ns) >> (8 * i));
  for (int i = 0; i < 8; ++i) p[8 + i] = static_cast<std::uint8_t>(seq >> (8 * i));
}
inline std::int64_t payload_time(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return static_cast<std::int64_t>(v);
}

}  // namespace bench

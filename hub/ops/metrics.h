// Metrics: counters, gauges and histograms with label sets, rendered in the Prometheus
// text exposition format (version 0.0.4).
//
// Threading: families and their children are created at start-up or rarely (a new
// label set takes the family's mutex once). Updating a child (inc, set, observe) is a
// relaxed atomic operation and never locks, so the event loop may do it per event: look
// a child up once with `with()` and keep the reference; it stays valid, at the same
// address, for the registry's lifetime. render() may run on any thread at any time; it
// locks each family only to walk its children and sees each value atomically (a
// histogram's buckets may be from slightly different instants; its _count is always the
// sum of its buckets).
//
// Names are checked when a family is added: a metric name must match
// [a-zA-Z_:][a-zA-Z0-9_:]*, a label name [a-zA-Z_][a-zA-Z0-9_]* and not start with "__".
// A bad name, a repeated metric name or a label-value count that differs from the
// family's label names is a programming error and throws std::invalid_argument.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "schemas/schema.h"

namespace hub::ops {

// A value that only goes up (events, bytes, errors).
class counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  // For a monotonic total kept elsewhere (e.g. the broker's own counters): raises the
  // counter to `total`; a smaller total is ignored, so the counter never goes down.
  void advance_to(std::uint64_t total);
  [[nodiscard]] std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A value that goes up and down (connected clients, lag, bytes on disk).
class gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double d) { value_.fetch_add(d, std::memory_order_relaxed); }
  [[nodiscard]] double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Observations counted into buckets with fixed upper bounds (e.g. latencies in seconds).
class histogram {
 public:
  // `bounds` are the finite upper bounds, strictly increasing; +Inf is implied.
  explicit histogram(std::vector<double> bounds);
  void observe(double v);

  struct snapshot {
    std::vector<double> bounds;           // finite upper bounds
    std::vector<std::uint64_t> cumulative;  // bounds.size() + 1 entries, the last is +Inf
    double sum = 0;
    [[nodiscard]] std::uint64_t count() const { return cumulative.empty() ? 0 : cumulative.back(); }
  };
  [[nodiscard]] snapshot read() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // not cumulative; last is +Inf
  std::atomic<double> sum_{0.0};
};

// Exponential latency buckets from 100 µs to about 10 s, for fsync and publish-to-ack.
[[nodiscard]] std::vector<double> latency_buckets();

enum class metric_type : std::uint8_t { counter = 0, gauge = 1, histogram = 2 };

using label_values = std::vector<std::string>;

// One metric name with its HELP text, label names and one child per label set.
class family_base {
 public:
  family_base(std::string name, std::string help, metric_type type, std::vector<std::string> label_names);
  virtual ~family_base() = default;
  family_base(const family_base&) = delete;
  family_base& operator=(const family_base&) = delete;
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] metric_type type() const { return type_; }
  // Appends the family in the text format: HELP, TYPE, then one line per sample.
  void render(std::string& out) const;

 protected:
  void check_arity(const label_values& values) const;
  virtual void render_children(std::string& out) const = 0;
  // `name{labels,extra} value` with escaping; `extra` is an already-rendered pair or empty.
  void render_sample(std::string& out, std::string_view suffix, const label_values& values,
                     std::string_view extra, std::string_view value) const;

  std::string name_;
  std::string help_;
  metric_type type_;
  std::vector<std::string> label_names_;
  mutable std::mutex mutex_;  // guards the children maps of the derived families
};

template <typename M>
class family final : public family_base {
 public:
  // `bounds` are used by histogram families only.
  family(std::string name, std::string help, metric_type type, std::vector<std::string> label_names,
         std::vector<double> bounds = {})
      : family_base(std::move(name), std::move(help), type, std::move(label_names)),
        bounds_(std::move(bounds)) {}

  // The child for these label values (in the order of the label names), created on
  // first use. Locks; call once and keep the reference.
  M& with(const label_values& values) {
    check_arity(values);
    std::lock_guard lock(mutex_);
    auto it = children_.find(values);
    if (it == children_.end()) {
      if constexpr (std::is_same_v<M, histogram>) {
        it = children_.emplace(values, std::make_unique<M>(bounds_)).first;
      } else {
        it = children_.emplace(values, std::make_unique<M>()).first;
      }
    }
    return *it->second;
  }
  // The only child of a family without labels.
  M& get() { return with({}); }

 private:
  void render_children(std::string& out) const override;
  std::vector<double> bounds_;
  std::map<label_values, std::unique_ptr<M>> children_;
};

extern template class family<counter>;
extern template class family<gauge>;
extern template class family<histogram>;
using counter_family = family<counter>;
using gauge_family = family<gauge>;
using histogram_family = family<histogram>;

// Owns families; renders them all, in the order they were added.
class registry {
 public:
  counter_family& add_counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  gauge_family& add_gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  histogram_family& add_histogram(std::string name, std::string help, std::vector<double> bounds,
                                  std::vector<std::string> label_names = {});

  // The whole registry in the Prometheus text format; any thread.
  [[nodiscard]] std::string render() const;

 private:
  void add(std::unique_ptr<family_base> f);
  mutable std::mutex mutex_;  // guards families_ (added at start-up, read by render)
  std::vector<std::unique_ptr<family_base>> families_;
};

// The content type of render()'s output, for the HTTP response.
inline constexpr std::string_view exposition_content_type = "text/plain; version=0.0.4; charset=utf-8";

// Escapes a label value (backslash, double quote, newline) and a HELP text (backslash,
// newline) as the text format requires.
[[nodiscard]] std::string escape_label_value(std::string_view v);
[[nodiscard]] std::string escape_help(std::string_view v);
// A sample value: integers without a fraction, NaN, +Inf, -Inf, else the shortest
// round-tripping decimal.
[[nodiscard]] std::string format_value(double v);

// The hub's metrics, all defined here and nowhere else. Handles without labels are
// ready to use; for labelled ones use the *_for helpers (cached per code, loop thread
// only) or `family.with({...})` once and keep the reference.
class hub_metrics {
 public:
  hub_metrics();
  hub_metrics(const hub_metrics&) = delete;
  hub_metrics& operator=(const hub_metrics&) = delete;

 private:
  ops::registry registry_;  // first: the references below point into it

 public:
  counter_family& events_in;        // hub_events_in_total{entity,event_type}: events stored
  counter_family& events_out;       // hub_events_out_total{entity,event_type}: events delivered (EVT)
  counter_family& naks;             // hub_naks_total{reason}: publishes refused
  counter_family& errs;             // hub_errs_total{reason}: other commands refused
  counter& bytes_in;                // hub_bytes_in_total: envelope bytes stored
  counter& bytes_out;               // hub_bytes_out_total: envelope bytes delivered
  gauge& clients_connected;         // hub_clients_connected
  gauge& subscriptions;             // hub_subscriptions
  counter& credit_stalls;           // hub_credit_stalls_total
  counter& pipe_stalls;             // hub_pipe_stalls_total
  gauge_family& consumer_lag;       // hub_consumer_lag{consumer}: events behind the log end
  gauge& log_segments;              // hub_log_segments
  gauge& log_bytes;                 // hub_log_bytes
  gauge& log_records;               // hub_log_records
  histogram& fsync_seconds;         // hub_fsync_seconds
  histogram& publish_ack_seconds;   // hub_publish_ack_seconds: PUB received to ACK sent
  counter& rules_evaluated;         // hub_rules_evaluated_total
  gauge_family& alerts_firing;      // hub_alerts_firing{severity}
  gauge_family& adapter_heartbeat_age_seconds;  // hub_adapter_heartbeat_age_seconds{adapter}
  counter& mirror_dropped;          // hub_mirror_dropped_total
  gauge& mirror_readers;            // hub_mirror_readers: SUB sockets connected to the mirror
  counter& disconnects;             // hub_disconnects_total: client connections that ended
  counter& duplicates;              // hub_duplicates_total
  counter& busy_polled_turns;       // hub_busy_polled_turns_total: wake-ups the idle poll found
  gauge& store_writable;            // hub_store_writable: 1 when the store accepts writes
  gauge& up;                        // hub_up: 1 while hubd runs
  gauge& start_time_seconds;        // hub_start_time_seconds: Unix time hubd started

  // Cached children by schema code. Loop thread only (the cache is not synchronised;
  // the children themselves are). Out-of-range codes share an "unspecified" child.
  counter& events_in_for(schema::Entity e, schema::Payload p);
  counter& events_out_for(schema::Entity e, schema::Payload p);
  counter& naks_for(schema::Reason r);
  counter& errs_for(schema::Reason r);

  [[nodiscard]] const ops::registry& registry() const { return registry_; }
  [[nodiscard]] std::string render() const { return registry_.render(); }

 private:
  static constexpr std::size_t max_entities = 16;
  static constexpr std::size_t max_payloads = 32;
  static constexpr std::size_t max_reasons = 32;
  using event_cache = std::array<std::array<counter*, max_payloads>, max_entities>;
  counter& cached_event(event_cache& cache, counter_family& f, schema::Entity e, schema::Payload p);
  counter& cached_reason(std::array<counter*, max_reasons>& cache, counter_family& f, schema::Reason r);
  event_cache in_cache_{};
  event_cache out_cache_{};
  std::array<counter*, max_reasons> nak_cache_{};
  std::array<counter*, max_reasons> err_cache_{};
};

}  // namespace hub::ops

#include "hub/ops/metrics.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include <spdlog/fmt/fmt.h>

namespace hub::ops {

namespace {

bool valid_metric_name(std::string_view n) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool valid_label_name(std::string_view n) {
  if (n.empty() || n.starts_with("__")) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string_view type_name(metric_type t) {
  switch (t) {
    case metric_type::counter: return "counter";
    case metric_type::gauge: return "gauge";
    case metric_type::histogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

void counter::advance_to(std::uint64_t total) {
  std::uint64_t cur = value_.load(std::memory_order_relaxed);
  while (cur < total && !value_.compare_exchange_weak(cur, total, std::memory_order_relaxed)) {
  }
}

histogram::histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  for (std::size_t i = 1; i < bounds_.size(); ++i) {
    if (!(bounds_[i - 1] < bounds_[i]))
      throw std::invalid_argument("histogram bounds must be strictly increasing");
  }
  if (!bounds_.empty() && std::isinf(bounds_.back())) bounds_.pop_back();  // +Inf is implied
  buckets_ = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void histogram::observe(double v) {
  // Buckets are few (about 20): a linear search is as fast as a binary one here.
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

histogram::snapshot histogram::read() const {
  snapshot s;
  s.bounds = bounds_;
  s.cumulative.resize(bounds_.size() + 1);
  std::uint64_t acc = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = acc;
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0};
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::trunc(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<std::int64_t>(v));
  return fmt::format("{}", v);
}

family_base::family_base(std::string name, std::string help, metric_type type,
                         std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), type_(type), label_names_(std::move(label_names)) {
  if (!valid_metric_name(name_))
    throw std::invalid_argument(fmt::format("metric name \"{}\" is not valid", name_));
  for (const auto& l : label_names_) {
    if (!valid_label_name(l) || (type_ == metric_type::histogram && l == "le"))
      throw std::invalid_argument(fmt::format("metric {}: label name \"{}\" is not valid", name_, l));
  }
}

void family_base::check_arity(const label_values& values) const {
  if (values.size() != label_names_.size())
    throw std::invalid_argument(fmt::format("metric {}: {} label values given, {} expected", name_,
                                            values.size(), label_names_.size()));
}

void family_base::render(std::string& out) const {
  out += "# HELP ";
  out += name_;
  out += ' ';
  out += escape_help(help_);
  out += "\n# TYPE ";
  out += name_;
  out += ' ';
  out += type_name(type_);
  out += '\n';
  render_children(out);
}

void family_base::render_sample(std::string& out, std::string_view suffix, const label_values& values,
                                std::string_view extra, std::string_view value) const {
  out += name_;
  out += suffix;
  if (!values.empty() || !extra.empty()) {
    out += '{';
    bool first = true;
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (!first) out += ',';
      first = false;
      out += label_names_[i];
      out += "=\"";
      out += escape_label_value(values[i]);
      out += '"';
    }
    if (!extra.empty()) {
      if (!first) out += ',';
      out += extra;
    }
    out += '}';
  }
  out += ' ';
  out += value;
  out += '\n';
}

template <typename M>
void family<M>::render_children(std::string& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& [values, child] : children_) {
    if constexpr (std::is_same_v<M, counter>) {
      render_sample(out, "", values, "", fmt::format("{}", child->value()));
    } else if constexpr (std::is_same_v<M, gauge>) {
      render_sample(out, "", values, "", format_value(child->value()));
    } else {
      auto s = child->read();
      for (std::size_t i = 0; i < s.cumulative.size(); ++i) {
        std::string le = i < s.bounds.size() ? format_value(s.bounds[i]) : std::string("+Inf");
        render_sample(out, "_bucket", values, "le=\"" + le + "\"", fmt::format("{}", s.cumulative[i]));
      }
      render_sample(out, "_sum", values, "", format_value(s.sum));
      render_sample(out, "_count", values, "", fmt::format("{}", s.count()));
    }
  }
}

template class family<counter>;
template class family<gauge>;
template class family<histogram>;

void registry::add(std::unique_ptr<family_base> f) {
  std::lock_guard lock(mutex_);
  for (const auto& existing : families_) {
    if (existing->name() == f->name())
      throw std::invalid_argument(fmt::format("metric {} is defined twice", f->name()));
  }
  families_.push_back(std::move(f));
}

counter_family& registry::add_counter(std::string name, std::string help, std::vector<std::string> label_names) {
  auto f = std::make_unique<counter_family>(std::move(name), std::move(help), metric_type::counter,
                                            std::move(label_names));
  auto& ref = *f;
  add(std::move(f));
  return ref;
}

gauge_family& registry::add_gauge(std::string name, std::string help, std::vector<std::string> label_names) {
  auto f = std::make_unique<gauge_family>(std::move(name), std::move(help), metric_type::gauge,
                                          std::move(label_names));
  auto& ref = *f;
  add(std::move(f));
  return ref;
}

histogram_family& registry::add_histogram(std::string name, std::string help, std::vector<double> bounds,
                                          std::vector<std::string> label_names) {
  histogram check(bounds);  // throws now, not at the first observation, if bounds are bad
  auto f = std::make_unique<histogram_family>(std::move(name), std::move(help), metric_type::histogram,
                                              std::move(label_names), std::move(bounds));
  auto& ref = *f;
  add(std::move(f));
  return ref;
}

std::string registry::render() const {
  std::string out;
  out.reserve(8192);
  std::lock_guard lock(mutex_);
  for (const auto& f : families_) f->render(out);
  return out;
}

hub_metrics::hub_metrics()
    : events_in(registry_.add_counter("hub_events_in_total", "Events stored, by entity and event type.",
                                      {"entity", "event_type"})),
      events_out(registry_.add_counter("hub_events_out_total",
                                       "Events delivered to subscribers (EVT), by entity and event type.",
                                       {"entity", "event_type"})),
      naks(registry_.add_counter("hub_naks_total", "Publishes refused with a NAK, by reason.", {"reason"})),
      errs(registry_.add_counter("hub_errs_total", "Commands refused with an ERR, by reason.", {"reason"})),
      bytes_in(registry_.add_counter("hub_bytes_in_total", "Envelope bytes stored.").get()),
      bytes_out(registry_.add_counter("hub_bytes_out_total", "Envelope bytes delivered to subscribers.").get()),
      clients_connected(registry_.add_gauge("hub_clients_connected", "Clients the hub currently knows.").get()),
      subscriptions(registry_.add_gauge("hub_subscriptions", "Live subscriptions.").get()),
      credit_stalls(registry_.add_counter("hub_credit_stalls_total",
                                          "Times a live subscription ran out of credit.").get()),
      pipe_stalls(registry_.add_counter("hub_pipe_stalls_total",
                                        "Deliveries a subscriber's full connection queue refused; the "
                                        "subscription reads them from the store once it drains.").get()),
      consumer_lag(registry_.add_gauge("hub_consumer_lag",
                                       "Events between a durable consumer's next offset and the log end.",
                                       {"consumer"})),
      log_segments(registry_.add_gauge("hub_log_segments", "Segments in the event log.").get()),
      log_bytes(registry_.add_gauge("hub_log_bytes", "Bytes in the event log.").get()),
      log_records(registry_.add_gauge("hub_log_records", "Records retained in the event log.").get()),
      fsync_seconds(registry_.add_histogram("hub_fsync_seconds", "Time one fsync of the event log took.",
                                            latency_buckets()).get()),
      publish_ack_seconds(registry_.add_histogram("hub_publish_ack_seconds",
                                                  "Time from receiving a PUB to sending its ACK.",
                                                  latency_buckets()).get()),
      rules_evaluated(registry_.add_counter("hub_rules_evaluated_total",
                                            "Rule evaluations by the rules engine.").get()),
      alerts_firing(registry_.add_gauge("hub_alerts_firing", "Coherence alerts firing now, by severity.",
                                        {"severity"})),
      adapter_heartbeat_age_seconds(registry_.add_gauge(
          "hub_adapter_heartbeat_age_seconds", "Seconds since the adapter's last heartbeat event.",
          {"adapter"})),
      mirror_dropped(registry_.add_counter("hub_mirror_dropped_total",
                                           "Events the best-effort mirror could not send.").get()),
      mirror_readers(registry_.add_gauge("hub_mirror_readers", "Readers connected to the best-effort mirror.").get()),
      disconnects(registry_.add_counter("hub_disconnects_total",
                                        "Client connections that ended: closed by the client, or by the hub "
                                        "for a protocol fault or limit such as a message over the size limit.")
                      .get()),
      duplicates(registry_.add_counter("hub_duplicates_total",
                                       "Publishes whose event id was already stored (acked, not stored again).")
                     .get()),
      busy_polled_turns(registry_.add_counter("hub_busy_polled_turns_total",
                                              "Loop wake-ups whose work the idle poll found, without sleeping "
                                              "(idle_poll_us).")
                            .get()),
      store_writable(registry_.add_gauge("hub_store_writable", "1 when the store accepts writes, else 0.").get()),
      up(registry_.add_gauge("hub_up", "1 while hubd is running.").get()),
      start_time_seconds(registry_.add_gauge("hub_start_time_seconds", "Unix time hubd started, in seconds.")
                             .get()) {
  up.set(1);
  start_time_seconds.set(static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                                 std::chrono::system_clock::now().time_since_epoch())
                                                 .count()));
  // Every severity is present from the start, so a dashboard and alert rules see 0
  // rather than no series.
  for (const char* s : {"info", "warning", "critical"}) alerts_firing.with({s});
}

counter& hub_metrics::cached_event(event_cache& cache, counter_family& f, schema::Entity e, schema::Payload p) {
  auto ei = static_cast<std::size_t>(e);
  auto pi = static_cast<std::size_t>(p);
  if (ei >= max_entities) ei = 0;
  if (pi >= max_payloads) pi = 0;
  counter*& slot = cache[ei][pi];
  if (slot == nullptr) {
    slot = &f.with({std::string(schema::entity_name(static_cast<schema::Entity>(ei))),
                    std::string(schema::event_type_name(static_cast<schema::Payload>(pi)))});
  }
  return *slot;
}

counter& hub_metrics::cached_reason(std::array<counter*, max_reasons>& cache, counter_family& f, schema::Reason r) {
  auto ri = static_cast<std::size_t>(r);
  if (ri >= max_reasons) ri = static_cast<std::size_t>(schema::Reason::internal_error);
  counter*& slot = cache[ri];
  if (slot == nullptr) slot = &f.with({std::string(schema::reason_name(static_cast<schema::Reason>(ri)))});
  return *slot;
}

counter& hub_metrics::events_in_for(schema::Entity e, schema::Payload p) { return cached_event(in_cache_, events_in, e, p); }
counter& hub_metrics::events_out_for(schema::Entity e, schema::Payload p) {
  return cached_event(out_cache_, events_out, e, p);
}
counter& hub_metrics::naks_for(schema::Reason r) { return cached_reason(nak_cache_, naks, r); }
counter& hub_metrics::errs_for(schema::Reason r) { return cached_reason(err_cache_, errs, r); }

}  // namespace hub::ops

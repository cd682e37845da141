#include "hub/ops/feed.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "schemas/schema.h"

namespace hub::ops {

using nlohmann::json;

namespace {

std::string text(const flatbuffers::String* s) { return s == nullptr ? std::string() : s->str(); }

std::string_view severity_name(schema::Severity s) {
  switch (s) {
    case schema::Severity::info: return "info";
    case schema::Severity::warning: return "warning";
    case schema::Severity::critical: return "critical";
  }
  return "info";
}

std::uint64_t u64(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return 0;
  if (it->is_number_unsigned()) return it->get<std::uint64_t>();
  if (it->is_number_integer()) return static_cast<std::uint64_t>(std::max<std::int64_t>(0, it->get<std::int64_t>()));
  return static_cast<std::uint64_t>(std::max(0.0, it->get<double>()));
}

}  // namespace

feed::feed(hub_metrics& metrics, health& h, status_slot& slot) : metrics_(metrics), health_(h), slot_(slot) {}

void feed::on_durable(const store::record_view& r) {
  // The broker verified these bytes before storing them.
  const schema::Envelope* e = schema::GetEnvelope(r.envelope.data());
  if (e == nullptr) return;
  if (!broker_counts_events_) metrics_.events_in_for(e->entity(), e->payload_type()).inc();

  if (const auto* hb = e->payload_as_AdapterHeartbeat()) {
    remember_heartbeat(*e, *hb, r.log_time);
  } else if (const auto* a = e->payload_as_CoherenceAlert()) {
    auto k = std::make_pair(text(a->rule_id()), text(a->key()));
    if (a->status() == schema::AlertStatus::resolved) {
      alerts_.erase(k);
    } else {
      auto [it, inserted] = alerts_.try_emplace(k);
      it->second.rule = k.first;
      it->second.key = k.second;
      it->second.country = text(e->country());
      it->second.severity = std::string(severity_name(a->severity()));
      if (inserted) it->second.since = r.log_time;
    }
  }
}

void feed::remember_heartbeat(const schema::Envelope& e, const schema::AdapterHeartbeat& hb, millis log_time) {
  std::string name = text(hb.adapter());
  if (name.empty()) name = text(e.source_system());
  heartbeat& h = adapters_[name];
  if (log_time < h.seen_at) return;  // an older heartbeat than the one known
  h.status.adapter = name;
  h.status.source = text(hb.source());
  h.status.backlog = hb.backlog();
  h.status.published = hb.published();
  h.status.skipped = hb.skipped();
  h.status.errors = hb.errors();
  h.seen_at = log_time;
}

std::size_t feed::recall_heartbeats(store::store& st, std::uint64_t max_records) {
  const offset end = st.end();
  offset from{end.value > max_records ? end.value - max_records : 0};
  std::uint64_t heartbeats = 0;
  while (from < end) {
    auto r = st.read(from, end, 65536, [&](const store::record_view& v) {
      // The topic says the event type: only heartbeats are opened.
      if (!v.topic.ends_with(".adapter_heartbeat")) return true;
      const schema::Envelope* e = schema::GetEnvelope(v.envelope.data());
      if (const auto* hb = e != nullptr ? e->payload_as_AdapterHeartbeat() : nullptr) {
        remember_heartbeat(*e, *hb, v.log_time);
        ++heartbeats;
      }
      return true;
    });
    if (!r) {
      spdlog::error("ops: cannot read the log's recent heartbeats from offset {}: {}; adapters are listed as they "
                    "send their next heartbeat", from.value, r.error().message());
      break;
    }
    if (r.value() <= from) break;
    from = r.value();
  }
  if (!adapters_.empty())
    spdlog::info("ops: {} adapter(s) recalled from {} heartbeat(s) in the log's last {} records", adapters_.size(),
                 heartbeats, max_records);
  return adapters_.size();
}

void feed::on_status(const std::string& status_json, millis now) {
  json j = json::parse(status_json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    if (!warned_bad_status_) spdlog::error("ops: the broker's status is not a JSON object; /api/status stays stale");
    warned_bad_status_ = true;
    return;
  }
  const json& counters = j.contains("counters") && j["counters"].is_object() ? j["counters"] : json::object();

  // Rates over the last 10 s.
  rates_.sample(now, u64(counters, "events_in"), u64(counters, "events_out"));
  rates_status r = rates_.rates();
  j["rates"] = {{"events_in_per_s", r.events_in_per_s},
                {"events_out_per_s", r.events_out_per_s},
                {"window_s", r.window_s}};

  // Adapters and alerts, from the log, unless the broker reports them itself.
  if (!j.contains("adapters") || !j["adapters"].is_array() || j["adapters"].empty()) {
    json list = json::array();
    for (const auto& [name, h] : adapters_) {
      list.push_back({{"adapter", h.status.adapter},
                      {"source", h.status.source},
                      {"last_heartbeat_ms_ago", now - h.seen_at},
                      {"backlog", h.status.backlog},
                      {"published", h.status.published},
                      {"skipped", h.status.skipped},
                      {"errors", h.status.errors}});
    }
    j["adapters"] = std::move(list);
  }
  if (!j.contains("alerts") || !j["alerts"].is_object() || !j["alerts"].contains("firing")) {
    status_snapshot tmp;
    for (const auto& [k, a] : alerts_) tmp.alerts_firing.push_back(a);
    j["alerts"] = json::parse(tmp.to_json())["alerts"];
  } else if (!j["alerts"].contains("by_country_severity")) {
    // The rules engine reports the firing list; the counts are derived here.
    json by = json::object();
    if (j["alerts"]["firing"].is_array()) {
      for (const auto& a : j["alerts"]["firing"]) {
        std::string country = a.value("country", std::string());
        json& c = by[country.empty() ? std::string("unknown") : country];
        if (c.is_null()) c = {{"info", 0}, {"warning", 0}, {"critical", 0}};
        json& n = c[a.value("severity", std::string("info"))];
        n = n.is_null() ? 1 : n.get<std::uint64_t>() + 1;
      }
    }
    j["alerts"]["by_country_severity"] = std::move(by);
  }
  if (!store_kind_.empty() && j.contains("store") && j["store"].is_object() && !j["store"].contains("kind"))
    j["store"]["kind"] = store_kind_;
  slot_.publish(j.dump());

  // Metrics from the same figures.
  if (auto it = j.find("clients"); it != j.end() && it->is_array())
    metrics_.clients_connected.set(static_cast<double>(it->size()));
  metrics_.mirror_readers.set(static_cast<double>(u64(j, "mirror_readers")));
  if (auto it = j.find("subscriptions"); it != j.end() && it->is_array()) {
    metrics_.subscriptions.set(static_cast<double>(it->size()));
    if (!j.contains("consumers")) {
      for (const auto& s : *it) {
        std::string durable = s.value("durable", std::string());
        if (!durable.empty()) metrics_.consumer_lag.with({durable}).set(static_cast<double>(u64(s, "lag")));
      }
    }
  }
  // Durable consumers with a committed offset, connected or not.
  if (auto it = j.find("consumers"); it != j.end() && it->is_array()) {
    for (const auto& c : *it) {
      std::string name = c.value("name", std::string());
      if (!name.empty()) metrics_.consumer_lag.with({name}).set(static_cast<double>(u64(c, "lag")));
    }
  }
  if (auto it = j.find("store"); it != j.end() && it->is_object()) {
    const json& st = *it;
    metrics_.log_records.set(static_cast<double>(u64(st, "records")));
    metrics_.log_bytes.set(static_cast<double>(u64(st, "bytes")));
    metrics_.log_segments.set(static_cast<double>(u64(st, "segments")));
    bool writable = st.value("writable", true);
    metrics_.store_writable.set(writable ? 1 : 0);
    std::string err = st.value("last_error", std::string());
    health_.set_store_writable(writable, writable ? std::string() : "store not writable: " + (err.empty() ? "write failed" : err));
  }
  metrics_.duplicates.advance_to(u64(counters, "duplicates"));
  metrics_.bytes_in.advance_to(u64(counters, "bytes_in"));
  metrics_.bytes_out.advance_to(u64(counters, "bytes_out"));
  metrics_.mirror_dropped.advance_to(u64(counters, "mirror_dropped"));
  metrics_.disconnects.advance_to(u64(counters, "disconnects"));
  metrics_.credit_stalls.advance_to(u64(counters, "credit_stalls"));
  metrics_.pipe_stalls.advance_to(u64(counters, "pipe_stalls"));
  metrics_.busy_polled_turns.advance_to(u64(counters, "busy_polled_turns"));
  metrics_.rules_evaluated.advance_to(u64(counters, "rules_evaluated"));
  if (auto it = j.find("rules"); it != j.end() && it->is_object()) {
    // The rules engine reports its evaluations per rule ({"R1": n, ...}); the counter is their sum.
    if (auto ev = it->find("evaluated"); ev != it->end() && ev->is_object()) {
      std::uint64_t total = 0;
      for (const auto& [rule, n] : ev->items())
        if (n.is_number_unsigned()) total += n.get<std::uint64_t>();
      metrics_.rules_evaluated.advance_to(total);
    } else {
      metrics_.rules_evaluated.advance_to(u64(*it, "evaluated"));
    }
  }
  for (const char* family : {"naks", "errs"}) {
    auto it = counters.find(family);
    if (it == counters.end() || !it->is_object()) continue;
    counter_family& f = std::string_view(family) == "naks" ? metrics_.naks : metrics_.errs;
    for (const auto& [reason, n] : it->items()) {
      if (n.is_number_unsigned() && n.get<std::uint64_t>() > 0) f.with({reason}).advance_to(n.get<std::uint64_t>());
    }
  }
  for (const auto& a : j["adapters"]) {
    std::string name = a.value("adapter", std::string());
    if (!name.empty())
      metrics_.adapter_heartbeat_age_seconds.with({name}).set(static_cast<double>(a.value("last_heartbeat_ms_ago", std::int64_t{0})) / 1000.0);
  }
  std::map<std::string, double> by_severity = {{"info", 0}, {"warning", 0}, {"critical", 0}};
  if (auto f = j["alerts"].find("firing"); f != j["alerts"].end() && f->is_array())
    for (const auto& a : *f) by_severity[a.value("severity", std::string("info"))] += 1;
  for (const auto& [sev, n] : by_severity) metrics_.alerts_firing.with({sev}).set(n);

  // The loop is turning and reporting: it accepts publishes (the store flag above says
  // whether they can be stored).
  health_.set_accepting(true);
}

}  // namespace hub::ops

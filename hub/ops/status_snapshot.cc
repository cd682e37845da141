#include "hub/ops/status_snapshot.h"

#include <nlohmann/json.hpp>

namespace hub::ops {

using nlohmann::json;

namespace {

// Reads j[key] into v when present; a wrong type throws json::type_error, which
// from_json turns into a status naming the field.
template <typename T>
void read(const json& j, const char* key, T& v) {
  auto it = j.find(key);
  if (it != j.end() && !it->is_null()) it->get_to(v);
}

}  // namespace

std::string status_snapshot::to_json() const {
  json j;
  j["hub_id"] = hub_id;
  j["version"] = version;
  j["uptime_s"] = uptime_s;
  j["store"] = {{"kind", store.kind},         {"begin", store.begin},     {"end", store.end},
                {"durable_end", store.durable_end}, {"records", store.records}, {"bytes", store.bytes},
                {"segments", store.segments}, {"writable", store.writable}, {"last_error", store.last_error}};
  j["counters"] = {{"events_in", counters.events_in},
                   {"events_out", counters.events_out},
                   {"duplicates", counters.duplicates},
                   {"bytes_in", counters.bytes_in},
                   {"bytes_out", counters.bytes_out},
                   {"mirror_dropped", counters.mirror_dropped},
                   {"credit_stalls", counters.credit_stalls},
                   {"pipe_stalls", counters.pipe_stalls},
                   {"clients_dropped", counters.clients_dropped},
                   {"disconnects", counters.disconnects},
                   {"rules_evaluated", counters.rules_evaluated},
                   {"busy_polled_turns", counters.busy_polled_turns},
                   {"naks", counters.naks},
                   {"errs", counters.errs}};
  j["rates"] = {{"events_in_per_s", rates.events_in_per_s},
                {"events_out_per_s", rates.events_out_per_s},
                {"window_s", rates.window_s}};
  j["clients"] = json::array();
  for (const auto& c : clients) {
    j["clients"].push_back({{"identity", c.identity},
                            {"name", c.name},
                            {"role", c.role},
                            {"last_seen_ms_ago", c.last_seen_ms_ago},
                            {"in_flight", c.in_flight}});
  }
  j["subscriptions"] = json::array();
  for (const auto& s : subscriptions) {
    j["subscriptions"].push_back({{"client", s.client},
                                  {"sub_id", s.sub_id},
                                  {"pattern", s.pattern},
                                  {"next", s.next},
                                  {"credit", s.credit},
                                  {"lag", s.lag},
                                  {"durable", s.durable}});
  }
  j["adapters"] = json::array();
  for (const auto& a : adapters) {
    j["adapters"].push_back({{"adapter", a.adapter},
                             {"source", a.source},
                             {"last_heartbeat_ms_ago", a.last_heartbeat_ms_ago},
                             {"backlog", a.backlog},
                             {"published", a.published},
                             {"skipped", a.skipped},
                             {"errors", a.errors}});
  }
  json firing = json::array();
  json by_country = json::object();
  for (const auto& a : alerts_firing) {
    firing.push_back({{"rule", a.rule},
                      {"key", a.key},
                      {"country", a.country},
                      {"severity", a.severity},
                      {"since", a.since}});
    json& c = by_country[a.country.empty() ? std::string("unknown") : a.country];
    if (c.is_null()) c = {{"info", 0}, {"warning", 0}, {"critical", 0}};
    json& n = c[a.severity];
    n = n.is_null() ? 1 : n.get<std::uint64_t>() + 1;
  }
  j["alerts"] = {{"firing", firing}, {"by_country_severity", by_country}};
  return j.dump();
}

result<status_snapshot> status_snapshot::from_json(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return status::invalid_argument("status JSON: not a JSON object; is the address that of a hub's HTTP endpoint?");
  status_snapshot s;
  const char* where = "";
  try {
    where = "top level";
    read(j, "hub_id", s.hub_id);
    read(j, "version", s.version);
    read(j, "uptime_s", s.uptime_s);
    if (auto it = j.find("store"); it != j.end() && it->is_object()) {
      where = "store";
      const json& st = *it;
      read(st, "kind", s.store.kind);
      read(st, "begin", s.store.begin);
      read(st, "end", s.store.end);
      read(st, "durable_end", s.store.durable_end);
      read(st, "records", s.store.records);
      read(st, "bytes", s.store.bytes);
      read(st, "segments", s.store.segments);
      read(st, "writable", s.store.writable);
      read(st, "last_error", s.store.last_error);
    }
    if (auto it = j.find("counters"); it != j.end() && it->is_object()) {
      where = "counters";
      const json& c = *it;
      read(c, "events_in", s.counters.events_in);
      read(c, "events_out", s.counters.events_out);
      read(c, "duplicates", s.counters.duplicates);
      read(c, "bytes_in", s.counters.bytes_in);
      read(c, "bytes_out", s.counters.bytes_out);
      read(c, "mirror_dropped", s.counters.mirror_dropped);
      read(c, "credit_stalls", s.counters.credit_stalls);
      read(c, "pipe_stalls", s.counters.pipe_stalls);
      read(c, "clients_dropped", s.counters.clients_dropped);
      read(c, "disconnects", s.counters.disconnects);
      read(c, "rules_evaluated", s.counters.rules_evaluated);
      read(c, "busy_polled_turns", s.counters.busy_polled_turns);
      read(c, "naks", s.counters.naks);
      read(c, "errs", s.counters.errs);
    }
    if (auto it = j.find("rates"); it != j.end() && it->is_object()) {
      where = "rates";
      read(*it, "events_in_per_s", s.rates.events_in_per_s);
      read(*it, "events_out_per_s", s.rates.events_out_per_s);
      read(*it, "window_s", s.rates.window_s);
    }
    if (auto it = j.find("clients"); it != j.end() && it->is_array()) {
      where = "clients";
      for (const auto& c : *it) {
        client_status cs;
        read(c, "identity", cs.identity);
        read(c, "name", cs.name);
        read(c, "role", cs.role);
        read(c, "last_seen_ms_ago", cs.last_seen_ms_ago);
        read(c, "in_flight", cs.in_flight);
        s.clients.push_back(std::move(cs));
      }
    }
    if (auto it = j.find("subscriptions"); it != j.end() && it->is_array()) {
      where = "subscriptions";
      for (const auto& c : *it) {
        subscription_status ss;
        read(c, "client", ss.client);
        read(c, "sub_id", ss.sub_id);
        read(c, "pattern", ss.pattern);
        read(c, "next", ss.next);
        read(c, "credit", ss.credit);
        read(c, "lag", ss.lag);
        read(c, "durable", ss.durable);
        s.subscriptions.push_back(std::move(ss));
      }
    }
    if (auto it = j.find("adapters"); it != j.end() && it->is_array()) {
      where = "adapters";
      for (const auto& c : *it) {
        adapter_status as;
        read(c, "adapter", as.adapter);
        read(c, "source", as.source);
        read(c, "last_heartbeat_ms_ago", as.last_heartbeat_ms_ago);
        read(c, "backlog", as.backlog);
        read(c, "published", as.published);
        read(c, "skipped", as.skipped);
        read(c, "errors", as.errors);
        s.adapters.push_back(std::move(as));
      }
    }
    if (auto it = j.find("alerts"); it != j.end() && it->is_object()) {
      where = "alerts.firing";
      if (auto f = it->find("firing"); f != it->end() && f->is_array()) {
        for (const auto& c : *f) {
          alert_status al;
          read(c, "rule", al.rule);
          read(c, "key", al.key);
          read(c, "country", al.country);
          read(c, "severity", al.severity);
          read(c, "since", al.since);
          s.alerts_firing.push_back(std::move(al));
        }
      }
    }
  } catch (const json::exception& e) {
    return status::invalid_argument(std::string("status JSON, in ") + where + ": " + e.what());
  }
  return s;
}

void status_slot::publish(std::string json_text) {
  std::lock_guard lock(mutex_);
  json_ = std::move(json_text);
}

std::optional<std::string> status_slot::read() const {
  std::lock_guard lock(mutex_);
  return json_;
}

void rate_meter::sample(millis now, std::uint64_t events_in, std::uint64_t events_out) {
  points_.push_back({now, events_in, events_out});
  // Keep one point at or before the window's start so the window is fully covered.
  while (points_.size() > 2 && points_[1].at <= now - window_ms_) points_.pop_front();
}

rates_status rate_meter::rates() const {
  rates_status r;
  if (points_.size() < 2) return r;
  const auto& a = points_.front();
  const auto& b = points_.back();
  if (b.at <= a.at) return r;
  double secs = static_cast<double>(b.at - a.at) / 1000.0;
  r.window_s = secs;
  r.events_in_per_s = b.in >= a.in ? static_cast<double>(b.in - a.in) / secs : 0.0;
  r.events_out_per_s = b.out >= a.out ? static_cast<double>(b.out - a.out) / secs : 0.0;
  return r;
}

}  // namespace hub::ops

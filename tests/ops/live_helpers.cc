#include "tests/ops/live_helpers.h"

#include <sstream>
#include <stdexcept>

#include <httplib.h>

#include "adapters/sdk/event.h"
#include "adapters/sdk/sdk.h"
#include "tests/support/envelopes.h"

namespace hub::test {

http_reply http_get(const std::string& address, const std::string& path) {
  httplib::Client c("http://" + address);
  c.set_connection_timeout(5, 0);
  c.set_read_timeout(5, 0);
  auto res = c.Get(path.c_str());
  if (!res) return {};
  return {res->status, res->body};
}

std::optional<nlohmann::json> get_status(const std::string& address) {
  auto r = http_get(address, "/api/status");
  if (r.status != 200) return std::nullopt;
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

std::optional<double> sample_sum(const std::string& scrape, const std::string& metric,
                                 const std::vector<std::string>& labels) {
  std::istringstream in(scrape);
  std::optional<double> total;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (line.compare(0, metric.size(), metric) != 0) continue;
    char next = line.size() > metric.size() ? line[metric.size()] : '\0';
    if (next != '{' && next != ' ') continue;  // another metric with this prefix
    auto space = line.rfind(' ');
    std::string label_text = line.substr(metric.size(), space - metric.size());
    bool match = true;
    for (const auto& l : labels) match = match && label_text.find(l) != std::string::npos;
    if (!match) continue;
    total = total.value_or(0) + std::stod(line.substr(space + 1));
  }
  return total;
}

std::size_t publish_test_events(const std::string& endpoint, std::size_t n, std::size_t pad_to,
                                const std::string& client_name) {
  sdk::publisher::options o;
  o.connection.endpoints = {endpoint};
  o.connection.client_name = client_name;
  sdk::publisher pub(o);
  for (std::size_t i = 0; i < n; ++i) {
    envelope_spec spec;
    spec.pad_to = pad_to;
    if (!pub.publish(make_envelope(spec))) break;
  }
  pub.flush(std::chrono::seconds(20));
  return static_cast<std::size_t>(pub.stats().acked);
}

std::string heartbeat_json(const std::string& adapter, std::uint64_t backlog, std::uint64_t published) {
  nlohmann::json j = {{"source_system", adapter},
                      {"entity", "hub"},
                      {"country", "SSD"},
                      {"source_record_id", adapter + "/heartbeat"},
                      {"payload_type", "adapter_heartbeat"},
                      {"payload",
                       {{"adapter", adapter},
                        {"source", "fixtures/" + adapter + ".csv"},
                        {"backlog", backlog},
                        {"published", published}}}};
  return j.dump();
}

std::vector<std::uint8_t> heartbeat_envelope(const std::string& adapter, std::uint64_t backlog,
                                             std::uint64_t published) {
  std::string err;
  auto bytes = sdk::envelope_from_json(heartbeat_json(adapter, backlog, published), &err);
  if (!bytes) throw std::runtime_error("heartbeat_envelope: " + err);
  return *bytes;
}

}  // namespace hub::test

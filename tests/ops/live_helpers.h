// Helpers for tests against a real hubd's HTTP endpoint: GET with a deadline, reading
// samples out of a scrape, publishing test events through the SDK.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hub::test {

struct http_reply {
  int status = 0;  // 0: no answer
  std::string body;
};

// GET http://<address><path>, 5 s timeout.
http_reply http_get(const std::string& address, const std::string& path);

// The /api/status document, or nullopt if the hub did not answer 200 with JSON.
std::optional<nlohmann::json> get_status(const std::string& address);

// Sum of every sample of `metric` whose label text contains every string in `labels`
// (e.g. {"entity=\"peacekeeping\""}); nullopt if there is no such sample. Samples of a
// histogram are addressed by their full names (hub_fsync_seconds_count).
std::optional<double> sample_sum(const std::string& scrape, const std::string& metric,
                                 const std::vector<std::string>& labels = {});

// Publishes `n` test envelopes (tests/support/envelopes.h) and waits for every ACK.
// Returns the number acknowledged.
std::size_t publish_test_events(const std::string& endpoint, std::size_t n, std::size_t pad_to = 0,
                                const std::string& client_name = "ops-test-publisher");

// An adapter's heartbeat event as hubctl publish reads it (one line of JSON), and as
// envelope bytes: entity hub, country SSD, payload adapter_heartbeat.
std::string heartbeat_json(const std::string& adapter, std::uint64_t backlog, std::uint64_t published);
std::vector<std::uint8_t> heartbeat_envelope(const std::string& adapter, std::uint64_t backlog,
                                             std::uint64_t published);

}  // namespace hub::test

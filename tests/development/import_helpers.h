// Helpers for the development and peacebuilding adapter tests: import a file through the
// library (no hub) and look events up by their source record id.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "adapters/common/adapter.h"
#include "schemas/events_generated.h"

namespace hub::test {

inline std::filesystem::path fixture(const std::string& rel) {
  return std::filesystem::path(HUB_FIXTURES_DIR) / rel;
}

struct imported {
  adapters::file_import result;
  std::vector<std::vector<std::uint8_t>> envelopes;

  // The envelope whose source_record_id is `id`, or nullptr.
  [[nodiscard]] const schema::Envelope* by_record(const std::string& id) const {
    for (const auto& e : envelopes) {
      const auto* env = schema::GetEnvelope(e.data());
      if (env->source_record_id() && env->source_record_id()->str() == id) return env;
    }
    return nullptr;
  }
  // Issues whose text contains `needle`.
  [[nodiscard]] std::vector<adapters::record_issue> issues_with(const std::string& needle) const {
    std::vector<adapters::record_issue> out;
    for (const auto& i : result.issues)
      if (i.to_string().find(needle) != std::string::npos) out.push_back(i);
    return out;
  }
};

// `def` must outlive the result: result.used points into it.
inline imported import_with(const adapters::adapter_definition& def, const std::filesystem::path& file,
                            const std::string& country = {}) {
  imported out;
  auto settings = adapters::default_settings(def);
  settings.country = country;
  out.result = adapters::import_file(def, settings, file, [&](std::vector<std::uint8_t> bytes) {
    out.envelopes.push_back(std::move(bytes));
  });
  return out;
}

// The amount in `currency` of a Money vector, or -1.
template <typename V>
double amount_in(const V* money, const std::string& currency) {
  if (!money) return -1;
  for (const auto* m : *money)
    if (m->currency() && m->currency()->str() == currency) return m->amount();
  return -1;
}

}  // namespace hub::test

// Feeds the default catalogue (deploy/rules/a4p.yaml) with 50 political strategies,
// 100k PoC mandate activities that stay without a partner (open R3 expectations), then
// a measured stream of mixed events, and prints events/s and VmHWM.
// Usage: rules_bench [open_expectations] [measured_events]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <variant>
#include <vector>

#include "hub/rules/engine.h"
#include "schemas/schema.h"

namespace {

using namespace hub::schema;
constexpr hub::millis day = 86'400'000;
constexpr hub::millis t0 = 1'735'689'600'000;

std::vector<std::uint8_t> activity(std::uint64_t n, Payload type, const std::string& country, const std::string& adm2,
                                   hub::millis start, int strategy) {
  flatbuffers::FlatBufferBuilder fbb(512);
  std::string rec = "rec-" + std::to_string(n);
  flatbuffers::Offset<void> payload;
  Entity entity = Entity::peacekeeping;
  if (type == Payload::MandateActivity) {
    payload = CreateMandateActivityDirect(fbb, rec.c_str(), "patrols", "MISSION", MandateArea::poc, Component::military,
                                          ActivityStatus::active, "protection").Union();
  } else if (type == Payload::SecurityIncident) {
    payload = CreateSecurityIncidentDirect(fbb, rec.c_str(), IncidentCategory::battle, nullptr, nullptr, nullptr, 2)
                  .Union();
  } else {
    entity = Entity::development;
    payload = CreateProgrammeActivityDirect(fbb, rec.c_str(), "programme", 0, nullptr, ActivityStatus::active).Union();
  }
  std::vector<flatbuffers::Offset<AdminArea>> areas{
      CreateAdminAreaDirect(fbb, 1, adm2.substr(0, 4).c_str(), nullptr, GeoResolution::exact),
      CreateAdminAreaDirect(fbb, 2, adm2.c_str(), nullptr, GeoResolution::exact)};
  auto geo = CreateGeoDirect(fbb, &areas);
  std::string sid = "PS-" + std::to_string(strategy);
  std::vector<flatbuffers::Offset<StrategyRef>> refs{CreateStrategyRefDirect(fbb, sid.c_str(), 1, "O1")};
  auto gender = CreateGenderDirect(fbb, GenderScheme::mission, "2", GenderLevel::significant);
  Id128 id(n * 2654435761ULL + 1, n + 1);
  Period period(start, 0, PeriodPrecision::day);
  auto root = CreateEnvelopeDirect(fbb, &id, "bench", entity, country.c_str(), geo, start, start,
                                   Classification::internal, nullptr, nullptr, nullptr, nullptr, &refs, gender,
                                   rec.c_str(), "1", &period, type, payload);
  FinishEnvelopeBuffer(fbb, root);
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

std::vector<std::uint8_t> strategy(int i, const std::string& country) {
  flatbuffers::FlatBufferBuilder fbb(512);
  std::vector<flatbuffers::Offset<StrategyObjective>> objs;
  for (int o = 1; o <= 5; ++o) {
    std::string oid = "O" + std::to_string(o);
    objs.push_back(CreateStrategyObjectiveDirect(fbb, oid.c_str(), "objective", nullptr, nullptr, nullptr, nullptr,
                                                 static_cast<std::uint8_t>(o)));
  }
  std::string sid = "PS-" + std::to_string(i);
  auto payload = CreatePoliticalStrategyDirect(fbb, sid.c_str(), 1, "strategy", t0 - 400 * day, 0, &objs).Union();
  Id128 id(0xabc000 + static_cast<std::uint64_t>(i), 7);
  auto root = CreateEnvelopeDirect(fbb, &id, "rco", Entity::coordination, country.c_str(), 0, t0 - 400 * day,
                                   t0 - 400 * day, Classification::internal, nullptr, nullptr, nullptr, nullptr,
                                   nullptr, 0, sid.c_str(), "1", nullptr, Payload::PoliticalStrategy, payload);
  FinishEnvelopeBuffer(fbb, root);
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

std::string country_of(int i) {
  std::string c = "AAA";
  c[1] = static_cast<char>('A' + i / 26 % 26);
  c[2] = static_cast<char>('A' + i % 26);
  return c;
}

long vm_hwm_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t open = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100'000;
  std::uint64_t measured = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 100'000;
  auto loaded = hub::rules::load_rule_files({std::string(HUB_SOURCE_DIR) + "/deploy/rules/a4p.yaml"});
  if (auto* errors = std::get_if<std::vector<hub::rules::load_error>>(&loaded)) {
    for (const auto& e : *errors) std::fprintf(stderr, "%s\n", hub::rules::to_string(e).c_str());
    return 1;
  }
  long before = vm_hwm_kb();
  hub::rules::engine eng(std::get<std::shared_ptr<const hub::rules::rule_set>>(loaded));
  std::vector<std::vector<std::uint8_t>> out;
  std::uint64_t n = 0, alerts = 0;
  hub::millis now = t0;
  for (int i = 0; i < 50; ++i) {
    auto b = strategy(i, country_of(i));
    eng.on_event(n++, now, *GetEnvelope(b.data()), out);
  }
  // Open expectations: PoC activities starting in the future, so none is overdue yet and
  // each stays waiting for a partner.
  for (std::uint64_t i = 0; i < open; ++i) {
    int s = static_cast<int>(i % 50);
    std::string adm2 = "P" + std::to_string(100 + s % 9) + std::to_string(10000 + i % 5000);
    auto b = activity(n, Payload::MandateActivity, country_of(s), adm2, now + 60 * day, s);
    eng.on_event(n++, now, *GetEnvelope(b.data()), out);
  }
  alerts += out.size();
  out.clear();
  auto setup = eng.stats();
  auto start = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < measured; ++i) {
    int s = static_cast<int>(i % 50);
    std::string adm2 = "P" + std::to_string(100 + s % 9) + std::to_string(20000 + i % 5000);
    Payload type = i % 3 == 0 ? Payload::SecurityIncident : i % 3 == 1 ? Payload::ProgrammeActivity : Payload::MandateActivity;
    auto b = activity(n, type, country_of(s), adm2, now + static_cast<hub::millis>(i % 30) * day, s);
    eng.on_event(n++, now, *GetEnvelope(b.data()), out);
    alerts += out.size();
    out.clear();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("rules_bench: %llu strategies, %llu open expectations after setup\n", 50ULL,
              static_cast<unsigned long long>(setup.open_expectations));
  std::printf("rules_bench: %llu events through %zu rules in %.2f s = %.0f events/s; %llu alert transitions\n",
              static_cast<unsigned long long>(measured), setup.evaluated.size(), secs,
              static_cast<double>(measured) / secs, static_cast<unsigned long long>(alerts));
  std::printf("rules_bench: VmHWM %ld kB (before the engine: %ld kB)\n", vm_hwm_kb(), before);
  return 0;
}

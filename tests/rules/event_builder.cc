#include "tests/rules/event_builder.h"

#include <catch2/catch.hpp>

#include "schemas/schema.h"

namespace hub::rules::test {
namespace {

schema::Entity entity_of(schema::Payload p) {
  switch (p) {
    case schema::Payload::MandateActivity:
    case schema::Payload::SecurityIncident:
    case schema::Payload::TransitionMilestone: return schema::Entity::peacekeeping;
    case schema::Payload::ProgrammeActivity: return schema::Entity::development;
    case schema::Payload::PeacebuildingProject: return schema::Entity::peacebuilding;
    case schema::Payload::CountryTeamActivity: return schema::Entity::country_team;
    default: return schema::Entity::coordination;
  }
}

std::uint64_t mix(const std::string& s, std::uint64_t h) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

}  // namespace

std::vector<std::uint8_t> build(const ev& e) {
  flatbuffers::FlatBufferBuilder fbb;
  using namespace schema;
  flatbuffers::Offset<void> payload;
  auto money = [&](double amount) { return CreateMoneyDirect(fbb, "USD", amount); };
  switch (e.type) {
    case Payload::MandateActivity:
      payload = CreateMandateActivityDirect(fbb, e.record.c_str(), e.title.c_str(), e.mission.c_str(), e.mandate,
                                            Component::civilian, e.status, e.family.c_str())
                    .Union();
      break;
    case Payload::ProgrammeActivity: {
      std::vector<flatbuffers::Offset<Money>> budgets;
      if (e.budget > 0) budgets.push_back(money(e.budget));
      std::vector<flatbuffers::Offset<SectorCode>> sectors;
      for (const auto& c : e.codes) {
        auto colon = c.find(':');
        sectors.push_back(CreateSectorCodeDirect(fbb, c.substr(0, colon).c_str(), c.substr(colon + 1).c_str()));
      }
      payload = CreateProgrammeActivityDirect(fbb, e.record.c_str(), e.title.c_str(), 0, nullptr, e.status, 2, 0, 0, 0,
                                              0, nullptr, nullptr, &sectors, nullptr, 0, nullptr, &budgets, nullptr,
                                              nullptr, e.humanitarian, nullptr, e.family.c_str())
                    .Union();
      break;
    }
    case Payload::PeacebuildingProject: {
      auto b = e.budget > 0 ? money(e.budget) : 0;
      auto g = e.gewe >= 0 ? money(e.gewe) : 0;
      payload = CreatePeacebuildingProjectDirect(fbb, e.record.c_str(), e.title.c_str(), "PRF", "2", "2.3", nullptr,
                                                 nullptr, b, g, e.status, 2024, e.family.c_str())
                    .Union();
      break;
    }
    case Payload::CountryTeamActivity: {
      auto org = CreateOrganisationDirect(fbb, "UNDP", "UNDP", "implementing");
      flatbuffers::Offset<SectorCode> sector = 0;
      if (!e.codes.empty()) {
        const auto& c = e.codes.front();
        auto colon = c.find(':');
        sector = CreateSectorCodeDirect(fbb, c.substr(0, colon).c_str(), c.substr(colon + 1).c_str());
      }
      payload = CreateCountryTeamActivityDirect(fbb, org, sector, e.title.c_str(), e.status, "2025-01", -1, -1, nullptr,
                                                nullptr, e.humanitarian, e.family.c_str())
                    .Union();
      break;
    }
    case Payload::TransitionMilestone: {
      std::vector<flatbuffers::Offset<flatbuffers::String>> rec;
      for (const auto& r : e.receiving) rec.push_back(fbb.CreateString(r));
      payload = CreateTransitionMilestoneDirect(fbb, e.record.c_str(), e.kind, e.mission.c_str(), e.planned, 0, nullptr,
                                                &rec, e.mstatus)
                    .Union();
      break;
    }
    case Payload::SecurityIncident:
      payload = CreateSecurityIncidentDirect(fbb, e.record.c_str(), e.category, nullptr, nullptr, nullptr, e.fatalities,
                                             -1, -1, -1, e.un_deaths, e.mission.c_str(), "mission", true)
                    .Union();
      break;
    case Payload::CommitmentProgress: {
      Period rp(e.rp_start, e.rp_end, PeriodPrecision::day);
      payload = CreateCommitmentProgressDirect(fbb, e.commitment.c_str(), e.indicator.empty() ? nullptr : e.indicator.c_str(), &rp, e.value, "%", 0, 100).Union();
      break;
    }
    case Payload::PoliticalStrategy: {
      std::vector<flatbuffers::Offset<StrategyObjective>> objs;
      for (const auto& o : e.objectives) {
        std::vector<flatbuffers::Offset<flatbuffers::String>> areas, fams;
        for (const auto& a : o.areas) areas.push_back(fbb.CreateString(a));
        for (const auto& f : o.families) fams.push_back(fbb.CreateString(f));
        std::vector<MandateArea> mandates(o.mandate_areas.begin(), o.mandate_areas.end());
        objs.push_back(CreateStrategyObjectiveDirect(fbb, o.id.c_str(), o.text.c_str(), nullptr, &mandates, &fams,
                                                     &areas, static_cast<std::uint8_t>(o.priority)));
      }
      payload = CreatePoliticalStrategyDirect(fbb, e.strategy_id.c_str(), e.version, "Political strategy",
                                              e.valid_from, e.valid_to, &objs)
                    .Union();
      break;
    }
    case Payload::AlertAcknowledgement:
      payload = CreateAlertAcknowledgementDirect(fbb, e.alert_id.c_str(), e.by.c_str(), e.note.c_str()).Union();
      break;
    case Payload::AlertSilence:
      payload = CreateAlertSilenceDirect(fbb, e.rule_id.c_str(), e.key.c_str(), e.until, e.note.c_str(), e.by.c_str())
                    .Union();
      break;
    default: FAIL("event_builder cannot build this payload type");
  }
  std::vector<flatbuffers::Offset<AdminArea>> areas;
  if (!e.adm1.empty()) areas.push_back(CreateAdminAreaDirect(fbb, 1, e.adm1.c_str(), nullptr, GeoResolution::exact));
  if (!e.adm2.empty()) areas.push_back(CreateAdminAreaDirect(fbb, 2, e.adm2.c_str(), nullptr, GeoResolution::exact));
  for (const auto& a : e.more_adm2) areas.push_back(CreateAdminAreaDirect(fbb, 2, a.c_str(), nullptr, GeoResolution::exact));
  auto geo = CreateGeoDirect(fbb, &areas);
  std::vector<flatbuffers::Offset<StrategyRef>> refs;
  for (std::size_t i = 0; i < e.refs.size(); ++i)
    refs.push_back(CreateStrategyRefDirect(fbb, e.refs[i].first.c_str(),
                                           i < e.ref_versions.size() ? e.ref_versions[i] : e.ref_version,
                                           e.refs[i].second.c_str()));
  flatbuffers::Offset<Gender> gender = 0;
  if (e.gender) gender = CreateGenderDirect(fbb, GenderScheme::iati_dac, "x", *e.gender);
  Id128 id(mix(e.source + "|" + e.record + "|" + e.revision, 1469598103934665603ULL), mix(e.record + e.revision, 7) | 1);
  Period period(e.start, e.end, PeriodPrecision::day);
  auto root = CreateEnvelopeDirect(fbb, &id, e.source.c_str(), e.entity.value_or(entity_of(e.type)),
                                   e.country.c_str(), geo, e.occurred, e.published != 0 ? e.published : e.occurred, Classification::internal,
                                   e.correlation.empty() ? nullptr : e.correlation.c_str(), nullptr, nullptr, nullptr,
                                   &refs, gender, e.record.c_str(), e.revision.c_str(), &period, e.type, payload);
  FinishEnvelopeBuffer(fbb, root);
  std::vector<std::uint8_t> out(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  REQUIRE(schema::check_envelope(out).envelope != nullptr);
  return out;
}

transition decode(const std::vector<std::uint8_t>& bytes) {
  auto check = schema::check_envelope(bytes);
  REQUIRE(check.envelope != nullptr);
  const auto* e = check.envelope;
  REQUIRE(e->entity() == schema::Entity::coordination);
  REQUIRE(schema::topic_of(*e) == "coordination." + e->country()->str() + ".coherence_alert");
  REQUIRE(e->classification() == schema::Classification::internal);
  const auto* a = e->payload_as_CoherenceAlert();
  REQUIRE(a != nullptr);
  transition t;
  auto s = [](const flatbuffers::String* v) { return v ? v->str() : std::string(); };
  t.rule = s(a->rule_id());
  t.key = s(a->key());
  t.status = a->status() == schema::AlertStatus::firing ? "firing" : "resolved";
  t.severity = schema::EnumNameSeverity(a->severity());
  t.title = s(a->title());
  t.explanation = s(a->explanation());
  t.alert_id = s(a->alert_id());
  t.anchor = s(a->anchor());
  t.closing_action = s(a->closing_action());
  t.objective = s(a->objective_id());
  t.envelope_id = schema::id_to_hex(*e->id());
  t.first_event_time = a->first_event_time();
  t.processed_at = a->processed_at();
  if (a->evidence())
    for (const auto* x : *a->evidence()) {
      t.evidence.push_back(s(x->excerpt()));
      t.evidence_ids.push_back(schema::id_to_hex(*x->event_id()));
    }
  return t;
}

harness::harness(const std::string& rules_file) : engine_(load_or_fail({rules_file})) {}

std::vector<transition> harness::append(std::vector<std::vector<std::uint8_t>>& out, millis log_time) {
  std::vector<transition> ts;
  // The broker appends each alert to the log; the engine reads it back like any event.
  for (std::size_t i = 0; i < out.size(); ++i) {
    ts.push_back(decode(out[i]));
    log_.emplace_back(out[i], log_time);
    std::vector<std::vector<std::uint8_t>> more;
    engine_.on_event(log_.size() - 1, log_time, *schema::GetEnvelope(out[i].data()), more);
    REQUIRE(more.empty());
  }
  return ts;
}

std::vector<transition> harness::feed_bytes(const std::vector<std::uint8_t>& bytes, millis log_time) {
  log_.emplace_back(bytes, log_time);
  std::vector<std::vector<std::uint8_t>> out;
  engine_.on_event(log_.size() - 1, log_time, *schema::GetEnvelope(bytes.data()), out);
  return append(out, log_time);
}

std::vector<transition> harness::feed(const ev& e, millis log_time) { return feed_bytes(build(e), log_time); }

std::vector<transition> harness::tick(millis now) {
  std::vector<std::vector<std::uint8_t>> out;
  engine_.on_tick(now, out);
  return append(out, now);
}

std::vector<transition> harness::of(const std::vector<transition>& all, const std::string& rule) {
  std::vector<transition> out;
  for (const auto& t : all)
    if (t.rule == rule) out.push_back(t);
  return out;
}

std::shared_ptr<const rule_set> load_or_fail(const std::vector<std::string>& files) {
  std::vector<std::filesystem::path> paths(files.begin(), files.end());
  auto r = load_rule_files(paths);
  if (auto* errors = std::get_if<std::vector<load_error>>(&r)) {
    for (const auto& e : *errors) UNSCOPED_INFO(to_string(e));
    FAIL("rule files did not load");
  }
  return std::get<std::shared_ptr<const rule_set>>(r);
}

std::string a4p_path() { return std::string(HUB_SOURCE_DIR) + "/deploy/rules/a4p.yaml"; }

}  // namespace hub::rules::test

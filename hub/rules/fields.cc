#include "hub/rules/fields.h"

#include <array>
#include <cstdio>
#include <ctime>

#include "schemas/schema.h"

namespace hub::rules {
namespace {

using schema::Envelope;
using schema::Payload;

field_value str(const flatbuffers::String* s) {
  field_value v;
  if (s != nullptr && s->size() > 0) {
    v.present = true;
    v.text = s->str();
  }
  return v;
}

field_value num(double n, bool present = true) {
  field_value v;
  v.present = present;
  v.number = n;
  return v;
}

field_value time_value(std::int64_t ms) { return num(static_cast<double>(ms), ms != 0); }

template <typename E>
field_value enum_value(E value, const char* (*name_of)(E)) {
  field_value v;
  v.present = true;
  v.text = name_of(value);
  return v;
}

field_value boolean(bool b) { return num(b ? 1 : 0); }

field_value area_of_level(const Envelope& e, unsigned level) {
  field_value v;
  if (e.geo() == nullptr || e.geo()->admin_areas() == nullptr) return v;
  for (const auto* a : *e.geo()->admin_areas()) {
    if (a != nullptr && a->level() == level && a->pcode() != nullptr && a->pcode()->size() > 0) {
      v.present = true;
      v.text = a->pcode()->str();
    }
  }
  return v;
}

double money_sum(const flatbuffers::Vector<flatbuffers::Offset<schema::Money>>* m, bool* any) {
  double total = 0;
  if (m == nullptr) return total;
  for (const auto* x : *m) {
    if (x == nullptr) continue;
    total += x->amount();
    *any = true;
  }
  return total;
}

const std::vector<Payload> activities = {Payload::MandateActivity, Payload::ProgrammeActivity,
                                         Payload::PeacebuildingProject,
                                         Payload::CountryTeamActivity};

const field_def table[] = {
    // -- every event
    {"event_type", field_type::string, {}, nullptr,
     [](const Envelope& e) {
       field_value v;
       v.present = true;
       v.text = std::string(schema::event_type_name(e.payload_type()));
       return v;
     }},
    {"entity", field_type::enumeration, {}, schema::EnumNamesEntity(),
     [](const Envelope& e) { return enum_value(e.entity(), schema::EnumNameEntity); }},
    {"country", field_type::string, {}, nullptr, [](const Envelope& e) { return str(e.country()); }},
    {"source_system", field_type::string, {}, nullptr,
     [](const Envelope& e) { return str(e.source_system()); }},
    {"source_record_id", field_type::string, {}, nullptr,
     [](const Envelope& e) { return str(e.source_record_id()); }},
    {"correlation_id", field_type::string, {}, nullptr,
     [](const Envelope& e) { return str(e.correlation_id()); }},
    {"occurred_at", field_type::time, {}, nullptr,
     [](const Envelope& e) { return time_value(e.occurred_at()); }},
    {"published_at", field_type::time, {}, nullptr,
     [](const Envelope& e) { return time_value(e.published_at()); }},
    {"period.start", field_type::time, {}, nullptr,
     [](const Envelope& e) { return e.period() ? time_value(e.period()->start()) : field_value{}; }},
    {"period.end", field_type::time, {}, nullptr,
     [](const Envelope& e) { return e.period() ? time_value(e.period()->end()) : field_value{}; }},
    {"geo.admin_areas", field_type::string_list, {}, nullptr,
     [](const Envelope& e) {
       field_value v;
       if (e.geo() == nullptr || e.geo()->admin_areas() == nullptr) return v;
       for (const auto* a : *e.geo()->admin_areas())
         if (a != nullptr && a->pcode() != nullptr && a->pcode()->size() > 0) v.list.push_back(a->pcode()->str());
       v.present = !v.list.empty();
       return v;
     }},
    {"geo.adm1", field_type::string, {}, nullptr, [](const Envelope& e) { return area_of_level(e, 1); }},
    {"geo.adm2", field_type::string, {}, nullptr, [](const Envelope& e) { return area_of_level(e, 2); }},
    {"geo.country_wide", field_type::boolean, {}, nullptr,
     [](const Envelope& e) {
       return boolean(!area_of_level(e, 1).present && !area_of_level(e, 2).present &&
                      !area_of_level(e, 3).present);
     }},
    {"a4p_areas", field_type::enum_list, {}, schema::EnumNamesThematicArea(),
     [](const Envelope& e) {
       field_value v;
       if (e.a4p_areas() == nullptr) return v;
       for (auto a : *e.a4p_areas()) v.list.emplace_back(schema::EnumNameThematicArea(static_cast<schema::ThematicArea>(a)));
       v.present = !v.list.empty();
       return v;
     }},
    {"strategy_refs.objective_id", field_type::string_list, {}, nullptr,
     [](const Envelope& e) {
       field_value v;
       if (e.strategy_refs() == nullptr) return v;
       for (const auto* r : *e.strategy_refs())
         if (r != nullptr && r->objective_id() != nullptr) v.list.push_back(r->objective_id()->str());
       v.present = !v.list.empty();
       return v;
     }},
    {"strategy_refs.strategy_id", field_type::string_list, {}, nullptr,
     [](const Envelope& e) {
       field_value v;
       if (e.strategy_refs() == nullptr) return v;
       for (const auto* r : *e.strategy_refs())
         if (r != nullptr && r->strategy_id() != nullptr) v.list.push_back(r->strategy_id()->str());
       v.present = !v.list.empty();
       return v;
     }},
    {"gender.scheme", field_type::enumeration, {}, schema::EnumNamesGenderScheme(),
     [](const Envelope& e) {
       // No gender table means the source gave no marker: scheme none, level none.
       return enum_value(e.gender() ? e.gender()->scheme() : schema::GenderScheme::none, schema::EnumNameGenderScheme);
     }},
    {"gender.level", field_type::enumeration, {}, schema::EnumNamesGenderLevel(),
     [](const Envelope& e) {
       return enum_value(e.gender() ? e.gender()->level() : schema::GenderLevel::none, schema::EnumNameGenderLevel);
     }},
    {"gender.gewe_share_pct", field_type::number, {}, nullptr,
     [](const Envelope& e) {
       return e.gender() ? num(e.gender()->gewe_share_pct(), e.gender()->gewe_share_pct() >= 0) : field_value{};
     }},
    // -- activities
    {"payload.status", field_type::enumeration, activities, schema::EnumNamesActivityStatus(),
     [](const Envelope& e) {
       switch (e.payload_type()) {
         case Payload::MandateActivity: return enum_value(e.payload_as_MandateActivity()->status(), schema::EnumNameActivityStatus);
         case Payload::ProgrammeActivity: return enum_value(e.payload_as_ProgrammeActivity()->status(), schema::EnumNameActivityStatus);
         case Payload::PeacebuildingProject: return enum_value(e.payload_as_PeacebuildingProject()->status(), schema::EnumNameActivityStatus);
         case Payload::CountryTeamActivity: return enum_value(e.payload_as_CountryTeamActivity()->status(), schema::EnumNameActivityStatus);
         default: return field_value{};
       }
     }},
    {"payload.sector_family", field_type::string, activities, nullptr,
     [](const Envelope& e) {
       switch (e.payload_type()) {
         case Payload::MandateActivity: return str(e.payload_as_MandateActivity()->sector_family());
         case Payload::ProgrammeActivity: return str(e.payload_as_ProgrammeActivity()->sector_family());
         case Payload::PeacebuildingProject: return str(e.payload_as_PeacebuildingProject()->sector_family());
         case Payload::CountryTeamActivity: return str(e.payload_as_CountryTeamActivity()->sector_family());
         default: return field_value{};
       }
     }},
    {"payload.title", field_type::string, activities, nullptr,
     [](const Envelope& e) {
       switch (e.payload_type()) {
         case Payload::MandateActivity: return str(e.payload_as_MandateActivity()->title());
         case Payload::ProgrammeActivity: return str(e.payload_as_ProgrammeActivity()->title());
         case Payload::PeacebuildingProject: return str(e.payload_as_PeacebuildingProject()->title());
         case Payload::CountryTeamActivity: return str(e.payload_as_CountryTeamActivity()->activity());
         default: return field_value{};
       }
     }},
    // "vocabulary:code" per sector, so that codes of different vocabularies never compare
    // equal: IATI sectors ("1:15170"), the 3W sector ("hxl:PRO"), the PBF focus area ("pbf:2.3").
    {"payload.sector_codes", field_type::string_list,
     {Payload::ProgrammeActivity, Payload::PeacebuildingProject, Payload::CountryTeamActivity}, nullptr,
     [](const Envelope& e) {
       field_value v;
       auto add = [&](const schema::SectorCode* c) {
         if (c == nullptr || c->code() == nullptr || c->code()->size() == 0) return;
         std::string vocab = c->vocabulary() && c->vocabulary()->size() ? c->vocabulary()->str() : "1";
         v.list.push_back(vocab + ":" + c->code()->str());
       };
       if (auto* p = e.payload_as_ProgrammeActivity(); p && p->sectors())
         for (const auto* c : *p->sectors()) add(c);
       if (auto* c = e.payload_as_CountryTeamActivity()) add(c->sector());
       if (auto* b = e.payload_as_PeacebuildingProject(); b && b->focus_area() && b->focus_area()->size())
         v.list.push_back("pbf:" + b->focus_area()->str());
       v.present = !v.list.empty();
       return v;
     }},
    {"payload.humanitarian", field_type::boolean, {Payload::ProgrammeActivity, Payload::CountryTeamActivity}, nullptr,
     [](const Envelope& e) {
       if (auto* p = e.payload_as_ProgrammeActivity()) return boolean(p->humanitarian());
       if (auto* c = e.payload_as_CountryTeamActivity()) return boolean(c->humanitarian());
       return field_value{};
     }},
    {"payload.budget", field_type::number, {Payload::ProgrammeActivity, Payload::PeacebuildingProject}, nullptr,
     [](const Envelope& e) {
       bool any = false;
       if (auto* p = e.payload_as_ProgrammeActivity()) {
         double t = money_sum(p->budgets(), &any);
         return num(t, any);
       }
       if (auto* b = e.payload_as_PeacebuildingProject())
         return b->approved_budget() ? num(b->approved_budget()->amount()) : field_value{};
       return field_value{};
     }},
    // -- mandate activities
    {"payload.mandate_area", field_type::enumeration, {Payload::MandateActivity}, schema::EnumNamesMandateArea(),
     [](const Envelope& e) { return enum_value(e.payload_as_MandateActivity()->mandate_area(), schema::EnumNameMandateArea); }},
    {"payload.component", field_type::enumeration, {Payload::MandateActivity}, schema::EnumNamesComponent(),
     [](const Envelope& e) { return enum_value(e.payload_as_MandateActivity()->component(), schema::EnumNameComponent); }},
    {"payload.mission", field_type::string, {Payload::MandateActivity, Payload::SecurityIncident, Payload::TransitionMilestone}, nullptr,
     [](const Envelope& e) {
       if (auto* m = e.payload_as_MandateActivity()) return str(m->mission());
       if (auto* s = e.payload_as_SecurityIncident()) return str(s->mission());
       if (auto* t = e.payload_as_TransitionMilestone()) return str(t->mission());
       return field_value{};
     }},
    // -- peacebuilding projects
    {"payload.gewe_allocation", field_type::number, {Payload::PeacebuildingProject}, nullptr,
     [](const Envelope& e) {
       auto* b = e.payload_as_PeacebuildingProject();
       return b->gewe_allocation() ? num(b->gewe_allocation()->amount()) : field_value{};
     }},
    {"payload.gewe_share_pct", field_type::number, {Payload::PeacebuildingProject}, nullptr,
     [](const Envelope& e) {
       auto* b = e.payload_as_PeacebuildingProject();
       if (b->gewe_allocation() == nullptr || b->approved_budget() == nullptr || b->approved_budget()->amount() <= 0)
         return field_value{};
       return num(100.0 * b->gewe_allocation()->amount() / b->approved_budget()->amount());
     }},
    // -- transition milestones
    {"payload.status", field_type::enumeration, {Payload::TransitionMilestone}, schema::EnumNamesMilestoneStatus(),
     [](const Envelope& e) { return enum_value(e.payload_as_TransitionMilestone()->status(), schema::EnumNameMilestoneStatus); }},
    {"payload.kind", field_type::enumeration, {Payload::TransitionMilestone}, schema::EnumNamesMilestoneKind(),
     [](const Envelope& e) { return enum_value(e.payload_as_TransitionMilestone()->kind(), schema::EnumNameMilestoneKind); }},
    {"payload.milestone_id", field_type::string, {Payload::TransitionMilestone}, nullptr,
     [](const Envelope& e) { return str(e.payload_as_TransitionMilestone()->milestone_id()); }},
    {"payload.planned_date", field_type::time, {Payload::TransitionMilestone}, nullptr,
     [](const Envelope& e) { return time_value(e.payload_as_TransitionMilestone()->planned_date()); }},
    {"payload.receiving_entities", field_type::string_list, {Payload::TransitionMilestone}, nullptr,
     [](const Envelope& e) {
       field_value v;
       auto* l = e.payload_as_TransitionMilestone()->receiving_entities();
       if (l == nullptr) return v;
       for (const auto* s : *l)
         if (s != nullptr && s->size() > 0) v.list.push_back(s->str());
       v.present = !v.list.empty();
       return v;
     }},
    // -- security incidents
    {"payload.category", field_type::enumeration, {Payload::SecurityIncident}, schema::EnumNamesIncidentCategory(),
     [](const Envelope& e) { return enum_value(e.payload_as_SecurityIncident()->category(), schema::EnumNameIncidentCategory); }},
    {"payload.target", field_type::string, {Payload::SecurityIncident}, nullptr,
     [](const Envelope& e) { return str(e.payload_as_SecurityIncident()->target()); }},
    {"payload.fatalities_best", field_type::number, {Payload::SecurityIncident}, nullptr,
     [](const Envelope& e) {
       auto f = e.payload_as_SecurityIncident()->fatalities_best();
       return num(f, f >= 0);
     }},
    {"payload.civilian_deaths", field_type::number, {Payload::SecurityIncident}, nullptr,
     [](const Envelope& e) {
       auto f = e.payload_as_SecurityIncident()->civilian_deaths();
       return num(f, f >= 0);
     }},
    {"payload.un_personnel_deaths", field_type::number, {Payload::SecurityIncident}, nullptr,
     [](const Envelope& e) {
       auto f = e.payload_as_SecurityIncident()->un_personnel_deaths();
       return num(f, f >= 0);
     }},
    // -- commitment progress
    {"payload.commitment_id", field_type::string, {Payload::CommitmentProgress}, nullptr,
     [](const Envelope& e) { return str(e.payload_as_CommitmentProgress()->commitment_id()); }},
    {"payload.indicator_id", field_type::string, {Payload::CommitmentProgress}, nullptr,
     [](const Envelope& e) { return str(e.payload_as_CommitmentProgress()->indicator_id()); }},
    {"payload.value", field_type::number, {Payload::CommitmentProgress}, nullptr,
     [](const Envelope& e) { return num(e.payload_as_CommitmentProgress()->value()); }},
    {"payload.reporting_period.start", field_type::time, {Payload::CommitmentProgress}, nullptr,
     [](const Envelope& e) {
       auto* p = e.payload_as_CommitmentProgress()->reporting_period();
       return p ? time_value(p->start()) : field_value{};
     }},
    {"payload.reporting_period.end", field_type::time, {Payload::CommitmentProgress}, nullptr,
     [](const Envelope& e) {
       auto* p = e.payload_as_CommitmentProgress()->reporting_period();
       return p ? time_value(p->end()) : field_value{};
     }},
};

bool applies(const field_def& d, Payload type) {
  if (d.on.empty()) return true;
  for (auto t : d.on)
    if (t == type) return true;
  return false;
}

}  // namespace

std::string_view field_type_name(field_type t) {
  switch (t) {
    case field_type::string: return "string";
    case field_type::number: return "number";
    case field_type::time: return "time";
    case field_type::boolean: return "boolean";
    case field_type::enumeration: return "enum";
    case field_type::string_list: return "list of strings";
    case field_type::enum_list: return "list of enum values";
  }
  return "unknown";
}

const field_def* find_field(std::string_view path, schema::Payload type) {
  for (const auto& d : table)
    if (d.path == path && applies(d, type)) return &d;
  return nullptr;
}

bool field_exists(std::string_view path) {
  for (const auto& d : table)
    if (d.path == path) return true;
  return false;
}

std::span<const field_def> all_fields() { return {table, std::size(table)}; }

bool enum_has(const field_def& def, std::string_view name) {
  if (def.enum_names == nullptr) return false;
  for (auto p = def.enum_names; *p != nullptr; ++p)
    if (name == *p) return true;
  return false;
}

field_value read_field(const schema::Envelope& e, std::string_view path) {
  const field_def* d = find_field(path, e.payload_type());
  if (d == nullptr || e.payload() == nullptr) return {};
  return d->get(e);
}

std::string format_date(std::int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return buf;
}

std::string format_value(const field_value& v, field_type t) {
  if (!v.present) return "(missing)";
  switch (t) {
    case field_type::string:
    case field_type::enumeration: return v.text;
    case field_type::time: return format_date(static_cast<std::int64_t>(v.number));
    case field_type::boolean: return v.number != 0 ? "true" : "false";
    case field_type::number: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%g", v.number);
      return buf;
    }
    case field_type::string_list:
    case field_type::enum_list: {
      std::string s = "[";
      for (std::size_t i = 0; i < v.list.size(); ++i) s += (i ? ", " : "") + v.list[i];
      return s + "]";
    }
  }
  return {};
}

}  // namespace hub::rules

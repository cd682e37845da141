// Loading and validating rule files. Every error names file:line (yaml-cpp marks are
// 0-based; we add one) and the loader goes on after an error so that one run reports
// everything wrong in a file.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "hub/rules/engine.h"
#include "hub/rules/rule_set.h"
#include "schemas/schema.h"

namespace hub::rules {

std::string to_string(const load_error& e) {
  return e.file + ":" + std::to_string(e.line) + ": " + e.message;
}

namespace {

const std::vector<schema::Payload> activity_types = {
    schema::Payload::MandateActivity, schema::Payload::ProgrammeActivity,
    schema::Payload::PeacebuildingProject, schema::Payload::CountryTeamActivity};

class loader {
 public:
  explicit loader(std::string file) : file_(std::move(file)) {}
  std::vector<load_error> errors;

  void error(const YAML::Node& n, std::string msg) {
    errors.push_back({file_, n.IsDefined() ? n.Mark().line + 1 : 0, std::move(msg)});
  }
  int line(const YAML::Node& n) const { return n.Mark().line + 1; }

  void allow_only(const YAML::Node& map, std::initializer_list<const char*> allowed, const char* what) {
    for (const auto& kv : map) {
      auto k = kv.first.as<std::string>("");
      bool ok = false;
      for (auto* a : allowed) ok = ok || k == a;
      if (!ok) {
        std::string list;
        for (auto* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
        error(kv.first, "unknown field '" + k + "' in " + what + " (allowed: " + list + ")");
      }
    }
  }

  std::optional<std::string> scalar(const YAML::Node& n, const char* what) {
    if (!n.IsScalar()) {
      error(n, std::string(what) + " must be a single value");
      return std::nullopt;
    }
    return n.Scalar();
  }

  std::optional<millis> duration(const YAML::Node& n, const char* what) {
    auto s = scalar(n, what);
    if (!s) return std::nullopt;
    std::string_view v = *s;
    bool neg = !v.empty() && v[0] == '-';
    if (neg || (!v.empty() && v[0] == '+')) v.remove_prefix(1);
    std::int64_t count = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), count);
    std::string_view unit(p, static_cast<std::size_t>(v.data() + v.size() - p));
    static const std::map<std::string_view, millis> units = {
        {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}, {"w", 604'800'000}};
    auto u = units.find(unit);
    if (ec != std::errc() || p == v.data() || u == units.end()) {
      error(n, std::string("bad duration '") + *s + "' for " + what +
                   ": write a whole number and a unit (ms, s, m, h, d, w), e.g. 90d or -30d");
      return std::nullopt;
    }
    return (neg ? -1 : 1) * count * u->second;
  }

  std::optional<schema::Severity> severity(const YAML::Node& n) {
    auto s = scalar(n, "severity");
    if (!s) return std::nullopt;
    for (auto v : schema::EnumValuesSeverity())
      if (*s == schema::EnumNameSeverity(v)) return v;
    error(n, "unknown severity '" + *s + "' (use info, warning or critical)");
    return std::nullopt;
  }

  std::vector<schema::Payload> event_types(const YAML::Node& n) {
    std::vector<schema::Payload> out;
    if (!n.IsDefined()) return out;
    if (!n.IsSequence()) {
      error(n, "event_types must be a list, e.g. [mandate_activity, activity]");
      return out;
    }
    for (const auto& t : n) {
      auto s = t.as<std::string>("");
      if (s == "activity") {
        out.insert(out.end(), activity_types.begin(), activity_types.end());
      } else if (auto p = schema::event_type_from_name(s)) {
        out.push_back(*p);
      } else {
        error(t, "unknown event type '" + s +
                     "' (use the topic names of docs/protocol.md, e.g. mandate_activity, or 'activity')");
      }
    }
    return out;
  }

  // Definitions of `path` for the given types; reports unknown fields.
  std::vector<const field_def*> defs_for(const YAML::Node& at, const std::string& path,
                                         const std::vector<schema::Payload>& types) {
    std::vector<const field_def*> defs;
    if (!field_exists(path)) {
      error(at, "unknown field '" + path + "' (see the field table in docs/rules.md)");
      return defs;
    }
    for (auto t : types)
      if (auto* d = find_field(path, t); d != nullptr && std::find(defs.begin(), defs.end(), d) == defs.end())
        defs.push_back(d);
    if (defs.empty()) {
      std::string names;
      for (auto t : types) names += std::string(names.empty() ? "" : ", ") + std::string(schema::event_type_name(t));
      error(at, "field '" + path + "' does not exist on event type(s) " + names);
    }
    return defs;
  }

  bool check_operand(const YAML::Node& n, const field_def& d, std::string* text, double* number, bool* boolean) {
    if (!n.IsScalar()) {
      error(n, "type mismatch: field '" + std::string(d.path) + "' takes a single value here");
      return false;
    }
    const std::string& s = n.Scalar();
    switch (d.type) {
      case field_type::enumeration:
      case field_type::enum_list:
        if (!enum_has(d, s)) {
          std::string names;
          for (auto p = d.enum_names; p && *p; ++p) names += std::string(names.empty() ? "" : ", ") + *p;
          error(n, "type mismatch: '" + s + "' is not a value of field '" + std::string(d.path) + "' (values: " + names + ")");
          return false;
        }
        *text = s;
        return true;
      case field_type::boolean:
        if (s != "true" && s != "false") {
          error(n, "type mismatch: field '" + std::string(d.path) + "' is a boolean; write true or false, not '" + s + "'");
          return false;
        }
        *boolean = s == "true";
        return true;
      case field_type::number:
      case field_type::time: {
        double v = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc() || p != s.data() + s.size()) {
          error(n, "type mismatch: field '" + std::string(d.path) + "' is a " + std::string(field_type_name(d.type)) +
                       "; '" + s + "' is not a number");
          return false;
        }
        *number = v;
        return true;
      }
      case field_type::string:
      case field_type::string_list:
        *text = s;
        return true;
    }
    return false;
  }

  std::vector<predicate> predicates(const YAML::Node& n, const std::vector<schema::Payload>& types,
                                    std::vector<std::string>* used) {
    std::vector<predicate> out;
    if (!n.IsDefined()) return out;
    if (!n.IsSequence()) {
      error(n, "a predicate list must be a list of {field: ..., <op>: ...}");
      return out;
    }
    static const std::map<std::string, op> ops = {
        {"equals", op::equals}, {"not_equals", op::not_equals}, {"in", op::in}, {"not_in", op::not_in},
        {"exists", op::exists}, {"missing", op::missing}, {"gt", op::gt}, {"ge", op::ge},
        {"lt", op::lt}, {"le", op::le}, {"prefix", op::prefix}};
    for (const auto& pn : n) {
      if (!pn.IsMap() || !pn["field"]) {
        error(pn, "a predicate needs 'field' and one operator (equals, not_equals, in, not_in, exists, missing, gt, ge, lt, le, prefix)");
        continue;
      }
      allow_only(pn, {"field", "equals", "not_equals", "in", "not_in", "exists", "missing", "gt", "ge", "lt", "le", "prefix"},
                 "predicate");
      predicate p;
      p.line = line(pn);
      p.field = pn["field"].as<std::string>("");
      auto defs = defs_for(pn["field"], p.field, types);
      if (defs.empty()) continue;
      if (used && std::find(used->begin(), used->end(), p.field) == used->end()) used->push_back(p.field);
      const YAML::Node* operand = nullptr;
      YAML::Node holder;
      int nops = 0;
      for (const auto& kv : pn) {
        auto k = kv.first.as<std::string>("");
        if (auto it = ops.find(k); it != ops.end()) {
          p.o = it->second;
          holder = kv.second;
          operand = &holder;
          ++nops;
        }
      }
      if (nops != 1) {
        error(pn, "a predicate on '" + p.field + "' needs exactly one operator");
        continue;
      }
      bool ok = true;
      for (const auto* d : defs) {
        bool numeric = d->type == field_type::number || d->type == field_type::time;
        bool textual = d->type == field_type::string || d->type == field_type::string_list;
        switch (p.o) {
          case op::exists:
          case op::missing:
            break;
          case op::gt:
          case op::ge:
          case op::lt:
          case op::le:
            if (!numeric) {
              error(*operand, "type mismatch: comparison on field '" + p.field + "' of type " +
                                  std::string(field_type_name(d->type)) + " (only numbers and times compare)");
              ok = false;
            } else {
              std::string t;
              bool b = false;
              ok = ok && check_operand(*operand, *d, &t, &p.number, &b);
            }
            break;
          case op::prefix:
            if (!textual) {
              error(*operand, "type mismatch: prefix on field '" + p.field + "' of type " +
                                  std::string(field_type_name(d->type)) + " (prefix needs a string)");
              ok = false;
            } else {
              p.texts = {operand->as<std::string>("")};
            }
            break;
          case op::equals:
          case op::not_equals: {
            std::string t;
            double num = 0;
            bool b = false;
            if (check_operand(*operand, *d, &t, &num, &b)) {
              p.texts = {t};
              p.number = num;
              p.boolean = b;
            } else {
              ok = false;
            }
            break;
          }
          case op::in:
          case op::not_in:
            if (!operand->IsSequence()) {
              error(*operand, "type mismatch: '" + std::string(p.o == op::in ? "in" : "not_in") + "' takes a list");
              ok = false;
              break;
            }
            p.texts.clear();
            for (const auto& v : *operand) {
              std::string t;
              double num = 0;
              bool b = false;
              if (d->type == field_type::number || d->type == field_type::time || d->type == field_type::boolean) {
                error(v, "type mismatch: 'in' needs a string or enum field, '" + p.field + "' is a " +
                             std::string(field_type_name(d->type)));
                ok = false;
                break;
              }
              if (check_operand(v, *d, &t, &num, &b)) p.texts.push_back(t);
              else ok = false;
            }
            break;
        }
      }
      if (ok) out.push_back(std::move(p));
    }
    return out;
  }

  selector parse_selector(const YAML::Node& n, const char* what, std::vector<std::string>* used) {
    selector s;
    if (!n.IsMap()) {
      error(n, std::string(what) + " must be a map with event_types and where");
      return s;
    }
    allow_only(n, {"event_types", "where", "period", "from", "to", "same", "other_entity"}, what);
    if (!n["event_types"]) error(n, std::string(what) + " needs event_types");
    s.types = event_types(n["event_types"]);
    s.where = predicates(n["where"], s.types, used);
    return s;
  }

  void key_fields(const YAML::Node& n, rule& r) {
    if (!n.IsDefined()) return;
    if (!n.IsSequence()) {
      error(n, "key must be a list of field names, e.g. [country, source_record_id]");
      return;
    }
    for (const auto& k : n) {
      bool optional = false;
      std::string s;
      if (k.IsMap()) {
        // {field: PATH, optional: true}: a missing value is written empty (trailing empty parts are left out)
        allow_only(k, {"field", "optional"}, "key part");
        if (!k["field"]) error(k, "a key part written as a map needs 'field'");
        s = k["field"].as<std::string>("");
        optional = k["optional"].as<bool>(false);
        if (optional && (s == "area" || s == "quarter"))
          error(k, "key part '" + s + "' cannot be optional (only event fields can)");
      } else {
        s = k.as<std::string>("");
        if (!r.key_optional.empty() && r.key_optional.back())
          error(k, "key part '" + s + "' follows an optional part: optional parts must come last");
      }
      if (s == "quarter" && r.kind != rule_kind::pair)
        error(k, "key 'quarter' (the quarter a pair starts to overlap) is only for pair rules");
      else if (s != "area" && s != "quarter")
        defs_for(k, s, r.on.types);
      r.key.push_back(s);
      r.key_optional.push_back(optional);
    }
  }

  // `also_firing: [R8, {rule: R8, match: scope}]`: a rule id (the other rule fires in the
  // country) or a map naming how the other alert must match (country or scope).
  void also_firing(const YAML::Node& n, rule& r) {
    const YAML::Node af = n["also_firing"];
    if (!af) return;
    if (!af.IsSequence()) {
      error(af, "also_firing must be a list of rule ids or {rule: ID, match: country|scope}");
      return;
    }
    if (r.kind != rule_kind::expectation && !(r.kind == rule_kind::absence && r.of_objectives))
      error(af, "also_firing is only for expectation rules and absence rules with of: strategy_objectives "
                "(the kinds whose severity is re-judged while other alerts fire)");
    for (const auto& e : af) {
      also_ref ref;
      ref.line = line(e);
      if (e.IsScalar()) {
        ref.rule = e.Scalar();
      } else if (e.IsMap()) {
        allow_only(e, {"rule", "match"}, "also_firing");
        if (auto id = e["rule"] ? scalar(e["rule"], "also_firing.rule") : std::nullopt) ref.rule = *id;
        else if (!e["rule"]) error(e, "an also_firing entry needs 'rule'");
        if (e["match"]) {
          auto m = scalar(e["match"], "also_firing.match");
          if (m && *m == "scope") ref.in_scope = true;
          else if (m && *m != "country")
            error(e["match"], "also_firing.match '" + *m + "': use country (anywhere in the country) or scope "
                              "(within the alert's objective scope or area)");
        }
      } else {
        error(e, "an also_firing entry is a rule id or {rule: ID, match: country|scope}");
        continue;
      }
      r.also_firing.push_back(std::move(ref));
    }
  }

  // `for_each: strategy_refs` (condition rules): the check judges each claimed objective
  // on its own and each finding is its own alert, so the key must name the element.
  void for_each(const YAML::Node& n, rule& r) {
    r.key_element.assign(r.key.size(), false);
    const YAML::Node fe = n["for_each"];
    if (!fe) return;
    auto what = scalar(fe, "for_each");
    if (!what) return;
    if (*what != "strategy_refs") {
      error(fe, "for_each '" + *what + "': only strategy_refs can be iterated (one finding per claimed objective)");
      return;
    }
    if (r.kind != rule_kind::condition) {
      error(fe, "'for_each' is only for condition rules");
      return;
    }
    if (r.check != strategy_check::out_of_scope && r.check != strategy_check::expired_reference) {
      error(fe, "for_each: strategy_refs needs check: out_of_scope or expired_reference (they judge each claimed "
                "objective; unlinked judges the activity as a whole)");
      return;
    }
    r.for_each = *what;
    bool named = false;
    for (std::size_t i = 0; i < r.key.size(); ++i) {
      r.key_element[i] = r.key[i].rfind(r.for_each + ".", 0) == 0;
      named = named || r.key_element[i];
    }
    if (!named)
      error(n["key"] ? n["key"] : fe,
            "with for_each: strategy_refs the key needs a part of the element (strategy_refs.objective_id or "
            "strategy_refs.strategy_id), or the findings of one subject would share one alert");
  }

  void parse_rule(const YAML::Node& n, const std::string& group, rule_set& set) {
    allow_only(n, {"id", "name", "version", "kind", "anchor", "a4p_plus", "severity", "severity_by", "escalate",
                   "on", "key", "area", "area_fallback", "skip_country_wide", "fire_if", "check", "check_grace",
                   "for", "for_each", "anchor_time", "expect", "fire_at", "ends_if", "of", "max_priority", "every", "grace",
                   "critical_after_missed", "window", "count_at_least", "sum", "resolve_fraction", "pair", "time",
                   "ratio", "field", "periods",
                   "requires_active", "also_firing", "title", "description", "closing_action"},
               "rule");
    rule r;
    r.group = group;
    r.file = file_;
    r.line = line(n);
    for (const char* req : {"id", "kind", "anchor", "title", "description", "closing_action", "severity"})
      if (!n[req]) error(n, std::string("rule needs '") + req + "'");
    r.id = n["id"].as<std::string>("");
    r.name = n["name"].as<std::string>("");
    r.version = n["version"].as<unsigned>(1);
    r.anchor = n["anchor"].as<std::string>("");
    r.a4p_plus = n["a4p_plus"].as<std::string>("");
    r.title = n["title"].as<std::string>("");
    r.description = n["description"].as<std::string>("");
    r.closing_action = n["closing_action"].as<std::string>("");
    if (n["severity"])
      if (auto s = severity(n["severity"])) r.severity = *s;
    auto kind = n["kind"].as<std::string>("");
    if (kind == "condition") r.kind = rule_kind::condition;
    else if (kind == "expectation") r.kind = rule_kind::expectation;
    else if (kind == "absence") r.kind = rule_kind::absence;
    else if (kind == "threshold") r.kind = rule_kind::threshold;
    else if (kind == "pair") r.kind = rule_kind::pair;
    else if (kind == "ratio") r.kind = rule_kind::ratio;
    else if (kind == "stagnation") r.kind = rule_kind::stagnation;
    else if (n["kind"])
      error(n["kind"], "unknown rule kind '" + kind +
                           "' (use condition, expectation, absence, threshold, pair, ratio or stagnation)");

    if (n["of"]) {
      if (n["of"].as<std::string>("") == "strategy_objectives") r.of_objectives = true;
      else error(n["of"], "'of' can only be strategy_objectives");
    }
    if (!n["on"]) error(n, "rule needs 'on' (the events it looks at)");
    else r.on = parse_selector(n["on"], "on", &r.fields_used);

    key_fields(n["key"], r);
    if (n["area"]) {
      r.area = n["area"].as<std::string>("");
      if (r.area != "adm1" && r.area != "adm2") error(n["area"], "area must be adm1 or adm2");
    }
    if (n["area_fallback"]) {
      r.area_fallback = n["area_fallback"].as<std::string>("");
      if (r.area_fallback != "adm1" || r.area != "adm2") error(n["area_fallback"], "area_fallback must be adm1, with area adm2");
    }
    r.skip_country_wide = n["skip_country_wide"].as<bool>(true);
    if (!r.area.empty() && std::find(r.key.begin(), r.key.end(), "area") == r.key.end())
      error(n, "a rule with 'area' must have 'area' in its key");

    if (n["severity_by"]) {
      for (const auto& s : n["severity_by"]) {
        severity_when w;
        allow_only(s, {"where", "share_above", "severity"}, "severity_by");
        if (s["share_above"]) {
          w.share_above = s["share_above"].as<double>(-1);
          if (w.share_above < 0 || w.share_above >= 100)
            error(s["share_above"], "share_above is a percentage from 0 to 100 (exclusive)");
          if (!n["check"] || n["check"].as<std::string>("") != "out_of_scope")
            error(s["share_above"], "share_above needs check: out_of_scope (the share of the activity out of scope)");
        } else if (!s["where"]) {
          error(s, "a severity_by entry needs 'where' or 'share_above'");
        }
        w.where = predicates(s["where"], r.on.types, &r.fields_used);
        if (auto sv = severity(s["severity"])) w.severity = *sv;
        r.severity_by.push_back(std::move(w));
      }
    }
    if (n["escalate"]) {
      for (const auto& s : n["escalate"]) {
        escalation e;
        if (auto d = duration(s["at"], "escalate.at")) e.at = *d;
        if (auto sv = severity(s["severity"])) e.severity = *sv;
        r.escalate.push_back(e);
      }
    }
    r.fire_if = predicates(n["fire_if"], r.on.types, &r.fields_used);
    if (n["check"]) {
      auto c = n["check"].as<std::string>("");
      if (c == "unlinked") r.check = strategy_check::unlinked;
      else if (c == "out_of_scope") r.check = strategy_check::out_of_scope;
      else if (c == "expired_reference") r.check = strategy_check::expired_reference;
      else error(n["check"], "unknown check '" + c + "' (use unlinked, out_of_scope or expired_reference)");
    }
    if (n["check_grace"]) r.check_grace = duration(n["check_grace"], "check_grace").value_or(0);
    for_each(n, r);
    if (n["for"]) r.for_duration = duration(n["for"], "for").value_or(0);
    if (n["anchor_time"]) {
      r.anchor_time = n["anchor_time"].as<std::string>("");
      for (auto* d : defs_for(n["anchor_time"], r.anchor_time, r.on.types))
        if (d->type != field_type::time) error(n["anchor_time"], "type mismatch: anchor_time '" + r.anchor_time + "' must be a time field");
    }
    if (n["expect"]) {
      for (const auto& a : n["expect"]) {
        alternative alt;
        alt.sel = parse_selector(a, "expect", nullptr);
        auto rel = a["period"].as<std::string>("overlaps");
        if (rel == "overlaps") alt.relation = period_relation::overlaps;
        else if (rel == "covers") alt.relation = period_relation::covers;
        else if (rel == "any") alt.relation = period_relation::any;
        else error(a["period"], "period must be overlaps, covers or any");
        if (a["from"]) alt.from = duration(a["from"], "from").value_or(0);
        if (a["to"]) alt.to = duration(a["to"], "to").value_or(0);
        alt.other_entity = a["other_entity"].as<bool>(true);
        if (a["same"])
          for (const auto& f : a["same"]) {
            auto s = f.as<std::string>("");
            defs_for(f, s, r.on.types);
            defs_for(f, s, alt.sel.types);
            alt.same.push_back(s);
          }
        r.expect.push_back(std::move(alt));
      }
    }
    if (n["fire_at"]) r.fire_at = duration(n["fire_at"], "fire_at").value_or(0);
    r.ends_if = predicates(n["ends_if"], r.on.types, nullptr);
    if (n["max_priority"]) r.max_priority = n["max_priority"].as<unsigned>(1);
    if (n["every"]) r.every = duration(n["every"], "every").value_or(0);
    if (n["grace"]) r.grace = duration(n["grace"], "grace").value_or(0);
    if (n["critical_after_missed"]) r.critical_after_missed = n["critical_after_missed"].as<unsigned>(2);
    if (n["window"]) r.window = duration(n["window"], "window").value_or(0);
    if (n["count_at_least"]) r.count_at_least = n["count_at_least"].as<double>(0);
    if (n["sum"]) {
      allow_only(n["sum"], {"field", "at_least"}, "sum");
      r.sum_field = n["sum"]["field"].as<std::string>("");
      for (auto* d : defs_for(n["sum"]["field"], r.sum_field, r.on.types))
        if (d->type != field_type::number) error(n["sum"]["field"], "type mismatch: sum needs a number field, '" + r.sum_field + "' is a " + std::string(field_type_name(d->type)));
      r.sum_at_least = n["sum"]["at_least"].as<double>(0);
      if (std::find(r.fields_used.begin(), r.fields_used.end(), r.sum_field) == r.fields_used.end())
        r.fields_used.push_back(r.sum_field);
    }
    if (n["resolve_fraction"]) r.resolve_fraction = n["resolve_fraction"].as<double>(0.5);
    if (n["requires_active"])
      for (const auto& s : n["requires_active"]) r.requires_active.push_back(parse_selector(s, "requires_active", nullptr));
    also_firing(n, r);

    if (n["pair"]) {
      const YAML::Node& p = n["pair"];
      allow_only(p, {"same", "same_if_present", "differ", "unless_same", "period"}, "pair");
      auto fields = [&](const char* name, std::vector<std::string>& into, bool lists_only) {
        if (!p[name]) return;
        if (!p[name].IsSequence()) {
          error(p[name], std::string("pair.") + name + " must be a list of field names");
          return;
        }
        for (const auto& f : p[name]) {
          auto path = f.as<std::string>("");
          for (auto* d : defs_for(f, path, r.on.types))
            if (lists_only && d->type != field_type::string_list && d->type != field_type::enum_list)
              error(f, "type mismatch: pair.same_if_present needs a list field, '" + path + "' is a " +
                           std::string(field_type_name(d->type)));
          into.push_back(path);
          if (std::find(r.fields_used.begin(), r.fields_used.end(), path) == r.fields_used.end())
            r.fields_used.push_back(path);
        }
      };
      fields("same", r.pair_same, false);
      fields("same_if_present", r.pair_same_if_present, true);
      fields("differ", r.pair_differ, false);
      fields("unless_same", r.pair_unless_same, false);
      auto rel = p["period"].as<std::string>("overlaps");
      if (rel == "overlaps") r.pair_period = period_relation::overlaps;
      else if (rel == "any") r.pair_period = period_relation::any;
      else error(p["period"], "pair.period must be overlaps or any");
    }
    if (n["time"]) {
      r.time_field = n["time"].as<std::string>("");
      for (auto* d : defs_for(n["time"], r.time_field, r.on.types))
        if (d->type != field_type::time) error(n["time"], "type mismatch: time '" + r.time_field + "' must be a time field");
    }
    if (n["ratio"]) {
      const YAML::Node& q = n["ratio"];
      allow_only(q, {"numerator", "denominator", "below_pct"}, "ratio");
      for (const char* part : {"numerator", "denominator"}) {
        if (!q[part]) {
          error(q, std::string("ratio needs '") + part + "' (a number field)");
          continue;
        }
        auto path = q[part].as<std::string>("");
        for (auto* d : defs_for(q[part], path, r.on.types))
          if (d->type != field_type::number)
            error(q[part], "type mismatch: ratio." + std::string(part) + " needs a number field, '" + path + "' is a " +
                               std::string(field_type_name(d->type)));
        (std::string(part) == "numerator" ? r.numerator : r.denominator) = path;
        if (std::find(r.fields_used.begin(), r.fields_used.end(), path) == r.fields_used.end())
          r.fields_used.push_back(path);
      }
      if (!q["below_pct"]) error(q, "ratio needs 'below_pct' (the alert fires while the ratio is below it)");
      else {
        double pct = q["below_pct"].as<double>(-1);
        if (pct <= 0 || pct > 100) error(q["below_pct"], "ratio.below_pct is a percentage above 0, at most 100");
        r.below = pct / 100.0;
      }
    }
    if (n["field"]) {
      r.stagnant_field = n["field"].as<std::string>("");
      for (auto* d : defs_for(n["field"], r.stagnant_field, r.on.types))
        if (d->type != field_type::number && d->type != field_type::string && d->type != field_type::enumeration)
          error(n["field"], "type mismatch: field '" + r.stagnant_field + "' must be a number, string or enum");
      if (std::find(r.fields_used.begin(), r.fields_used.end(), r.stagnant_field) == r.fields_used.end())
        r.fields_used.push_back(r.stagnant_field);
    }
    if (n["periods"]) {
      r.stagnant_periods = n["periods"].as<unsigned>(3);
      if (r.stagnant_periods < 2) error(n["periods"], "periods must be at least 2");
    }
    // Attributes that belong to one kind only.
    auto only = [&](const char* attr, rule_kind k, const char* kname) {
      if (n[attr] && r.kind != k) error(n[attr], std::string("'") + attr + "' is only for " + kname + " rules");
    };
    only("pair", rule_kind::pair, "pair");
    only("ratio", rule_kind::ratio, "ratio");
    if (n["time"] && r.kind != rule_kind::ratio && r.kind != rule_kind::absence)
      error(n["time"], "'time' is only for ratio and absence rules");
    if (r.kind == rule_kind::absence && n["time"]) {
      if (r.of_objectives) error(n["time"], "'time' does not apply to an absence rule of strategy_objectives");
      r.report_time = r.time_field;
    }
    if (r.kind == rule_kind::absence && n["ends_if"] && r.of_objectives)
      error(n["ends_if"], "'ends_if' does not apply to an absence rule of strategy_objectives");
    only("field", rule_kind::stagnation, "stagnation");
    only("periods", rule_kind::stagnation, "stagnation");

    // What each kind needs.
    switch (r.kind) {
      case rule_kind::condition:
        if (r.fire_if.empty() && r.check == strategy_check::none && !n["fire_if"])
          error(n, "a condition rule needs fire_if or check");
        break;
      case rule_kind::expectation:
        if (r.expect.empty()) error(n, "an expectation rule needs 'expect'");
        break;
      case rule_kind::absence:
        if (!r.of_objectives && r.every == 0 && (r.on.types.size() != 1 || r.on.types[0] != schema::Payload::CommitmentProgress))
          error(n, "an absence rule needs 'every' (or commitment_progress events, whose reporting period sets it)");
        break;
      case rule_kind::threshold:
        if (r.window <= 0) error(n, "a threshold rule needs a positive 'window'");
        if (r.count_at_least <= 0 && r.sum_field.empty()) error(n, "a threshold rule needs count_at_least or sum");
        break;
      case rule_kind::pair:
        if (!n["pair"]) error(n, "a pair rule needs 'pair' (same, differ, unless_same, period)");
        if (r.area.empty()) error(n, "a pair rule needs 'area' (pairs are found within one admin area)");
        break;
      case rule_kind::ratio:
        if (r.window <= 0) error(n, "a ratio rule needs a positive 'window'");
        if (!n["ratio"]) error(n, "a ratio rule needs 'ratio' (numerator, denominator, below_pct)");
        break;
      case rule_kind::stagnation:
        if (r.stagnant_field.empty()) error(n, "a stagnation rule needs 'field' (the value that must change)");
        if (r.on.types.size() != 1 || r.on.types[0] != schema::Payload::CommitmentProgress)
          error(n, "a stagnation rule reads reporting periods: its events must be [commitment_progress]");
        break;
    }
    if (r.key.empty() && !r.of_objectives) error(n, "rule needs 'key' (the fields that name one alert)");
    if (r.fields_used.empty()) r.fields_used.push_back("event_type");
    for (const auto& other : set.rules)
      if (other.id == r.id && !r.id.empty())
        error(n["id"], "rule id '" + r.id + "' is already used at " + other.file + ":" + std::to_string(other.line));
    set.rules.push_back(std::move(r));
  }

  void parse_file(const YAML::Node& root, rule_set& set) {
    if (!root.IsMap() || !root["groups"] || !root["groups"].IsSequence()) {
      error(root, "a rule file is a map with 'groups:', a list of {name, rules}");
      return;
    }
    allow_only(root, {"groups"}, "rule file");
    for (const auto& g : root["groups"]) {
      allow_only(g, {"name", "rules"}, "group");
      auto name = g["name"].as<std::string>("");
      if (!g["rules"] || !g["rules"].IsSequence()) {
        error(g, "group '" + name + "' needs 'rules:', a list");
        continue;
      }
      for (const auto& r : g["rules"]) {
        if (!r.IsMap()) {
          error(r, "a rule must be a map");
          continue;
        }
        try {
          parse_rule(r, name, set);
        } catch (const YAML::Exception& ex) {
          errors.push_back({file_, ex.mark.line + 1, "type mismatch: " + ex.msg});
        }
      }
    }
  }

 private:
  std::string file_;
};

void check_references(rule_set& set, std::vector<load_error>& errors) {
  std::map<std::string, const rule*> by_id;
  for (const auto& r : set.rules) by_id[r.id] = &r;
  for (const auto& r : set.rules)
    for (const auto& ref : r.also_firing)
      if (!by_id.count(ref.rule))
        errors.push_back({r.file, ref.line != 0 ? ref.line : r.line,
                          "rule " + r.id + ": also_firing names unknown rule '" + ref.rule + "'"});
  // Cycles in also_firing would make escalation depend on itself.
  std::map<std::string, int> mark;  // 0 new, 1 on stack, 2 done
  std::function<bool(const rule&, std::string&)> visit = [&](const rule& r, std::string& path) {
    mark[r.id] = 1;
    for (const auto& a : r.also_firing) {
      const std::string& ref = a.rule;
      auto it = by_id.find(ref);
      if (it == by_id.end()) continue;
      if (mark[ref] == 1) {
        path = r.id + " -> " + ref;
        return true;
      }
      if (mark[ref] == 0 && visit(*it->second, path)) {
        path = r.id + " -> " + path;
        return true;
      }
    }
    mark[r.id] = 2;
    return false;
  };
  for (const auto& r : set.rules) {
    std::string path;
    if (mark[r.id] == 0 && visit(r, path))
      errors.push_back({r.file, r.line, "cycle in also_firing: " + path + "; remove one of the references"});
  }
}

}  // namespace

std::variant<std::shared_ptr<const rule_set>, std::vector<load_error>> load_rule_files(
    const std::vector<std::filesystem::path>& files) {
  auto set = std::make_shared<rule_set>();
  std::vector<load_error> errors;
  if (files.empty()) errors.push_back({"", 0, "no rule files given"});
  for (const auto& f : files) {
    loader l(f.string());
    std::ifstream in(f);
    if (!in) {
      errors.push_back({f.string(), 0, "cannot open the rule file (does it exist and is it readable?)"});
      continue;
    }
    try {
      YAML::Node root = YAML::Load(in);
      l.parse_file(root, *set);
    } catch (const YAML::Exception& ex) {
      l.errors.push_back({f.string(), ex.mark.line + 1, "YAML syntax: " + ex.msg});
    }
    errors.insert(errors.end(), l.errors.begin(), l.errors.end());
    set->files.push_back(f.string());
  }
  check_references(*set, errors);
  if (!errors.empty()) return errors;
  return std::shared_ptr<const rule_set>(std::move(set));
}

std::vector<rule_summary> summarize(const rule_set& rules) {
  std::vector<rule_summary> out;
  static const char* kinds[] = {"condition", "expectation", "absence", "threshold", "pair", "ratio", "stagnation"};
  for (const auto& r : rules.rules)
    out.push_back({r.id, r.name, kinds[static_cast<int>(r.kind)], schema::EnumNameSeverity(r.severity), r.anchor,
                   r.file, r.line, r.version});
  return out;
}

}  // namespace hub::rules

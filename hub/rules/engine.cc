// The rules engine. Invariants:
// - `alerts` (per rule, per key) hold the computed state; `published_` holds what the
//   log says was published (learned from our own CoherenceAlert events, or set when we
//   emit). sync() turns the difference into transitions, so emitting is idempotent and
//   the replay protocol is "compute everything, then sync once".
// - Windows are judged on event time (occurred_at, period, planned dates); deadlines
//   (fire_at, for, absence due dates) are compared with the processing clock, which
//   is the largest log time or tick seen.
#include "hub/rules/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "hub/rules/rule_set.h"
#include "schemas/schema.h"

namespace hub::rules {
namespace {

using schema::Envelope;
using schema::Payload;
using schema::Severity;

constexpr millis day = 86'400'000;
constexpr millis lateness = 30 * day;   // events later than this are not re-windowed
constexpr std::size_t max_evidence = 8;

std::uint64_t fnv1a(std::string_view s, std::uint64_t h) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

schema::Id128 hash_id(std::string_view s) {
  return schema::Id128(fnv1a(s, 14695981039346656037ULL), fnv1a(s, 0x9e3779b97f4a7c15ULL) | 1);
}

std::string hex16(std::uint64_t v) {
  static constexpr char d[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = d[v & 0xf];
  return s;
}

Severity lower(Severity s) { return s == Severity::info ? s : static_cast<Severity>(static_cast<int>(s) - 1); }
Severity raise(Severity s) { return s == Severity::critical ? s : static_cast<Severity>(static_cast<int>(s) + 1); }
std::uint8_t severity_bit(Severity s) { return static_cast<std::uint8_t>(1U << (static_cast<unsigned>(s) & 7U)); }

struct evidence {
  schema::Id128 id;
  std::string excerpt;
  millis time = 0;
};

enum class tri : std::uint8_t { no, yes, missing };

tri eval(const predicate& p, const Envelope& e) {
  const field_def* d = find_field(p.field, e.payload_type());
  if (d == nullptr) return tri::yes;  // the field does not exist on this event type: not applicable
  field_value v = d->get(e);
  if (p.o == op::exists) return v.present ? tri::yes : tri::no;
  if (p.o == op::missing) return v.present ? tri::no : tri::yes;
  if (!v.present) return tri::missing;
  bool list = d->type == field_type::string_list || d->type == field_type::enum_list;
  auto any_of = [&](auto&& f) {
    if (list) return std::any_of(v.list.begin(), v.list.end(), f);
    return f(v.text);
  };
  switch (p.o) {
    case op::equals:
    case op::not_equals: {
      bool eq;
      if (d->type == field_type::boolean) eq = (v.number != 0) == p.boolean;
      else if (d->type == field_type::number || d->type == field_type::time) eq = v.number == p.number;
      else eq = any_of([&](const std::string& s) { return s == p.texts[0]; });
      return (eq == (p.o == op::equals)) ? tri::yes : tri::no;
    }
    case op::in:
    case op::not_in: {
      bool in = any_of([&](const std::string& s) { return std::find(p.texts.begin(), p.texts.end(), s) != p.texts.end(); });
      return (in == (p.o == op::in)) ? tri::yes : tri::no;
    }
    case op::gt: return v.number > p.number ? tri::yes : tri::no;
    case op::ge: return v.number >= p.number ? tri::yes : tri::no;
    case op::lt: return v.number < p.number ? tri::yes : tri::no;
    case op::le: return v.number <= p.number ? tri::yes : tri::no;
    case op::prefix:
      return any_of([&](const std::string& s) { return s.rfind(p.texts[0], 0) == 0; }) ? tri::yes : tri::no;
    default: return tri::no;
  }
}

tri eval_all(const std::vector<predicate>& ps, const Envelope& e) {
  tri out = tri::yes;
  for (const auto& p : ps) {
    tri t = eval(p, e);
    if (t == tri::no) return tri::no;
    if (t == tri::missing) out = tri::missing;
  }
  return out;
}

bool has_type(const selector& s, Payload t) { return std::find(s.types.begin(), s.types.end(), t) != s.types.end(); }

std::string subject_of(const Envelope& e) {
  return (e.source_system() ? e.source_system()->str() : "") + "/" +
         (e.source_record_id() && e.source_record_id()->size() ? e.source_record_id()->str() : schema::id_to_hex(*e.id()));
}

millis event_time(const Envelope& e) {
  if (e.occurred_at() != 0) return e.occurred_at();
  if (e.period() && e.period()->start() != 0) return e.period()->start();
  return e.published_at();
}

std::string excerpt_of(const Envelope& e, const std::vector<std::string>& fields) {
  std::string s(schema::event_type_name(e.payload_type()));
  if (e.source_record_id() && e.source_record_id()->size()) s += " " + e.source_record_id()->str();
  auto title = read_field(e, "payload.title");
  if (title.present) s += " \"" + title.text.substr(0, 80) + "\"";
  std::string parts;
  for (const auto& f : fields) {
    const field_def* d = find_field(f, e.payload_type());
    if (d == nullptr) continue;
    parts += (parts.empty() ? "" : ", ") + f + "=" + format_value(d->get(e), d->type);
  }
  if (!parts.empty()) s += ": " + parts;
  return s;
}

evidence evidence_of(const Envelope& e, const std::vector<std::string>& fields) {
  return {*e.id(), excerpt_of(e, fields), event_time(e)};
}

// ------------------------------------------------------------------ strategies

struct objective {
  std::string text;
  unsigned priority = 0;
  std::set<std::string> areas, mandate_areas, sector_families;
};

struct strategy {
  std::string id, country, title;
  unsigned version = 0;
  millis valid_from = 0, valid_to = 0;
  std::map<std::string, objective> objectives;
  evidence ev;
};

// ------------------------------------------------------------------ per-rule state

struct alert_state {
  bool firing = false;
  Severity severity = Severity::warning;
  std::vector<evidence> ev;
  std::vector<evidence> closing;   // what resolved it
  millis first_event_time = 0, last_event_time = 0;
  std::string country, area, strategy_id, objective_id, detail, note;
  unsigned strategy_version = 0;
};

struct published {
  bool firing = false;
  Severity severity = Severity::warning;
  std::string alert_id, rule_id, key, country;
  unsigned openings = 0;
  // Firing transitions of this opening and the severities they had: a return to a severity
  // already published (critical back to warning) gets its own envelope id, else the hub's
  // dedup would drop it as a repeat of the first. Learned from the log like the rest.
  unsigned steps = 0;
  std::uint8_t severities_seen = 0;
  millis first_processed_at = 0, processed_at = 0;
  std::string ack_by, ack_note;
  alert_state last;  // last emitted content, for a resolve of a rule that is gone
};

// What a condition found wrong with a subject; kept only while it is violated.
struct violation {
  std::string detail, strategy_id, objective_id;
  unsigned strategy_version = 0;
  evidence ev;
};

// A rule with `for_each`: one finding per element (claimed objective), with its own alert
// key, severity and `for` clock.
struct finding {
  std::string key;                  // the alert key, element parts included
  millis since = 0;                 // processing time it became violated
  Severity severity = Severity::warning;
  violation v;
};

// Memory: one per rule and subject, so it stays small. The envelope copy (kept for
// re-evaluation when the strategy changes, or for `for`) is one trimmed buffer shared by
// every rule that keeps it; the findings exist only while the subject is violated.
struct cond_subject {
  std::shared_ptr<const std::vector<std::uint8_t>> bytes;
  millis occurred = 0;
  millis since = 0;                 // processing time it became violated
  bool violated = false;            // for_each: some element is violated
  Severity severity = Severity::warning;
  std::unique_ptr<violation> v;
  std::unique_ptr<std::vector<finding>> each;  // for_each rules, instead of v
};

// Interned strings (subjects, keys, area indexes), referred to by pointer. The pool holds
// each distinct subject and key once, however many rules refer to it; compact() drops the
// strings no state refers to any more.
using istr = const std::string*;
struct by_value {
  bool operator()(istr a, istr b) const { return *a < *b; }
};
struct pair_by_value {
  bool operator()(const std::pair<istr, istr>& a, const std::pair<istr, istr>& b) const {
    return *a.first != *b.first ? *a.first < *b.first : *a.second < *b.second;
  }
};
std::pair<istr, istr> ordered(istr a, istr b) { return *a < *b ? std::pair{a, b} : std::pair{b, a}; }

struct trigger {
  std::string key, country, area_index;
  bool fallback = false;
  millis anchor = 0;
  std::vector<std::string> same;
  schema::Entity entity = schema::Entity::unspecified;
  Severity base = Severity::warning;
  millis time = 0;                                         // the trigger's event time
  std::shared_ptr<const std::vector<std::uint8_t>> bytes;  // the shared copy: evidence is made when needed
  bool satisfied = false;
};

struct candidate {
  std::size_t alt = 0;
  millis start = 0, end = 0;
  std::vector<std::string> same;
  schema::Entity entity = schema::Entity::unspecified;
  evidence ev;
};

struct expected_report {
  millis last_end = 0, period = 0;
  evidence last;
  std::string country;
};

struct hit {
  millis t = 0;
  double v = 0;
  evidence ev;
};

struct span {
  millis start = 0, end = 0;
};

// pair: one `on` event (the latest revision of its subject) waiting for or part of pairs.
struct pair_member {
  const std::string* bucket = nullptr;               // interned
  std::string country, area;
  millis occurred = 0, start = 0, end = 0;
  std::vector<std::string> differ, unless;          // values of pair.differ, pair.unless_same
  std::vector<std::vector<std::string>> lists;      // values of pair.same_if_present
  std::shared_ptr<const std::vector<std::uint8_t>> bytes;  // the shared copy: evidence is made when needed
};

// ratio: one subject's contribution to a key's sums.
struct share_item {
  std::string country;
  millis t = 0;
  double num = 0, den = 0;
  evidence ev;
};

// stagnation: one report's value for its reporting period.
struct reading {
  millis start = 0, end = 0;
  std::string value;
  evidence ev;
};

struct rule_state {
  const rule* r = nullptr;
  std::map<std::string, alert_state> alerts;
  std::set<std::string> dirty;
  bool flipped = false;   // an alert started or stopped firing: rules naming this one in also_firing re-judge
  // condition
  std::unordered_map<istr, cond_subject> subjects;                        // alert key -> subject
  // expectation
  std::unordered_map<istr, trigger> triggers;                               // subject -> trigger
  std::unordered_map<std::string, std::set<istr, by_value>> triggers_by_key; // alert key -> subjects
  std::unordered_map<std::string, std::vector<istr>> triggers_by_area;      // area index -> subjects
  // area index -> candidates; one candidate is shared by its admin 1 and admin 2 index
  std::unordered_map<std::string, std::vector<std::shared_ptr<const candidate>>> candidates;
  // subject -> its candidates (the latest revision only) and the indexes they are in
  std::unordered_map<istr, std::vector<std::pair<std::shared_ptr<const candidate>, std::vector<std::string>>>>
      candidate_of;
  // absence
  std::unordered_map<std::string, expected_report> reports;
  std::unordered_map<std::string, evidence> last_linked;                    // country|strategy|objective
  // threshold
  std::unordered_map<std::string, std::vector<hit>> hits;
  std::unordered_map<std::string, std::unordered_map<istr, span>> active;   // area index -> subject -> span
  // pair
  std::unordered_map<istr, pair_member> members;                           // subject -> member
  std::unordered_map<std::string, std::vector<istr>> buckets;              // area + same values -> subjects
  std::unordered_map<istr, std::map<istr, std::string, by_value>> partners;  // subject -> partner -> alert key
  std::unordered_map<std::string, std::set<std::pair<istr, istr>, pair_by_value>> pairs;  // alert key -> pairs
  std::multimap<millis, istr> ending;                                      // period end -> subject
  // ratio
  std::unordered_map<std::string, std::map<std::string, share_item>> items;  // key -> subject -> item
  std::unordered_map<std::string, std::string> item_key;                   // subject -> key
  std::map<std::string, millis> next_change;                               // key -> event time its sums change
  // stagnation
  std::unordered_map<std::string, std::vector<reading>> readings;          // key -> last reports by period
  std::uint64_t evaluated = 0, skipped = 0;
};

std::string quarter_of(millis t) {
  std::string d = format_date(t);  // YYYY-MM-DD
  int month = std::atoi(d.substr(5, 2).c_str());
  return d.substr(0, 4) + "-Q" + std::to_string((month - 1) / 3 + 1);
}

// Lists of "vocabulary:code" values are compared within a vocabulary: compatible unless
// both name codes of a common vocabulary and share none of them.
bool codes_compatible(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a.empty() || b.empty()) return true;
  auto vocab = [](const std::string& v) {
    auto c = v.find(':');
    return c == std::string::npos ? std::string() : v.substr(0, c);
  };
  bool common = false;
  for (const auto& x : a)
    for (const auto& y : b) {
      if (vocab(x) != vocab(y)) continue;
      common = true;
      if (x == y) return true;
    }
  return !common;
}

std::string area_index(const std::string& country, int level, const std::string& code) {
  return country + "|" + std::to_string(level) + "|" + code;
}

bool overlaps(millis s1, millis e1, millis s2, millis e2) {
  if (e1 == 0) e1 = std::numeric_limits<millis>::max();
  if (e2 == 0) e2 = std::numeric_limits<millis>::max();
  return s1 <= e2 && s2 <= e1;
}

}  // namespace

struct engine::impl {
  std::shared_ptr<const rule_set> rules;
  std::map<std::string, rule_state> states;  // by rule id
  std::map<std::string, published> pub;      // rule id + '\x1f' + key
  std::map<std::string, std::map<unsigned, strategy>> strategies;
  std::map<std::string, std::pair<millis, std::string>> silences;  // rule|key (key "*" for all) -> until, reason
  millis clock = 0, watermark = 0;
  // (time, country, strategy id, version): when a strategy check's answer may change
  std::set<std::tuple<millis, std::string, std::string, unsigned>> strategy_edges;
  std::unordered_set<std::string> pool;                              // interned strings (istr)
  std::shared_ptr<const std::vector<std::uint8_t>> current_copy;     // of the event being judged
  bool replaying = false;
  std::uint64_t events = 0, emitted = 0;
  std::size_t pool_live = 0;                 // pool size after the last compact()
  std::uint64_t compacted_events = 0;        // events at the last compact()
  millis compacted_clock = 0;                // processing time of the last compact()
  mutable std::mutex mu;

  // ---------------------------------------------------------------- helpers

  std::vector<const strategy*> in_force(const std::string& country, millis t) const {
    std::vector<const strategy*> out;
    for (const auto& [id, versions] : strategies) {
      for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
        const strategy& s = it->second;
        if (s.country != country) continue;
        if (s.valid_from <= t && (s.valid_to == 0 || t <= s.valid_to)) {
          out.push_back(&s);
          break;
        }
      }
    }
    return out;
  }

  std::string pub_key(const std::string& rule_id, const std::string& key) const { return rule_id + '\x1f' + key; }

  istr intern(const std::string& s) { return &*pool.insert(s).first; }

  bool silenced(const std::string& rule_id, const std::string& key) const {
    for (const auto& k : {rule_id + "|" + key, rule_id + "|*"}) {
      auto it = silences.find(k);
      if (it != silences.end() && clock < it->second.first) return true;
    }
    return false;
  }

  void set_alert(rule_state& st, const std::string& key, alert_state a) {
    alert_state& cur = st.alerts[key];
    if (cur.firing != a.firing) st.flipped = true;
    cur = std::move(a);
    st.dirty.insert(key);
  }

  void clear_alert(rule_state& st, const std::string& key, std::vector<evidence> closing) {
    auto it = st.alerts.find(key);
    if (it == st.alerts.end()) return;
    if (it->second.firing) {
      it->second.firing = false;
      st.flipped = true;
      it->second.closing = std::move(closing);
      st.dirty.insert(key);
    }
  }

  std::string render(const std::string& tmpl, const rule& r, const std::string& key, const alert_state& a) const {
    std::string out;
    for (std::size_t i = 0; i < tmpl.size(); ++i) {
      if (tmpl[i] == '{') {
        auto j = tmpl.find('}', i);
        if (j != std::string::npos) {
          auto name = tmpl.substr(i + 1, j - i - 1);
          std::string v;
          bool known = true;
          if (name == "key") v = key;
          else if (name == "country") v = a.country;
          else if (name == "area") v = a.area.empty() ? "(country-wide)" : a.area;
          else if (name == "detail") v = a.detail;
          else if (name == "objective") v = a.objective_id;
          else if (name == "strategy") v = a.strategy_id;
          else if (name == "anchor") v = r.anchor;
          else if (name == "count") v = std::to_string(a.ev.size());
          else known = false;
          if (known) {
            out += v;
            i = j;
            continue;
          }
        }
      }
      out += tmpl[i];
    }
    return out;
  }

  // `repeat`: a firing transition back to a severity this opening already had.
  std::vector<std::uint8_t> build(const rule* r, const std::string& rule_id, const std::string& key,
                                  const alert_state& a, const published& p, bool firing, bool repeat) {
    flatbuffers::FlatBufferBuilder fbb(1024);
    std::vector<flatbuffers::Offset<schema::AlertEvidence>> ev;
    const auto& list = firing ? a.ev : (a.closing.empty() ? a.ev : a.closing);
    for (const auto& e : list) ev.push_back(schema::CreateAlertEvidenceDirect(fbb, &e.id, e.excerpt.c_str()));
    std::string title = r ? render(r->title, *r, key, a) : rule_id + " " + key;
    std::string expl = r ? render(r->description, *r, key, a) : "the rule is no longer loaded";
    if (!a.note.empty()) expl += " " + a.note;
    if (!firing) {
      title = "resolved: " + title;
      expl = (a.closing.empty() ? std::string("The condition no longer holds.")
                                : "Closed by " + a.closing.front().excerpt + ".") +
             " Was: " + expl;
    }
    auto alert = schema::CreateCoherenceAlertDirect(
        fbb, rule_id.c_str(), r ? r->version : 0, key.c_str(),
        firing ? schema::AlertStatus::firing : schema::AlertStatus::resolved, a.severity, title.c_str(),
        expl.c_str(), &ev, a.strategy_id.c_str(), a.strategy_version, a.objective_id.c_str(),
        r ? r->anchor.c_str() : "", r ? r->closing_action.c_str() : "", a.first_event_time, a.last_event_time,
        p.first_processed_at, clock, p.alert_id.c_str());
    std::string transition = p.alert_id + "|" + (firing ? "firing" : "resolved") + "|" +
                             std::string(schema::EnumNameSeverity(a.severity));
    if (firing && repeat) transition += "|" + std::to_string(p.steps);
    schema::Id128 id = hash_id(transition);
    schema::Id128 cause = list.empty() ? schema::Id128() : list.back().id;
    flatbuffers::Offset<schema::Geo> geo = 0;
    if (!a.area.empty()) {
      std::vector<flatbuffers::Offset<schema::AdminArea>> areas{
          schema::CreateAdminAreaDirect(fbb, static_cast<std::uint8_t>(a.note.empty() && r && r->area == "adm2" ? 2 : 1),
                                        a.area.c_str(), nullptr, schema::GeoResolution::exact)};
      geo = schema::CreateGeoDirect(fbb, &areas);
    }
    std::vector<schema::StrategyRef> dummy;
    flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<schema::StrategyRef>>> refs = 0;
    if (!a.strategy_id.empty()) {
      std::vector<flatbuffers::Offset<schema::StrategyRef>> rv{
          schema::CreateStrategyRefDirect(fbb, a.strategy_id.c_str(), a.strategy_version, a.objective_id.c_str())};
      refs = fbb.CreateVector(rv);
    }
    auto country = fbb.CreateString(a.country.empty() ? "XXX" : a.country);
    auto src = fbb.CreateString(source_system);
    auto corr = fbb.CreateString(p.alert_id);
    schema::EnvelopeBuilder eb(fbb);
    eb.add_id(&id);
    eb.add_source_system(src);
    eb.add_entity(schema::Entity::coordination);
    eb.add_country(country);
    if (!geo.IsNull()) eb.add_geo(geo);
    eb.add_occurred_at(a.last_event_time != 0 ? a.last_event_time : clock);
    eb.add_published_at(clock);
    eb.add_classification(schema::Classification::internal);
    eb.add_correlation_id(corr);
    eb.add_causation_id(&cause);
    if (!refs.IsNull()) eb.add_strategy_refs(refs);
    eb.add_payload_type(Payload::CoherenceAlert);
    eb.add_payload(alert.Union());
    auto root = eb.Finish();
    schema::FinishEnvelopeBuffer(fbb, root);
    return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
  }

  void sync_one(const rule* r, const std::string& rule_id, const std::string& key, const alert_state* a,
                std::vector<std::vector<std::uint8_t>>* out) {
    if (replaying) return;
    published& p = pub[pub_key(rule_id, key)];
    bool want = a != nullptr && a->firing;
    if (want && !p.firing && !silenced(rule_id, key)) {
      ++p.openings;
      p.alert_id = hex16(fnv1a(rule_id + "|" + key + "|" + std::to_string(p.openings), 14695981039346656037ULL));
      p.first_processed_at = clock;
    } else if (want && p.firing && p.severity != a->severity) {
      // escalation or de-escalation: a new firing transition with the new severity
    } else if (!want && p.firing) {
      // resolve
    } else {
      return;
    }
    bool opening = want && !p.firing;
    p.rule_id = rule_id;
    p.key = key;
    p.country = a ? a->country : p.country;
    p.firing = want;
    p.processed_at = clock;
    const alert_state& content = a ? *a : p.last;
    alert_state c = content;
    if (!want && !a) c.closing.clear();
    p.severity = c.severity;
    bool repeat = false;
    if (want) {
      std::uint8_t bit = severity_bit(c.severity);
      p.steps = opening ? 1 : p.steps + 1;
      repeat = !opening && (p.severities_seen & bit) != 0;
      p.severities_seen = static_cast<std::uint8_t>((opening ? 0 : p.severities_seen) | bit);
    }
    if (out) out->push_back(build(r, rule_id, key, c, p, want, repeat));
    p.last = c;
    if (!want) {
      p.ack_by.clear();
      p.ack_note.clear();
    }
    ++emitted;
  }

  void sync(rule_state& st, std::vector<std::vector<std::uint8_t>>* out) {
    for (const auto& key : st.dirty) {
      auto it = st.alerts.find(key);
      sync_one(st.r, st.r->id, key, it == st.alerts.end() ? nullptr : &it->second, out);
    }
    st.dirty.clear();
  }

  void sync_all(std::vector<std::vector<std::uint8_t>>* out) {
    for (auto& [id, st] : states) {
      for (auto& [key, a] : st.alerts) st.dirty.insert(key);
      sync(st, out);
    }
    // Published alerts nobody computes any more (their rule is gone, or the state no
    // longer holds them): resolve.
    for (auto& [pk, p] : pub) {
      if (!p.firing) continue;
      auto st = states.find(p.rule_id);
      if (st != states.end() && st->second.alerts.count(p.key) && st->second.alerts[p.key].firing) continue;
      const rule* r = st != states.end() ? st->second.r : nullptr;
      alert_state* a = nullptr;
      if (st != states.end()) {
        auto it = st->second.alerts.find(p.key);
        if (it != st->second.alerts.end()) a = &it->second;
      }
      std::string rid = p.rule_id, key = p.key;
      sync_one(r, rid, key, a, out);
    }
  }

  // Severity of an alert from the rule's base, escalations relative to `anchor`,
  // admin-level fallback, and also_firing. `scope`: the P-code prefixes the alert is about
  // (an objective's admin_areas_in_scope, or the alert's area); empty = country-wide.
  Severity severity_for(const rule& r, Severity base, millis anchor, bool fallback, const std::string& country,
                        const std::set<std::string>& scope = {}) const {
    Severity s = base;
    for (const auto& e : r.escalate)
      if (anchor != 0 && clock >= anchor + e.at && e.severity > s) s = e.severity;
    if (fallback) s = lower(s);
    for (const auto& other : r.also_firing) {
      auto it = states.find(other.rule);
      if (it == states.end()) continue;
      for (const auto& [k, a] : it->second.alerts)
        if (a.firing && a.country == country && (!other.in_scope || within(a.area, scope))) return raise(s);
    }
    return s;
  }

  // `also_firing` with `match: scope`: the other alert's area lies within the scope (one of
  // its P-codes is a prefix of the area). A country-wide scope takes every area; a
  // country-wide alert (no area) concerns every scope.
  static bool within(const std::string& area, const std::set<std::string>& scope) {
    if (scope.empty() || area.empty()) return true;
    return std::any_of(scope.begin(), scope.end(), [&](const std::string& p) { return area.rfind(p, 0) == 0; });
  }

  // `share`: the check's share of the activity out of scope (percent), -1 when none.
  Severity base_severity(const rule& r, const Envelope& e, double share = -1) const {
    for (const auto& w : r.severity_by) {
      if (w.share_above >= 0 && !(share > w.share_above)) continue;
      if (eval_all(w.where, e) == tri::yes) return w.severity;
    }
    return r.severity;
  }

  // The alert key of an event, or nullopt (and why) if a key field is missing. For a
  // for_each rule the parts of the element are read from `elem`; without one they are left
  // out, which gives the key of the subject.
  std::optional<std::string> key_of(const rule& r, const Envelope& e, const std::string& area,
                                    const std::string& quarter = "",
                                    const schema::StrategyRef* elem = nullptr) const {
    std::string k;
    std::size_t empty_tail = 0;  // trailing missing optional parts are left out of the key
    for (std::size_t i = 0; i < r.key.size(); ++i) {
      const auto& f = r.key[i];
      std::string v;
      if (i < r.key_element.size() && r.key_element[i]) {
        if (elem == nullptr) continue;
        const flatbuffers::String* x = f == "strategy_refs.objective_id" ? elem->objective_id()
                                       : f == "strategy_refs.strategy_id" ? elem->strategy_id()
                                                                          : nullptr;
        bool optional = i < r.key_optional.size() && r.key_optional[i];
        if ((x == nullptr || x->size() == 0) && !optional) return std::nullopt;
        if (x != nullptr) v = x->str();
      } else if (f == "area") {
        v = area;
      } else if (f == "quarter") {
        v = quarter;
      } else {
        auto fv = read_field(e, f);
        bool optional = i < r.key_optional.size() && r.key_optional[i];
        if (!fv.present && !optional) return std::nullopt;
        const field_def* d = find_field(f, e.payload_type());
        if (fv.present) v = d ? format_value(fv, d->type) : fv.text;
      }
      std::size_t before = k.size();
      if (!k.empty()) k += "/";
      k += v;
      bool missing_optional = i < r.key_optional.size() && r.key_optional[i] && v.empty();
      empty_tail = missing_optional ? empty_tail + (k.size() - before) : 0;
    }
    k.resize(k.size() - empty_tail);
    return k;
  }

  struct area_pick {
    bool ok = false, country_wide = false, fallback = false;
    int level = 0;
    std::string code;
  };
  area_pick pick_area(const rule& r, const Envelope& e) const {
    area_pick p;
    if (r.area.empty()) {
      p.ok = true;
      return p;
    }
    auto a2 = read_field(e, "geo.adm2"), a1 = read_field(e, "geo.adm1");
    if (r.area == "adm2" && a2.present) {
      p = {true, false, false, 2, a2.text};
    } else if (r.area == "adm1" && a1.present) {
      p = {true, false, false, 1, a1.text};
    } else if (r.area == "adm2" && r.area_fallback == "adm1" && a1.present) {
      p = {true, false, true, 1, a1.text};
    } else if (!a1.present && !a2.present && !read_field(e, "geo.admin_areas").present) {
      p.country_wide = true;
    }
    return p;
  }

  // ---------------------------------------------------------------- strategy checks

  struct check_result {
    bool violated = false;
    std::string detail, strategy_id, objective_id;
    unsigned version = 0;
    bool in_grace = false;
    double share = -1;   // out_of_scope: percent of the activity (its budget, spread evenly over its areas) outside
  };

  // `only`: judge that claim alone (for_each rules), else the first claim that is violated.
  check_result run_check(const rule& r, const Envelope& e, const schema::StrategyRef* only = nullptr) const {
    check_result out;
    std::string country = e.country() ? e.country()->str() : "";
    auto force = in_force(country, clock);
    auto refs = e.strategy_refs();
    switch (r.check) {
      case strategy_check::none: out.violated = true; break;
      case strategy_check::unlinked: {
        if (force.empty()) return out;  // no strategy in force: nothing to link to
        out.strategy_id = force.front()->id;
        out.version = force.front()->version;
        if (refs == nullptr || refs->size() == 0) {
          out.violated = true;
          out.detail = "it names no objective of " + force.front()->id + " v" + std::to_string(force.front()->version);
          return out;
        }
        std::string bad;
        for (const auto* ref : *refs) {
          std::string sid = ref->strategy_id() ? ref->strategy_id()->str() : "";
          std::string oid = ref->objective_id() ? ref->objective_id()->str() : "";
          for (const auto* s : force)
            if (s->id == sid && s->objectives.count(oid)) return out;  // linked
          bad += (bad.empty() ? "" : ", ") + sid + "/" + oid;
        }
        out.violated = true;
        out.detail = "its references (" + bad + ") name no objective of the strategy in force (" + force.front()->id +
                     " v" + std::to_string(force.front()->version) + ")";
        return out;
      }
      case strategy_check::out_of_scope: {
        if (refs == nullptr) return out;
        auto areas = read_field(e, "geo.admin_areas");
        auto mandate = read_field(e, "payload.mandate_area");
        auto family = read_field(e, "payload.sector_family");
        for (const auto* ref : *refs) {
          if (only != nullptr && ref != only) continue;
          std::string sid = ref->strategy_id() ? ref->strategy_id()->str() : "";
          std::string oid = ref->objective_id() ? ref->objective_id()->str() : "";
          for (const auto* s : force) {
            if (s->id != sid) continue;
            auto o = s->objectives.find(oid);
            if (o == s->objectives.end()) continue;
            std::string why;
            double share = 100;
            if (!o->second.areas.empty() && areas.present) {
              // The finest areas listed (an area another listed P-code extends is a parent); the
              // events carry no budget per area, so each finest area counts for an equal share.
              std::vector<std::string> leaves, outside;
              for (const auto& a : areas.list) {
                bool parent = false;
                for (const auto& b : areas.list) parent = parent || (b.size() > a.size() && b.rfind(a, 0) == 0);
                if (!parent) leaves.push_back(a);
              }
              for (const auto& a : leaves) {
                bool inside = false;
                for (const auto& scope : o->second.areas) inside = inside || a.rfind(scope, 0) == 0;
                if (!inside) outside.push_back(a);
              }
              if (!outside.empty()) {
                share = 100.0 * static_cast<double>(outside.size()) / static_cast<double>(leaves.size());
                field_value off;
                off.present = true;
                off.list = outside;
                char pct[32];
                std::snprintf(pct, sizeof pct, "%.0f", share);
                why = "its areas " +
                      format_value(off, field_type::string_list) + " are outside the objective's scope (" + pct +
                      " % of the activity, its budget taken as spread evenly over its areas)";
              }
            }
            if (why.empty() && mandate.present && !o->second.mandate_areas.empty() &&
                !o->second.mandate_areas.count(mandate.text))
              why = "its mandate area " + mandate.text + " is not among the objective's (100 % of the activity)";
            if (why.empty() && family.present && !o->second.sector_families.empty() &&
                !o->second.sector_families.count(family.text))
              why = "its sector family " + family.text + " is not among the objective's (100 % of the activity)";
            if (!why.empty()) {
              out.share = share;
              out.violated = true;
              out.detail = "it claims " + sid + "/" + oid + " (\"" + o->second.text + "\") but " + why;
              out.strategy_id = sid;
              out.objective_id = oid;
              out.version = s->version;
              return out;
            }
          }
        }
        return out;
      }
      case strategy_check::expired_reference: {
        if (refs == nullptr) return out;
        for (const auto* ref : *refs) {
          if (only != nullptr && ref != only) continue;
          std::string sid = ref->strategy_id() ? ref->strategy_id()->str() : "";
          std::string oid = ref->objective_id() ? ref->objective_id()->str() : "";
          auto versions = strategies.find(sid);
          if (versions == strategies.end()) continue;
          auto cited = versions->second.find(ref->version());
          const strategy* current = nullptr;
          for (const auto* s : force)
            if (s->id == sid) current = s;
          if (current != nullptr && current->version == ref->version()) continue;
          if (current != nullptr && current->objectives.count(oid)) continue;  // the new version keeps the objective
          millis ended = 0;
          if (current != nullptr) ended = current->valid_from;
          else if (cited != versions->second.end() && cited->second.valid_to != 0) ended = cited->second.valid_to;
          if (current == nullptr && (cited == versions->second.end() || cited->second.valid_to == 0 ||
                                     cited->second.valid_to >= clock))
            continue;
          out.violated = true;
          out.strategy_id = sid;
          out.objective_id = oid;
          out.version = ref->version();
          out.in_grace = ended != 0 && clock < ended + r.check_grace;
          out.detail = "it cites " + sid + " v" + std::to_string(ref->version()) + " objective " + oid + ", " +
                       (current ? "superseded by v" + std::to_string(current->version) + " without that objective"
                                : "which expired on " + format_date(ended));
          return out;
        }
        return out;
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- condition

  // A copy of `e` with only what the field table (fields.cc) and the excerpts read: the
  // lists no rule reads (participating organisations, transactions, points, ...) are
  // dropped. Made once per event and shared by every rule that keeps it.
  std::shared_ptr<const std::vector<std::uint8_t>> shared_copy(const Envelope& e) {
    if (current_copy) return current_copy;
    schema::EnvelopeT obj;
    e.UnPackTo(&obj);
    obj.a4p_plus.clear();
    obj.causation_id.reset();
    if (obj.geo) obj.geo->points.clear();
    if (auto* p = obj.payload.AsProgrammeActivity()) {
      p->participating_orgs.clear();
      p->recipient_countries.clear();
      p->recipient_regions.clear();
      p->sdg_targets.clear();
      p->commitments.clear();
      p->disbursements.clear();
      p->humanitarian_scope.clear();
      p->reporting_org.reset();
    } else if (auto* b = obj.payload.AsPeacebuildingProject()) {
      b->recipients.clear();
      b->recipient_amounts.clear();
    }
    flatbuffers::FlatBufferBuilder fbb(512);
    fbb.Finish(schema::Envelope::Pack(fbb, &obj), schema::EnvelopeIdentifier());
    current_copy = std::make_shared<const std::vector<std::uint8_t>>(fbb.GetBufferPointer(),
                                                                      fbb.GetBufferPointer() + fbb.GetSize());
    return current_copy;
  }

  // A condition rule's subject for this event: its area, key and state, and how on.where
  // and fire_if judge the event. Nothing when the rule does not judge it (counted as
  // skipped where a field it needs is missing, or when an older revision arrives late).
  struct subject_pick {
    area_pick area;
    istr key;
    cond_subject* subject;
    tri sel, fire;
  };
  std::optional<subject_pick> pick_subject(rule_state& st, const Envelope& e, bool recheck) {
    const rule& r = *st.r;
    auto area = pick_area(r, e);
    if (area.country_wide && r.skip_country_wide) return std::nullopt;
    auto key = area.ok ? key_of(r, e, area.code) : std::nullopt;
    if (!key) {
      ++st.skipped;
      return std::nullopt;
    }
    ++st.evaluated;
    istr k = intern(*key);
    cond_subject& s = st.subjects[k];
    if (!recheck && event_time(e) < s.occurred) return std::nullopt;  // an older revision arriving late changes nothing
    tri sel = eval_all(r.on.where, e);
    tri fire = sel == tri::no ? tri::no : eval_all(r.fire_if, e);
    if (sel == tri::missing || (sel == tri::yes && fire == tri::missing)) {
      ++st.skipped;
      return std::nullopt;
    }
    return subject_pick{area, k, &s, sel, fire};
  }

  // `by`: on a re-check, what changed (a strategy version), the closing evidence.
  void condition(rule_state& st, const Envelope& e, millis log_time, bool recheck, const evidence* by = nullptr) {
    const rule& r = *st.r;
    if (!r.for_each.empty()) {
      condition_each(st, e, log_time, recheck, by);
      return;
    }
    auto picked = pick_subject(st, e, recheck);
    if (!picked) return;
    auto& [area, k, sp, sel, fire] = *picked;
    cond_subject& s = *sp;
    check_result cr;
    if (sel == tri::yes && fire == tri::yes) cr = run_check(r, e);
    bool violated = sel == tri::yes && fire == tri::yes && cr.violated;
    if (!recheck) {
      s.occurred = event_time(e);
      if (r.check != strategy_check::none || r.for_duration != 0) s.bytes = shared_copy(e);
    }
    if (violated && !s.violated) s.since = log_time;
    s.violated = violated;
    s.severity = base_severity(r, e, cr.share);
    if (r.check == strategy_check::expired_reference) s.severity = cr.in_grace ? Severity::info : r.severity;
    if (area.fallback) s.severity = lower(s.severity);
    if (sel == tri::no) s.bytes.reset();  // it ended or no longer qualifies: no re-check needs it
    if (!violated) {
      s.v.reset();
      auto a = st.alerts.find(*k);
      if (a != st.alerts.end() && a->second.firing) clear_alert(st, *k, {by ? *by : evidence_of(e, r.fields_used)});
      return;
    }
    if (!s.v) s.v = std::make_unique<violation>();
    s.v->detail = std::move(cr.detail);
    s.v->strategy_id = std::move(cr.strategy_id);
    s.v->objective_id = std::move(cr.objective_id);
    s.v->strategy_version = cr.version;
    s.v->ev = evidence_of(e, r.fields_used);
    judge_condition(st, *k, s.since, s.severity, *s.v, e.country() ? e.country()->str() : "", area);
  }

  // A for_each rule: the subject is the key without the element's parts; each element the
  // check finds violated is a finding with its own key. A finding the new revision (or a
  // strategy re-check) no longer has resolves on its own; a revision that no longer matches
  // on.where or fire_if resolves them all.
  void condition_each(rule_state& st, const Envelope& e, millis log_time, bool recheck, const evidence* by) {
    const rule& r = *st.r;
    auto picked = pick_subject(st, e, recheck);
    if (!picked) return;
    auto& [area, k, sp, sel, fire] = *picked;
    cond_subject& s = *sp;
    if (!recheck) {
      s.occurred = event_time(e);
      s.bytes = shared_copy(e);
    }
    if (sel == tri::no) s.bytes.reset();  // it ended or no longer qualifies: no re-check needs it
    std::vector<finding> now;
    bool lacking = false;
    if (sel == tri::yes && fire == tri::yes && e.strategy_refs() != nullptr) {
      for (const auto* ref : *e.strategy_refs()) {
        auto fk = key_of(r, e, area.code, "", ref);
        if (!fk) {
          lacking = true;
          continue;
        }
        check_result cr = run_check(r, e, ref);
        if (!cr.violated) continue;
        if (std::any_of(now.begin(), now.end(), [&](const finding& f) { return f.key == *fk; })) continue;
        finding f;
        f.key = std::move(*fk);
        f.since = log_time;
        if (s.each)
          for (const auto& old : *s.each)
            if (old.key == f.key) f.since = old.since;
        f.severity = r.check == strategy_check::expired_reference ? (cr.in_grace ? Severity::info : r.severity)
                                                                  : base_severity(r, e, cr.share);
        if (area.fallback) f.severity = lower(f.severity);
        f.v.detail = std::move(cr.detail);
        f.v.strategy_id = std::move(cr.strategy_id);
        f.v.objective_id = std::move(cr.objective_id);
        f.v.strategy_version = cr.version;
        f.v.ev = evidence_of(e, r.fields_used);
        f.v.ev.excerpt += ", strategy_ref=" + f.v.strategy_id + " v" + std::to_string(ref->version()) + "/" +
                          f.v.objective_id;
        now.push_back(std::move(f));
      }
    }
    if (lacking) ++st.skipped;
    if (s.each) {
      evidence closing = by ? *by : evidence_of(e, r.fields_used);
      for (const auto& old : *s.each) {
        if (std::any_of(now.begin(), now.end(), [&](const finding& f) { return f.key == old.key; })) continue;
        auto a = st.alerts.find(old.key);
        if (a != st.alerts.end() && a->second.firing) clear_alert(st, old.key, {closing});
      }
    }
    if (!now.empty() && !s.violated) s.since = log_time;
    s.violated = !now.empty();
    if (now.empty()) {
      s.each.reset();
      return;
    }
    if (!s.each) s.each = std::make_unique<std::vector<finding>>();
    *s.each = std::move(now);
    std::string country = e.country() ? e.country()->str() : "";
    for (const auto& f : *s.each) judge_condition(st, f.key, f.since, f.severity, f.v, country, area);
  }

  void judge_condition(rule_state& st, const std::string& key, millis since, Severity severity, const violation& v,
                       const std::string& country, const area_pick& area) {
    const rule& r = *st.r;
    if (clock < since + r.for_duration) return;  // pending
    alert_state a;
    auto old = st.alerts.find(key);
    a.firing = true;
    a.severity = severity;
    a.ev = {v.ev};
    a.first_event_time = old != st.alerts.end() && old->second.firing ? old->second.first_event_time : v.ev.time;
    a.last_event_time = v.ev.time;
    a.country = country;
    a.area = area.code;
    a.detail = v.detail;
    a.strategy_id = v.strategy_id;
    a.objective_id = v.objective_id;
    a.strategy_version = v.strategy_version;
    if (area.fallback) a.note = "Matched at admin level 1 because the admin 2 code is missing; severity lowered one step.";
    set_alert(st, key, std::move(a));
  }

  void tick_conditions(rule_state& st) {
    if (st.r->for_duration == 0) return;
    for (auto& [key, s] : st.subjects) {
      if (!s.violated || !s.bytes) continue;
      auto* e = schema::GetEnvelope(s.bytes->data());
      std::string country = e->country() ? e->country()->str() : "";
      if (s.each) {
        for (const auto& f : *s.each) {
          auto it = st.alerts.find(f.key);
          if (it != st.alerts.end() && it->second.firing) continue;
          if (clock < f.since + st.r->for_duration) continue;
          judge_condition(st, f.key, f.since, f.severity, f.v, country, pick_area(*st.r, *e));
        }
        continue;
      }
      auto it = st.alerts.find(*key);
      if (it != st.alerts.end() && it->second.firing) continue;
      if (clock < s.since + st.r->for_duration || !s.v) continue;
      judge_condition(st, *key, s.since, s.severity, *s.v, country, pick_area(*st.r, *e));
    }
  }

  // `by`: the strategy whose change (or coming into force) is the reason, the closing
  // evidence of what it resolves.
  void recheck_strategy_rules(const std::string& country, const evidence* by) {
    for (auto& [id, st] : states) {
      if (st.r->kind != rule_kind::condition || st.r->check == strategy_check::none) continue;
      for (auto& [key, s] : st.subjects) {
        if (!s.bytes) continue;
        auto* e = schema::GetEnvelope(s.bytes->data());
        if (!e->country() || e->country()->str() != country) continue;
        auto keep = s.bytes;  // held while condition() reads it
        // for_each: a finding the new strategy version brings counts its `for` from now
        condition(st, *schema::GetEnvelope(keep->data()), st.r->for_each.empty() ? s.since : clock, true, by);
      }
    }
  }

  // ---------------------------------------------------------------- expectation

  bool satisfies(const rule& r, const trigger& t, const candidate& c) const {
    const alternative& alt = r.expect[c.alt];
    if (alt.other_entity && c.entity == t.entity) return false;
    if (alt.same.size() != t.same.size() || c.same != t.same) return false;
    millis ws = t.anchor + alt.from, we = t.anchor + alt.to;
    switch (alt.relation) {
      case period_relation::any: return true;
      case period_relation::overlaps: return overlaps(c.start, c.end, ws, we);
      case period_relation::covers: return c.start <= ws && (c.end == 0 || c.end >= we);
    }
    return false;
  }

  std::vector<std::string> same_values(const std::vector<std::string>& fields, const Envelope& e, bool* missing) const {
    std::vector<std::string> out;
    for (const auto& f : fields) {
      auto v = read_field(e, f);
      if (!v.present) *missing = true;
      out.push_back(v.text);
    }
    return out;
  }

  void expectation_trigger(rule_state& st, const Envelope& e) {
    const rule& r = *st.r;
    istr subject = intern(subject_of(e));
    auto old = st.triggers.find(subject);
    std::string old_key = old != st.triggers.end() ? old->second.key : "";
    tri sel = eval_all(r.on.where, e);
    tri ends = r.ends_if.empty() ? tri::no : eval_all(r.ends_if, e);
    if (sel == tri::missing) {
      ++st.skipped;
      return;
    }
    ++st.evaluated;
    if (sel == tri::no || ends == tri::yes) {
      if (old != st.triggers.end()) {
        evidence closing = evidence_of(e, r.fields_used);
        st.triggers_by_key[old_key].erase(subject);
        unindex_trigger(st, subject, old->second);
        st.triggers.erase(old);
        judge_expectation(st, old_key, {closing});
      }
      return;
    }
    auto area = pick_area(r, e);
    if (area.country_wide && r.skip_country_wide) return;
    auto anchor = read_field(e, r.anchor_time);
    auto key = area.ok ? key_of(r, e, area.code) : std::nullopt;
    bool missing = false;
    trigger t;
    if (r.expect.size()) t.same = same_values(r.expect.front().same, e, &missing);
    if (!area.ok || !anchor.present || !key || missing) {
      ++st.skipped;
      return;
    }
    t.key = *key;
    t.country = e.country()->str();
    t.fallback = area.fallback;
    t.anchor = static_cast<millis>(anchor.number);
    t.entity = e.entity();
    t.base = base_severity(r, e);
    t.time = event_time(e);
    t.bytes = shared_copy(e);
    evidence by;
    t.area_index = area.code.empty() ? t.country + "|*" : area_index(t.country, area.level, area.code);
    // Look for a counterpart already seen: in the area, and country-wide ones.
    for (const auto& idx : {t.area_index, t.country + "|*"}) {
      auto it = st.candidates.find(idx);
      if (it == st.candidates.end()) continue;
      for (const auto& c : it->second)
        if (satisfies(r, t, *c)) {
          t.satisfied = true;
          by = c->ev;
          break;
        }
      if (t.satisfied) break;
    }
    // A revision of a trigger already satisfied in the same place and window stays satisfied:
    // its counterpart may have been pruned from memory since (see compact()).
    bool carried = false;
    if (!t.satisfied && old != st.triggers.end() && old->second.satisfied && old->second.area_index == t.area_index &&
        old->second.anchor == t.anchor && old->second.same == t.same) {
      t.satisfied = true;
      carried = true;
    }
    if (old != st.triggers.end() && old_key != t.key) {
      st.triggers_by_key[old_key].erase(subject);
      judge_expectation(st, old_key, {});
    }
    bool is_new = old == st.triggers.end() || old->second.area_index != t.area_index;
    if (old != st.triggers.end() && is_new) unindex_trigger(st, subject, old->second);  // it moved
    st.triggers[subject] = t;
    st.triggers_by_key[t.key].insert(subject);
    if (is_new) {
      st.triggers_by_area[t.area_index].push_back(subject);
      st.triggers_by_area[t.country + "|*"].push_back(subject);
    }
    judge_expectation(st, t.key, t.satisfied && !carried ? std::vector<evidence>{by} : std::vector<evidence>{});
  }

  static void unindex_trigger(rule_state& st, istr subject, const trigger& t) {
    for (const auto& idx : {t.area_index, t.country + "|*"}) {
      auto it = st.triggers_by_area.find(idx);
      if (it == st.triggers_by_area.end()) continue;
      std::erase(it->second, subject);
      if (it->second.empty()) st.triggers_by_area.erase(it);
    }
  }

  static void drop_candidates(rule_state& st, istr subject) {
    auto it = st.candidate_of.find(subject);
    if (it == st.candidate_of.end()) return;
    for (const auto& [cp, idx] : it->second)
      for (const auto& ix : idx) {
        auto c = st.candidates.find(ix);
        if (c == st.candidates.end()) continue;
        std::erase(c->second, cp);
        if (c->second.empty()) st.candidates.erase(c);
      }
    st.candidate_of.erase(it);
  }

  void expectation_candidate(rule_state& st, const Envelope& e) {
    const rule& r = *st.r;
    bool of_type = false;
    for (const auto& alt : r.expect) of_type = of_type || has_type(alt.sel, e.payload_type());
    if (!of_type) return;
    // The latest revision of a subject is its only candidate: an older one is superseded
    // (and a revision that no longer qualifies, e.g. cancelled, is no candidate at all).
    istr self = intern(subject_of(e));
    drop_candidates(st, self);
    for (std::size_t i = 0; i < r.expect.size(); ++i) {
      const alternative& alt = r.expect[i];
      if (!has_type(alt.sel, e.payload_type())) continue;
      if (eval_all(alt.sel.where, e) != tri::yes) continue;
      candidate c;
      c.alt = i;
      bool missing = false;
      c.same = same_values(alt.same, e, &missing);
      if (missing) continue;
      c.start = e.period() ? e.period()->start() : 0;
      c.end = e.period() ? e.period()->end() : 0;
      if (e.payload_type() == Payload::TransitionMilestone && c.start == 0) {
        auto d = read_field(e, "payload.planned_date");
        c.start = static_cast<millis>(d.number);
      }
      c.entity = e.entity();
      c.ev = evidence_of(e, {"payload.status", "payload.sector_family", "geo.admin_areas", "period.start", "period.end"});
      std::string country = e.country()->str();
      auto a1 = read_field(e, "geo.adm1"), a2 = read_field(e, "geo.adm2");
      std::vector<std::string> idx;
      if (a2.present) idx.push_back(area_index(country, 2, a2.text));
      if (a1.present) idx.push_back(area_index(country, 1, a1.text));
      if (!a1.present && !a2.present) idx.push_back(country + "|*");
      auto cp = std::make_shared<const candidate>(std::move(c));
      st.candidate_of[self].emplace_back(cp, idx);
      for (const auto& ix : idx) {
        st.candidates[ix].push_back(cp);
        auto tl = st.triggers_by_area.find(ix == country + "|*" ? country + "|*" : ix);
        if (tl == st.triggers_by_area.end()) continue;
        std::set<std::string> keys;
        for (const auto& subject : tl->second) {
          auto t = st.triggers.find(subject);
          if (t == st.triggers.end() || t->second.satisfied) continue;
          if (ix != country + "|*" && t->second.area_index != ix) continue;
          if (!satisfies(r, t->second, *cp)) continue;
          t->second.satisfied = true;
          keys.insert(t->second.key);
        }
        for (const auto& k : keys) judge_expectation(st, k, {cp->ev});
      }
    }
  }

  void judge_expectation(rule_state& st, const std::string& key, std::vector<evidence> closing) {
    const rule& r = *st.r;
    auto it = st.triggers_by_key.find(key);
    alert_state a;
    bool any = false;
    bool all_fallback = true;
    Severity sev = Severity::info;
    if (it != st.triggers_by_key.end()) {
      for (const auto& subject : it->second) {
        const trigger& t = st.triggers.at(subject);
        if (t.satisfied || clock < t.anchor + r.fire_at) continue;
        if (!any) {
          a.first_event_time = t.time;
          a.country = t.country;
          a.area = t.area_index.substr(t.area_index.rfind('|') + 1);
        }
        any = true;
        all_fallback = all_fallback && t.fallback;
        std::string code = t.area_index.substr(t.area_index.rfind('|') + 1);
        Severity s = severity_for(r, t.base, t.anchor, false, t.country,
                                  code == "*" ? std::set<std::string>{} : std::set<std::string>{code});
        if (s > sev) sev = s;
        a.first_event_time = std::min(a.first_event_time, t.time);
        a.last_event_time = std::max(a.last_event_time, t.time);
        if (a.ev.size() < max_evidence) a.ev.push_back(evidence_of(*schema::GetEnvelope(t.bytes->data()), r.fields_used));
      }
      if (it->second.empty()) st.triggers_by_key.erase(it);
    }
    if (!any) {
      clear_alert(st, key, std::move(closing));
      return;
    }
    if (a.area == "*") a.area.clear();
    a.firing = true;
    a.severity = all_fallback ? lower(sev) : sev;
    if (all_fallback) a.note = "Matched at admin level 1 because the admin 2 code is missing; severity lowered one step.";
    auto old = st.alerts.find(key);
    if (old != st.alerts.end() && old->second.firing) a.first_event_time = std::min(a.first_event_time, old->second.first_event_time);
    set_alert(st, key, std::move(a));
  }

  void tick_expectations(rule_state& st) {
    std::vector<std::string> keys;
    keys.reserve(st.triggers_by_key.size());
    for (const auto& [k, v] : st.triggers_by_key) keys.push_back(k);
    for (const auto& k : keys) {
      auto old = st.alerts.find(k);
      Severity before = old != st.alerts.end() ? old->second.severity : Severity::info;
      bool was = old != st.alerts.end() && old->second.firing;
      judge_expectation(st, k, {});
      auto now = st.alerts.find(k);
      if (now != st.alerts.end() && was == now->second.firing && before == now->second.severity) st.dirty.erase(k);
    }
  }

  // ---------------------------------------------------------------- absence

  void absence_report(rule_state& st, const Envelope& e) {
    const rule& r = *st.r;
    tri sel = eval_all(r.on.where, e);
    tri ends = r.ends_if.empty() ? tri::no : eval_all(r.ends_if, e);
    if (sel == tri::missing) {
      ++st.skipped;
      return;
    }
    auto key = key_of(r, e, "");
    millis start = 0, end = 0;
    if (!r.report_time.empty()) {
      auto t = read_field(e, r.report_time);
      if (t.present) start = end = static_cast<millis>(t.number);
    } else if (auto* p = e.payload_as_CommitmentProgress(); p && p->reporting_period()) {
      start = p->reporting_period()->start();
      end = p->reporting_period()->end();
    } else {
      start = end = event_time(e);
    }
    if (sel == tri::no || ends == tri::yes) {
      // The subject stopped (an activity no longer active, or matching ends_if): nothing is
      // expected of it any more, and an overdue alert resolves with this event as evidence.
      if (!key) return;
      auto x = st.reports.find(*key);
      if (x == st.reports.end() || (end != 0 && end < x->second.last_end)) return;  // an older revision: the newer stands
      ++st.evaluated;
      st.reports.erase(x);
      clear_alert(st, *key, {evidence_of(e, r.fields_used)});
      return;
    }
    if (!key || end == 0) {
      ++st.skipped;
      return;
    }
    ++st.evaluated;
    expected_report& x = st.reports[*key];
    if (end < x.last_end) return;  // a late report for an older period: the newer one stands
    x.last_end = end;
    x.period = r.every != 0 ? r.every : std::max<millis>(end - start, day);
    x.last = evidence_of(e, r.fields_used);
    x.country = e.country()->str();
    judge_report(st, *key);
  }

  void judge_report(rule_state& st, const std::string& key) {
    const rule& r = *st.r;
    const expected_report& x = st.reports.at(key);
    millis due = x.last_end + x.period + r.grace;
    if (clock <= due) {
      clear_alert(st, key, {x.last});
      return;
    }
    auto missed = static_cast<unsigned>((clock - x.last_end - r.grace) / x.period);
    alert_state a;
    a.firing = true;
    a.severity = r.critical_after_missed != 0 && missed >= r.critical_after_missed ? Severity::critical : r.severity;
    a.ev = {x.last};
    a.country = x.country;
    a.first_event_time = due;
    a.last_event_time = x.last.time;
    if (r.report_time.empty())
      a.detail = "the last report covers the period ending " + format_date(x.last_end) + "; the next was due by " +
                 format_date(due) + " (" + std::to_string(missed) + " period(s) missed)";
    else
      a.detail = "the last event of it is of " + format_date(x.last_end) + " (" + r.report_time + "); the next was due by " +
                 format_date(due) + " (" + std::to_string(missed) + " period(s) missed)";
    auto old = st.alerts.find(key);
    if (old != st.alerts.end() && old->second.firing && old->second.severity == a.severity && old->second.detail == a.detail)
      return;
    set_alert(st, key, std::move(a));
  }

  void objective_activity(rule_state& st, const Envelope& e) {
    const rule& r = *st.r;
    tri sel = eval_all(r.on.where, e);
    if (sel == tri::missing) {
      ++st.skipped;
      return;
    }
    ++st.evaluated;
    if (sel == tri::no || e.strategy_refs() == nullptr) return;
    std::string country = e.country()->str();
    for (const auto* ref : *e.strategy_refs()) {
      if (!ref->strategy_id() || !ref->objective_id()) continue;
      std::string k = country + "/" + ref->strategy_id()->str() + "/" + ref->objective_id()->str();
      auto& last = st.last_linked[k];
      evidence ev = evidence_of(e, r.fields_used);
      if (ev.time >= last.time) last = ev;
    }
    judge_objectives(st, country);
  }

  void judge_objectives(rule_state& st, const std::string& only_country) {
    const rule& r = *st.r;
    std::set<std::string> live;
    std::set<std::string> countries;
    for (const auto& [id, versions] : strategies)
      for (const auto& [v, s] : versions) countries.insert(s.country);
    for (const auto& country : countries) {
      if (!only_country.empty() && country != only_country) continue;
      for (const auto* s : in_force(country, clock)) {
        for (const auto& [oid, o] : s->objectives) {
          if (o.priority == 0 || o.priority > r.max_priority) continue;
          std::string key = country + "/" + s->id + "/" + oid;
          live.insert(key);
          auto ll = st.last_linked.find(key);
          millis since = s->valid_from;
          if (ll != st.last_linked.end()) since = std::max(since, ll->second.time);
          if (clock <= since + r.every) {
            clear_alert(st, key, ll != st.last_linked.end() ? std::vector<evidence>{ll->second} : std::vector<evidence>{});
            continue;
          }
          alert_state a;
          a.firing = true;
          a.country = country;
          a.strategy_id = s->id;
          a.strategy_version = s->version;
          a.objective_id = oid;
          a.first_event_time = since + r.every;
          a.last_event_time = since;
          a.severity = severity_for(r, r.severity, 0, false, country, o.areas);
          a.ev = {s->ev};
          if (ll != st.last_linked.end()) a.ev.push_back(ll->second);
          a.detail = "objective " + oid + " (\"" + o.text + "\", priority " + std::to_string(o.priority) +
                     ") has had no linked activity since " + format_date(since);
          auto old = st.alerts.find(key);
          if (old != st.alerts.end() && old->second.firing && old->second.severity == a.severity &&
              old->second.detail == a.detail)
            continue;
          set_alert(st, key, std::move(a));
        }
      }
    }
    // Objectives no longer in scope (priority lowered, strategy replaced or expired).
    for (auto& [key, a] : st.alerts)
      if (a.firing && !live.count(key) && (only_country.empty() || a.country == only_country))
        clear_alert(st, key, {});
  }

  // ---------------------------------------------------------------- threshold

  void threshold_activity(rule_state& st, const Envelope& e) {
    // Keeps, per area, the activities that satisfy requires_active.
    for (const auto& sel : st.r->requires_active) {
      if (!has_type(sel, e.payload_type())) continue;
      std::string country = e.country()->str();
      auto a2 = read_field(e, "geo.adm2"), a1 = read_field(e, "geo.adm1");
      std::string idx = a2.present ? area_index(country, 2, a2.text)
                                   : a1.present ? area_index(country, 1, a1.text) : country + "|*";
      istr subject = intern(subject_of(e));
      if (eval_all(sel.where, e) == tri::yes)
        st.active[idx][subject] = {e.period() ? e.period()->start() : 0, e.period() ? e.period()->end() : 0};
      else
        st.active[idx].erase(subject);
    }
  }

  bool work_runs(const rule_state& st, const std::string& country, const std::string& idx, millis from, millis to) const {
    if (st.r->requires_active.empty()) return true;
    for (const auto& i : {idx, country + "|*"}) {
      auto it = st.active.find(i);
      if (it == st.active.end()) continue;
      for (const auto& [s, sp] : it->second)
        if (overlaps(sp.start, sp.end, from, to)) return true;
    }
    return false;
  }

  void threshold_event(rule_state& st, const Envelope& e) {
    const rule& r = *st.r;
    tri sel = eval_all(r.on.where, e);
    if (sel == tri::no) return;
    auto area = pick_area(r, e);
    if (area.country_wide && r.skip_country_wide) return;
    auto key = area.ok ? key_of(r, e, area.code) : std::nullopt;
    if (sel == tri::missing || !key) {
      ++st.skipped;
      return;
    }
    ++st.evaluated;
    double v = 0;
    if (!r.sum_field.empty()) {
      auto f = read_field(e, r.sum_field);
      v = f.present ? f.number : 0;
    }
    auto& hits = st.hits[*key];
    evidence ev = evidence_of(e, r.fields_used);
    for (const auto& h : hits)
      if (h.ev.id.hi() == ev.id.hi() && h.ev.id.lo() == ev.id.lo()) return;
    hit h{event_time(e), v, ev};
    hits.insert(std::upper_bound(hits.begin(), hits.end(), h, [](const hit& a, const hit& b) { return a.t < b.t; }), h);
    judge_threshold(st, *key, e.country()->str(),
                    area.code.empty() ? "" : area_index(e.country()->str(), area.level, area.code), area.fallback);
  }

  void judge_threshold(rule_state& st, const std::string& key, const std::string& country, const std::string& idx,
                       bool fallback) {
    const rule& r = *st.r;
    auto& hits = st.hits[key];
    millis end = watermark, start = watermark - r.window;
    // Drop what no late event can bring back into a window.
    while (!hits.empty() && hits.front().t < start - lateness) hits.erase(hits.begin());
    double count = 0, sum = 0;
    alert_state a;
    for (const auto& h : hits) {
      if (h.t < start || h.t > end) continue;
      ++count;
      sum += h.v;
      if (a.ev.size() < max_evidence) a.ev.push_back(h.ev);
      if (a.first_event_time == 0) a.first_event_time = h.t;
      a.last_event_time = h.t;
    }
    auto old = st.alerts.find(key);
    bool was = old != st.alerts.end() && old->second.firing;
    bool over = (r.count_at_least > 0 && count >= r.count_at_least) || (!r.sum_field.empty() && sum >= r.sum_at_least);
    bool under = (r.count_at_least <= 0 || count < r.count_at_least * r.resolve_fraction) &&
                 (r.sum_field.empty() || sum < r.sum_at_least * r.resolve_fraction);
    if (was && under) {
      clear_alert(st, key, {});
      return;
    }
    if (!was && !(over && work_runs(st, country, idx, start, end))) return;
    if (was && !over && old->second.ev.size() == a.ev.size()) return;  // between the thresholds: stays as it is
    a.firing = true;
    a.country = country;
    a.area = idx.empty() ? "" : idx.substr(idx.rfind('|') + 1);
    a.severity = fallback ? lower(r.severity) : r.severity;
    if (fallback) a.note = "Matched at admin level 1 because the admin 2 code is missing; severity lowered one step.";
    char buf[160];
    std::snprintf(buf, sizeof buf, "%g matching events%s%g in the %lld days to %s", count,
                  r.sum_field.empty() ? "" : (", " + r.sum_field + " total ").c_str(), sum,
                  static_cast<long long>(r.window / day), format_date(end).c_str());
    a.detail = buf;
    if (r.sum_field.empty()) a.detail = std::to_string(static_cast<long long>(count)) + " matching events in the " +
                                        std::to_string(r.window / day) + " days to " + format_date(end);
    if (was) a.first_event_time = std::min(a.first_event_time, old->second.first_event_time);
    if (was && old->second.ev.size() == a.ev.size() && old->second.severity == a.severity) return;
    set_alert(st, key, std::move(a));
  }

  void tick_thresholds(rule_state& st) {
    for (auto& [key, a] : st.alerts) {
      if (!a.firing) continue;
      std::string idx = a.area.empty() ? "" : a.country + "|2|" + a.area;
      judge_threshold(st, key, a.country, idx, !a.note.empty());
    }
  }

  // ---------------------------------------------------------------- pair

  bool member_ended(const pair_member& m) const { return m.end != 0 && m.end < watermark; }

  static evidence member_ev(const rule& r, const pair_member& m) {
    return evidence_of(*schema::GetEnvelope(m.bytes->data()), r.fields_used);
  }

  static std::string member_label(const pair_member& m) {
    const Envelope& e = *schema::GetEnvelope(m.bytes->data());
    return (e.source_record_id() && e.source_record_id()->size() ? e.source_record_id()->str() : subject_of(e)) +
           " (" + schema::EnumNameEntity(e.entity()) + ")";
  }

  bool pairs_with(const rule& r, const pair_member& a, const pair_member& b) const {
    for (std::size_t i = 0; i < a.differ.size(); ++i)
      if (a.differ[i] == b.differ[i]) return false;
    for (std::size_t i = 0; i < a.unless.size(); ++i)
      if (!a.unless[i].empty() && a.unless[i] == b.unless[i]) return false;
    for (std::size_t i = 0; i < a.lists.size(); ++i)
      if (!codes_compatible(a.lists[i], b.lists[i])) return false;
    if (r.pair_period == period_relation::overlaps && !overlaps(a.start, a.end, b.start, b.end)) return false;
    return !member_ended(a) && !member_ended(b);
  }

  // Takes `subject` out of every pair and its bucket; the alert keys it was in go to `affected`.
  void remove_member(rule_state& st, istr subject, std::set<std::string>& affected) {
    auto m = st.members.find(subject);
    if (m == st.members.end()) return;
    auto ps = st.partners.find(subject);
    if (ps != st.partners.end()) {
      for (const auto& [other, key] : ps->second) {
        auto& set = st.pairs[key];
        set.erase(ordered(subject, other));
        st.partners[other].erase(subject);
        if (st.partners[other].empty()) st.partners.erase(other);
        affected.insert(key);
      }
      st.partners.erase(ps);
    }
    auto b = st.buckets.find(*m->second.bucket);
    if (b != st.buckets.end()) {
      std::erase(b->second, subject);
      if (b->second.empty()) st.buckets.erase(b);
    }
    st.members.erase(m);
  }

  void pair_event(rule_state& st, const Envelope& e) {
    const rule& r = *st.r;
    istr subject = intern(subject_of(e));
    std::set<std::string> affected;
    evidence closing = evidence_of(e, r.fields_used);
    auto finish = [&] {
      for (const auto& k : affected) judge_pair(st, k, {closing});
    };
    auto old = st.members.find(subject);
    if (old != st.members.end() && event_time(e) < old->second.occurred) return;  // an older revision: changes nothing
    tri sel = eval_all(r.on.where, e);
    if (sel == tri::missing) {
      ++st.skipped;
      return;
    }
    auto area = pick_area(r, e);
    if (sel == tri::no || (area.country_wide && r.skip_country_wide)) {
      remove_member(st, subject, affected);  // it ended (or no longer qualifies): its pairs close
      return finish();
    }
    bool missing = false;
    std::vector<std::string> same = same_values(r.pair_same, e, &missing);
    auto start = read_field(e, "period.start");
    if (!area.ok || missing || !start.present) {
      ++st.skipped;
      return;
    }
    ++st.evaluated;
    remove_member(st, subject, affected);
    pair_member m;
    m.country = e.country()->str();
    m.area = area.code;
    std::string bucket_name = area_index(m.country, area.level, area.code);
    for (const auto& v : same) bucket_name += "|" + v;
    m.bucket = intern(bucket_name);
    m.occurred = event_time(e);
    m.start = static_cast<millis>(start.number);
    m.end = e.period() ? e.period()->end() : 0;
    for (const auto& f : r.pair_differ) {
      const field_def* d = find_field(f, e.payload_type());
      m.differ.push_back(d ? format_value(d->get(e), d->type) : "");
    }
    for (const auto& f : r.pair_unless_same) m.unless.push_back(read_field(e, f).text);
    for (const auto& f : r.pair_same_if_present) m.lists.push_back(read_field(e, f).list);
    m.bytes = shared_copy(e);
    if (m.end != 0) st.ending.emplace(m.end, subject);
    auto& bucket = st.buckets[*m.bucket];
    for (const auto& other : bucket) {
      const pair_member& o = st.members.at(other);
      if (!pairs_with(r, m, o)) continue;
      auto key = key_of(r, e, area.code, quarter_of(std::max(m.start, o.start)));
      if (!key) continue;
      st.pairs[*key].insert(ordered(subject, other));
      st.partners[subject][other] = *key;
      st.partners[other][subject] = *key;
      affected.insert(*key);
    }
    bucket.push_back(subject);
    st.members[subject] = std::move(m);
    finish();
  }

  // Members whose period ended before the watermark leave their pairs.
  void expire_pairs(rule_state& st) {
    while (!st.ending.empty() && st.ending.begin()->first < watermark) {
      auto [end, subject] = *st.ending.begin();
      st.ending.erase(st.ending.begin());
      auto m = st.members.find(subject);
      if (m == st.members.end() || m->second.end != end) continue;  // revised since
      evidence closing = member_ev(*st.r, m->second);
      closing.excerpt += " (ended " + format_date(end) + ")";
      std::set<std::string> affected;
      remove_member(st, subject, affected);
      for (const auto& k : affected) judge_pair(st, k, {closing});
    }
  }

  void judge_pair(rule_state& st, const std::string& key, std::vector<evidence> closing) {
    auto it = st.pairs.find(key);
    if (it == st.pairs.end() || it->second.empty()) {
      if (it != st.pairs.end()) st.pairs.erase(it);
      clear_alert(st, key, std::move(closing));
      return;
    }
    alert_state a;
    a.firing = true;
    a.severity = st.r->severity;
    std::set<std::string> seen;
    std::string unless;
    for (const auto& f : st.r->pair_unless_same) unless += (unless.empty() ? "" : " or ") + f;
    for (const auto& [x, y] : it->second) {
      const pair_member& m1 = st.members.at(x);
      const pair_member& m2 = st.members.at(y);
      if (a.detail.empty()) {
        a.country = m1.country;
        a.area = m1.area;
        a.first_event_time = std::min(m1.occurred, m2.occurred);
        a.detail = member_label(m1) + " and " + member_label(m2) + " overlap from " +
                   format_date(std::max(m1.start, m2.start)) + (unless.empty() ? "" : " with no shared " + unless);
      }
      a.first_event_time = std::min({a.first_event_time, m1.occurred, m2.occurred});
      a.last_event_time = std::max({a.last_event_time, m1.occurred, m2.occurred});
      for (const auto* m : {&m1, &m2})
        if (a.ev.size() < max_evidence && seen.insert(*(m == &m1 ? x : y)).second) a.ev.push_back(member_ev(*st.r, *m));
    }
    if (it->second.size() > 1) a.detail += "; " + std::to_string(it->second.size() - 1) + " more pair(s)";
    auto old = st.alerts.find(key);
    if (old != st.alerts.end() && old->second.firing)
      a.first_event_time = std::min(a.first_event_time, old->second.first_event_time);
    set_alert(st, key, std::move(a));  // a firing alert of the same severity emits nothing new
  }

  // ---------------------------------------------------------------- ratio

  void ratio_event(rule_state& st, const Envelope& e) {
    const rule& r = *st.r;
    std::string subject = subject_of(e);
    evidence ev = evidence_of(e, r.fields_used);
    tri sel = eval_all(r.on.where, e);
    if (sel == tri::missing) {
      ++st.skipped;
      return;
    }
    auto drop = [&] {
      auto k = st.item_key.find(subject);
      if (k == st.item_key.end()) return;
      std::string key = k->second;
      st.items[key].erase(subject);
      st.item_key.erase(k);
      judge_ratio(st, key, {ev});
    };
    auto area = pick_area(r, e);
    if (sel == tri::no || (area.country_wide && r.skip_country_wide)) return drop();
    auto t = read_field(e, r.time_field), num = read_field(e, r.numerator), den = read_field(e, r.denominator);
    auto key = area.ok ? key_of(r, e, area.code) : std::nullopt;
    if (!key || !t.present || !num.present || !den.present) {
      ++st.skipped;
      return;
    }
    ++st.evaluated;
    auto k = st.item_key.find(subject);
    if (k != st.item_key.end()) {
      auto& old = st.items[k->second][subject];
      if (ev.time < old.ev.time) return;  // an older revision arriving late changes nothing
      if (k->second != *key) drop();
    }
    st.items[*key][subject] = {e.country()->str(), static_cast<millis>(t.number), num.number, den.number, ev};
    st.item_key[subject] = *key;
    judge_ratio(st, *key, {ev});
  }

  void judge_ratio(rule_state& st, const std::string& key, std::vector<evidence> closing) {
    const rule& r = *st.r;
    auto& items = st.items[key];
    millis from = watermark - r.window, to = watermark;
    double num = 0, den = 0;
    millis next = std::numeric_limits<millis>::max();
    std::vector<const share_item*> in;
    for (auto it = items.begin(); it != items.end();) {
      const share_item& x = it->second;
      if (x.t < from - lateness) {  // no late event can bring it back: forget it
        st.item_key.erase(it->first);
        it = items.erase(it);
        continue;
      }
      if (x.t >= from && x.t <= to) {
        num += x.num;
        den += x.den;
        in.push_back(&x);
        next = std::min(next, x.t + r.window + 1);  // leaves the window
      } else if (x.t > to) {
        next = std::min(next, x.t);                 // enters the window
      }
      ++it;
    }
    st.next_change[key] = next;
    if (items.empty()) {
      st.items.erase(key);
      st.next_change.erase(key);
    }
    if (den <= 0 || num / den >= r.below) {
      clear_alert(st, key, std::move(closing));
      return;
    }
    std::sort(in.begin(), in.end(), [](const share_item* a, const share_item* b) {
      double sa = a->den > 0 ? a->num / a->den : 0, sb = b->den > 0 ? b->num / b->den : 0;
      return sa != sb ? sa < sb : a->t < b->t;
    });
    alert_state a;
    a.firing = true;
    a.severity = r.severity;
    a.country = in.front()->country;
    for (const auto* x : in) {
      if (a.ev.size() < max_evidence) a.ev.push_back(x->ev);
      a.first_event_time = a.first_event_time == 0 ? x->t : std::min(a.first_event_time, x->t);
      a.last_event_time = std::max(a.last_event_time, x->t);
    }
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s is %.1f %% of %s (%.0f of %.0f) over %zu event(s) from %s to %s, below %.0f %%",
                  r.numerator.c_str(), 100.0 * num / den, r.denominator.c_str(), num, den, in.size(),
                  format_date(from).c_str(), format_date(to).c_str(), 100.0 * r.below);
    a.detail = buf;
    auto old = st.alerts.find(key);
    if (old != st.alerts.end() && old->second.firing) {
      a.first_event_time = std::min(a.first_event_time, old->second.first_event_time);
      if (old->second.detail.substr(0, old->second.detail.find(" from ")) == a.detail.substr(0, a.detail.find(" from ")) &&
          old->second.ev.size() == a.ev.size())
        return;  // the same sums: only the window's dates moved
    }
    set_alert(st, key, std::move(a));
  }

  void tick_ratios(rule_state& st) {
    std::vector<std::string> due;
    for (const auto& [key, next] : st.next_change)
      if (next <= watermark) due.push_back(key);
    for (const auto& key : due) judge_ratio(st, key, {});
  }

  // ---------------------------------------------------------------- stagnation

  void stagnation_event(rule_state& st, const Envelope& e) {
    const rule& r = *st.r;
    tri sel = eval_all(r.on.where, e);
    if (sel == tri::missing) {
      ++st.skipped;
      return;
    }
    if (sel == tri::no) return;
    auto key = key_of(r, e, "");
    const auto* p = e.payload_as_CommitmentProgress();
    const field_def* d = find_field(r.stagnant_field, e.payload_type());
    field_value v = d ? d->get(e) : field_value{};
    if (!key || p == nullptr || p->reporting_period() == nullptr || p->reporting_period()->end() == 0 || !v.present) {
      ++st.skipped;
      return;
    }
    ++st.evaluated;
    reading x{p->reporting_period()->start(), p->reporting_period()->end(), format_value(v, d->type),
              evidence_of(e, r.fields_used)};
    auto& rd = st.readings[*key];
    auto at = std::find_if(rd.begin(), rd.end(), [&](const reading& y) { return y.end >= x.end; });
    if (at != rd.end() && at->end == x.end) {
      if (x.ev.time < at->ev.time) return;  // an older report for the same period
      *at = x;                              // a correction for the same period
    } else {
      rd.insert(at, x);
    }
    if (rd.size() > r.stagnant_periods) rd.erase(rd.begin(), rd.end() - r.stagnant_periods);
    bool same = rd.size() == r.stagnant_periods;
    for (const auto& y : rd) same = same && y.value == rd.front().value;
    if (!same) {
      clear_alert(st, *key, {rd.back().ev});
      return;
    }
    alert_state a;
    a.firing = true;
    a.severity = r.severity;
    a.country = e.country()->str();
    for (const auto& y : rd) a.ev.push_back(y.ev);
    a.first_event_time = rd.front().ev.time;
    a.last_event_time = rd.back().ev.time;
    a.detail = r.stagnant_field + " = " + rd.back().value + " in " + std::to_string(rd.size()) +
               " consecutive reporting periods (" + format_date(rd.front().start) + " to " + format_date(rd.back().end) +
               ")";
    set_alert(st, *key, std::move(a));
  }

  // ---------------------------------------------------------------- dispatch

  void strategy_event(const Envelope& e) {
    const auto* p = e.payload_as_PoliticalStrategy();
    if (!p->strategy_id()) return;
    strategy s;
    s.id = p->strategy_id()->str();
    s.country = e.country()->str();
    s.version = p->version();
    s.title = p->title() ? p->title()->str() : "";
    s.valid_from = p->valid_from();
    s.valid_to = p->valid_to();
    s.ev = evidence_of(e, {"country"});
    s.ev.excerpt = "political_strategy " + s.id + " v" + std::to_string(s.version) + " \"" + s.title + "\" valid " +
                   format_date(s.valid_from) + " to " + (s.valid_to ? format_date(s.valid_to) : "open");
    if (p->objectives())
      for (const auto* o : *p->objectives()) {
        if (!o->id()) continue;
        objective ob;
        ob.text = o->text() ? o->text()->str() : "";
        ob.priority = o->priority();
        if (o->admin_areas_in_scope())
          for (const auto* a : *o->admin_areas_in_scope()) ob.areas.insert(a->str());
        if (o->mandate_areas())
          for (auto m : *o->mandate_areas()) ob.mandate_areas.insert(schema::EnumNameMandateArea(static_cast<schema::MandateArea>(m)));
        if (o->sector_families())
          for (const auto* f : *o->sector_families()) ob.sector_families.insert(f->str());
        s.objectives[o->id()->str()] = std::move(ob);
      }
    strategies[s.id][s.version] = s;
    add_strategy_edges(s);
    recheck_strategy_rules(s.country, &s.ev);
    for (auto& [id, st] : states)
      if (st.r->kind == rule_kind::absence && st.r->of_objectives) judge_objectives(st, s.country);
  }

  void own_event(const Envelope& e) {
    switch (e.payload_type()) {
      case Payload::CoherenceAlert: {
        const auto* a = e.payload_as_CoherenceAlert();
        if (!a->rule_id() || !a->key()) return;
        published& p = pub[pub_key(a->rule_id()->str(), a->key()->str())];
        bool firing = a->status() == schema::AlertStatus::firing;
        std::string id = a->alert_id() ? a->alert_id()->str() : "";
        if (firing && id != p.alert_id) {
          ++p.openings;
          p.ack_by.clear();
          p.ack_note.clear();
          p.steps = 1;
          p.severities_seen = severity_bit(a->severity());
        } else if (firing && (!p.firing || a->severity() != p.severity)) {
          // a severity change of this opening (our own transition read back changes nothing)
          ++p.steps;
          p.severities_seen = static_cast<std::uint8_t>(p.severities_seen | severity_bit(a->severity()));
        }
        p.alert_id = id;
        p.firing = firing;
        p.severity = a->severity();
        p.rule_id = a->rule_id()->str();
        p.key = a->key()->str();
        p.country = e.country()->str();
        p.first_processed_at = a->first_processed_at();
        p.processed_at = a->processed_at();
        p.last.country = p.country;
        p.last.severity = a->severity();
        p.last.first_event_time = a->first_event_time();
        p.last.last_event_time = a->last_event_time();
        p.last.strategy_id = a->strategy_id() ? a->strategy_id()->str() : "";
        p.last.objective_id = a->objective_id() ? a->objective_id()->str() : "";
        return;
      }
      case Payload::AlertAcknowledgement: {
        const auto* a = e.payload_as_AlertAcknowledgement();
        if (!a->alert_id()) return;
        for (auto& [k, p] : pub)
          if (p.alert_id == a->alert_id()->str() && p.firing) {
            p.ack_by = a->by() ? a->by()->str() : "";
            p.ack_note = a->note() ? a->note()->str() : "";
          }
        return;
      }
      case Payload::AlertSilence: {
        const auto* s = e.payload_as_AlertSilence();
        if (!s->rule_id()) return;
        std::string key = s->key() && s->key()->size() ? s->key()->str() : "*";
        silences[s->rule_id()->str() + "|" + key] = {s->until(), s->reason() ? s->reason()->str() : ""};
        return;
      }
      default: return;
    }
  }

  void event(const Envelope& e, millis log_time) {
    ++events;
    current_copy.reset();
    clock = std::max(clock, log_time);
    auto type = e.payload_type();
    // An adapter's heartbeat says when the adapter was alive, not when anything in the
    // country happened: it must not move event time (an idle adapter's heartbeat would
    // otherwise close every window over records published late, e.g. a backlog import).
    millis t = type == Payload::AdapterHeartbeat ? 0 : event_time(e);
    if (t != 0) watermark = std::max(watermark, std::min(t, clock));
    if (type == Payload::CoherenceAlert || type == Payload::AlertAcknowledgement || type == Payload::AlertSilence) {
      own_event(e);
      return;
    }
    if (type == Payload::PoliticalStrategy) {
      strategy_event(e);
      return;
    }
    for (auto& [id, st] : states) {
      const rule& r = *st.r;
      bool on = has_type(r.on, type);
      switch (r.kind) {
        case rule_kind::condition:
          if (on) condition(st, e, log_time, false);
          break;
        case rule_kind::expectation:
          expectation_candidate(st, e);
          if (on) expectation_trigger(st, e);
          break;
        case rule_kind::absence:
          if (on) {
            if (r.of_objectives) objective_activity(st, e);
            else absence_report(st, e);
          }
          break;
        case rule_kind::threshold:
          threshold_activity(st, e);
          if (on) threshold_event(st, e);
          tick_thresholds(st);
          break;
        case rule_kind::pair:
          if (on) pair_event(st, e);
          expire_pairs(st);
          break;
        case rule_kind::ratio:
          if (on) ratio_event(st, e);
          tick_ratios(st);
          break;
        case rule_kind::stagnation:
          if (on) stagnation_event(st, e);
          break;
      }
    }
    settle();
    maybe_compact(false);
  }

  // After an event or a tick, in the same step: strategy checks whose answer changed with
  // time, then also_firing.
  void settle() {
    strategy_edges_due();
    propagate();
  }

  // also_firing: a rule whose alerts started or stopped firing makes the rules naming it
  // re-judge the severity of their firing alerts (a chain A -> B -> C settles in as many
  // rounds; cycles are load errors).
  void propagate() {
    for (std::size_t round = 0; round <= states.size(); ++round) {
      std::set<std::string> changed;
      for (auto& [id, st] : states)
        if (st.flipped) {
          changed.insert(id);
          st.flipped = false;
        }
      if (changed.empty()) return;
      for (auto& [id, st] : states) {
        const auto& refs = st.r->also_firing;
        if (!std::any_of(refs.begin(), refs.end(), [&](const also_ref& a) { return changed.count(a.rule) != 0; }))
          continue;
        if (st.r->kind == rule_kind::absence && st.r->of_objectives) {
          judge_objectives(st, "");
        } else if (st.r->kind == rule_kind::expectation) {
          std::vector<std::string> keys;
          for (const auto& [k, a] : st.alerts)
            if (a.firing) keys.push_back(k);
          for (const auto& k : keys) judge_expectation(st, k, {});
        }
      }
    }
  }

  // Strategy checks depend on time as well as on events: a version comes into force at
  // valid_from, expires after valid_to, and check_grace ends. Each such instant is an edge;
  // when the clock passes one, the strategy rules of its country are re-checked.
  void add_strategy_edges(const strategy& s) {
    std::set<millis> grace{0};
    for (const auto& [id, st] : states)
      if (st.r->kind == rule_kind::condition && st.r->check != strategy_check::none) grace.insert(st.r->check_grace);
    for (millis g : grace) {
      // in force while valid_from <= t <= valid_to; a grace ends at (start of the gap) + g
      for (millis t : {s.valid_from + g, s.valid_to != 0 ? s.valid_to + g : 0, s.valid_to != 0 ? s.valid_to + 1 + g : 0})
        if (t > clock) strategy_edges.emplace(t, s.country, s.id, s.version);
    }
  }

  void strategy_edges_due() {
    std::map<std::string, evidence> countries;  // country -> the strategy of its latest edge due
    while (!strategy_edges.empty() && std::get<0>(*strategy_edges.begin()) <= clock) {
      const auto& [t, country, id, version] = *strategy_edges.begin();
      auto s = strategies.find(id);
      if (s != strategies.end() && s->second.count(version)) countries[country] = s->second.at(version).ev;
      strategy_edges.erase(strategy_edges.begin());
    }
    for (const auto& [c, by] : countries) recheck_strategy_rules(c, &by);
  }

  // ---------------------------------------------------------------- memory

  // Runs compact() when the pool has doubled since the last one, after 4 events per string
  // it held then, or on a tick an hour (processing time) after the last one. Its cost is
  // proportional to the state, and the first two conditions space it by as many events,
  // so its cost per event is a constant.
  void maybe_compact(bool ticking) {
    std::size_t base = pool_live + 65536;
    if (pool.size() > pool_live + base || events - compacted_events >= 4 * base ||
        (ticking && clock - compacted_clock >= 3'600'000))
      compact();
  }

  // Forgets what no event can use any more, then the interned strings nothing refers to.
  // What goes: expectation counterparts whose period ended before any trigger within the
  // lateness tolerance can ask for them (watermark - lateness + the earliest `from`);
  // threshold activities that ended before any window a late incident can reach; condition
  // subjects with nothing to re-check, no alert, older than the lateness tolerance; resolved
  // alerts whose transition is out (their published record keeps the id and openings);
  // pair end-of-period entries of members that are gone or were revised.
  void compact() {
    compacted_events = events;
    compacted_clock = clock;
    std::unordered_set<istr> live;
    live.reserve(pool.size());
    for (auto& [id, st] : states) {
      const rule& r = *st.r;
      if (r.kind == rule_kind::expectation) {
        millis reach = 0;
        for (const auto& alt : r.expect) reach = std::min(reach, alt.from);
        millis horizon = watermark - lateness + reach;
        std::vector<istr> ended;
        for (const auto& [subject, list] : st.candidate_of) {
          bool over = !list.empty();
          for (const auto& [cp, idx] : list) over = over && cp->end != 0 && cp->end < horizon;
          if (over) ended.push_back(subject);
        }
        for (auto subject : ended) drop_candidates(st, subject);
      }
      for (auto it = st.active.begin(); it != st.active.end();) {
        std::erase_if(it->second, [&](const auto& kv) {
          return kv.second.end != 0 && kv.second.end < watermark - r.window - lateness;
        });
        it = it->second.empty() ? st.active.erase(it) : std::next(it);
      }
      std::erase_if(st.subjects, [&](const auto& kv) {
        const cond_subject& c = kv.second;
        if (c.violated || c.bytes || c.occurred >= watermark - lateness) return false;
        auto a = st.alerts.find(*kv.first);
        return a == st.alerts.end() || !a->second.firing;
      });
      if (!replaying)
        std::erase_if(st.alerts, [&](const auto& kv) { return !kv.second.firing && !st.dirty.count(kv.first); });
      std::erase_if(st.ending, [&](const auto& kv) {
        auto m = st.members.find(kv.second);
        return m == st.members.end() || m->second.end != kv.first;
      });
      // Mark: every interned string some state refers to (the indexes by key, area and
      // partner refer only to subjects held here).
      for (const auto& [k, v] : st.subjects) live.insert(k);
      for (const auto& [k, v] : st.triggers) live.insert(k);
      for (const auto& [k, v] : st.candidate_of) live.insert(k);
      for (const auto& [idx, m] : st.active)
        for (const auto& [k, v] : m) live.insert(k);
      for (const auto& [k, m] : st.members) {
        live.insert(k);
        live.insert(m.bucket);
      }
    }
    std::erase_if(pool, [&](const std::string& x) { return !live.count(&x); });
    pool_live = pool.size();
  }

  void tick() {
    maybe_compact(true);
    strategy_edges_due();
    for (auto& [id, st] : states) {
      switch (st.r->kind) {
        case rule_kind::condition: tick_conditions(st); break;
        case rule_kind::expectation: tick_expectations(st); break;
        case rule_kind::absence:
          if (st.r->of_objectives) judge_objectives(st, "");
          else
            for (const auto& [key, x] : st.reports) judge_report(st, key);
          break;
        case rule_kind::threshold: tick_thresholds(st); break;
        case rule_kind::pair: expire_pairs(st); break;
        case rule_kind::ratio: tick_ratios(st); break;
        case rule_kind::stagnation: break;
      }
    }
    propagate();
  }

  void install(std::shared_ptr<const rule_set> rs) {
    std::map<std::string, rule_state> next;
    for (const auto& r : rs->rules) {
      auto old = states.find(r.id);
      if (old != states.end() && old->second.r->kind == r.kind && old->second.r->for_each == r.for_each) {
        next[r.id] = std::move(old->second);
      }
      next[r.id].r = &r;
    }
    states = std::move(next);
    rules = std::move(rs);
    // check_grace may differ in the new rules: the edges are made again
    strategy_edges.clear();
    for (const auto& [id, versions] : strategies)
      for (const auto& [v, s] : versions) add_strategy_edges(s);
  }
};

engine::engine(std::shared_ptr<const rule_set> rules) : impl_(std::make_unique<impl>()) {
  impl_->install(std::move(rules));
}
engine::~engine() = default;

void engine::replace_rules(std::shared_ptr<const rule_set> rules) {
  std::lock_guard lock(impl_->mu);
  impl_->install(std::move(rules));
}

void engine::on_event(std::uint64_t offset, millis log_time, const schema::Envelope& e,
                      std::vector<std::vector<std::uint8_t>>& out) {
  std::lock_guard lock(impl_->mu);
  try {
    impl_->event(e, log_time);
    for (auto& [id, st] : impl_->states) impl_->sync(st, &out);
  } catch (const std::exception& ex) {
    spdlog::error("rules: event {} at offset {} could not be judged: {}",
                  e.id() != nullptr ? schema::id_to_hex(*e.id()) : std::string("(no id)"), offset, ex.what());
  }
}

void engine::on_tick(millis now, std::vector<std::vector<std::uint8_t>>& out) {
  std::lock_guard lock(impl_->mu);
  try {
    impl_->clock = std::max(impl_->clock, now);
    impl_->tick();
    impl_->sync_all(&out);
  } catch (const std::exception& ex) {
    spdlog::error("rules: tick failed: {}", ex.what());
  }
}

void engine::set_replaying(bool on, std::vector<std::vector<std::uint8_t>>* out) {
  std::lock_guard lock(impl_->mu);
  bool was = impl_->replaying;
  impl_->replaying = on;
  if (was && !on) {
    impl_->tick();
    impl_->sync_all(out);
  }
}

engine_stats engine::stats() const {
  std::lock_guard lock(impl_->mu);
  engine_stats s;
  s.events = impl_->events;
  s.interned = impl_->pool.size();
  s.alerts_emitted = impl_->emitted;
  for (const auto& [id, st] : impl_->states) {
    s.evaluated[id] = st.evaluated;
    s.skipped_missing_fields[id] = st.skipped;
    for (const auto& [k, t] : st.triggers) s.open_expectations += t.satisfied ? 0 : 1;
    for (const auto& [k, list] : st.candidate_of) s.expectation_candidates += list.size();
    for (const auto& [k, v] : st.triggers_by_area) s.index_entries += v.size();
    for (const auto& [k, v] : st.candidates) s.index_entries += v.size();
    s.records += st.subjects.size() + st.triggers.size() + st.reports.size() + st.members.size() +
                 st.item_key.size() + st.alerts.size();
    if (!st.r->for_each.empty())
      for (const auto& [k, c] : st.subjects) s.records += c.each ? c.each->size() : 0;
    for (const auto& [k, m] : st.active) s.records += m.size();
  }
  for (const auto& [k, p] : impl_->pub)
    if (p.firing) ++s.firing_by_severity[schema::EnumNameSeverity(p.severity)];
  return s;
}

std::vector<alert_view> engine::firing() const {
  std::lock_guard lock(impl_->mu);
  std::vector<alert_view> out;
  for (const auto& [id, st] : impl_->states) {
    for (const auto& [key, a] : st.alerts) {
      if (!a.firing) continue;
      alert_view v;
      v.rule_id = id;
      v.key = key;
      v.country = a.country;
      v.severity = schema::EnumNameSeverity(a.severity);
      v.title = impl_->render(st.r->title, *st.r, key, a);
      v.explanation = impl_->render(st.r->description, *st.r, key, a) + (a.note.empty() ? "" : " " + a.note);
      v.anchor = st.r->anchor;
      v.closing_action = st.r->closing_action;
      v.objective_id = a.objective_id;
      v.strategy_id = a.strategy_id;
      for (const auto& e : a.ev) v.evidence.push_back(schema::id_to_hex(e.id) + ": " + e.excerpt);
      v.first_event_time = a.first_event_time;
      v.last_event_time = a.last_event_time;
      auto p = impl_->pub.find(impl_->pub_key(id, key));
      if (p != impl_->pub.end()) {
        v.alert_id = p->second.alert_id;
        v.first_processed_at = p->second.first_processed_at;
        v.processed_at = p->second.processed_at;
        v.acknowledged_by = p->second.ack_by;
        v.ack_note = p->second.ack_note;
        v.silenced = !p->second.firing && impl_->silenced(id, key);
      } else {
        v.silenced = impl_->silenced(id, key);
      }
      out.push_back(std::move(v));
    }
  }
  return out;
}

}  // namespace hub::rules

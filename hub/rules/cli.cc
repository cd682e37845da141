#include "hub/rules/cli.h"

#include <spdlog/fmt/fmt.h>

#include "hub/rules/engine.h"
#include "hub/rules/fields.h"
#include "schemas/schema.h"

namespace hub::rules {
namespace {

void print_transition(const std::vector<std::uint8_t>& bytes, std::ostream& out) {
  const auto* e = schema::GetEnvelope(bytes.data());
  const auto* a = e->payload_as_CoherenceAlert();
  if (a == nullptr) return;
  out << fmt::format("{}  {:<8} {:<8} {:<6} {:<28} {}\n", format_date(a->processed_at()),
                     a->status() == schema::AlertStatus::firing ? "FIRING" : "RESOLVED",
                     schema::EnumNameSeverity(a->severity()), a->rule_id() ? a->rule_id()->str() : "",
                     a->key() ? a->key()->str() : "", a->title() ? a->title()->str() : "");
  if (a->status() == schema::AlertStatus::firing && a->evidence())
    for (const auto* ev : *a->evidence())
      out << "    evidence " << (ev->event_id() ? schema::id_to_hex(*ev->event_id()) : "") << ": "
          << (ev->excerpt() ? ev->excerpt()->str() : "") << "\n";
}

}  // namespace

int check_rules_command(const std::vector<std::filesystem::path>& files, std::ostream& out) {
  auto loaded = load_rule_files(files);
  if (auto* errors = std::get_if<std::vector<load_error>>(&loaded)) {
    for (const auto& e : *errors) out << to_string(e) << "\n";
    out << errors->size() << " error(s); the rules were not loaded. Fix the lines above and run the check again.\n";
    return 1;
  }
  const auto& set = *std::get<std::shared_ptr<const rule_set>>(loaded);
  auto rules = summarize(set);
  for (const auto& r : rules)
    out << fmt::format("{:<8} {:<36} {:<12} {:<9} {}:{}\n", r.id, r.name, r.kind, r.severity, r.file, r.line);
  out << rules.size() << " rule(s) in " << files.size() << " file(s): OK\n";
  return 0;
}

int backtest_command(const std::vector<std::filesystem::path>& rule_files, const event_source& source, millis from,
                     millis now, std::ostream& out) {
  auto loaded = load_rule_files(rule_files);
  if (auto* errors = std::get_if<std::vector<load_error>>(&loaded)) {
    for (const auto& e : *errors) out << to_string(e) << "\n";
    return 1;
  }
  engine eng(std::get<std::shared_ptr<const rule_set>>(loaded));
  std::vector<std::vector<std::uint8_t>> alerts;
  std::uint64_t fed = 0, bad = 0, firing = 0, resolved = 0;
  millis last_log = from;
  auto count = [&](const std::vector<std::vector<std::uint8_t>>& list) {
    for (const auto& b : list) {
      const auto* a = schema::GetEnvelope(b.data())->payload_as_CoherenceAlert();
      if (a && a->status() == schema::AlertStatus::firing) ++firing;
      else ++resolved;
      print_transition(b, out);
    }
  };
  bool ok = source([&](const stored_event& ev) {
    if (ev.log_time < from) return;
    auto check = schema::check_envelope(ev.bytes);
    if (check.envelope == nullptr) {
      ++bad;
      return;
    }
    const auto* e = check.envelope;
    if (e->source_system() && e->source_system()->string_view() == engine::source_system) return;
    std::vector<std::vector<std::uint8_t>> produced;
    eng.on_event(ev.offset, ev.log_time, *e, produced);
    last_log = std::max(last_log, ev.log_time);
    ++fed;
    count(produced);
    // The alerts are fed back as the broker would append them, so acks and state match.
    for (const auto& b : produced) {
      std::vector<std::vector<std::uint8_t>> none;
      eng.on_event(ev.offset, ev.log_time, *schema::GetEnvelope(b.data()), none);
    }
  });
  if (!ok) {
    out << "backtest: reading the stored events failed; the result below is incomplete\n";
  }
  std::vector<std::vector<std::uint8_t>> produced;
  eng.on_tick(std::max(now, last_log), produced);
  count(produced);
  auto still = eng.firing();
  out << fmt::format("{} event(s) judged ({} unreadable skipped); {} firing and {} resolved transition(s); {} alert(s) "
                     "firing at the end. Nothing was published.\n",
                     fed, bad, firing, resolved, still.size());
  return ok ? 0 : 2;
}

}  // namespace hub::rules

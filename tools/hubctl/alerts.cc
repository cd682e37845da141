// hubctl alerts: what the rules module raised, as coordinators need it: the alerts
// firing now (with who took them), following them live, taking one (ack) and muting a
// planned gap (silence). Acks and silences are events too, published to the hub.
#include <csignal>
#include <iomanip>
#include <iostream>
#include <map>

#include <flatbuffers/flatbuffers.h>
#include <nlohmann/json.hpp>

#include "adapters/sdk/event.h"
#include "schemas/schema.h"
#include "tools/hubctl/cli.h"
#include "tools/hubctl/read_all.h"

namespace hubctl {
namespace {

namespace fb = hub::schema;

struct alert_state {
  std::string alert_id, rule, key, country, severity, status, title, explanation, objective, anchor, action;
  std::vector<std::string> evidence;
  std::int64_t since = 0, last = 0;
  std::string ack_by, ack_note;
};

std::string str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

void fold_alert(std::map<std::string, alert_state>& alerts, const hub::sdk::event& e) {
  const auto* env = e.envelope();
  if (const auto* a = env->payload_as_CoherenceAlert()) {
    auto id = str(a->alert_id());
    if (id.empty()) id = str(a->rule_id()) + "/" + str(a->key());
    auto& s = alerts[id];
    s.alert_id = id;
    s.rule = str(a->rule_id());
    s.key = str(a->key());
    s.country = str(env->country());
    s.severity = fb::EnumNameSeverity(a->severity());
    s.status = fb::EnumNameAlertStatus(a->status());
    s.title = str(a->title());
    s.explanation = str(a->explanation());
    s.objective = str(a->objective_id());
    s.anchor = str(a->anchor());
    s.action = str(a->closing_action());
    s.evidence.clear();
    if (a->evidence())
      for (const auto* ev : *a->evidence())
        s.evidence.push_back((ev->event_id() ? fb::id_to_hex(*ev->event_id()) : std::string("-")) + ": " +
                             str(ev->excerpt()));
    if (s.since == 0 || a->status() == fb::AlertStatus::firing) s.since = s.since ? s.since : a->first_event_time();
    s.last = env->published_at();
    if (a->status() == fb::AlertStatus::resolved) {
      s.ack_by.clear();
      s.ack_note.clear();
    }
  } else if (const auto* k = env->payload_as_AlertAcknowledgement()) {
    auto it = alerts.find(str(k->alert_id()));
    if (it != alerts.end()) {
      it->second.ack_by = str(k->by());
      it->second.ack_note = str(k->note());
    }
  }
}

nlohmann::json to_json(const alert_state& s) {
  return {{"alert_id", s.alert_id}, {"rule", s.rule},         {"key", s.key},         {"country", s.country},
          {"severity", s.severity}, {"status", s.status},     {"title", s.title},     {"explanation", s.explanation},
          {"objective", s.objective}, {"anchor", s.anchor},   {"closing_action", s.action},
          {"evidence", s.evidence}, {"acknowledged_by", s.ack_by}, {"ack_note", s.ack_note}};
}

bool keep(const alert_state& s, const std::string& country, const std::string& severity) {
  return (country.empty() || s.country == country) && (severity.empty() || s.severity == severity);
}

void print_table(const std::vector<const alert_state*>& rows) {
  std::cout << std::left << std::setw(10) << "SEVERITY" << std::setw(9) << "STATUS" << std::setw(8) << "COUNTRY"
            << std::setw(12) << "RULE" << std::setw(30) << "KEY" << std::setw(16) << "TAKEN BY" << "TITLE\n";
  for (const auto* s : rows)
    std::cout << std::left << std::setw(10) << s->severity << std::setw(9) << s->status << std::setw(8) << s->country
              << std::setw(12) << s->rule << std::setw(30) << s->key.substr(0, 29) << std::setw(16)
              << (s->ack_by.empty() ? "-" : s->ack_by.substr(0, 15)) << s->title << "\n";
}

struct list_options {
  std::string country, severity;
  bool follow = false, json = false, all = false;
};

volatile std::sig_atomic_t interrupted = 0;

int run_list(const context& ctx, const list_options& o) {
  std::map<std::string, alert_state> alerts;
  if (!read_all(ctx, "coordination.>", hub::sdk::start_position::earliest(),
                [&](const hub::sdk::event& e) { fold_alert(alerts, e); }))
    return exit_failed;
  std::vector<const alert_state*> rows;
  for (const auto& [id, s] : alerts)
    if ((o.all || s.status == "firing") && keep(s, o.country, o.severity)) rows.push_back(&s);
  if (o.json) {
    for (const auto* s : rows) std::cout << to_json(*s).dump() << "\n";
  } else {
    print_table(rows);
    if (rows.empty()) std::cout << "(no alert firing" << (o.country.empty() ? "" : " in " + o.country) << ")\n";
  }
  std::cout.flush();
  if (!o.follow) return exit_ok;
  // Follow: every transition from now on, one line each.
  std::signal(SIGINT, [](int) { interrupted = 1; });
  std::signal(SIGTERM, [](int) { interrupted = 1; });
  hub::sdk::subscriber::options so;
  so.connection = ctx.connection();
  so.pattern = "coordination.>";
  so.start = hub::sdk::start_position::new_only();
  hub::sdk::subscriber sub(so);
  while (interrupted == 0) {
    auto e = sub.next(std::chrono::milliseconds(200));
    if (!e) continue;
    fold_alert(alerts, *e);
    const auto* a = e->envelope()->payload_as_CoherenceAlert();
    if (a == nullptr) continue;
    auto id = str(a->alert_id());
    auto it = alerts.find(id.empty() ? str(a->rule_id()) + "/" + str(a->key()) : id);
    if (it == alerts.end() || !keep(it->second, o.country, o.severity)) continue;
    if (o.json)
      std::cout << to_json(it->second).dump() << std::endl;
    else
      std::cout << hub::sdk::format_time(e->envelope()->published_at()) << "  " << std::left << std::setw(9)
                << it->second.status << std::setw(9) << it->second.severity << it->second.country << "  "
                << it->second.rule << "  " << it->second.title << std::endl;
  }
  return exit_ok;
}

// Publishes one coordination event made by a person.
int publish_one(const context& ctx, std::vector<std::uint8_t> bytes, const std::string& what) {
  hub::sdk::publisher::options po;
  po.connection = ctx.connection();
  po.publish_timeout = std::chrono::seconds(10);
  hub::sdk::publisher pub(po);
  std::string refused;
  pub.on_refused([&](const fb::Id128&, fb::Reason, const std::string& why) { refused = why; });
  if (!pub.publish(bytes) || !pub.flush(std::chrono::seconds(10))) {
    std::cerr << "hubctl: no hub acknowledged the " << what << " at " << ctx.hubs_text() << "\n";
    return exit_failed;
  }
  if (!refused.empty()) {
    std::cerr << "hubctl: the hub refused the " << what << ": " << refused << "\n";
    return exit_failed;
  }
  std::cout << what << " published\n";
  return exit_ok;
}

flatbuffers::Offset<fb::Envelope> coordination_envelope(flatbuffers::FlatBufferBuilder& fbb, const std::string& country,
                                                        const std::string& who, fb::Payload type,
                                                        flatbuffers::Offset<void> payload) {
  auto id = hub::sdk::new_event_id();
  auto src = fbb.CreateString("hubctl:" + who);
  auto c = fbb.CreateString(country);
  auto now = static_cast<std::int64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  fb::EnvelopeBuilder b(fbb);
  b.add_id(&id);
  b.add_source_system(src);
  b.add_entity(fb::Entity::coordination);
  b.add_country(c);
  b.add_occurred_at(now);
  b.add_published_at(now);
  b.add_classification(fb::Classification::internal);
  b.add_payload_type(type);
  b.add_payload(payload);
  return b.Finish();
}

int run_ack(const context& ctx, const std::string& alert_id, const std::string& by, const std::string& note) {
  std::map<std::string, alert_state> alerts;
  if (!read_all(ctx, "coordination.>", hub::sdk::start_position::earliest(),
                [&](const hub::sdk::event& e) { fold_alert(alerts, e); }))
    return exit_failed;
  auto it = alerts.find(alert_id);
  if (it == alerts.end() || it->second.status != "firing") {
    std::cerr << "hubctl alerts ack: no firing alert has the id '" << alert_id
              << "'; see `hubctl alerts --json` for the ids\n";
    return exit_bad_input;
  }
  flatbuffers::FlatBufferBuilder fbb;
  auto p = fb::CreateAlertAcknowledgementDirect(fbb, alert_id.c_str(), by.c_str(), note.c_str()).Union();
  auto root = coordination_envelope(fbb, it->second.country, by, fb::Payload::AlertAcknowledgement, p);
  return publish_one(ctx, hub::sdk::finish_envelope(fbb, root), "acknowledgement of " + alert_id);
}

int run_silence(const context& ctx, const std::string& rule, const std::string& key, const std::string& country,
                const std::string& until, const std::string& reason, const std::string& by) {
  auto t = hub::sdk::parse_time(until);
  if (!t) {
    std::cerr << "hubctl alerts silence: --until '" << until << "' is not a date (e.g. 2026-03-31)\n";
    return exit_bad_input;
  }
  if (country.size() != 3) {
    std::cerr << "hubctl alerts silence: --country must be an ISO 3166-1 alpha-3 code\n";
    return exit_bad_input;
  }
  flatbuffers::FlatBufferBuilder fbb;
  auto p = fb::CreateAlertSilenceDirect(fbb, rule.c_str(), key.c_str(), *t, reason.c_str(), by.c_str()).Union();
  auto root = coordination_envelope(fbb, country, by, fb::Payload::AlertSilence, p);
  return publish_one(ctx, hub::sdk::finish_envelope(fbb, root), "silence of " + rule + (key.empty() ? "" : " " + key));
}

}  // namespace

void add_alerts(CLI::App& app, context& ctx) {
  auto* cmd = add_command(app, "alerts", "coherence alerts: list, follow, take (ack) and silence",
                          "Examples:\n"
                          "  hubctl alerts                          alerts firing now, as a table\n"
                          "  hubctl alerts --country SSD --severity critical --json\n"
                          "  hubctl alerts --follow                 then every transition as it happens\n"
                          "  hubctl alerts ack ALERT_ID --by 'RCO Juba' --note 'joint mission planned'\n"
                          "  hubctl alerts silence R5 --key 'SSD/SS05' --country SSD --until 2026-03-31 \\\n"
                          "      --reason 'handover agreed, paperwork pending' --by 'RCO Juba'\n");
  auto lo = std::make_shared<list_options>();
  cmd->add_option("--country", lo->country, "only this country (ISO alpha-3)");
  cmd->add_option("--severity", lo->severity, "only this severity")->check(CLI::IsMember({"info", "warning", "critical"}));
  cmd->add_flag("--follow,-f", lo->follow, "keep printing transitions as they happen");
  cmd->add_flag("--json", lo->json, "one JSON object per line");
  cmd->add_flag("--all", lo->all, "include resolved alerts");
  cmd->callback([&ctx, lo, cmd] {
    if (cmd->get_subcommands().empty()) ctx.run = [&ctx, lo] { return run_list(ctx, *lo); };
  });

  auto* ack = cmd->add_subcommand("ack", "take an alert: who owns it and what they said (an event too)");
  auto ack_id = std::make_shared<std::string>();
  auto ack_by = std::make_shared<std::string>();
  auto ack_note = std::make_shared<std::string>();
  ack->add_option("alert_id", *ack_id, "the alert's id (hubctl alerts --json)")->required();
  ack->add_option("--by", *ack_by, "who takes it")->required();
  ack->add_option("--note", *ack_note, "what they will do");
  ack->callback([&ctx, ack_id, ack_by, ack_note] {
    ctx.run = [&ctx, ack_id, ack_by, ack_note] { return run_ack(ctx, *ack_id, *ack_by, *ack_note); };
  });

  auto* sil = cmd->add_subcommand("silence", "mute a rule (and key) until a date, for a planned gap");
  auto s = std::make_shared<std::array<std::string, 6>>();
  sil->add_option("rule", (*s)[0], "the rule id, e.g. R5")->required();
  sil->add_option("--key", (*s)[1], "the alert key; empty mutes every key of the rule");
  sil->add_option("--country", (*s)[2], "the country (ISO alpha-3)")->required();
  sil->add_option("--until", (*s)[3], "muted until this date (ISO 8601)")->required();
  sil->add_option("--reason", (*s)[4], "why the gap is planned")->required();
  sil->add_option("--by", (*s)[5], "who sets it")->required();
  sil->callback([&ctx, s] {
    ctx.run = [&ctx, s] { return run_silence(ctx, (*s)[0], (*s)[1], (*s)[2], (*s)[3], (*s)[4], (*s)[5]); };
  });
}

}  // namespace hubctl

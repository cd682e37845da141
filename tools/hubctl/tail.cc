// hubctl tail and hubctl replay: events from the hub as JSON lines or a table.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <iomanip>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "adapters/sdk/event.h"
#include "schemas/schema.h"
#include "tools/hubctl/cli.h"

namespace hubctl {
namespace {

using clock = std::chrono::steady_clock;

volatile std::sig_atomic_t interrupted = 0;
void on_signal(int) { interrupted = 1; }

void catch_signals() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

void print_table_header() {
  std::cout << std::left << std::setw(10) << "OFFSET" << std::setw(44) << "TOPIC" << std::setw(34) << "ID"
            << std::setw(22) << "OCCURRED" << "SOURCE\n";
}

void print_event(const hub::sdk::event& e, bool table) {
  if (!table) {
    // One line per event, flushed, so that a pipe or a file sees each as it arrives.
    std::string line = hub::sdk::envelope_to_json(e.bytes, e.offset, e.topic);
    if (!e.signature.empty() && !line.empty() && line.back() == '}') {
      // The publisher's Ed25519 signature the hub verified and stored with the event.
      static constexpr char digits[] = "0123456789abcdef";
      std::string hex;
      for (std::uint8_t b : e.signature) {
        hex += digits[b >> 4];
        hex += digits[b & 15];
      }
      line.insert(line.size() - 1, ",\"signature\":\"" + hex + "\"");
    }
    std::cout << line << std::endl;
    return;
  }
  const auto* env = e.envelope();
  std::cout << std::left << std::setw(10) << e.offset << std::setw(44) << e.topic << std::setw(34)
            << (env->id() ? hub::schema::id_to_hex(*env->id()) : std::string("-")) << std::setw(22)
            << (env->occurred_at() != 0 ? hub::sdk::format_time(env->occurred_at()) : std::string("-"))
            << (env->source_system() ? env->source_system()->str() : std::string("-")) << "\n";
}

struct tail_options {
  std::string pattern;
  std::string from = "new";
  std::string durable;
  std::uint64_t count = 0;
  std::string timeout = "0";
  bool json = false;
  bool table = false;
  std::uint32_t credit = 256;
};

int run_tail(const context& ctx, const tail_options& o) {
  hub::sdk::subscriber::options so;
  so.connection = ctx.connection();
  so.pattern = o.pattern;
  so.start = *parse_start(o.from);
  so.durable_name = o.durable;
  so.credit_window = o.credit;
  catch_signals();
  hub::sdk::subscriber sub(so);
  auto limit = *parse_duration(o.timeout);
  auto deadline = clock::now() + limit;
  std::uint64_t got = 0;
  std::optional<std::uint64_t> last;
  if (o.table) print_table_header();
  while (interrupted == 0 && (o.count == 0 || got < o.count)) {
    auto wait = std::chrono::milliseconds(200);
    if (limit.count() > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
      if (left.count() <= 0) break;
      wait = std::min(wait, left);
    }
    auto e = sub.next(wait);
    if (!e) {
      if (!sub.last_error().empty() && !sub.first_offset()) {
        std::cerr << "hubctl tail: the hub refused the subscription: " << sub.last_error() << "\n";
        return exit_failed;
      }
      continue;
    }
    print_event(*e, o.table);
    ++got;
    last = e->offset;
    if (!o.durable.empty() && got % 100 == 0) (void)sub.commit(*last + 1);
  }
  std::cout.flush();
  if (!o.durable.empty() && last && !sub.commit(*last + 1))
    std::cerr << "hubctl tail: the hub did not confirm the durable offset " << *last + 1 << " for \"" << o.durable
              << "\"; the next run may repeat events\n";
  if (o.count > 0 && got < o.count && interrupted == 0) {
    std::cerr << "hubctl tail: " << got << " of " << o.count << " events arrived within " << o.timeout << "\n";
    return exit_failed;
  }
  return exit_ok;
}

struct replay_options {
  std::string from;
  std::string to;
  std::string pattern = ">";
  std::string idle = "10s";
  bool table = false;
};

int run_replay(const context& ctx, const replay_options& o) {
  std::string why;
  auto status_text = hub::sdk::fetch_status(ctx.connection());
  if (!status_text) {
    std::cerr << "hubctl replay: no answer from the hub at " << ctx.hubs_text() << "; is hubd running there?\n";
    return exit_failed;
  }
  auto status = nlohmann::json::parse(*status_text, nullptr, false);
  if (status.is_discarded() || !status.contains("store") || !status["store"].contains("end")) {
    std::cerr << "hubctl replay: the hub's status has no store.end; cannot tell where the log ends\n";
    return exit_failed;
  }
  // The next offset to be written. A hub sharing a JetStream stream with others may know
  // of later events (durable_end) than it has numbered itself (end).
  std::uint64_t stop = status["store"]["end"].get<std::uint64_t>();
  if (status["store"].contains("durable_end") && status["store"]["durable_end"].is_number_unsigned())
    stop = std::max(stop, status["store"]["durable_end"].get<std::uint64_t>());
  if (!o.to.empty()) stop = std::min(stop, parse_start(o.to)->arg);
  auto start = *parse_start(o.from);
  if (stop == 0 || (start.what == hub::sdk::start_position::kind::at_offset && start.arg >= stop)) return exit_ok;

  // Every event is read, so that the end of the log is seen even when the last events do
  // not match the pattern; the pattern filters here.
  hub::sdk::subscriber::options so;
  so.connection = ctx.connection();
  so.pattern = ">";
  so.start = start;
  so.credit_window = 1024;
  catch_signals();
  hub::sdk::subscriber sub(so);
  const auto idle = *parse_duration(o.idle);
  auto quiet_until = std::chrono::steady_clock::now() + idle;
  if (o.table) print_table_header();
  while (interrupted == 0) {
    auto e = sub.next(std::min<std::chrono::milliseconds>(idle, std::chrono::milliseconds(100)));
    if (!e) {
      // The hub placed the start at or past the end (a time after the newest event, or
      // retention dropped everything before `--to`): there is nothing to print.
      if (auto first = sub.first_offset(); first && *first >= stop) break;
      if (std::chrono::steady_clock::now() < quiet_until) continue;
      std::cerr << "hubctl replay: no event for " << o.idle << " before the end of the log (offset " << stop
                << ")" << (sub.last_error().empty() ? "" : ": " + sub.last_error()) << "\n";
      return exit_failed;
    }
    quiet_until = std::chrono::steady_clock::now() + idle;
    if (e->offset >= stop) break;
    if (topic_matches(o.pattern, e->topic)) print_event(*e, o.table);
    if (e->offset + 1 >= stop) break;
  }
  std::cout.flush();
  return exit_ok;
}

CLI::Validator start_validator(bool allow_new) {
  return CLI::Validator(
      [allow_new](std::string& s) -> std::string {
        auto p = parse_start(s);
        if (!p || (!allow_new && p->what == hub::sdk::start_position::kind::new_only))
          return "\"" + s + "\" is not a start position (" + (allow_new ? "new, " : "") +
                 "earliest, offset:N, time:2025-03-01T10:00:00Z)";
        return {};
      },
      "POSITION");
}

CLI::Validator pattern_validator() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        // A pattern any topic could match: dot-separated tokens, `*` or `>` whole tokens.
        if (s.empty()) return "the pattern is empty (use > for everything)";
        std::size_t start = 0;
        for (;;) {
          auto dot = s.find('.', start);
          auto tok = s.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
          if (tok.empty() || tok.find(' ') != std::string::npos ||
              (tok.size() > 1 && tok.find_first_of("*>") != std::string::npos) ||
              (tok == ">" && dot != std::string::npos))
            return "\"" + s + "\" is not a pattern: tokens separated by dots, `*` matches one token, `>` the rest "
                   "(last only), e.g. peacekeeping.SSD.* or *.*.coherence_alert";
          if (dot == std::string::npos) return {};
          start = dot + 1;
        }
      },
      "PATTERN");
}

}  // namespace

void add_tail(CLI::App& app, context& ctx) {
  auto o = std::make_shared<tail_options>();
  auto* cmd = add_command(app, "tail", "Print events whose topic matches PATTERN as they arrive",
                                 "One JSON object per line (with offset and topic), until --count, --timeout\n"
                                 "or Ctrl-C.\n"
                                 "Topics are <entity>.<country>.<event_type>; `*` matches one token, `>` the rest.\n\n"
                                 "Examples:\n"
                                 "  hubctl tail '>'\n"
                                 "  hubctl tail 'peacekeeping.SSD.*' --from earliest --count 10\n"
                                 "  hubctl tail '*.*.coherence_alert' --durable rco-desk --table\n"
                                 "  hubctl tail '>' --from time:2025-03-01 --timeout 30s");
  cmd->add_option("pattern", o->pattern, "topic pattern, e.g. 'peacekeeping.SSD.>'")
      ->required()
      ->check(pattern_validator());
  cmd->add_option("--from", o->from, "where to start: new, earliest, offset:N, time:ISO-8601")
      ->check(start_validator(true))
      ->capture_default_str();
  cmd->add_option("--durable", o->durable,
                  "a durable subscription name: resume where the last run with this name stopped");
  cmd->add_option("--count", o->count, "stop after N events (0: no limit); exit 1 if fewer arrive")
      ->capture_default_str();
  cmd->add_option("--timeout", o->timeout, "stop after this long (0: never), e.g. 10s")
      ->check(duration_validator())
      ->capture_default_str();
  auto* json = cmd->add_flag("--json", o->json, "one JSON object per line (the default)");
  cmd->add_flag("--table", o->table, "one aligned line per event: offset, topic, id, time, source")->excludes(json);
  cmd->add_option("--credit", o->credit, "events the hub may send ahead (flow control window)")
      ->check(CLI::Range(1u, 1000000u))
      ->capture_default_str();
  cmd->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_tail(ctx, *o); }; });
}

void add_replay(CLI::App& app, context& ctx) {
  auto o = std::make_shared<replay_options>();
  auto* cmd = add_command(app, "replay", "Print stored events from a start position to the end of the log, then exit",
                                 "The end is where the log ends when replay starts. One JSON object per line.\n\n"
                                 "Examples:\n"
                                 "  hubctl replay --from earliest\n"
                                 "  hubctl replay --from offset:100 --to offset:200\n"
                                 "  hubctl replay --from time:2025-03-01T00:00:00Z --pattern 'peacekeeping.SSD.>'");
  cmd->add_option("--from", o->from, "where to start: earliest, offset:N, time:ISO-8601")
      ->required()
      ->check(start_validator(false));
  cmd->add_option("--to", o->to, "stop before this offset: offset:N (default: the end of the log)")
      ->check(CLI::Validator(
          [](std::string& s) -> std::string {
            auto p = parse_start(s);
            return p && p->what == hub::sdk::start_position::kind::at_offset
                       ? std::string()
                       : "\"" + s + "\" is not offset:N";
          },
          "offset:N"));
  cmd->add_option("--pattern", o->pattern, "only events whose topic matches")
      ->check(pattern_validator())
      ->capture_default_str();
  cmd->add_option("--idle-timeout", o->idle, "give up when no event comes for this long")
      ->check(duration_validator())
      ->capture_default_str();
  cmd->add_flag("--table", o->table, "one aligned line per event instead of JSON");
  cmd->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_replay(ctx, *o); }; });
}

}  // namespace hubctl

// hubctl publish: JSON events from a file or stdin to the hub, one ack line per event.
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "adapters/sdk/event.h"
#include "schemas/schema.h"
#include "tools/hubctl/cli.h"

namespace hubctl {
namespace {

struct publish_options {
  std::string file = "-";
  std::string timeout = "30s";
};

struct item {
  std::size_t line;  // where it starts in the input, for messages
  std::vector<std::uint8_t> bytes;
};

// Reads one JSON event per line, or one JSON array of events. Returns false and prints
// every bad event (with its line) if any is bad: then nothing is published.
bool read_events(std::istream& in, const std::string& name, std::vector<item>& out) {
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  std::size_t errors = 0;
  auto convert = [&](const std::string& json_text, std::size_t line) {
    std::string err;
    auto bytes = hub::sdk::envelope_from_json(json_text, &err);
    if (bytes) {
      auto check = hub::schema::check_envelope(*bytes);
      if (check.reason != hub::schema::Reason::ok) err = check.detail;
    }
    if (!err.empty()) {
      std::cerr << name << ":" << line << ": " << err << "\n";
      ++errors;
      return;
    }
    out.push_back({line, std::move(*bytes)});
  };
  auto first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '[') {
    auto arr = nlohmann::ordered_json::parse(text, nullptr, false);
    if (arr.is_discarded() || !arr.is_array()) {
      std::string err;
      (void)hub::sdk::envelope_from_json(text, &err);  // names the line of the syntax error
      std::cerr << name << ": not a valid JSON array of events: " << err << "\n";
      return false;
    }
    for (std::size_t i = 0; i < arr.size(); ++i) convert(arr[i].dump(), i + 1);
    if (errors > 0)
      std::cerr << name << ": " << errors << " bad events (numbered from 1 in the array); nothing was published. "
                << "Fix them and run again.\n";
    return errors == 0;
  }
  std::size_t line = 0;
  std::istringstream lines(text);
  std::string l;
  while (std::getline(lines, l)) {
    ++line;
    if (l.find_first_not_of(" \t\r") == std::string::npos) continue;
    convert(l, line);
  }
  if (errors > 0)
    std::cerr << name << ": " << errors << " bad lines; nothing was published. Fix them and run again.\n";
  return errors == 0;
}

int run_publish(const context& ctx, const publish_options& o) {
  std::vector<item> items;
  bool ok;
  if (o.file == "-") {
    ok = read_events(std::cin, "stdin", items);
  } else {
    std::ifstream in(o.file, std::ios::binary);
    if (!in) {
      std::cerr << "hubctl publish: cannot read " << o.file << "\n";
      return exit_bad_input;
    }
    ok = read_events(in, o.file, items);
  }
  if (!ok) return exit_bad_input;
  if (items.empty()) {
    std::cerr << "hubctl publish: no events in " << (o.file == "-" ? "stdin" : o.file) << "\n";
    return exit_ok;
  }

  std::map<std::string, std::size_t> line_of;
  for (const auto& it : items) line_of[hub::schema::id_to_hex(*hub::schema::GetEnvelope(it.bytes.data())->id())] = it.line;

  hub::sdk::publisher::options po;
  po.connection = ctx.connection();
  hub::sdk::publisher pub(po);
  std::size_t refused = 0;
  pub.on_acked([&](const hub::schema::Id128& id, std::uint64_t offset, bool duplicate) {
    std::cout << "acked offset " << offset << " id " << hub::schema::id_to_hex(id)
              << (duplicate ? " (already stored)" : "") << "\n";
  });
  pub.on_refused([&](const hub::schema::Id128& id, hub::schema::Reason r, const std::string& text) {
    auto hex = hub::schema::id_to_hex(id);
    std::cerr << "refused id " << hex << " (line " << line_of[hex] << "): " << hub::schema::reason_name(r) << ": "
              << text << "\n";
    ++refused;
  });
  auto timeout = *parse_duration(o.timeout);
  for (const auto& it : items) {
    if (!pub.publish(it.bytes)) {
      std::cerr << "hubctl publish: the hub at " << ctx.hubs_text() << " did not take events within " << o.timeout
                << "; " << pub.stats().acked << " of " << items.size() << " acknowledged\n";
      return exit_failed;
    }
  }
  if (!pub.flush(timeout)) {
    std::cerr << "hubctl publish: " << pub.in_flight() << " of " << items.size()
              << " events not acknowledged within " << o.timeout << " by the hub at " << ctx.hubs_text()
              << "; run again to resend them (the hub stores each id once)\n";
    return exit_failed;
  }
  std::cout.flush();
  if (refused > 0) {
    std::cerr << "hubctl publish: " << refused << " of " << items.size() << " events refused by the hub\n";
    return exit_failed;
  }
  return exit_ok;
}

}  // namespace

void add_publish(CLI::App& app, context& ctx) {
  auto o = std::make_shared<publish_options>();
  auto* cmd = add_command(app, "publish", "Publish events written as JSON (field names of schemas/events.fbs)",
                                 "Input: one JSON object per line, or one JSON array. Each event is checked\n"
                                 "first; if any is bad, nothing is published. Prints one line per ack:\n"
                                 "  acked offset 41 id 0190f3c2a1b27c3d8e4f5a6b7c8d9e0f\n"
                                 "Exits 1 if the hub refused any event (the reason is printed), 2 on bad input.\n\n"
                                 "Examples:\n"
                                 "  hubctl publish events.jsonl\n"
                                 "  echo '{\"source_system\":\"demo\",\"entity\":\"peacekeeping\",\"country\":\"SSD\",\n"
                                 "        \"payload_type\":\"mandate_activity\",\"payload\":{\"activity_id\":\"A-1\"}}' |\n"
                                 "    hubctl publish -");
  cmd->add_option("file", o->file, "a file of events, or - for stdin")->capture_default_str();
  cmd->add_option("--timeout", o->timeout, "how long to wait for all acks")
      ->check(duration_validator())
      ->capture_default_str();
  cmd->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_publish(ctx, *o); }; });
}

}  // namespace hubctl

#include "tools/hubctl/cli.h"

#include <cstdlib>

#include <charconv>

#include "adapters/sdk/event.h"

namespace hubctl {

hub::sdk::connection_options context::connection() const {
  hub::sdk::connection_options c;
  c.endpoints = hubs;
  c.client_name = client_name;
  c.curve_server_public_key = curve_server_public_key;
  c.curve_client_public_key = curve_client_public_key;
  c.curve_client_secret_key = curve_client_secret_key;
  return c;
}

std::string context::hubs_text() const {
  std::string s;
  for (const auto& h : hubs) s += (s.empty() ? "" : ", ") + h;
  return s;
}

std::string ops_address(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("HUB_HTTP");
  return env != nullptr && *env != '\0' ? env : "127.0.0.1:7470";
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  double value = 0;
  std::size_t i = 0;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
  if (i == 0) return std::nullopt;
  try {
    value = std::stod(std::string(text.substr(0, i)));
  } catch (...) {
    return std::nullopt;
  }
  auto unit = text.substr(i);
  double ms;
  if (unit.empty() || unit == "s") ms = value * 1000;
  else if (unit == "ms") ms = value;
  else if (unit == "m") ms = value * 60000;
  else if (unit == "h") ms = value * 3600000;
  else return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

std::optional<hub::sdk::start_position> parse_start(std::string_view text) {
  using hub::sdk::start_position;
  if (text == "new") return start_position::new_only();
  if (text == "earliest") return start_position::earliest();
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto kind = text.substr(0, colon);
  auto arg = text.substr(colon + 1);
  std::uint64_t n = 0;
  bool is_number = !arg.empty() &&
                   std::from_chars(arg.data(), arg.data() + arg.size(), n).ptr == arg.data() + arg.size();
  if (kind == "offset") {
    if (!is_number) return std::nullopt;
    return start_position::at_offset(n);
  }
  if (kind == "time") {
    if (is_number) return start_position::at_time(static_cast<std::int64_t>(n));
    auto ms = hub::sdk::parse_time(arg);
    if (!ms) return std::nullopt;
    return start_position::at_time(*ms);
  }
  return std::nullopt;
}

bool topic_matches(std::string_view pattern, std::string_view topic) {
  for (;;) {
    auto pdot = pattern.find('.');
    auto ptok = pattern.substr(0, pdot);
    if (ptok == ">") return !topic.empty();
    auto tdot = topic.find('.');
    auto ttok = topic.substr(0, tdot);
    if (topic.empty() || (ptok != "*" && ptok != ttok)) return false;
    bool plast = pdot == std::string_view::npos;
    bool tlast = tdot == std::string_view::npos;
    if (plast || tlast) return plast && tlast;
    pattern.remove_prefix(pdot + 1);
    topic.remove_prefix(tdot + 1);
  }
}

CLI::App* add_command(CLI::App& app, const std::string& name, const std::string& summary,
                      const std::string& details) {
  auto* cmd = app.add_subcommand(name, summary);
  cmd->footer(details);
  return cmd;
}

CLI::Validator duration_validator() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        return parse_duration(s) ? std::string() : "\"" + s + "\" is not a duration (e.g. 500ms, 10s, 2m)";
      },
      "DURATION");
}

}  // namespace hubctl

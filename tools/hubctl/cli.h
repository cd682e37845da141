// hubctl's shared parts: global options, the subcommand table, and small parsers.
//
// Adding a subcommand (e.g. `rules`, `alerts`, `keys`, `log`): write tools/hubctl/<name>.cc
// with `void add_<name>(CLI::App& app, context& ctx)`, declare it below, put it in
// `command_table()` in main.cc and the file in CMakeLists.txt. The function adds a CLI11
// subcommand whose callback sets ctx.run; main runs it and exits with what it returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "adapters/sdk/sdk.h"

namespace hubctl {

// Exit codes shared by every subcommand.
inline constexpr int exit_ok = 0;
inline constexpr int exit_failed = 1;     // the hub refused, timed out or was unreachable
inline constexpr int exit_bad_input = 2;  // the user's input or options are wrong

struct context {
  std::vector<std::string> hubs;       // --hub, repeatable; HUB_ENDPOINT; tcp://127.0.0.1:7460
  std::string client_name = "hubctl";  // shown in the hub's status
  std::function<int()> run;            // set by the chosen subcommand
  // CURVE (a hub with security on): --server-key FILE, --key BASE.key (BASE.pub beside it).
  std::string curve_server_public_key, curve_client_public_key, curve_client_secret_key;

  [[nodiscard]] hub::sdk::connection_options connection() const;
  [[nodiscard]] std::string hubs_text() const;  // for messages: "tcp://a, tcp://b"
};

void add_publish(CLI::App& app, context& ctx);
void add_tail(CLI::App& app, context& ctx);
void add_replay(CLI::App& app, context& ctx);
void add_status(CLI::App& app, context& ctx);
void add_alerts(CLI::App& app, context& ctx);
void add_rules(CLI::App& app, context& ctx);
void add_keys(CLI::App& app, context& ctx);
void add_acl(CLI::App& app, context& ctx);
void add_top(CLI::App& app, context& ctx);
void add_log(CLI::App& app, context& ctx);

// "250ms", "10s", "2m", "1h", or a bare number of seconds; nullopt if not a duration.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// The hub's ops HTTP endpoint (host:port): `flag` if given, else $HUB_HTTP, else
// 127.0.0.1:7470.
std::string ops_address(const std::string& flag);

// "new", "earliest", "offset:N", "time:ISO-8601" (or time:MS); nullopt if not valid.
std::optional<hub::sdk::start_position> parse_start(std::string_view text);

// NATS-style match of a topic against a pattern (`*` one token, `>` the rest).
bool topic_matches(std::string_view pattern, std::string_view topic);

// Adds a subcommand: `summary` is its line in `hubctl --help`, `details` (examples)
// shows in `hubctl NAME --help`.
CLI::App* add_command(CLI::App& app, const std::string& name, const std::string& summary,
                      const std::string& details);

// A CLI11 validator for durations.
CLI::Validator duration_validator();

}  // namespace hubctl

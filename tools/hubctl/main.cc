// hubctl: publish, tail, replay and inspect an Integration Hub from the command line.
#include <cstdlib>
#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "hub/security/security.h"
#include "tools/hubctl/cli.h"

namespace {

// Every subcommand, in the order `--help` lists them. Add new ones here (see cli.h).
const std::vector<void (*)(CLI::App&, hubctl::context&)>& command_table() {
  static const std::vector<void (*)(CLI::App&, hubctl::context&)> table = {
      hubctl::add_publish,
      hubctl::add_tail,
      hubctl::add_replay,
      hubctl::add_status,
      hubctl::add_alerts,
      hubctl::add_rules,
      hubctl::add_keys,
      hubctl::add_acl,
      hubctl::add_top,
      hubctl::add_log,
  };
  return table;
}

}  // namespace

int main(int argc, char** argv) {
  // Output is data on stdout; the SDK's and our own log lines go to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_mt("hubctl"));
  spdlog::set_level(spdlog::level::warn);
  spdlog::set_pattern("hubctl: %l: %v");

  hubctl::context ctx;
  CLI::App app{"hubctl: publish, tail, replay and inspect an Integration Hub.\n\n"
               "Examples:\n"
               "  hubctl status\n"
               "  hubctl publish events.jsonl\n"
               "  hubctl tail 'peacekeeping.SSD.>' --from earliest --count 10\n"
               "  hubctl replay --from time:2025-03-01 --pattern '*.*.coherence_alert'\n"
               "  hubctl --hub tcp://hub-a:7460 --hub tcp://hub-b:7460 tail '>'"};
  app.require_subcommand(1);
  app.fallthrough();
  std::vector<std::string> hubs;
  app.add_option("--hub", hubs,
                 "hub client endpoint; repeat for failover. Default: $HUB_ENDPOINT, else tcp://127.0.0.1:7460");
  app.add_option("--name", ctx.client_name, "client name shown in the hub's status")->capture_default_str();
  std::string server_key, client_key;
  app.add_option("--server-key", server_key,
                 "the hub's CURVE public key file (hubd.pub), for a hub with security on");
  app.add_option("--key", client_key,
                 "this client's CURVE secret key file (BASE.key from hubctl keys generate; BASE.pub beside it)");
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "log what the client does (to stderr)");

  for (auto add : command_table()) add(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : hubctl::exit_bad_input;
  }
  if (verbose) spdlog::set_level(spdlog::level::info);
  if (hubs.empty()) {
    const char* env = std::getenv("HUB_ENDPOINT");
    hubs.push_back(env != nullptr && *env != '\0' ? env : "tcp://127.0.0.1:7460");
  }
  ctx.hubs = hubs;
  if (!server_key.empty() || !client_key.empty()) {
    if (server_key.empty() || client_key.empty()) {
      std::cerr << "hubctl: CURVE needs both --server-key and --key\n";
      return hubctl::exit_bad_input;
    }
    auto server = hub::security::read_public_key_file(server_key);
    auto secret = hub::security::read_secret_key_file(client_key);
    auto pub = hub::security::read_public_key_file(std::filesystem::path(client_key).replace_extension(".pub"));
    for (const auto* r : {&server, &pub}) {
      if (!*r) {
        std::cerr << "hubctl: " << r->error().message() << "\n";
        return hubctl::exit_bad_input;
      }
    }
    if (!secret) {
      std::cerr << "hubctl: " << secret.error().message() << "\n";
      return hubctl::exit_bad_input;
    }
    ctx.curve_server_public_key = server.value();
    ctx.curve_client_public_key = pub.value();
    ctx.curve_client_secret_key = secret.value();
  }
  if (!ctx.run) return hubctl::exit_bad_input;
  try {
    return ctx.run();
  } catch (const hub::sdk::error& e) {
    std::cerr << "hubctl: " << e.what() << "\n";
    return hubctl::exit_bad_input;
  } catch (const std::exception& e) {
    std::cerr << "hubctl: " << e.what() << "\n";
    return hubctl::exit_failed;
  }
}

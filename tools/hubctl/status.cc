// hubctl status: the hub's STATUS JSON.
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "tools/hubctl/cli.h"

namespace hubctl {

void add_status(CLI::App& app, context& ctx) {
  struct options {
    bool raw = false;
    std::string timeout = "3s";
  };
  auto o = std::make_shared<options>();
  auto* cmd = add_command(app, "status", "Show the hub's status (store, counters, clients, subscriptions) as JSON",
                                 "Examples:\n"
                                 "  hubctl status\n"
                                 "  hubctl status --json | jq .store.end");
  cmd->add_flag("--json", o->raw, "print the JSON exactly as the hub sent it, on one line");
  cmd->add_option("--timeout", o->timeout, "how long to wait for the answer")
      ->check(duration_validator())
      ->capture_default_str();
  cmd->callback([&ctx, o] {
    ctx.run = [&ctx, o] {
      auto status = hub::sdk::fetch_status(ctx.connection(), *parse_duration(o->timeout));
      if (!status) {
        std::cerr << "hubctl status: no answer from the hub at " << ctx.hubs_text() << " within " << o->timeout
                  << "; is hubd running there? (set --hub or HUB_ENDPOINT)\n";
        return exit_failed;
      }
      if (o->raw) {
        std::cout << *status << "\n";
        return exit_ok;
      }
      auto j = nlohmann::ordered_json::parse(*status, nullptr, false);
      std::cout << (j.is_discarded() ? *status : j.dump(2)) << "\n";
      return exit_ok;
    };
  });
}

}  // namespace hubctl

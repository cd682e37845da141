// hubctl top: the live terminal view of the hub's ops endpoint (/api/status).
#include <cstdlib>
#include <iostream>

#include "tools/hubctl/cli.h"
#include "tools/hubtop/hubtop.h"

namespace hubctl {

void add_top(CLI::App& app, context& ctx) {
  auto* cmd = add_command(app, "top", "live view of the hub: rates, clients, adapters, lag, alerts (HTTP endpoint)",
                          "Examples:\n"
                          "  hubctl top                           the hub's ops endpoint at $HUB_HTTP or 127.0.0.1:7470\n"
                          "  hubctl top --http 10.0.0.5:7470\n"
                          "  hubctl top --once                    one plain frame, e.g. for a script\n"
                          "q or Ctrl-C quits.\n");
  auto http = std::make_shared<std::string>();
  auto once = std::make_shared<bool>(false);
  cmd->add_option("--http", *http, "host:port of the hub's ops HTTP endpoint");
  cmd->add_flag("--once", *once, "print one frame and exit");
  cmd->callback([&ctx, http, once] {
    ctx.run = [http, once] {
      std::string addr = ops_address(*http);
      if (*once) return hub::hubtop::run_status(addr, false, std::cout, std::cerr) == 0 ? exit_ok : exit_failed;
      return hub::hubtop::run_top(addr) == 0 ? exit_ok : exit_failed;
    };
  });
}

}  // namespace hubctl

// hubctl status: one look at the hub, from its ops endpoint (/api/status): rates,
// store, clients, subscriptions, adapters and alerts. When the ops endpoint cannot be
// read (hubd runs without --http, or it is bound elsewhere), the STATUS command on the
// client socket answers instead, with a note saying so: that document has the store,
// counters, clients and subscriptions but no rates, adapters or alerts.
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "tools/hubctl/cli.h"
#include "tools/hubtop/hubtop.h"

namespace hubctl {

void add_status(CLI::App& app, context& ctx) {
  struct options {
    bool raw = false;
    bool zmq = false;
    std::string http;
    std::string timeout = "3s";
  };
  auto o = std::make_shared<options>();
  auto* cmd = add_command(
      app, "status", "Show the hub's status: rates, store, clients, subscriptions, adapters, alerts",
      "Reads the ops endpoint's /api/status (--http, else $HUB_HTTP, else 127.0.0.1:7470). If that\n"
      "cannot be read, asks the hub's client socket (--hub) with STATUS instead and says so on\n"
      "stderr: that answer has no rates, adapters or alerts. --zmq asks the client socket only.\n"
      "Exit status: 0 shown, 1 neither answered.\n\n"
      "Examples:\n"
      "  hubctl status\n"
      "  hubctl status --http 10.0.0.5:7470\n"
      "  hubctl status --json | jq .store.end\n"
      "  hubctl status --zmq --hub tcp://10.0.0.5:7460");
  cmd->add_flag("--json", o->raw, "print the status document as JSON, on one line");
  cmd->add_option("--http", o->http, "host:port of the hub's ops HTTP endpoint");
  cmd->add_flag("--zmq", o->zmq, "skip the ops endpoint; ask the client socket (STATUS) only");
  cmd->add_option("--timeout", o->timeout, "how long to wait for each answer")
      ->check(duration_validator())
      ->capture_default_str();
  cmd->callback([&ctx, o] {
    ctx.run = [&ctx, o] {
      auto timeout = *parse_duration(o->timeout);
      nlohmann::json doc;
      if (!o->zmq) {
        std::string addr = ops_address(o->http);
        auto r = hub::hubtop::fetch_status(addr, static_cast<int>(timeout.count()));
        if (r.status) {
          doc = std::move(*r.status);
        } else {
          std::cerr << "hubctl status: note: " << r.error << "\n"
                    << "hubctl status: note: asking the client socket at " << ctx.hubs_text()
                    << " instead (STATUS: no rates, adapters or alerts)\n";
        }
      }
      if (doc.is_null()) {
        auto status = hub::sdk::fetch_status(ctx.connection(), timeout);
        if (!status) {
          std::cerr << "hubctl status: no answer from the hub at " << ctx.hubs_text() << " within " << o->timeout
                    << "; is hubd running there? (set --hub or HUB_ENDPOINT, --http or HUB_HTTP)\n";
          return exit_failed;
        }
        doc = nlohmann::json::parse(*status, nullptr, false);
        if (doc.is_discarded() || !doc.is_object()) {
          std::cerr << "hubctl status: the hub at " << ctx.hubs_text() << " answered STATUS with something that is "
                    << "not a JSON object\n";
          return exit_failed;
        }
      }
      if (o->raw)
        std::cout << doc.dump() << "\n";
      else
        std::cout << hub::hubtop::render_top(doc, 0, false);
      return exit_ok;
    };
  });
}

}  // namespace hubctl

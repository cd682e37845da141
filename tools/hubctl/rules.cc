// hubctl rules: check rule files offline, backtest them over the stored events without
// publishing anything, and make the running hub reload its rule files (POST to its ops
// endpoint). Links hub::rules, the one hub library that is meant to run outside hubd
// too (it depends on nothing but the schemas).
#include <cstdlib>
#include <iostream>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "adapters/sdk/event.h"
#include "hub/rules/cli.h"
#include "tools/hubctl/cli.h"
#include "tools/hubctl/read_all.h"

namespace hubctl {

void add_rules(CLI::App& app, context& ctx) {
  auto* cmd = add_command(app, "rules", "rule files: check them offline, backtest them over stored events",
                          "Examples:\n"
                          "  hubctl rules check deploy/rules/a4p.yaml\n"
                          "  hubctl rules backtest deploy/rules/a4p.yaml --from 2025-01-01\n"
                          "  hubctl rules reload --http 127.0.0.1:7470\n"
                          "The running hub reloads its rule files on `rules reload` or SIGHUP (systemctl\n"
                          "reload hubd); a broken file is refused and the rules in force stay.\n");
  cmd->require_subcommand(1);
  auto files = std::make_shared<std::vector<std::string>>();
  auto* check = cmd->add_subcommand("check", "validate rule files; errors are file:line");
  check->add_option("files", *files, "rule files")->required()->check(CLI::ExistingFile);
  check->callback([&ctx, files] {
    ctx.run = [files] {
      std::vector<std::filesystem::path> paths(files->begin(), files->end());
      return hub::rules::check_rules_command(paths, std::cout) == 0 ? exit_ok : exit_bad_input;
    };
  });

  auto http = std::make_shared<std::string>();
  auto* reload = cmd->add_subcommand(
      "reload", "make the running hub re-read its configured rule files (through its ops HTTP endpoint)");
  reload->add_option("--http", *http, "host:port of the hub's ops endpoint (default: $HUB_HTTP, else 127.0.0.1:7470)");
  reload->callback([&ctx, http] {
    ctx.run = [http] {
      std::string addr = ops_address(*http);
      httplib::Client client("http://" + addr);
      client.set_connection_timeout(5, 0);
      client.set_read_timeout(30, 0);
      auto res = client.Post("/api/rules/reload");
      if (!res) {
        std::cerr << "hubctl rules reload: no answer from http://" << addr << ": " << httplib::to_string(res.error())
                  << "\n";
        return exit_failed;
      }
      auto j = nlohmann::json::parse(res->body, nullptr, false);
      std::string message = j.is_object() ? j.value("message", res->body) : res->body;
      if (res->status == 200) {
        std::cout << message << "\n";
        return exit_ok;
      }
      std::cerr << "hubctl rules reload: " << message << "\n";
      return res->status == 422 ? exit_bad_input : exit_failed;
    };
  });

  auto bt_files = std::make_shared<std::vector<std::string>>();
  auto from = std::make_shared<std::string>("1970-01-01");
  auto* bt = cmd->add_subcommand("backtest", "print the alerts these rules would have raised on the stored events");
  bt->add_option("files", *bt_files, "rule files")->required()->check(CLI::ExistingFile);
  bt->add_option("--from", *from, "first time to judge (ISO 8601); events before it still build state");
  bt->callback([&ctx, bt_files, from] {
    ctx.run = [&ctx, bt_files, from] {
      auto t = hub::sdk::parse_time(*from);
      if (!t) {
        std::cerr << "hubctl rules backtest: --from '" << *from << "' is not a date\n";
        return exit_bad_input;
      }
      std::vector<std::filesystem::path> paths(bt_files->begin(), bt_files->end());
      hub::rules::event_source source = [&ctx](const std::function<void(const hub::rules::stored_event&)>& sink) {
        return read_all(ctx, ">", hub::sdk::start_position::earliest(), [&](const hub::sdk::event& e) {
          // The log time is not on the wire; the publish time stands in for it.
          sink({e.offset, e.envelope()->published_at(), e.bytes});
        });
      };
      auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
      int rc = hub::rules::backtest_command(paths, source, *t, now, std::cout);
      return rc == 0 ? exit_ok : (rc == 1 ? exit_bad_input : exit_failed);
    };
  });
}

}  // namespace hubctl

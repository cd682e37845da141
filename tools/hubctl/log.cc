// hubctl log stats: the event log as the hub reports it (STATUS `store` and consumers).
#include <iomanip>
#include <iostream>

#include <nlohmann/json.hpp>

#include "tools/hubctl/cli.h"

namespace hubctl {

void add_log(CLI::App& app, context& ctx) {
  auto* cmd = add_command(app, "log", "the hub's event log: size, offsets, durability, consumers",
                          "Examples:\n"
                          "  hubctl log stats\n"
                          "  hubctl log stats --json\n"
                          "Stored events themselves: hubctl replay --from offset:N | time:ISO\n");
  cmd->require_subcommand(1);
  auto json = std::make_shared<bool>(false);
  auto* stats = cmd->add_subcommand("stats", "records, bytes, segments, offsets, durable end, consumers and their lag");
  stats->add_flag("--json", *json, "the figures as one JSON object");
  stats->callback([&ctx, json] {
    ctx.run = [&ctx, json] {
      auto status = hub::sdk::fetch_status(ctx.connection());
      if (!status) {
        std::cerr << "hubctl log stats: no answer from the hub at " << ctx.hubs_text() << "\n";
        return exit_failed;
      }
      auto j = nlohmann::json::parse(*status, nullptr, false);
      if (j.is_discarded() || !j.contains("store")) {
        std::cerr << "hubctl log stats: the hub's status has no store section\n";
        return exit_failed;
      }
      const auto& s = j["store"];
      nlohmann::json out = {{"store", s}, {"consumers", j.value("consumers", nlohmann::json::array())}};
      if (*json) {
        std::cout << out.dump() << "\n";
        return exit_ok;
      }
      std::cout << "store        " << s.value("kind", "?") << (s.value("writable", true) ? "" : "  (NOT WRITABLE)")
                << "\n"
                << "offsets      " << s.value("begin", 0) << " .. " << s.value("end", 0) << " (durable up to "
                << s.value("durable_end", 0) << ")\n"
                << "records      " << s.value("records", 0) << "\n"
                << "bytes        " << s.value("bytes", 0) << "\n"
                << "segments     " << s.value("segments", 0) << "\n"
                << "corrupt      " << s.value("corrupt_skipped", 0) << " record(s) skipped\n";
      if (!s.value("last_error", std::string()).empty()) std::cout << "last error   " << s["last_error"] << "\n";
      for (const auto& c : out["consumers"])
        std::cout << "consumer     " << std::left << std::setw(24) << c.value("name", "?") << " committed "
                  << c.value("committed", 0) << "  lag " << c.value("lag", 0) << "\n";
      return exit_ok;
    };
  });
}

}  // namespace hubctl

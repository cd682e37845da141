#include "tools/hubctl/read_all.h"

#include <iostream>

#include <nlohmann/json.hpp>

namespace hubctl {

bool read_all(const context& ctx, const std::string& pattern, hub::sdk::start_position from,
              const std::function<void(const hub::sdk::event&)>& each) {
  auto status = hub::sdk::fetch_status(ctx.connection());
  if (!status) {
    std::cerr << "hubctl: no hub answered at " << ctx.hubs_text() << "\n";
    return false;
  }
  std::uint64_t end = nlohmann::json::parse(*status)["store"]["durable_end"].get<std::uint64_t>();
  hub::sdk::subscriber::options so;
  so.connection = ctx.connection();
  so.pattern = pattern;
  so.start = from;
  so.credit_window = 1024;
  hub::sdk::subscriber sub(so);
  // Events arrive in offset order; the last one before `end` may not match the pattern,
  // so a quiet period after the subscription started also ends the read.
  auto quiet_limit = std::chrono::milliseconds(1500);
  auto last_progress = std::chrono::steady_clock::now();
  while (true) {
    auto e = sub.next(std::chrono::milliseconds(100));
    if (e) {
      last_progress = std::chrono::steady_clock::now();
      if (e->offset >= end) break;
      each(*e);
      if (e->offset + 1 >= end) break;
      continue;
    }
    if (!sub.last_error().empty() && !sub.first_offset()) {
      std::cerr << "hubctl: the hub refused the read: " << sub.last_error() << "\n";
      return false;
    }
    if (sub.first_offset() && *sub.first_offset() >= end) break;
    if (std::chrono::steady_clock::now() - last_progress > quiet_limit) break;
  }
  return true;
}

}  // namespace hubctl

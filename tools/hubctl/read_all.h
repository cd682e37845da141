// Reads every stored event matching a pattern, from a start position up to the end of
// the log as it is when the read begins (from STATUS), then stops.
#pragma once

#include <functional>
#include <string>

#include "tools/hubctl/cli.h"

namespace hubctl {

// Calls `each` for every event; returns false (with a message on stderr) if the hub did
// not answer or refused.
bool read_all(const context& ctx, const std::string& pattern, hub::sdk::start_position from,
              const std::function<void(const hub::sdk::event&)>& each);

}  // namespace hubctl

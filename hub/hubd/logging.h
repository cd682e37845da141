// hubd's log set-up: human-readable lines by default, one JSON object per line with
// --log-format json.
#pragma once

#include <string>

namespace hub::hubd {

// Configures the default spdlog logger. format is "text" or "json"; level a spdlog level name.
void setup_logging(const std::string& format, const std::string& level);

}  // namespace hub::hubd

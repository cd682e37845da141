// hubd's log set-up: human-readable lines by default, one JSON object per line with
// --log-format json. A line about one event names it as "event <32 hex digits>"; in
// JSON that id is also the line's "event_id" field.
#pragma once

#include <string>
#include <string_view>

namespace hub::hubd {

// Configures the default spdlog logger. format is "text" or "json"; level a spdlog level name.
void setup_logging(const std::string& format, const std::string& level);

// The id of the first "event <32 hex digits>" in a log message, or empty.
[[nodiscard]] std::string_view event_id_in(std::string_view message);

}  // namespace hub::hubd

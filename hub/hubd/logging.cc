#include "hub/hubd/logging.h"

#include <cctype>
#include <memory>
#include <string_view>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace hub::hubd {
namespace {

// %* : the message, escaped for a JSON string.
class json_message_flag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    for (char c : std::string_view(msg.payload.data(), msg.payload.size())) {
      switch (c) {
        case '"': dest.append(std::string_view("\\\"")); break;
        case '\\': dest.append(std::string_view("\\\\")); break;
        case '\n': dest.append(std::string_view("\\n")); break;
        case '\r': dest.append(std::string_view("\\r")); break;
        case '\t': dest.append(std::string_view("\\t")); break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            fmt::format_to(std::back_inserter(dest), "\\u{:04x}", static_cast<unsigned>(c));
          } else {
            dest.push_back(c);
          }
      }
    }
  }
  [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<json_message_flag>();
  }
};

// %& : `,"event_id":"<hex>"` when the message is about one event, else nothing. Every
// line about an event names it as "event <32 hex digits>" (the id as id_to_hex writes
// it); the first such id becomes the field, so that a log search by event id needs no
// parsing of the message.
class json_event_id_flag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    auto id = event_id_in(std::string_view(msg.payload.data(), msg.payload.size()));
    if (id.empty()) return;
    dest.append(std::string_view(",\"event_id\":\""));
    dest.append(id);
    dest.push_back('"');
  }
  [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<json_event_id_flag>();
  }
};

}  // namespace

std::string_view event_id_in(std::string_view message) {
  constexpr std::string_view word = "event ";
  constexpr std::size_t digits = 32;
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  for (auto at = message.find(word); at != std::string_view::npos; at = message.find(word, at + 1)) {
    if (at > 0 && std::isalnum(static_cast<unsigned char>(message[at - 1]))) continue;  // "prevent 0a..."
    std::size_t begin = at + word.size();
    if (message.size() - begin < digits) return {};
    std::size_t n = 0;
    while (n < digits && hex(message[begin + n])) ++n;
    if (n == digits && (begin + n == message.size() || !std::isalnum(static_cast<unsigned char>(message[begin + n]))))
      return message.substr(begin, digits);
  }
  return {};
}

void setup_logging(const std::string& format, const std::string& level) {
  auto logger = std::make_shared<spdlog::logger>("hubd", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  if (format == "json") {
    formatter->add_flag<json_message_flag>('*').add_flag<json_event_id_flag>('&').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","logger":"%n","msg":"%*"%&})");
  } else {
    formatter->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
  }
  logger->set_formatter(std::move(formatter));
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace hub::hubd

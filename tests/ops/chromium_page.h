// A page open in headless Chromium that a test can question while it runs: the browser
// is started by the test (--headless --no-sandbox) with the DevTools protocol on a pipe
// (--remote-debugging-pipe: commands on its fd 3, answers on its fd 4, each message a
// JSON object ended by a NUL byte), so no port is opened. evaluate() runs a JavaScript
// expression in the page, in real time, while its script keeps refreshing.
//
// The browser is ended when the object goes away: Browser.close, then SIGTERM and
// SIGKILL to its pid if it does not exit in time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace hub::test {

class chromium_page {
 public:
  // Starts chromium on `url`, with its profile and log under `work_dir`. Throws
  // std::runtime_error (with the browser's log) if it does not start or show a page.
  chromium_page(const std::string& url, const std::filesystem::path& work_dir);
  ~chromium_page();
  chromium_page(const chromium_page&) = delete;
  chromium_page& operator=(const chromium_page&) = delete;

  // The value of a JavaScript expression in the page (returned by value, so JSON-able);
  // throws std::runtime_error if it throws or the browser does not answer in time.
  nlohmann::json evaluate(const std::string& expression, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // The browser's stderr so far, for failure messages.
  [[nodiscard]] std::string log() const;

 private:
  nlohmann::json call(const std::string& method, const nlohmann::json& params, const std::string& session,
                      std::chrono::milliseconds timeout);
  void close();

  pid_t pid_ = -1;
  int to_browser_ = -1;    // our end of its fd 3
  int from_browser_ = -1;  // our end of its fd 4
  std::string pending_;    // bytes read past the last complete message
  int next_id_ = 1;
  std::string session_;
  std::filesystem::path log_file_;
};

}  // namespace hub::test

// Starts a real hubd as a child process on loopback with ports chosen by the kernel,
// waits until it is ready, and ends it (by its pid only) when the object goes away.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace hub::test {

// Waits for cond() to be true, checking every few ms, up to the deadline. Returns the
// final value of cond(). A test asserts on the result, never sleeps blindly.
bool wait_for(const std::function<bool()>& cond,
              std::chrono::milliseconds deadline = std::chrono::seconds(10));

struct hubd_options {
  std::vector<std::string> extra_args;   // more hubd flags, e.g. {"--fsync", "never"}
  std::filesystem::path data_dir;        // empty: a fresh temp dir owned by the process object
  std::filesystem::path config;          // empty: no --config
  bool http = false;                     // also serve the HTTP ops endpoint on a free port
};

class hubd_process {
 public:
  explicit hubd_process(hubd_options opts = {});
  ~hubd_process();  // SIGTERM, wait; SIGKILL if it does not exit within 10 s
  hubd_process(const hubd_process&) = delete;
  hubd_process& operator=(const hubd_process&) = delete;

  [[nodiscard]] const std::string& endpoint() const { return endpoint_; }        // tcp://127.0.0.1:PORT
  [[nodiscard]] const std::string& mirror_endpoint() const { return mirror_; }   // tcp://127.0.0.1:PORT
  [[nodiscard]] const std::string& http_address() const { return http_; }        // 127.0.0.1:PORT or empty
  [[nodiscard]] const std::filesystem::path& data_dir() const { return data_dir_; }
  [[nodiscard]] const std::filesystem::path& log_file() const { return log_file_; }
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] bool running();

  // Sends SIGTERM and waits; returns the exit status (as from waitpid) or -1.
  int stop(std::chrono::milliseconds deadline = std::chrono::seconds(10));
  // The same with another signal (e.g. SIGINT, as Ctrl-C sends); SIGKILL after the deadline.
  int stop_with(int signal, std::chrono::milliseconds deadline = std::chrono::seconds(10));
  // SIGKILL, as a crash would.
  void kill9();
  // Starts again with the same options and data dir (after stop() or kill9()). The
  // ports are chosen afresh, or with same_ports the previous ones are bound again (as
  // a hub restarted by its supervisor would be), so connected clients reconnect.
  void restart(bool same_ports = false);
  // The hub's log so far (stdout and stderr).
  [[nodiscard]] std::string log() const;

 private:
  void start(bool same_ports = false);
  hubd_options opts_;
  std::unique_ptr<temp_dir> own_dir_;
  std::filesystem::path data_dir_;
  std::filesystem::path log_file_;
  std::filesystem::path ready_file_;
  std::string endpoint_, mirror_, http_;
  pid_t pid_ = -1;
};

}  // namespace hub::test

// Runs a program in the background (no shell), stdout and stderr to files, for tests that
// drive a long-running program (an adapter in watch mode) while it runs. The child is
// ended by its pid only: SIGTERM, then SIGKILL after the deadline; the destructor stops
// it if the test did not.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace hub::test {

class child_process {
 public:
  // Starts argv[0] with the arguments; stdout to out_file, stderr to err_file (created
  // or truncated). Throws std::runtime_error if fork fails.
  child_process(std::vector<std::string> argv, std::filesystem::path out_file, std::filesystem::path err_file);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }
  // False once the child has exited (its status is then kept for stop()).
  [[nodiscard]] bool running();
  // SIGTERM and wait; SIGKILL when the deadline passes. The exit code, or -1 when it was
  // killed or did not exit normally.
  int stop(std::chrono::milliseconds deadline = std::chrono::seconds(30));
  // What the child wrote so far.
  [[nodiscard]] std::string out() const;
  [[nodiscard]] std::string err() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  bool exited_ = false;
  std::filesystem::path out_file_, err_file_;
};

}  // namespace hub::test

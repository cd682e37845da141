#include "tests/ops/run_command.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace hub::test {

command_result run_command(const std::vector<std::string>& argv, const std::filesystem::path& work_dir,
                           const std::filesystem::path& stdin_file, std::chrono::milliseconds deadline) {
  command_result r;
  static int counter = 0;
  auto out_path = work_dir / ("command-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + ".out");
  pid_t pid = ::fork();
  if (pid < 0) return r;
  if (pid == 0) {
    int in = ::open(stdin_file.empty() ? "/dev/null" : stdin_file.c_str(), O_RDONLY);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0) _exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    std::vector<char*> args;
    std::vector<std::string> copy = argv;
    for (auto& a : copy) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    _exit(127);
  }
  auto until = std::chrono::steady_clock::now() + deadline;
  int st = 0;
  bool exited = false;
  while (std::chrono::steady_clock::now() < until) {
    pid_t w = ::waitpid(pid, &st, WNOHANG);
    if (w == pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &st, 0);
  } else if (WIFEXITED(st)) {
    r.exit_code = WEXITSTATUS(st);
  }
  std::ifstream f(out_path);
  std::stringstream ss;
  ss << f.rdbuf();
  r.output = ss.str();
  std::filesystem::remove(out_path);
  return r;
}

bool have_program(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream ss(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (!dir.empty() && ::access((std::filesystem::path(dir) / program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace hub::test

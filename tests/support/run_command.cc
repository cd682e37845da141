#include "tests/support/run_command.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace hub::test {

namespace {

// Runs argv; stdout to out_path, stderr there too or to err_path when that is given.
// Returns the exit status, or -1.
int run(const std::vector<std::string>& argv, const std::filesystem::path& stdin_file,
        const std::filesystem::path& out_path, const std::filesystem::path& err_path,
        std::chrono::milliseconds deadline) {
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int in = ::open(stdin_file.empty() ? "/dev/null" : stdin_file.c_str(), O_RDONLY);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = err_path.empty() ? out : ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0) _exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
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
    return -1;
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// A scratch file's path, unique to this process and call.
std::filesystem::path scratch(const std::filesystem::path& dir, const char* what) {
  static std::atomic<int> counter{0};
  return dir / ("command-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + "." + what);
}

// The file's contents; the file is removed.
std::string take(const std::filesystem::path& p) {
  std::string text;
  {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    text = ss.str();
  }
  std::filesystem::remove(p);
  return text;
}

}  // namespace

command_result run_command(const std::vector<std::string>& argv, const std::filesystem::path& work_dir,
                           const std::filesystem::path& stdin_file, std::chrono::milliseconds deadline) {
  command_result r;
  auto out_path = scratch(work_dir, "out");
  r.exit_code = run(argv, stdin_file, out_path, {}, deadline);
  r.output = take(out_path);
  return r;
}

program_result run_program(const std::string& program, const std::vector<std::string>& args) {
  std::vector<std::string> argv{program};
  argv.insert(argv.end(), args.begin(), args.end());
  auto dir = std::filesystem::temp_directory_path();
  auto out_path = scratch(dir, "out");
  auto err_path = scratch(dir, "err");
  program_result r;
  r.exit_code = run(argv, {}, out_path, err_path, std::chrono::seconds(60));
  r.out = take(out_path);
  r.err = take(err_path);
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

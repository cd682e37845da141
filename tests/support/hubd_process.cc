#include "tests/support/hubd_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

namespace hub::test {

bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return cond();
}

hubd_process::hubd_process(hubd_options opts) : opts_(std::move(opts)) {
  own_dir_ = std::make_unique<temp_dir>("hubd");
  data_dir_ = opts_.data_dir.empty() ? own_dir_->path() / "data" : opts_.data_dir;
  log_file_ = own_dir_->path() / "hubd.log";
  ready_file_ = own_dir_->path() / "ready.json";
  start();
}

hubd_process::~hubd_process() {
  if (pid_ > 0) stop();
  // HUB_TEST_SHOW_LOGS=1 prints the hub's log when the process object goes away.
  if (std::getenv("HUB_TEST_SHOW_LOGS") != nullptr) std::fprintf(stderr, "--- hubd log ---\n%s", log().c_str());
}

void hubd_process::start(bool same_ports) {
  std::filesystem::remove(ready_file_);
  std::string ep = same_ports && !endpoint_.empty() ? endpoint_ : "tcp://127.0.0.1:*";
  std::string mirror = same_ports && !mirror_.empty() ? mirror_ : "tcp://127.0.0.1:*";
  std::vector<std::string> args = {HUBD_PATH,
                                   "--endpoint", ep,
                                   "--mirror-endpoint", mirror,
                                   "--data-dir", data_dir_.string(),
                                   "--ready-file", ready_file_.string()};
  if (opts_.http) {
    args.push_back("--http");
    args.push_back("127.0.0.1:0");
  }
  if (!opts_.config.empty()) {
    args.push_back("--config");
    args.push_back(opts_.config.string());
  }
  for (const auto& a : opts_.extra_args) args.push_back(a);

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // Child: logs appended to the log file, stdin closed.
    FILE* f = std::fopen(log_file_.c_str(), "a");
    if (f != nullptr) {
      ::dup2(fileno(f), 1);
      ::dup2(fileno(f), 2);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  bool ready = wait_for([&] { return std::filesystem::exists(ready_file_) || !running(); },
                        std::chrono::seconds(20));
  if (!ready || !running())
    throw std::runtime_error("hubd did not become ready; its log:\n" + log());
  std::ifstream in(ready_file_);
  auto j = nlohmann::json::parse(in);
  endpoint_ = j.at("endpoint").get<std::string>();
  mirror_ = j.value("mirror_endpoint", std::string());
  http_ = j.value("http", std::string());
}

bool hubd_process::running() {
  if (pid_ <= 0) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

int hubd_process::stop(std::chrono::milliseconds deadline) { return stop_with(SIGTERM, deadline); }

int hubd_process::stop_with(int signal, std::chrono::milliseconds deadline) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, signal);
  auto until = std::chrono::steady_clock::now() + deadline;
  int st = 0;
  while (std::chrono::steady_clock::now() < until) {
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return st;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &st, 0);
  pid_ = -1;
  return -1;
}

void hubd_process::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  ::waitpid(pid_, &st, 0);
  pid_ = -1;
}

void hubd_process::restart(bool same_ports) {
  if (pid_ > 0) stop();
  start(same_ports);
}

std::string hubd_process::log() const {
  std::ifstream in(log_file_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace hub::test

#include "tests/ops/chromium_page.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace hub::test {

namespace {

using clock_type = std::chrono::steady_clock;

void write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("chromium: cannot write to its DevTools pipe");
    done += static_cast<std::size_t>(n);
  }
}

// Waits for pid to exit, up to `deadline`; true if it did (and was reaped).
bool reap(pid_t pid, std::chrono::milliseconds deadline) {
  auto until = clock_type::now() + deadline;
  int st = 0;
  while (clock_type::now() < until) {
    if (::waitpid(pid, &st, WNOHANG) == pid) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

chromium_page::chromium_page(const std::string& url, const std::filesystem::path& work_dir) {
  log_file_ = work_dir / "chromium.log";
  // A browser that dies mid-test must fail the test with a message, not end it with
  // SIGPIPE on the next write to its pipe.
  ::signal(SIGPIPE, SIG_IGN);
  int in[2], out[2];  // in: test -> browser (its fd 3); out: browser -> test (its fd 4)
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> args = {"chromium", "--headless", "--no-sandbox", "--disable-gpu",
                                   "--disable-background-networking", "--disable-component-update",
                                   "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                                   "--user-data-dir=" + (work_dir / "chromium-pipe-profile").string(),
                                   "--window-size=1280,1500", "--remote-debugging-pipe", url};
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // Child: the pipe ends moved above 4 first (they may be 3 or 4 themselves), then
    // placed on 3 and 4 without O_CLOEXEC.
    int r = ::fcntl(in[0], F_DUPFD, 10);
    int w = ::fcntl(out[1], F_DUPFD, 10);
    if (r < 0 || w < 0 || ::dup2(r, 3) < 0 || ::dup2(w, 4) < 0) _exit(126);
    int log_fd = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log_fd >= 0) {
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    _exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  to_browser_ = in[1];
  from_browser_ = out[0];
  try {
    // The page target the browser opened for `url`, and a session attached to it.
    std::string target;
    auto until = clock_type::now() + std::chrono::seconds(30);
    while (target.empty() && clock_type::now() < until) {
      auto targets = call("Target.getTargets", nlohmann::json::object(), "", std::chrono::seconds(30));
      for (const auto& t : targets.value("targetInfos", nlohmann::json::array()))
        if (t.value("type", "") == "page") target = t.value("targetId", "");
      if (target.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (target.empty()) throw std::runtime_error("chromium opened no page");
    auto attached = call("Target.attachToTarget", {{"targetId", target}, {"flatten", true}}, "", std::chrono::seconds(30));
    session_ = attached.value("sessionId", "");
    if (session_.empty()) throw std::runtime_error("chromium did not attach to the page");
  } catch (const std::exception& e) {
    close();
    throw std::runtime_error(std::string("chromium: ") + e.what() + "; its log:\n" + log());
  }
}

chromium_page::~chromium_page() { close(); }

void chromium_page::close() {
  if (pid_ > 0) {
    try {
      if (to_browser_ >= 0) write_all(to_browser_, nlohmann::json{{"id", next_id_++}, {"method", "Browser.close"}}.dump() + '\0');
    } catch (const std::exception&) {
    }
    if (!reap(pid_, std::chrono::seconds(10))) {
      ::kill(pid_, SIGTERM);
      if (!reap(pid_, std::chrono::seconds(5))) {
        ::kill(pid_, SIGKILL);
        int st = 0;
        ::waitpid(pid_, &st, 0);
      }
    }
    pid_ = -1;
  }
  if (to_browser_ >= 0) ::close(to_browser_);
  if (from_browser_ >= 0) ::close(from_browser_);
  to_browser_ = from_browser_ = -1;
}

nlohmann::json chromium_page::call(const std::string& method, const nlohmann::json& params, const std::string& session,
                                   std::chrono::milliseconds timeout) {
  const int id = next_id_++;
  nlohmann::json msg = {{"id", id}, {"method", method}, {"params", params}};
  if (!session.empty()) msg["sessionId"] = session;
  write_all(to_browser_, msg.dump() + '\0');
  auto until = clock_type::now() + timeout;
  for (;;) {
    // Complete messages already read; events and other answers are skipped.
    for (auto nul = pending_.find('\0'); nul != std::string::npos; nul = pending_.find('\0')) {
      auto reply = nlohmann::json::parse(pending_.substr(0, nul), nullptr, false);
      pending_.erase(0, nul + 1);
      if (reply.is_discarded() || reply.value("id", -1) != id) continue;
      if (reply.contains("error")) throw std::runtime_error(method + " failed: " + reply["error"].dump());
      return reply.value("result", nlohmann::json::object());
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock_type::now()).count();
    if (left <= 0) throw std::runtime_error(method + ": no answer within " + std::to_string(timeout.count()) + " ms");
    pollfd p{from_browser_, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    char buf[65536];
    ssize_t got = ::read(from_browser_, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) throw std::runtime_error(method + ": the browser closed its DevTools pipe");
    pending_.append(buf, static_cast<std::size_t>(got));
  }
}

nlohmann::json chromium_page::evaluate(const std::string& expression, std::chrono::milliseconds timeout) {
  auto r = call("Runtime.evaluate", {{"expression", expression}, {"returnByValue", true}}, session_, timeout);
  if (r.contains("exceptionDetails"))
    throw std::runtime_error("the page's script threw: " + r["exceptionDetails"].dump());
  return r.value("result", nlohmann::json::object()).value("value", nlohmann::json());
}

std::string chromium_page::log() const {
  std::ifstream in(log_file_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace hub::test

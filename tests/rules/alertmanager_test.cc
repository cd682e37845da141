// The Alertmanager sink against a real Alertmanager (Debian prometheus-alertmanager),
// started by the test on 127.0.0.1 with a port chosen by the kernel and a temp storage
// path, and ended by its pid.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "hub/rules/alertmanager.h"
#include "schemas/schema.h"
#include "tests/rules/event_builder.h"
#include "tests/support/hubd_process.h"
#include "tests/support/temp_dir.h"

using namespace hub::rules::test;

namespace {

const char* alertmanager_binary = "/usr/bin/prometheus-alertmanager";

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

class alertmanager_process {
 public:
  alertmanager_process(const hub::test::temp_dir& dir, int port) : port_(port) {
    auto cfg = dir / "alertmanager.yml";
    std::ofstream(cfg) << "route:\n  receiver: hub\nreceivers:\n  - name: hub\n";
    std::filesystem::create_directories(dir / "am-data");
    auto log = (dir / "alertmanager.log").string();
    std::vector<std::string> args = {alertmanager_binary, "--config.file=" + cfg.string(),
                                     "--storage.path=" + (dir / "am-data").string(),
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port),
                                     "--cluster.listen-address="};
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      std::FILE* f = std::freopen(log.c_str(), "w", stdout);
      (void)f;
      ::dup2(::fileno(stdout), 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~alertmanager_process() {
    ::kill(pid_, SIGTERM);
    int st = 0;
    bool gone = hub::test::wait_for([&] { return ::waitpid(pid_, &st, WNOHANG) == pid_; }, std::chrono::seconds(10));
    if (!gone) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &st, 0);
    }
  }
  bool ready() {
    httplib::Client c("127.0.0.1", port_);
    auto r = c.Get("/-/ready");
    return r && r->status == 200;
  }
  // Active alerts with the given rule label.
  std::vector<nlohmann::json> alerts(const std::string& rule) {
    httplib::Client c("127.0.0.1", port_);
    auto r = c.Get("/api/v2/alerts");
    std::vector<nlohmann::json> out;
    if (!r || r->status != 200) return out;
    for (const auto& a : nlohmann::json::parse(r->body))
      if (a["labels"].value("rule", "") == rule) out.push_back(a);
    return out;
  }

 private:
  int port_;
  pid_t pid_ = -1;
};

}  // namespace

TEST_CASE("an alert reaches a real Alertmanager as firing, then as resolved, after it comes up late",
          "[rules][alertmanager]") {
  if (!std::filesystem::exists(alertmanager_binary)) {
    WARN("prometheus-alertmanager is not installed; install the Debian package to run this test");
    return;
  }
  hub::test::temp_dir dir("rules-am");
  int port = free_port();
  hub::rules::alertmanager_options opts;
  opts.url = "http://127.0.0.1:" + std::to_string(port);
  opts.retry_initial = std::chrono::milliseconds(100);
  opts.retry_max = std::chrono::milliseconds(500);
  opts.timeout = std::chrono::milliseconds(1000);
  hub::rules::alertmanager_sink sink(opts);

  // Raise a real alert with the engine.
  harness h(a4p_path());
  ev p;
  p.type = hub::schema::Payload::ProgrammeActivity;
  p.record = "XM-AM-1";
  p.adm2 = "SS0101";
  p.gender.reset();
  std::vector<std::vector<std::uint8_t>> out;
  auto now = hub::now_millis();
  p.occurred = now;
  h.engine().on_event(0, now, *hub::schema::GetEnvelope(build(p).data()), out);
  REQUIRE(out.size() == 1);

  // Alertmanager is not up yet: the post fails, stays queued, and is retried.
  REQUIRE(sink.submit(out[0]));
  REQUIRE(hub::test::wait_for([&] { return sink.stats().failures >= 1; }));
  CHECK(sink.stats().queued == 1);

  alertmanager_process am(dir, port);
  REQUIRE(hub::test::wait_for([&] { return am.ready(); }, std::chrono::seconds(20)));
  REQUIRE(hub::test::wait_for([&] { return am.alerts("R6").size() == 1; }, std::chrono::seconds(20)));
  auto a = am.alerts("R6")[0];
  CHECK(a["labels"]["key"] == "SSD/test-adapter/XM-AM-1");
  CHECK(a["labels"]["severity"] == "info");
  CHECK(a["labels"]["country"] == "SSD");
  CHECK(a["annotations"]["anchor"].get<std::string>().find("Women, Peace and Security") != std::string::npos);
  CHECK(a["annotations"]["evidence"].get<std::string>().find("XM-AM-1") != std::string::npos);

  // The closing revision resolves it in Alertmanager too.
  p.revision = "2";
  p.gender = hub::schema::GenderLevel::limited;
  p.occurred = now + 1;
  out.clear();
  h.engine().on_event(1, now + 1, *hub::schema::GetEnvelope(build(p).data()), out);
  REQUIRE(out.size() == 1);
  REQUIRE(sink.submit(out[0]));
  CHECK(hub::test::wait_for([&] { return am.alerts("R6").empty(); }, std::chrono::seconds(20)));
  CHECK(sink.flush(std::chrono::seconds(5)));
  CHECK(sink.stats().sent >= 2);
}

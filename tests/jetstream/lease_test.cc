// The rules lease against a real three-node cluster: one holder at a time, takeover
// within seconds when the holder dies, at once when it lets go.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "hub/jetstream/lease.h"
#include "tests/jetstream/nats_cluster.h"
#include "tests/support/hubd_process.h"

namespace {

using namespace std::chrono_literals;

hub::jetstream::lease_options options(const hub::test::nats_cluster& c, const std::string& holder) {
  hub::jetstream::lease_options o;
  o.servers = c.urls();
  o.holder = holder;
  o.ttl = 3000ms;
  o.renew_every = 500ms;
  return o;
}

std::unique_ptr<hub::jetstream::lease> open(hub::jetstream::lease_options o) {
  auto r = hub::jetstream::lease::open(std::move(o));
  if (!r) FAIL("cannot open the lease: " << r.error().message());
  return std::move(r.value());
}

// The lease holder in a child process, so that it can die as a crashed hubd would.
struct holder_process {
  pid_t pid = -1;
  std::string out_file;
  holder_process(const std::string& name, const std::vector<std::string>& urls, const std::string& out) : out_file(out) {
    std::vector<std::string> args = {LEASE_HOLDER_PATH, name};
    args.insert(args.end(), urls.begin(), urls.end());
    pid = ::fork();
    if (pid == 0) {
      FILE* f = std::fopen(out.c_str(), "w");
      if (f != nullptr) ::dup2(fileno(f), 1);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      _exit(127);
    }
  }
  bool says_held() const {
    std::ifstream in(out_file);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str().find("held") != std::string::npos;
  }
  void kill9() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    int st = 0;
    ::waitpid(pid, &st, 0);
    pid = -1;
  }
  ~holder_process() { kill9(); }
};

}  // namespace

TEST_CASE("only one hub holds the rules lease and another takes over within seconds when it dies",
          "[jetstream][lease]") {
  hub::test::nats_cluster cluster;
  hub::test::temp_dir dir("lease");
  holder_process a("hub-a", cluster.urls(), (dir / "a.out").string());
  REQUIRE(hub::test::wait_for([&] { return a.says_held(); }, 20s));

  auto b = open(options(cluster, "hub-b"));
  REQUIRE(hub::test::wait_for([&] { return b->holder() == "hub-a"; }, 10s));
  // While a renews, b never holds it.
  CHECK_FALSE(hub::test::wait_for([&] { return b->held(); }, 2s));

  a.kill9();
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(hub::test::wait_for([&] { return b->held(); }, 10s));
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took < 6s);  // ttl 3 s + one renewal period + slack
  CHECK(b->holder() == "hub-b");
}

TEST_CASE("a hub that stops cleanly hands the rules lease over at once", "[jetstream][lease]") {
  hub::test::nats_cluster cluster;
  auto a = open(options(cluster, "hub-a"));
  REQUIRE(hub::test::wait_for([&] { return a->held(); }, 10s));
  auto b = open(options(cluster, "hub-b"));
  CHECK_FALSE(hub::test::wait_for([&] { return b->held(); }, 1500ms));
  CHECK(a->held());
  a.reset();
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(hub::test::wait_for([&] { return b->held(); }, 5s));
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
}

TEST_CASE("a lease without a holder name is refused with a clear reason", "[jetstream][lease]") {
  hub::jetstream::lease_options o;
  o.servers = {"nats://127.0.0.1:1"};
  auto r = hub::jetstream::lease::open(o);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.error().code() == hub::errc::config_error);
  CHECK_THAT(r.error().message(), Catch::Contains("holder"));
}

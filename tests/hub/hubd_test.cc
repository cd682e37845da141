// hubd as a process: flags, config errors, a publish/subscribe round trip over raw
// sockets, and a clean exit on SIGTERM and SIGINT.
#include <signal.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "schemas/wire.h"
#include "tests/support/envelopes.h"
#include "tests/support/hubd_process.h"

namespace {

struct command_result {
  int exit_code;
  std::string output;
};

command_result run(const std::string& cmd) {
  std::array<char, 4096> buf{};
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  while (p != nullptr && std::fgets(buf.data(), buf.size(), p) != nullptr) out += buf.data();
  int st = p != nullptr ? ::pclose(p) : -1;
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

std::vector<zmq::message_t> recv_reply(zmq::socket_t& s, int timeout_ms = 5000) {
  std::vector<zmq::message_t> parts;
  s.set(zmq::sockopt::rcvtimeo, timeout_ms);
  if (!zmq::recv_multipart(s, std::back_inserter(parts))) parts.clear();
  return parts;
}

std::string str(const zmq::message_t& m) { return m.to_string(); }

}  // namespace

TEST_CASE("hubd --print-config shows flags overriding the file", "[hubd][config]") {
  hub::test::temp_dir d;
  std::ofstream(d / "c.yaml") << "endpoint: tcp://127.0.0.1:9999\nstore:\n  fsync: never\n";
  auto r = run(std::string(HUBD_PATH) + " --config " + (d / "c.yaml").string() +
               " --endpoint tcp://127.0.0.1:1111 --print-config");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("endpoint: tcp://127.0.0.1:1111"));
  CHECK_THAT(r.output, Catch::Contains("fsync: never"));
}

TEST_CASE("hubd refuses a broken config naming the key and line", "[hubd][config]") {
  hub::test::temp_dir d;
  std::ofstream(d / "c.yaml") << "endpoint: tcp://127.0.0.1:9999\nmirror_endpiont: x\n";
  auto r = run(std::string(HUBD_PATH) + " --config " + (d / "c.yaml").string());
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("c.yaml:2") && Catch::Contains("mirror_endpiont"));
}

TEST_CASE("hubd refuses a value out of range naming the file, the line and the key", "[hubd][config]") {
  hub::test::temp_dir d;
  std::ofstream(d / "c.yaml") << "store:\n  segment_bytes: 10\n";
  auto r = run(std::string(HUBD_PATH) + " --config " + (d / "c.yaml").string() + " --print-config");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("c.yaml:2: store.segment_bytes: must be at least 4096"));
}

TEST_CASE("hubd refuses a bad flag value naming the flag", "[hubd][config]") {
  auto r = run(std::string(HUBD_PATH) + " --log-level loud --print-config");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("--log-level: log.level: 'loud' is not a log level"));
}

TEST_CASE("hubd --mirror-endpoint given twice takes the last value and --help prints the usage", "[hubd][config]") {
  auto r = run(std::string(HUBD_PATH) +
               " --mirror-endpoint tcp://127.0.0.1:1001 --mirror-endpoint tcp://127.0.0.1:1002 --print-config");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("mirror_endpoint: tcp://127.0.0.1:1002"));
  auto h = run(std::string(HUBD_PATH) + " --help");
  CHECK(h.exit_code == 0);
  CHECK_THAT(h.output, Catch::Contains("Usage:") && Catch::Contains("hubd") && Catch::Contains("--config"));
  CHECK_THAT(h.output, Catch::Contains("--mirror-endpoint") && !Catch::Contains("take_last"));
}

TEST_CASE("hubd applies max_subscriptions_per_client from its config file", "[hubd][config][limits]") {
  hub::test::temp_dir d;
  std::ofstream(d / "hubd.yaml") << "max_subscriptions_per_client: 1\n";
  hub::test::hubd_process hub({.extra_args = {"--store", "memory"}, .config = d / "hubd.yaml"});
  zmq::context_t ctx;
  zmq::socket_t c(ctx, zmq::socket_type::dealer);
  c.set(zmq::sockopt::linger, 0);
  c.connect(hub.endpoint());
  auto subscribe = [&](std::uint64_t id) {
    const std::string sub_id = hub::wire::u64_frame(id), pattern = ">", arg = hub::wire::u64_frame(0), durable,
                      credit = hub::wire::u64_frame(10);
    std::array<zmq::const_buffer, 7> f = {zmq::buffer(hub::wire::cmd_sub), zmq::buffer(sub_id), zmq::buffer(pattern),
                                          zmq::buffer(hub::wire::start_new), zmq::buffer(arg),   zmq::buffer(durable),
                                          zmq::buffer(credit)};
    zmq::send_multipart(c, f);
    return recv_reply(c);
  };
  auto first = subscribe(1);
  REQUIRE_FALSE(first.empty());
  CHECK(str(first[0]) == "SUBOK");
  auto second = subscribe(2);
  REQUIRE(second.size() == 4);
  CHECK(str(second[0]) == "ERR");
  CHECK_THAT(str(second[2]), Catch::Contains("1 subscriptions, as many as the hub allows"));
}

TEST_CASE("hubd takes idle_poll_us from its config file, the flag over the file, and shows it in its status",
          "[hubd][config][idle_poll]") {
  hub::test::temp_dir d;
  std::ofstream(d / "hubd.yaml") << "idle_poll_us: 100\n";
  auto printed = run(std::string(HUBD_PATH) + " --config " + (d / "hubd.yaml").string() + " --print-config");
  CHECK_THAT(printed.output, Catch::Contains("idle_poll_us: 100"));
  hub::test::hubd_process hub(
      {.extra_args = {"--store", "memory", "--idle-poll-us", "250"}, .config = d / "hubd.yaml"});
  zmq::context_t ctx;
  zmq::socket_t c(ctx, zmq::socket_type::dealer);
  c.set(zmq::sockopt::linger, 0);
  c.connect(hub.endpoint());
  c.send(zmq::buffer(hub::wire::cmd_status), zmq::send_flags::none);
  auto reply = recv_reply(c);
  REQUIRE(reply.size() == 2);
  auto status = nlohmann::json::parse(str(reply[1]));
  CHECK(status["idle_poll_us"] == 250);
  CHECK(status["counters"].contains("busy_polled_turns"));
}

TEST_CASE("events published over raw sockets are acked and delivered in order", "[hubd][protocol]") {
  hub::test::hubd_process hub({.extra_args = {"--store", "memory"}});
  zmq::context_t ctx;
  zmq::socket_t pub(ctx, zmq::socket_type::dealer);
  pub.set(zmq::sockopt::linger, 0);
  pub.connect(hub.endpoint());
  constexpr int n = 20;
  for (int i = 1; i <= n; ++i) {
    auto env = hub::test::make_envelope();
    const std::string seq = hub::wire::u64_frame(static_cast<std::uint64_t>(i));
    std::array<zmq::const_buffer, 3> parts = {zmq::buffer(hub::wire::cmd_pub), zmq::buffer(seq), zmq::buffer(env)};
    zmq::send_multipart(pub, parts);
  }
  std::vector<std::uint64_t> acked;
  while (acked.size() < n) {
    auto r = recv_reply(pub);
    REQUIRE(r.size() == 2);
    REQUIRE(str(r[0]) == "ACK");
    REQUIRE(r[1].size() % 16 == 0);
    for (std::size_t k = 0; k < r[1].size(); k += 16)
      acked.push_back(hub::wire::get_u64(static_cast<const std::uint8_t*>(r[1].data()) + k));
  }
  for (int i = 0; i < n; ++i) CHECK(acked[static_cast<std::size_t>(i)] == static_cast<std::uint64_t>(i + 1));

  zmq::socket_t sub(ctx, zmq::socket_type::dealer);
  sub.set(zmq::sockopt::linger, 0);
  sub.connect(hub.endpoint());
  const std::string sub_id = hub::wire::u64_frame(1), pattern = "peacekeeping.SSD.>",
                    arg = hub::wire::u64_frame(0), durable, credit = hub::wire::u64_frame(1000);
  std::array<zmq::const_buffer, 7> s = {zmq::buffer(hub::wire::cmd_sub), zmq::buffer(sub_id),
                                        zmq::buffer(pattern),            zmq::buffer(hub::wire::start_earliest),
                                        zmq::buffer(arg),                zmq::buffer(durable),
                                        zmq::buffer(credit)};
  zmq::send_multipart(sub, s);
  auto ok = recv_reply(sub);
  REQUIRE(ok.size() == 3);
  CHECK(str(ok[0]) == "SUBOK");
  for (std::uint64_t i = 0; i < n; ++i) {
    auto e = recv_reply(sub);
    REQUIRE(e.size() == 5);
    CHECK(str(e[0]) == "EVT");
    CHECK(hub::wire::get_u64(static_cast<const std::uint8_t*>(e[2].data())) == i);
    CHECK(str(e[3]) == "peacekeeping.SSD.mandate_activity");
  }
  CHECK(hub.stop() == 0);
}

TEST_CASE("no thread of a running hubd can be interrupted by a stop signal", "[hubd]") {
  // The kernel hands a signal sent to the process to any thread that does not block it;
  // a helper thread interrupted in a blocking call once aborted the hub. hubd blocks
  // the stop and reload signals in every thread and takes them with sigwait.
  hub::test::hubd_process hub({.http = true});
  const std::uint64_t wanted = (1ull << (SIGTERM - 1)) | (1ull << (SIGINT - 1)) | (1ull << (SIGHUP - 1));
  std::size_t threads = 0, takers = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(hub.pid()) + "/task")) {
    std::ifstream in(task.path() / "status");
    std::string line, name;
    std::uint64_t blocked = 0;
    bool seen = false;
    while (std::getline(in, line)) {
      if (line.rfind("Name:", 0) == 0) name = line.substr(5);
      if (line.rfind("SigBlk:", 0) == 0) {
        blocked = std::stoull(line.substr(7), nullptr, 16);
        seen = true;
      }
    }
    if (!seen) continue;  // the thread ended meanwhile
    ++threads;
    // The one thread that takes them has them unblocked while it waits in sigwait.
    if (name.find("hubd-signals") != std::string::npos) {
      ++takers;
      continue;
    }
    INFO("thread" << name);
    CHECK((blocked & wanted) == wanted);
  }
  CHECK(takers == 1);
  CHECK(threads >= 5);  // the loop, the signal taker, the sync thread, ZeroMQ's, HTTP's
  int st = hub.stop();
  REQUIRE(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
}

TEST_CASE("hubd exits cleanly on SIGTERM and SIGINT", "[hubd]") {
  for (int sig : {SIGTERM, SIGINT}) {
    INFO("signal " << ::strsignal(sig));
    hub::test::hubd_process hub({.extra_args = {"--store", "memory"}});
    // It serves first, so that the signal reaches a running loop, not a hub still starting.
    zmq::context_t ctx;
    zmq::socket_t c(ctx, zmq::socket_type::dealer);
    c.set(zmq::sockopt::linger, 0);
    c.connect(hub.endpoint());
    c.send(zmq::buffer(std::string(hub::wire::cmd_ping)), zmq::send_flags::none);
    auto pong = recv_reply(c);
    REQUIRE_FALSE(pong.empty());
    CHECK(str(pong[0]) == "PONG");
    int st = hub.stop_with(sig);
    REQUIRE(WIFEXITED(st));  // not killed by the signal, nor by the SIGKILL after the deadline
    CHECK(WEXITSTATUS(st) == 0);
    CHECK_THAT(hub.log(), Catch::Contains("shutting down") && Catch::Contains("stopped:"));
  }
}

namespace {

// Publishes envelopes over a raw DEALER and returns seq -> offset from the ACKs.
std::map<std::uint64_t, std::uint64_t> publish_all(zmq::socket_t& pub, const std::vector<std::vector<std::uint8_t>>& envs) {
  std::uint64_t seq = 0;
  for (const auto& env : envs) {
    const std::string s = hub::wire::u64_frame(++seq);
    std::array<zmq::const_buffer, 3> parts = {zmq::buffer(hub::wire::cmd_pub), zmq::buffer(s), zmq::buffer(env)};
    zmq::send_multipart(pub, parts);
  }
  std::map<std::uint64_t, std::uint64_t> acked;
  while (acked.size() < envs.size()) {
    auto r = recv_reply(pub);
    REQUIRE(r.size() >= 2);  // a third frame names resends
    REQUIRE(str(r[0]) == "ACK");
    for (std::size_t k = 0; k < r[1].size(); k += 16) {
      auto* p = static_cast<const std::uint8_t*>(r[1].data()) + k;
      acked[hub::wire::get_u64(p)] = hub::wire::get_u64(p + 8);
    }
  }
  return acked;
}

}  // namespace

TEST_CASE("acknowledged events and the dedup window survive a restart of the embedded log", "[hubd][log]") {
  hub::test::hubd_process hub({.extra_args = {"--store", "embedded", "--fsync", "batch"}});
  zmq::context_t ctx;
  std::vector<std::vector<std::uint8_t>> envs;
  for (int i = 0; i < 50; ++i) envs.push_back(hub::test::make_envelope());
  std::map<std::uint64_t, std::uint64_t> first;
  {
    zmq::socket_t pub(ctx, zmq::socket_type::dealer);
    pub.set(zmq::sockopt::linger, 0);
    pub.connect(hub.endpoint());
    first = publish_all(pub, envs);
  }
  REQUIRE(hub.stop() == 0);
  hub.restart();
  zmq::socket_t pub(ctx, zmq::socket_type::dealer);
  pub.set(zmq::sockopt::linger, 0);
  pub.connect(hub.endpoint());
  // Resending every event after the restart stores nothing new: same offsets come back.
  auto again = publish_all(pub, envs);
  CHECK(again == first);
  CHECK(hub.log().find("dedup window rebuilt from the log: 50 recent event ids") != std::string::npos);
  const std::string sub_id = hub::wire::u64_frame(1), pattern = ">", arg = hub::wire::u64_frame(0), durable,
                    credit = hub::wire::u64_frame(1000);
  std::array<zmq::const_buffer, 7> s = {zmq::buffer(hub::wire::cmd_sub), zmq::buffer(sub_id), zmq::buffer(pattern),
                                        zmq::buffer(hub::wire::start_earliest), zmq::buffer(arg),
                                        zmq::buffer(durable), zmq::buffer(credit)};
  zmq::send_multipart(pub, s);
  REQUIRE(str(recv_reply(pub)[0]) == "SUBOK");
  for (std::uint64_t i = 0; i < envs.size(); ++i) {
    auto e = recv_reply(pub);
    REQUIRE(e.size() == 5);
    CHECK(hub::wire::get_u64(static_cast<const std::uint8_t*>(e[2].data())) == i);
    CHECK(std::memcmp(e[4].data(), envs[i].data(), envs[i].size()) == 0);
  }
  CHECK(recv_reply(pub, 200).empty());
}

TEST_CASE("a flood of bad input is answered in full but logged at a bounded rate, as JSON lines", "[hubd][logs]") {
  hub::test::hubd_process hub({.extra_args = {"--store", "memory", "--log-format", "json"}});
  zmq::context_t ctx;
  zmq::socket_t c(ctx, zmq::socket_type::dealer);
  c.set(zmq::sockopt::linger, 0);
  c.connect(hub.endpoint());
  constexpr int n = 50;
  for (int i = 1; i <= n; ++i) {
    const std::string seq = hub::wire::u64_frame(static_cast<std::uint64_t>(i)), junk = "not an envelope";
    std::array<zmq::const_buffer, 3> parts = {zmq::buffer(hub::wire::cmd_pub), zmq::buffer(seq), zmq::buffer(junk)};
    zmq::send_multipart(c, parts);
  }
  for (int i = 0; i < n; ++i) {
    auto r = recv_reply(c);
    REQUIRE(r.size() == 4);
    REQUIRE(str(r[0]) == "NAK");  // every PUB gets its answer
  }
  REQUIRE(hub.stop() == 0);
  std::istringstream log(hub.log());
  std::string line;
  int nak_lines = 0, lines = 0;
  while (std::getline(log, line)) {
    if (line.empty()) continue;
    ++lines;
    auto j = nlohmann::json::parse(line);  // every line is one JSON object
    CHECK(j.contains("time"));
    CHECK(j.contains("level"));
    if (j["msg"].get<std::string>().find("NAK to") != std::string::npos) ++nak_lines;
  }
  CHECK(lines > 0);
  CHECK(nak_lines == 10);
}

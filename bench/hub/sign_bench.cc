// bench_signing: what verifying adapters' Ed25519 signatures costs the hub (issue 7).
//
// One hubd (security on: CURVE and an ACL, embedded log with fsync never) serves two
// identities in the same run: `plain` publishes unsigned envelopes, `signer` must sign
// (require_signature). The same raw-protocol publisher (4,000 PUBs in flight, clock
// stopped at the last ACK) runs as each in turn, interleaved over --reps rounds, so the
// only difference is the signature frame the hub verifies and stores. Signatures are
// made before the clock starts: the figure is the hub's cost, not the client's.
// Also measured on its own: Ed25519 verify/s (and sign/s) on one core, libsodium.
//
// Prints a table and one JSON object per figure on stdout (the bench/ line format).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <flatbuffers/flatbuffers.h>
#include <nlohmann/json.hpp>
#include <sodium.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "bench/hub/envelope_template.h"
#include "bench/hub/measure.h"
#include "hub/security/security.h"
#include "schemas/schema.h"
#include "schemas/wire.h"

namespace {

namespace fs = std::filesystem;
using namespace hub;

[[noreturn]] void fail(const std::string& what) {
  std::cerr << "bench_signing: " << what << "\n";
  std::exit(1);
}

struct hubd_child {
  pid_t pid = -1;
  std::string endpoint;
  ~hubd_child() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      int st = 0;
      ::waitpid(pid, &st, 0);
    }
  }
};

void start_hubd(hubd_child& h, const std::string& hubd, const fs::path& dir) {
  const fs::path ready = dir / "ready.json";
  std::vector<std::string> args = {hubd, "--endpoint", "tcp://127.0.0.1:*", "--mirror-endpoint", "tcp://127.0.0.1:*",
                                   "--data-dir", (dir / "data").string(), "--store", "embedded", "--fsync", "never",
                                   "--log-level", "warn", "--ready-file", ready.string(), "--config",
                                   (dir / "hubd.yaml").string()};
  h.pid = ::fork();
  if (h.pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fd = ::open((dir / "hubd.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  // Waiting for another process's file: poll it (this is a benchmark driver, not a test).
  for (int i = 0; i < 1000 && !fs::exists(ready); ++i) {
    int st = 0;
    if (::waitpid(h.pid, &st, WNOHANG) == h.pid) {
      h.pid = -1;
      std::ifstream log(dir / "hubd.log");
      std::stringstream ss;
      ss << log.rdbuf();
      fail("hubd exited at start; its log:\n" + ss.str());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!fs::exists(ready)) fail("hubd did not write its ready file within 10 s");
  std::ifstream in(ready);
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("endpoint")) fail("hubd's ready file has no endpoint");
  h.endpoint = j["endpoint"].get<std::string>();
}

// Publishes n envelopes (ids from `first`) through a CURVE connection, each with its
// signature when sigs is not empty; returns events/s from the first PUB to the last ACK.
double publish_run(zmq::context_t& ctx, const std::string& endpoint, const std::string& server_pub,
                   const security::curve_keypair& client, std::vector<std::uint8_t> env, std::size_t id_at,
                   std::uint64_t first, std::uint64_t n, const std::vector<std::uint8_t>& sigs,
                   const std::vector<std::vector<std::uint8_t>>& envs) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::sndhwm, 0);
  s.set(zmq::sockopt::rcvhwm, 0);
  s.set(zmq::sockopt::curve_serverkey, server_pub);
  s.set(zmq::sockopt::curve_publickey, client.public_z85);
  s.set(zmq::sockopt::curve_secretkey, client.secret_z85);
  s.connect(endpoint);
  s.send(zmq::buffer(wire::cmd_hello), zmq::send_flags::sndmore);
  s.send(zmq::buffer(wire::protocol_version), zmq::send_flags::sndmore);
  s.send(zmq::str_buffer("bench-signing"), zmq::send_flags::none);
  std::vector<zmq::message_t> reply;
  zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, std::chrono::milliseconds(10000)) == 0) fail("no WELCOME from hubd within 10 s");
  (void)zmq::recv_multipart(s, std::back_inserter(reply));

  const std::size_t window = 4000;
  std::uint64_t sent = 0, acked = 0, refused = 0;
  const auto t0 = bench::now_ns();
  while (acked + refused < n) {
    while (sent < n && sent - acked - refused < window) {
      const auto& e = envs.empty() ? env : envs[sent];
      if (envs.empty()) {
        flatbuffers::WriteScalar(env.data() + id_at, first + sent);
      }
      std::uint8_t seq[8];
      wire::put_u64(seq, sent + 1);
      s.send(zmq::buffer(wire::cmd_pub), zmq::send_flags::sndmore);
      s.send(zmq::buffer(seq, 8), zmq::send_flags::sndmore);
      if (sigs.empty()) {
        s.send(zmq::buffer(e), zmq::send_flags::none);
      } else {
        s.send(zmq::buffer(e), zmq::send_flags::sndmore);
        s.send(zmq::buffer(sigs.data() + sent * crypto_sign_BYTES, crypto_sign_BYTES), zmq::send_flags::none);
      }
      ++sent;
    }
    if (zmq::poll(&item, 1, std::chrono::milliseconds(10000)) == 0) fail("no reply from hubd within 10 s");
    for (;;) {
      reply.clear();
      if (!zmq::recv_multipart(s, std::back_inserter(reply), zmq::recv_flags::dontwait)) break;
      auto cmd = reply[0].to_string_view();
      if (cmd == wire::rep_ack && reply.size() >= 2) acked += reply[1].size() / 16;
      if (cmd == wire::rep_nak) {
        if (++refused <= 3) std::cerr << "bench_signing: NAK: " << (reply.size() > 3 ? reply[3].to_string() : "?") << "\n";
      }
    }
  }
  const double secs = static_cast<double>(bench::now_ns() - t0) / 1e9;
  if (refused > 0) fail(std::to_string(refused) + " PUBs were refused");
  return static_cast<double>(n) / secs;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_signing: acked publish events/s through hubd, signed vs unsigned, and Ed25519 verify/s"};
  std::string hubd = HUBD_PATH;
  std::uint64_t count = 100000;
  int reps = 3;
  double verify_seconds = 1.0;
  app.add_option("--hubd", hubd, "hubd binary")->capture_default_str();
  app.add_option("--count", count, "events per publish run")->capture_default_str();
  app.add_option("--reps", reps, "rounds (each: unsigned then signed)")->capture_default_str();
  app.add_option("--verify-seconds", verify_seconds, "time for the verify-alone loop")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (sodium_init() < 0) fail("libsodium failed to initialise");

  const bench::envelope_template event;  // a MandateActivity of about 280 bytes
  auto env = event.bytes;
  const std::size_t id_at = event.id_at;
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);

  // Ed25519 on its own, one core.
  unsigned char sig[crypto_sign_BYTES];
  std::uint64_t signs = 0, verifies = 0;
  auto t0 = bench::now_ns();
  const auto budget = static_cast<std::int64_t>(verify_seconds * 1e9 / 2);
  while (bench::now_ns() - t0 < budget) {
    flatbuffers::WriteScalar(env.data() + id_at, signs);
    crypto_sign_detached(sig, nullptr, env.data(), env.size(), sk);
    ++signs;
  }
  const double sign_rate = static_cast<double>(signs) / (static_cast<double>(bench::now_ns() - t0) / 1e9);
  t0 = bench::now_ns();
  while (bench::now_ns() - t0 < budget) {
    if (crypto_sign_verify_detached(sig, env.data(), env.size(), pk) != 0) fail("a good signature did not verify");
    ++verifies;
  }
  const double verify_rate = static_cast<double>(verifies) / (static_cast<double>(bench::now_ns() - t0) / 1e9);

  // A hub with security on and two identities.
  char tmpl[] = "/tmp/bench-signing-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) fail("cannot make a temp dir");
  const fs::path dir(tmpl);
  auto server = security::generate_curve_keypair();
  auto plain = security::generate_curve_keypair();
  auto signer = security::generate_curve_keypair();
  if (!server || !plain || !signer) fail("cannot make CURVE keys");
  if (auto st = security::write_key_files(dir / "hub", server.value()); !st) fail(st.message());
  char pk_hex[2 * crypto_sign_PUBLICKEYBYTES + 1];
  sodium_bin2hex(pk_hex, sizeof pk_hex, pk, sizeof pk);
  std::ofstream(dir / "acl.yaml") << "identities:\n"
                                  << "  - name: plain\n    public_key: \"" << plain->public_z85
                                  << "\"\n    entities: [peacekeeping]\n"
                                  << "  - name: signer\n    public_key: \"" << signer->public_z85
                                  << "\"\n    entities: [peacekeeping]\n    signing_key: \"" << pk_hex
                                  << "\"\n    require_signature: true\n";
  std::ofstream(dir / "hubd.yaml") << "security:\n  enabled: true\n  curve_secret_key_file: "
                                   << (dir / "hub.key").string() << "\n  acl_file: " << (dir / "acl.yaml").string()
                                   << "\n";
  std::vector<double> unsigned_rates, signed_rates;
  {
    hubd_child h;
    start_hubd(h, hubd, dir);
    zmq::context_t ctx(1);
    // Signed envelopes and their signatures, made before any clock starts.
    std::vector<std::vector<std::uint8_t>> envs(count, env);
    std::vector<std::uint8_t> sigs(count * crypto_sign_BYTES);
    std::uint64_t next_id = 1'000'000;
    for (int rep = 0; rep <= reps; ++rep) {  // round 0 warms up, not counted
      const std::uint64_t n = rep == 0 ? std::min<std::uint64_t>(count, 2000) : count;
      double u = publish_run(ctx, h.endpoint, server->public_z85, plain.value(), env, id_at, next_id, n, {}, {});
      next_id += n;
      for (std::uint64_t i = 0; i < n; ++i) {
        flatbuffers::WriteScalar(envs[i].data() + id_at, next_id + i);
        crypto_sign_detached(sigs.data() + i * crypto_sign_BYTES, nullptr, envs[i].data(), envs[i].size(), sk);
      }
      double sgn = publish_run(ctx, h.endpoint, server->public_z85, signer.value(), env, id_at, next_id, n, sigs, envs);
      next_id += n;
      if (rep == 0) continue;
      unsigned_rates.push_back(u);
      signed_rates.push_back(sgn);
    }
  }
  sodium_memzero(sk, sizeof sk);
  std::error_code ec;
  fs::remove_all(dir, ec);

  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  const double u = median(unsigned_rates), sg = median(signed_rates);
  std::printf("Ed25519 (libsodium), 1 core, %zu-byte envelope: verify %.0f/s, sign %.0f/s\n", env.size(), verify_rate,
              sign_rate);
  std::printf("hubd acked publish, CURVE, embedded log fsync never, %llu events x %d rounds (median):\n",
              static_cast<unsigned long long>(count), reps);
  std::printf("  unsigned (identity without signing key)  %10.0f events/s\n", u);
  std::printf("  signed   (require_signature, verified)   %10.0f events/s\n", sg);
  std::printf("  signed / unsigned                        %10.2f\n", u > 0 ? sg / u : 0.0);
  nlohmann::json out = {{"case", "signing"},
                        {"ed25519_verify_per_s", verify_rate},
                        {"ed25519_sign_per_s", sign_rate},
                        {"envelope_bytes", env.size()},
                        {"events", count},
                        {"rounds", reps},
                        {"unsigned_events_per_s", u},
                        {"signed_events_per_s", sg},
                        {"ratio", u > 0 ? sg / u : 0.0},
                        {"unsigned_runs", unsigned_rates},
                        {"signed_runs", signed_rates}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

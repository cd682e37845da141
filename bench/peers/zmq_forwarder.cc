// bench_zmq_forwarder: the limit for a ZeroMQ hub. A bare zmq_proxy between an XSUB
// socket (publishers connect) and an XPUB socket (subscribers connect), both on
// loopback with kernel-chosen ports and high-water marks of 0 (unbounded), so nothing
// is dropped silently and the subscribers count what really arrives.
// Writes {"xsub": "...", "xpub": "...", "pid": N} to --ready-file once bound; ends on
// SIGTERM or SIGINT.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

int main(int argc, char** argv) {
  CLI::App app{"bench_zmq_forwarder: zmq_proxy XSUB/XPUB on loopback, HWM 0"};
  std::string ready_file;
  app.add_option("--ready-file", ready_file, "write the bound endpoints as JSON here")->required();
  CLI11_PARSE(app, argc, argv);

  // Block the stop signals; zmq's threads inherit the mask and a waiter thread turns
  // the signal into a context shutdown, which ends the proxy.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  zmq::context_t ctx(1);
  zmq::socket_t xsub(ctx, zmq::socket_type::xsub);
  zmq::socket_t xpub(ctx, zmq::socket_type::xpub);
  xsub.set(zmq::sockopt::rcvhwm, 0);
  xsub.set(zmq::sockopt::sndhwm, 0);
  xpub.set(zmq::sockopt::sndhwm, 0);
  xpub.set(zmq::sockopt::rcvhwm, 0);
  xsub.set(zmq::sockopt::linger, 0);
  xpub.set(zmq::sockopt::linger, 0);
  try {
    xsub.bind("tcp://127.0.0.1:*");
    xpub.bind("tcp://127.0.0.1:*");
  } catch (const zmq::error_t& e) {
    std::cerr << "bench_zmq_forwarder: cannot bind on 127.0.0.1: " << e.what() << "\n";
    return 1;
  }
  nlohmann::json j = {{"xsub", xsub.get(zmq::sockopt::last_endpoint)},
                      {"xpub", xpub.get(zmq::sockopt::last_endpoint)},
                      {"pid", ::getpid()}};
  {
    std::ofstream out(ready_file + ".tmp");
    out << j.dump() << "\n";
  }
  std::filesystem::rename(ready_file + ".tmp", ready_file);

  std::thread waiter([&ctx, set] {
    int sig = 0;
    sigwait(&set, &sig);
    ctx.shutdown();
  });
  try {
    zmq::proxy(xsub, xpub);
  } catch (const zmq::error_t&) {
    // ETERM: the context was shut down by the signal waiter.
  }
  waiter.join();
  return 0;
}

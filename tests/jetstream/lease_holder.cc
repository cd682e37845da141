// A process that holds the rules lease, for the takeover test: it prints "held" once it
// holds it and stays until killed (or 120 s pass).
//   lease_holder <holder-name> <nats-url>...
#include <chrono>
#include <cstdio>
#include <thread>

#include "hub/jetstream/lease.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: lease_holder <holder-name> <nats-url>...\n");
    return 2;
  }
  hub::jetstream::lease_options o;
  o.holder = argv[1];
  for (int i = 2; i < argc; ++i) o.servers.emplace_back(argv[i]);
  o.ttl = std::chrono::milliseconds(3000);
  o.renew_every = std::chrono::milliseconds(500);
  auto l = hub::jetstream::lease::open(o);
  if (!l) {
    std::fprintf(stderr, "lease_holder: %s\n", l.error().message().c_str());
    return 1;
  }
  bool said = false;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < until) {
    if (!said && l.value()->held()) {
      std::printf("held\n");
      std::fflush(stdout);
      said = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return 0;
}

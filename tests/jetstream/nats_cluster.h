// A real nats-server cluster for tests: N nodes with JetStream on loopback, ports
// chosen by the kernel, each node's store in the test's temp dir. Nodes are ended by
// their pid only (SIGKILL for a crash, SIGTERM at the end).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace hub::test {

class nats_cluster {
 public:
  explicit nats_cluster(int nodes = 3);
  ~nats_cluster();
  nats_cluster(const nats_cluster&) = delete;
  nats_cluster& operator=(const nats_cluster&) = delete;

  // nats://127.0.0.1:PORT of every node, in node order.
  [[nodiscard]] std::vector<std::string> urls() const;
  [[nodiscard]] int size() const { return static_cast<int>(nodes_.size()); }

  void kill9(int node);   // a crash
  void start(int node);   // again, same ports and store; waits until it accepts clients
  void kill_all();
  void start_all();
  [[nodiscard]] std::string log(int node) const;

 private:
  struct node {
    int client_port = 0;
    int cluster_port = 0;
    std::filesystem::path conf, log;
    pid_t pid = -1;
  };
  void stop(int node);
  temp_dir dir_{"nats"};
  std::vector<node> nodes_;
};

}  // namespace hub::test

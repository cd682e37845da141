#include "tests/jetstream/nats_cluster.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/hubd_process.h"

namespace hub::test {
namespace {

// Binds 127.0.0.1:port (0: any) and returns the port bound, or 0 if it is taken.
int bind_port(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);  // as a listening server does
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  socklen_t len = sizeof a;
  int got = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    got = ntohs(a.sin_port);
  ::close(fd);
  return got;
}

// A free port for nats-server, which must know the cluster ports of its peers before
// they start (so it cannot take `-1` for those) and is restarted on the same ports.
// Taken below the kernel's ephemeral range, so that no outgoing connection of another
// test can take it as its local port while a node is down: with a port from bind(0)
// that happened under a parallel run, and the restarted node could not listen.
int free_port() {
  int ephemeral_low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_low;
  if (ephemeral_low > 11000) {
    std::mt19937 gen(std::random_device{}());
    std::uniform_int_distribution<int> pick(10000, ephemeral_low - 1);
    for (int i = 0; i < 200; ++i)
      if (int p = bind_port(pick(gen)); p != 0) return p;
  }
  if (int p = bind_port(0); p != 0) return p;
  throw std::runtime_error("no free port on 127.0.0.1");
}

bool accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

nats_cluster::nats_cluster(int n) {
  nodes_.resize(static_cast<std::size_t>(n));
  for (auto& nd : nodes_) {
    nd.client_port = free_port();
    nd.cluster_port = free_port();
  }
  for (int i = 0; i < n; ++i) {
    auto& nd = nodes_[static_cast<std::size_t>(i)];
    std::string name = "n" + std::to_string(i + 1);
    nd.conf = dir_ / (name + ".conf");
    nd.log = dir_ / (name + ".log");
    std::ofstream c(nd.conf);
    c << "server_name: " << name << "\n"
      << "listen: 127.0.0.1:" << nd.client_port << "\n"
      << "jetstream { store_dir: \"" << (dir_ / name).string() << "\" }\n";
    if (n > 1) {
      c << "cluster {\n  name: hubtest\n  listen: 127.0.0.1:" << nd.cluster_port << "\n  routes: [\n";
      for (int j = 0; j < n; ++j)
        if (j != i) c << "    nats-route://127.0.0.1:" << nodes_[static_cast<std::size_t>(j)].cluster_port << "\n";
      c << "  ]\n}\n";
    }
  }
  try {
    start_all();
  } catch (...) {
    // A node that does not come up throws out of the constructor, so the destructor
    // will not run: stop the nodes already started here, or they outlive the test.
    for (int i = 0; i < n; ++i) stop(i);
    throw;
  }
}

nats_cluster::~nats_cluster() {
  for (int i = 0; i < size(); ++i) stop(i);
}

std::vector<std::string> nats_cluster::urls() const {
  std::vector<std::string> u;
  for (const auto& nd : nodes_) u.push_back("nats://127.0.0.1:" + std::to_string(nd.client_port));
  return u;
}

void nats_cluster::start(int i) {
  auto& nd = nodes_.at(static_cast<std::size_t>(i));
  if (nd.pid > 0) return;
  std::string exe = NATS_SERVER_PATH;
  std::vector<std::string> args = {exe, "-c", nd.conf.string()};
  nd.pid = ::fork();
  if (nd.pid < 0) throw std::runtime_error("fork failed");
  if (nd.pid == 0) {
    FILE* f = std::fopen(nd.log.c_str(), "a");
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
  int st = 0;
  bool exited = false;
  const bool up = wait_for(
      [&] {
        exited = ::waitpid(nd.pid, &st, WNOHANG) == nd.pid;
        return exited || accepts(nd.client_port);
      },
      std::chrono::seconds(15));
  if (!up || exited) {
    if (exited) nd.pid = -1;
    throw std::runtime_error("nats-server node " + std::to_string(i + 1) +
                             (exited ? " exited at start" : " did not accept connections within 15 s") +
                             "; its log:\n" + log(i));
  }
}

void nats_cluster::start_all() {
  for (int i = 0; i < size(); ++i) start(i);
}

void nats_cluster::kill9(int i) {
  auto& nd = nodes_.at(static_cast<std::size_t>(i));
  if (nd.pid <= 0) return;
  ::kill(nd.pid, SIGKILL);
  int st = 0;
  ::waitpid(nd.pid, &st, 0);
  nd.pid = -1;
}

void nats_cluster::kill_all() {
  for (int i = 0; i < size(); ++i) kill9(i);
}

void nats_cluster::stop(int i) {
  auto& nd = nodes_.at(static_cast<std::size_t>(i));
  if (nd.pid <= 0) return;
  ::kill(nd.pid, SIGTERM);
  int st = 0;
  bool gone = wait_for([&] { return ::waitpid(nd.pid, &st, WNOHANG) == nd.pid; }, std::chrono::seconds(10));
  if (!gone) {
    ::kill(nd.pid, SIGKILL);
    ::waitpid(nd.pid, &st, 0);
  }
  nd.pid = -1;
}

std::string nats_cluster::log(int i) const {
  std::ifstream in(nodes_.at(static_cast<std::size_t>(i)).log);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace hub::test

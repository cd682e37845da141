// A TCP connection that speaks ZMTP 3 by hand, for tests of hubd's own ZMTP endpoints
// (the mirror, the client socket): what libzmq would never send. Header-only; the tests
// that include it link Catch2 themselves.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdint>
#include <string>

namespace hub::test {

inline std::uint16_t port_of(const std::string& endpoint) {
  return static_cast<std::uint16_t>(std::stoi(endpoint.substr(endpoint.rfind(':') + 1)));
}

// A TCP connection that speaks ZMTP by hand.
struct raw_peer {
  int fd = -1;
  std::string in;
  explicit raw_peer(const std::string& endpoint, int rcvbuf = 0) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);  // before the window is set
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_of(endpoint));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~raw_peer() { ::close(fd); }
  raw_peer(const raw_peer&) = delete;
  raw_peer& operator=(const raw_peer&) = delete;
  void send(const std::string& bytes) const {
    REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
  }
  // Reads what has arrived; false once the other side has closed the connection.
  bool read_some() {
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        in.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
  }
};

inline std::string greeting(int major = 3, const std::string& mechanism = "NULL") {
  std::string g(64, '\0');
  g[0] = '\xFF';
  g[9] = '\x7F';
  g[10] = static_cast<char>(major);
  g.replace(12, mechanism.size(), mechanism);
  return g;
}

inline std::string command(const std::string& name, const std::string& data) {
  std::string body = std::string(1, static_cast<char>(name.size())) + name + data;
  REQUIRE(body.size() <= 255);
  return std::string{'\x04', static_cast<char>(body.size())} + body;
}

inline std::string ready(const std::string& type) {
  return command("READY", std::string("\x0bSocket-Type", 12) + std::string("\0\0\0", 3) +
                              static_cast<char>(type.size()) + type);
}

inline std::string message(const std::string& body) { return std::string{'\x00', static_cast<char>(body.size())} + body; }

}  // namespace hub::test

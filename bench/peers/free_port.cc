// bench_free_port: prints a TCP port on 127.0.0.1 that was free a moment ago (bind to
// port 0, read the port back, close). For servers that cannot pick their own port.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

int main() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    std::perror("bench_free_port: socket");
    return 1;
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    std::perror("bench_free_port: bind 127.0.0.1:0");
    ::close(fd);
    return 1;
  }
  std::printf("%u\n", static_cast<unsigned>(ntohs(a.sin_port)));
  ::close(fd);
  return 0;
}

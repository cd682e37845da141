#include "hub/broker/zmtp_wire.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>

namespace hub::broker::zmtp {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string greeting(std::string_view mechanism, bool as_server) {
  std::string g(greeting_size, '\0');
  g[0] = '\xFF';
  g[8] = '\x01';  // as libzmq: a ZMTP 1.0 peer reads the padding as a length
  g[9] = '\x7F';
  g[10] = 3;  // major
  g[11] = 0;  // minor
  std::memcpy(g.data() + 12, mechanism.data(), std::min<std::size_t>(mechanism.size(), 20));
  g[32] = as_server ? 1 : 0;
  return g;  // filler: zero
}

greeting_check check_greeting(std::string_view g, std::string_view peer_hint) {
  greeting_check r;
  auto broken = [&](std::string why) {
    r.at = greeting_check::state::broken;
    r.why = std::move(why);
    return r;
  };
  if (!g.empty() && static_cast<std::uint8_t>(g[0]) != 0xFF)
    return broken(fmt::format("it does not speak ZMTP (its first byte is not 0xFF); {}", peer_hint));
  if (g.size() >= 10 && (g[9] & 1) == 0) return broken("it speaks ZMTP 1.0; the hub speaks ZMTP 3");
  if (g.size() >= 11 && g[10] < 3) return broken(fmt::format("it speaks ZMTP {}; the hub speaks ZMTP 3", int{g[10]}));
  if (g.size() < greeting_size) return r;
  const std::string_view mechanism(g.data() + 12, 20);
  const auto end = mechanism.find('\0');
  if (end != std::string_view::npos && mechanism.find_first_not_of('\0', end) != std::string_view::npos)
    return broken("its greeting names a mechanism with bytes after the padding");
  r.mechanism = std::string(mechanism.substr(0, end));
  r.at = greeting_check::state::complete;
  return r;
}

void put_frame_header(std::string& out, std::uint8_t flags, std::size_t size) {
  if (size <= 255) {
    out.push_back(static_cast<char>(flags));
    out.push_back(static_cast<char>(size));
    return;
  }
  out.push_back(static_cast<char>(flags | flag_long));
  put_be64(out, size);
}

void put_command(std::string& out, std::string_view name, std::string_view data) {
  put_frame_header(out, flag_command, 1 + name.size() + data.size());
  out.push_back(static_cast<char>(name.size()));
  out.append(name);
  out.append(data);
}

void put_property(std::string& out, std::string_view name, std::string_view value) {
  out.push_back(static_cast<char>(name.size()));
  out.append(name);
  const auto n = static_cast<std::uint32_t>(value.size());
  const std::array<char, 4> len = {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                                   static_cast<char>(n)};
  out.append(len.data(), len.size());
  out.append(value);
}

std::optional<std::string_view> find_property(std::string_view data, std::string_view name, bool& broken) {
  broken = false;
  std::optional<std::string_view> found;
  while (!data.empty()) {
    const std::size_t klen = static_cast<std::uint8_t>(data[0]);
    if (data.size() < 1 + klen + 4) {
      broken = true;
      return std::nullopt;
    }
    const std::string_view key = data.substr(1, klen);
    const std::uint32_t vlen = be32(data.data() + 1 + klen);
    if (data.size() - 1 - klen - 4 < vlen) {
      broken = true;
      return std::nullopt;
    }
    if (!found && iequals(key, name)) found = data.substr(1 + klen + 4, vlen);
    data.remove_prefix(1 + klen + 4 + vlen);
  }
  return found;
}

std::optional<command_view> split_command(std::string_view body) {
  if (body.empty() || static_cast<std::uint8_t>(body[0]) + 1u > body.size()) return std::nullopt;
  const std::size_t n = static_cast<std::uint8_t>(body[0]);
  return command_view{body.substr(1, n), body.substr(1 + n)};
}

std::uint64_t be64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}

std::uint32_t be32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}

void put_be64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xFF));
}

std::string out_buffer::write_to(int fd) {
  while (queued() > 0) {
    ssize_t n = ::send(fd, data.data() + pos, queued(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      pos += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return fmt::format("write failed: {}", n < 0 ? std::strerror(errno) : "no progress");
  }
  if (pos == data.size()) {
    data.clear();
    pos = 0;
    if (data.capacity() > (std::size_t{1} << 20)) data.shrink_to_fit();  // a burst's buffer goes back
  } else if (pos > data.size() / 2) {
    data.erase(0, pos);
    pos = 0;
  }
  return {};
}

std::string address_text(const sockaddr_storage& a) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (a.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(a);
    ::inet_ntop(AF_INET, &in.sin_addr, host, sizeof host);
    return fmt::format("{}:{}", host, ntohs(in.sin_port));
  }
  if (a.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(a);
    ::inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof host);
    return fmt::format("[{}]:{}", host, ntohs(in6.sin6_port));
  }
  return "?";
}

status listen_tcp(const std::string& endpoint, std::string_view what, int& fd_out, std::string& bound_out) {
  const std::string_view scheme = "tcp://";
  std::string_view rest(endpoint);
  if (rest.substr(0, scheme.size()) != scheme)
    return status::config_error(fmt::format("{} '{}': hubd speaks TCP here: tcp://HOST:PORT", what, endpoint));
  rest.remove_prefix(scheme.size());
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos)
    return status::config_error(fmt::format("{} '{}' has no port: tcp://HOST:PORT", what, endpoint));
  std::string host(rest.substr(0, colon)), port(rest.substr(colon + 1));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (port == "*") port = "0";
  const bool digits = std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (port.empty() || port.size() > 5 || !digits || std::stoi(port) > 65535)
    return status::config_error(fmt::format("{} '{}': the port must be 0-65535 or *", what, endpoint));

  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  hints.ai_family = host == "*" ? AF_INET : AF_UNSPEC;  // as libzmq: * is every IPv4 interface
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host == "*" ? nullptr : host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return status::config_error(fmt::format("{} '{}': {}", what, endpoint, ::gai_strerror(rc)));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);

  int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return status::unavailable(fmt::format("cannot listen on {}: {}", endpoint, std::strerror(errno)));
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);  // a restarted hub takes its port back at once
  if (::bind(fd, found->ai_addr, found->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
    const int e = errno;
    ::close(fd);
    return status::unavailable(fmt::format("cannot listen on {}: {}", endpoint, std::strerror(e)));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  fd_out = fd;
  bound_out = "tcp://" + address_text(bound);
  return status::ok();
}

int acceptor::next(int listen_fd, std::size_t open, std::size_t cap, std::string& peer) {
  using clock = std::chrono::steady_clock;
  for (;;) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
      // Out of descriptors (EMFILE, ENFILE) or memory: the listener would stay readable
      // and the loop would spin, so it is left alone for a moment.
      spdlog::error("{}: cannot accept a connection: {}; trying again in 100 ms", name_, std::strerror(errno));
      paused_until_ = clock::now() + std::chrono::milliseconds(100);
      return -1;
    }
    if (open >= cap) {
      ::close(fd);
      const auto now = clock::now();
      if (now - last_refusal_log_ > std::chrono::seconds(10)) {
        last_refusal_log_ = now;
        spdlog::warn("{}: refused a connection from {}: {} {} is the limit", name_, address_text(addr), cap, unit_);
      }
      continue;
    }
    const int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    peer = address_text(addr);
    return fd;
  }
}

int acceptor::poll_fd(int listen_fd) const {
  return std::chrono::steady_clock::now() < paused_until_ ? -1 : listen_fd;
}

}  // namespace hub::broker::zmtp

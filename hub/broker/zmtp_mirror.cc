#include "hub/broker/zmtp_mirror.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace hub::broker {

namespace {

using clock = std::chrono::steady_clock;

constexpr std::size_t greeting_size = 64;
constexpr std::uint8_t flag_more = 0x01, flag_long = 0x02, flag_command = 0x04;
constexpr std::size_t max_subscriptions = 10'000;  // per reader...
constexpr std::size_t max_subscription_bytes = 1 << 20;  // ...and their prefixes' bytes together

// Our greeting: ZMTP 3.0, NULL mechanism. Offering 3.0 rather than 3.1 makes every peer
// speak 3.0 (the lower version wins), whose subscriptions are plain messages; the
// SUBSCRIBE and CANCEL commands of 3.1 are understood too.
std::string greeting() {
  std::string g(greeting_size, '\0');
  g[0] = '\xFF';
  g[8] = '\x01';  // as libzmq: a ZMTP 1.0 peer reads the padding as a length
  g[9] = '\x7F';
  g[10] = 3;  // major
  g[11] = 0;  // minor
  std::memcpy(g.data() + 12, "NULL", 4);
  return g;  // as-server and filler: zero
}

void put_frame_header(std::string& out, std::uint8_t flags, std::size_t size) {
  if (size <= 255) {
    out.push_back(static_cast<char>(flags));
    out.push_back(static_cast<char>(size));
    return;
  }
  out.push_back(static_cast<char>(flags | flag_long));
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((std::uint64_t{size} >> shift) & 0xFF));
}

std::size_t frame_header_size(std::size_t size) { return size <= 255 ? 2 : 9; }

void put_command(std::string& out, std::string_view name, std::string_view data) {
  put_frame_header(out, flag_command, 1 + name.size() + data.size());
  out.push_back(static_cast<char>(name.size()));
  out.append(name);
  out.append(data);
}

std::string ready_command() {
  std::string props;
  const std::string_view key = "Socket-Type", value = "XPUB";
  props.push_back(static_cast<char>(key.size()));
  props.append(key);
  const std::array<char, 4> len = {0, 0, 0, static_cast<char>(value.size())};
  props.append(len.data(), len.size());
  props.append(value);
  std::string out;
  put_command(out, "READY", props);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
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

}  // namespace

struct zmtp_mirror::reader {
  enum class stage { greeting, handshake, ready };
  int fd = -1;
  std::string peer;
  stage at = stage::greeting;
  clock::time_point accepted;
  std::string in;  // bytes read and not yet parsed
  std::string out;  // bytes queued; out[0, out_pos) are written
  std::size_t out_pos = 0;
  // Prefixes, each held once, as XPUB holds them per connection (a SUB socket counts its
  // own and sends the cancel when the last of a prefix goes).
  std::vector<std::string> subscriptions;
  std::size_t subscription_bytes = 0;
  bool in_multipart = false;  // inside a message of several frames, which a publisher ignores
  bool dead = false;
  std::string why;  // why it is closed
  bool warn = false;  // the reader broke the protocol (logged as a warning)

  [[nodiscard]] std::size_t queued() const { return out.size() - out_pos; }
  bool fail(std::string reason, bool is_warning = true) {
    if (!dead) {
      dead = true;
      why = std::move(reason);
      warn = is_warning;
    }
    return false;
  }
  [[nodiscard]] bool wants(std::string_view topic) const {
    return std::any_of(subscriptions.begin(), subscriptions.end(),
                       [&](const std::string& p) { return topic.substr(0, p.size()) == p; });
  }
  bool subscribe(std::string_view prefix) {
    if (std::find(subscriptions.begin(), subscriptions.end(), prefix) != subscriptions.end()) return true;
    if (subscriptions.size() >= max_subscriptions)
      return fail(fmt::format("more than {} subscriptions", max_subscriptions));
    if (subscription_bytes + prefix.size() > max_subscription_bytes)
      return fail(fmt::format("subscriptions over {} bytes together", max_subscription_bytes));
    subscriptions.emplace_back(prefix);
    subscription_bytes += prefix.size();
    return true;
  }
  void unsubscribe(std::string_view prefix) {
    auto it = std::find(subscriptions.begin(), subscriptions.end(), prefix);
    if (it == subscriptions.end()) return;
    subscription_bytes -= it->size();
    subscriptions.erase(it);
  }
};

zmtp_mirror::zmtp_mirror(mirror_limits limits) : limits_(limits) {}

zmtp_mirror::~zmtp_mirror() {
  for (auto& r : readers_) ::close(r->fd);
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

status zmtp_mirror::bind(const std::string& endpoint) {
  const std::string_view scheme = "tcp://";
  std::string_view rest(endpoint);
  if (rest.substr(0, scheme.size()) != scheme)
    return status::config_error(fmt::format("mirror endpoint '{}': the mirror speaks TCP: tcp://HOST:PORT", endpoint));
  rest.remove_prefix(scheme.size());
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos)
    return status::config_error(fmt::format("mirror endpoint '{}' has no port: tcp://HOST:PORT", endpoint));
  std::string host(rest.substr(0, colon)), port(rest.substr(colon + 1));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (port == "*") port = "0";
  const bool digits = std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (port.empty() || port.size() > 5 || !digits || std::stoi(port) > 65535)
    return status::config_error(fmt::format("mirror endpoint '{}': the port must be 0-65535 or *", endpoint));

  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  hints.ai_family = host == "*" ? AF_INET : AF_UNSPEC;  // as libzmq: * is every IPv4 interface
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host == "*" ? nullptr : host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return status::config_error(fmt::format("mirror endpoint '{}': {}", endpoint, ::gai_strerror(rc)));
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
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = fd;
  endpoint_ = "tcp://" + address_text(bound);
  return status::ok();
}

void zmtp_mirror::add_poll_items(std::vector<zmq::pollitem_t>& items) const {
  if (listen_fd_ < 0) return;
  items.push_back({nullptr, clock::now() < accept_paused_until_ ? -1 : listen_fd_, ZMQ_POLLIN, 0});
  for (const auto& r : readers_)
    items.push_back({nullptr, r->fd, static_cast<short>(ZMQ_POLLIN | (r->queued() > 0 ? ZMQ_POLLOUT : 0)), 0});
}

void zmtp_mirror::handle(const zmq::pollitem_t* items, std::size_t count) {
  if (listen_fd_ < 0 || count == 0) return;
  for (std::size_t i = 1; i < count; ++i) {
    const auto& it = items[i];
    if (it.revents == 0) continue;
    // Readers keep their order between add_poll_items and here; search only if not.
    reader* r = i - 1 < readers_.size() && readers_[i - 1]->fd == it.fd ? readers_[i - 1].get() : nullptr;
    if (r == nullptr)
      for (auto& x : readers_)
        if (x->fd == it.fd) r = x.get();
    if (r == nullptr || r->dead) continue;
    if (it.revents & (ZMQ_POLLIN | ZMQ_POLLERR)) read_from(*r);
    // A PONG queued by what was just read goes out in this pass, not the next one.
    if (!r->dead && ((it.revents & ZMQ_POLLOUT) || r->queued() > 0)) write_to(*r);
  }
  if (items[0].revents & ZMQ_POLLIN) accept_all();
  reap();
}

void zmtp_mirror::accept_all() {
  for (;;) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      // Out of descriptors (EMFILE, ENFILE) or memory: the listener would stay readable
      // and the loop would spin, so it is left alone for a moment.
      spdlog::error("mirror: cannot accept a connection: {}; trying again in 100 ms", std::strerror(errno));
      accept_paused_until_ = clock::now() + std::chrono::milliseconds(100);
      return;
    }
    if (readers_.size() >= limits_.max_readers) {
      ::close(fd);
      const auto now = clock::now();
      if (now - last_refusal_log_ > std::chrono::seconds(10)) {
        last_refusal_log_ = now;
        spdlog::warn("mirror: refused a connection from {}: {} readers is the limit", address_text(addr),
                     limits_.max_readers);
      }
      continue;
    }
    const int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    auto r = std::make_unique<reader>();
    r->fd = fd;
    r->peer = address_text(addr);
    r->accepted = clock::now();
    // Both greeting and READY go at once: with the NULL mechanism neither waits on the
    // peer's, and the peer reads them in its own order.
    r->out = greeting() + ready_command();
    write_to(*r);
    readers_.push_back(std::move(r));
  }
}

void zmtp_mirror::read_from(reader& r) {
  std::array<char, 16 * 1024> buf;
  for (;;) {
    ssize_t n = ::recv(r.fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n > 0) {
      r.in.append(buf.data(), static_cast<std::size_t>(n));
      if (!parse(r)) return;
      continue;
    }
    if (n == 0) {
      r.fail("it closed the connection", false);
      return;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) r.fail(fmt::format("read failed: {}", std::strerror(errno)), false);
    return;
  }
}

bool zmtp_mirror::parse(reader& r) {
  std::size_t pos = 0;
  if (r.at == reader::stage::greeting) {
    const std::string& g = r.in;
    if (!g.empty() && static_cast<std::uint8_t>(g[0]) != 0xFF)
      return r.fail("it does not speak ZMTP (its first byte is not 0xFF); connect a ZeroMQ SUB socket");
    if (g.size() >= 10 && (g[9] & 1) == 0) return r.fail("it speaks ZMTP 1.0; the mirror speaks ZMTP 3");
    if (g.size() >= 11 && g[10] < 3) return r.fail(fmt::format("it speaks ZMTP {}; the mirror speaks ZMTP 3", int{g[10]}));
    if (g.size() < greeting_size) return true;
    const std::string_view mechanism(g.data() + 12, 20);
    if (mechanism.substr(0, 4) != "NULL" || mechanism.find_first_not_of('\0', 4) != std::string_view::npos)
      return r.fail(fmt::format("it asks for the {} mechanism; the mirror is public and offers NULL only",
                                mechanism.substr(0, mechanism.find('\0'))));
    pos = greeting_size;
    r.at = reader::stage::handshake;
  }
  for (;;) {
    const std::size_t avail = r.in.size() - pos;
    if (avail < 2) break;
    const auto flags = static_cast<std::uint8_t>(r.in[pos]);
    if ((flags & ~(flag_more | flag_long | flag_command)) != 0)
      return r.fail(fmt::format("a frame with flags {:#04x}, not ZMTP", flags));
    std::size_t header = 2, size = static_cast<std::uint8_t>(r.in[pos + 1]);
    if (flags & flag_long) {
      if (avail < 9) break;
      header = 9;
      const std::uint64_t long_size = be64(r.in.data() + pos + 1);
      size = long_size > limits_.max_frame_bytes ? limits_.max_frame_bytes + 1 : static_cast<std::size_t>(long_size);
    }
    if (size > limits_.max_frame_bytes)
      return r.fail(fmt::format("it sent a frame over {} bytes; a mirror reader sends only subscriptions",
                                limits_.max_frame_bytes));
    if (avail < header + size) break;
    if (!on_frame(r, flags, std::string_view(r.in.data() + pos + header, size))) return false;
    pos += header + size;
  }
  r.in.erase(0, pos);
  return true;
}

bool zmtp_mirror::on_frame(reader& r, std::uint8_t flags, std::string_view body) {
  if (flags & flag_command) {
    if (body.empty() || static_cast<std::uint8_t>(body[0]) + 1u > body.size())
      return r.fail("a command frame whose name does not fit it");
    const std::string_view name = body.substr(1, static_cast<std::uint8_t>(body[0]));
    std::string_view data = body.substr(1 + name.size());
    if (name == "ERROR") {
      const std::string_view reason = data.empty() ? data : data.substr(1, static_cast<std::uint8_t>(data[0]));
      return r.fail(fmt::format("it sent ERROR: {}", reason), false);
    }
    if (r.at == reader::stage::handshake) {
      if (name != "READY") return r.fail(fmt::format("it sent {} before READY", name));
      std::string_view type;
      while (!data.empty()) {  // properties: name (1-byte size), value (4-byte size)
        const std::size_t klen = static_cast<std::uint8_t>(data[0]);
        if (data.size() < 1 + klen + 4) return r.fail("a READY command with a broken property");
        const std::string_view key = data.substr(1, klen);
        const std::uint32_t vlen = be32(data.data() + 1 + klen);
        if (data.size() - 1 - klen - 4 < vlen) return r.fail("a READY command with a broken property");
        if (iequals(key, "Socket-Type")) type = data.substr(1 + klen + 4, vlen);
        data.remove_prefix(1 + klen + 4 + vlen);
      }
      if (type != "SUB" && type != "XSUB")
        return r.fail(fmt::format("a {} socket cannot read the mirror; connect a SUB or XSUB socket",
                                  type.empty() ? "nameless" : type));
      r.at = reader::stage::ready;
      spdlog::info("mirror: reader {} connected ({} readers)", r.peer, readers());
      return true;
    }
    if (name == "PING") {  // heartbeat: TTL (2 bytes), then a context the PONG returns
      if (r.queued() + 64 > limits_.max_buffered_bytes) return r.fail("it sends PINGs and does not read the PONGs");
      put_command(r.out, "PONG", data.size() > 2 ? data.substr(2, 16) : std::string_view());
    } else if (name == "SUBSCRIBE") {
      return r.subscribe(data);
    } else if (name == "CANCEL") {
      r.unsubscribe(data);
    }
    return true;  // other commands mean nothing to a publisher
  }
  if (r.at != reader::stage::ready) return r.fail("it sent a message before READY");
  const bool more = (flags & flag_more) != 0;
  if (r.in_multipart || more) {  // a message of several frames is no subscription
    r.in_multipart = more;
    return true;
  }
  if (body.empty()) return true;
  if (body[0] == 1) return r.subscribe(body.substr(1));
  if (body[0] == 0) r.unsubscribe(body.substr(1));
  return true;
}

std::size_t zmtp_mirror::publish(std::string_view topic, const void* body, std::size_t size) {
  std::size_t dropped = 0;
  const std::size_t need = frame_header_size(topic.size()) + topic.size() + frame_header_size(size) + size;
  for (auto& rp : readers_) {
    reader& r = *rp;
    if (r.at != reader::stage::ready || r.dead || !r.wants(topic)) continue;
    if (r.queued() + need > limits_.max_buffered_bytes) {
      ++dropped;
      continue;
    }
    put_frame_header(r.out, flag_more, topic.size());
    r.out.append(topic);
    put_frame_header(r.out, 0, size);
    r.out.append(static_cast<const char*>(body), size);
  }
  return dropped;
}

void zmtp_mirror::flush() {
  for (auto& r : readers_)
    if (!r->dead && r->queued() > 0) write_to(*r);
  reap();
}

void zmtp_mirror::write_to(reader& r) {
  while (r.queued() > 0) {
    ssize_t n = ::send(r.fd, r.out.data() + r.out_pos, r.queued(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      r.out_pos += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    r.fail(fmt::format("write failed: {}", n < 0 ? std::strerror(errno) : "no progress"), false);
    return;
  }
  if (r.out_pos == r.out.size()) {
    r.out.clear();
    r.out_pos = 0;
    if (r.out.capacity() > (std::size_t{1} << 20)) r.out.shrink_to_fit();  // a burst's buffer goes back
  } else if (r.out_pos > r.out.size() / 2) {
    r.out.erase(0, r.out_pos);
    r.out_pos = 0;
  }
}

void zmtp_mirror::expire(clock::time_point now) {
  for (auto& r : readers_)
    if (r->at != reader::stage::ready && now - r->accepted > limits_.handshake_timeout)
      r->fail(fmt::format("no ZMTP handshake within {} ms", limits_.handshake_timeout.count()));
  reap();
}

void zmtp_mirror::reap() {
  auto gone = std::stable_partition(readers_.begin(), readers_.end(), [](const auto& r) { return !r->dead; });
  for (auto it = gone; it != readers_.end(); ++it) {
    reader& r = **it;
    ::close(r.fd);
    if (r.warn)
      spdlog::warn("mirror: closed the connection from {}: {}", r.peer, r.why);
    else
      spdlog::info("mirror: reader {} left: {}", r.peer, r.why);
  }
  readers_.erase(gone, readers_.end());
}

std::size_t zmtp_mirror::readers() const {
  return static_cast<std::size_t>(std::count_if(readers_.begin(), readers_.end(), [](const auto& r) {
    return r->at == reader::stage::ready && !r->dead;
  }));
}

std::size_t zmtp_mirror::connections() const { return readers_.size(); }

zmtp_mirror::parse_outcome zmtp_mirror::parse_only(std::string_view bytes, std::size_t chunk, mirror_limits limits) {
  zmtp_mirror m(limits);
  reader r;
  r.out = greeting() + ready_command();
  chunk = std::max<std::size_t>(chunk, 1);
  for (std::size_t i = 0; i < bytes.size() && !r.dead; i += chunk) {
    r.in.append(bytes.substr(i, chunk));
    (void)m.parse(r);
  }
  return {!r.dead, r.why, r.at == reader::stage::ready, r.subscriptions.size(), r.out.size()};
}

std::size_t zmtp_mirror::subscriptions() const {
  std::size_t n = 0;
  for (const auto& r : readers_) n += r->subscriptions.size();
  return n;
}

}  // namespace hub::broker

#include "hub/broker/zmtp_mirror.h"

#include "hub/broker/zmtp_wire.h"

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

constexpr std::size_t max_subscriptions = 10'000;  // per reader...
constexpr std::size_t max_subscription_bytes = 1 << 20;  // ...and their prefixes' bytes together

using zmtp::flag_command, zmtp::flag_long, zmtp::flag_more, zmtp::frame_header_size,
    zmtp::put_command, zmtp::put_frame_header;

std::string ready_command() {
  std::string props, out;
  zmtp::put_property(props, "Socket-Type", "XPUB");
  put_command(out, "READY", props);
  return out;
}

// Our greeting and READY: with the NULL mechanism neither waits on the peer's.
std::string hello() { return zmtp::greeting("NULL", false) + ready_command(); }

}  // namespace

struct zmtp_mirror::reader {
  enum class stage { greeting, handshake, ready };
  int fd = -1;
  std::string peer;
  stage at = stage::greeting;
  clock::time_point accepted;
  std::string in;  // bytes read and not yet parsed
  zmtp::out_buffer out;
  // Prefixes, each held once, as XPUB holds them per connection (a SUB socket counts its
  // own and sends the cancel when the last of a prefix goes).
  std::vector<std::string> subscriptions;
  std::size_t subscription_bytes = 0;
  bool in_multipart = false;  // inside a message of several frames, which a publisher ignores
  bool dead = false;
  std::string why;  // why it is closed
  bool warn = false;  // the reader broke the protocol (logged as a warning)

  [[nodiscard]] std::size_t queued() const { return out.queued(); }
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
  int fd = -1;
  if (auto st = zmtp::listen_tcp(endpoint, "mirror endpoint", fd, endpoint_); !st) return st;
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = fd;
  return status::ok();
}

void zmtp_mirror::add_poll_items(std::vector<zmq::pollitem_t>& items) const {
  if (listen_fd_ < 0) return;
  items.push_back({nullptr, acceptor_.poll_fd(listen_fd_), ZMQ_POLLIN, 0});
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
  std::string peer;
  for (int fd; (fd = acceptor_.next(listen_fd_, readers_.size(), limits_.max_readers, peer)) >= 0;) {
    auto r = std::make_unique<reader>();
    r->fd = fd;
    r->peer = peer;
    r->accepted = clock::now();
    r->out.data = hello();
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
    const auto g = zmtp::check_greeting(r.in, "connect a ZeroMQ SUB socket");
    if (g.at == zmtp::greeting_check::state::broken) return r.fail(g.why);
    if (g.at == zmtp::greeting_check::state::partial) return true;
    if (g.mechanism != "NULL")
      return r.fail(fmt::format("it asks for the {} mechanism; the mirror is public and offers NULL only", g.mechanism));
    pos = zmtp::greeting_size;
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
      const std::uint64_t long_size = zmtp::be64(r.in.data() + pos + 1);
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
    const auto cmd = zmtp::split_command(body);
    if (!cmd) return r.fail("a command frame whose name does not fit it");
    const std::string_view name = cmd->name, data = cmd->data;
    if (name == "ERROR") {
      const std::string_view reason = data.empty() ? data : data.substr(1, static_cast<std::uint8_t>(data[0]));
      return r.fail(fmt::format("it sent ERROR: {}", reason), false);
    }
    if (r.at == reader::stage::handshake) {
      if (name != "READY") return r.fail(fmt::format("it sent {} before READY", name));
      bool broken = false;
      const std::string_view type = zmtp::find_property(data, "Socket-Type", broken).value_or("");
      if (broken) return r.fail("a READY command with a broken property");
      if (type != "SUB" && type != "XSUB")
        return r.fail(fmt::format("a {} socket cannot read the mirror; connect a SUB or XSUB socket",
                                  type.empty() ? "nameless" : type));
      r.at = reader::stage::ready;
      spdlog::info("mirror: reader {} connected ({} readers)", r.peer, readers());
      return true;
    }
    if (name == "PING") {  // heartbeat: TTL (2 bytes), then a context the PONG returns
      if (r.queued() + 64 > limits_.max_buffered_bytes) return r.fail("it sends PINGs and does not read the PONGs");
      put_command(r.out.data, "PONG", data.size() > 2 ? data.substr(2, 16) : std::string_view());
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
    put_frame_header(r.out.data, flag_more, topic.size());
    r.out.data.append(topic);
    put_frame_header(r.out.data, 0, size);
    r.out.data.append(static_cast<const char*>(body), size);
  }
  return dropped;
}

void zmtp_mirror::flush() {
  for (auto& r : readers_)
    if (!r->dead && r->queued() > 0) write_to(*r);
  reap();
}

void zmtp_mirror::write_to(reader& r) {
  if (auto why = r.out.write_to(r.fd); !why.empty()) r.fail(std::move(why), false);
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
  r.out.data = hello();
  chunk = std::max<std::size_t>(chunk, 1);
  for (std::size_t i = 0; i < bytes.size() && !r.dead; i += chunk) {
    r.in.append(bytes.substr(i, chunk));
    (void)m.parse(r);
  }
  return {!r.dead, r.why, r.at == reader::stage::ready, r.subscriptions.size(), r.out.data.size()};
}

std::size_t zmtp_mirror::subscriptions() const {
  std::size_t n = 0;
  for (const auto& r : readers_) n += r->subscriptions.size();
  return n;
}

}  // namespace hub::broker

#include "hub/broker/zmtp_router.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <deque>

#include "hub/broker/zmtp_wire.h"

namespace hub::broker {

namespace {

using clock = std::chrono::steady_clock;

std::string ready_metadata() {
  std::string props;
  zmtp::put_property(props, "Socket-Type", "ROUTER");
  return props;
}

}  // namespace

struct zmtp_router::conn {
  enum class stage { greeting, handshake, welcomed, ready };
  int fd = -1;
  std::string peer;      // address:port
  std::string identity;  // routing id
  stage at = stage::greeting;
  bool greeted = false;  // our greeting is queued
  clock::time_point accepted;
  std::string in;  // bytes read and not yet parsed
  std::unique_ptr<curve_server> curve;
  std::string user;
  std::string plain;  // a CURVE MESSAGE's frame, opened
  // Inbound: the message being received, and whole messages not yet taken by next().
  std::vector<zmq::message_t> partial;
  std::size_t partial_bytes = 0;
  std::deque<std::vector<zmq::message_t>> inbox;
  std::size_t inbox_bytes = 0;
  // Outbound: bytes queued, and where each message queued by send() ends in the stream
  // of bytes (counted since the connection opened), to count messages not yet written.
  zmtp::out_buffer out;
  std::uint64_t appended = 0, written = 0;
  std::deque<std::uint64_t> ends;
  bool dead = false;
  std::string why;
  end_kind kind = end_kind::closed;

  std::size_t queued_messages() {
    while (!ends.empty() && ends.front() <= written) ends.pop_front();
    return ends.size();
  }
};

zmtp_router::zmtp_router(router_limits limits, std::optional<curve_key> secret, hooks h)
    : limits_(limits), secret_(secret), hooks_(std::move(h)) {}

zmtp_router::~zmtp_router() {
  for (auto& c : conns_)
    if (c->fd >= 0) ::close(c->fd);
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

status zmtp_router::bind(const std::string& endpoint) {
  int fd = -1;
  if (auto s = zmtp::listen_tcp(endpoint, "client endpoint", fd, endpoint_); !s) return s;
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = fd;
  return status::ok();
}

void zmtp_router::add_poll_items(std::vector<zmq::pollitem_t>& items) const {
  if (listen_fd_ < 0) return;
  items.push_back({nullptr, acceptor_.poll_fd(listen_fd_), ZMQ_POLLIN, 0});
  for (const auto& c : conns_) {
    // Reading pauses while this client's messages wait for next() (its receive limit).
    const bool room = c->inbox.size() < limits_.max_queued_messages && c->inbox_bytes < limits_.max_read_ahead;
    const short events = static_cast<short>((room ? ZMQ_POLLIN : 0) | (c->out.queued() > 0 ? ZMQ_POLLOUT : 0));
    items.push_back({nullptr, c->dead ? -1 : c->fd, events, 0});
  }
}

void zmtp_router::handle(const zmq::pollitem_t* items, std::size_t count) {
  if (listen_fd_ < 0 || count == 0) return;
  for (std::size_t i = 1; i < count; ++i) {
    const auto& it = items[i];
    if (it.revents == 0 || it.fd < 0) continue;
    // Connections keep their order between add_poll_items and here; search only if not.
    conn* c = i - 1 < conns_.size() && conns_[i - 1]->fd == it.fd ? conns_[i - 1].get() : nullptr;
    if (c == nullptr)
      for (auto& x : conns_)
        if (x->fd == it.fd) c = x.get();
    if (c == nullptr || c->dead) continue;
    if (it.revents & (ZMQ_POLLIN | ZMQ_POLLERR)) read_from(*c);
    // A handshake reply or PONG queued by what was just read goes out in this pass.
    if (!c->dead && c->out.queued() > 0) write_to(*c);
  }
  if (items[0].revents & ZMQ_POLLIN) accept_all();
  if (reap_due_) reap();
}

void zmtp_router::accept_all() {
  std::string peer;
  for (int fd; (fd = acceptor_.next(listen_fd_, conns_.size(), limits_.max_connections, peer)) >= 0;) {
    auto c = std::make_unique<conn>();
    c->fd = fd;
    c->peer = peer;
    c->accepted = clock::now();
    const std::uint32_t n = next_id_++;
    c->identity = {'\0', static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                   static_cast<char>(n)};
    if (secret_) {
      // Our greeting waits for the client's signature (parse()).
      c->curve = std::make_unique<curve_server>(*secret_);
    } else {
      // With NULL, greeting and READY go at once: neither waits on the peer's.
      c->out.data = zmtp::greeting("NULL", false);
      zmtp::put_command(c->out.data, "READY", ready_metadata());
      c->greeted = true;
    }
    c->appended = c->out.data.size();
    write_to(*c);
    by_id_[c->identity] = c.get();
    conns_.push_back(std::move(c));
  }
}

void zmtp_router::read_from(conn& c) {
  std::array<char, 16 * 1024> buf;
  for (;;) {
    if (c.inbox.size() >= limits_.max_queued_messages || c.inbox_bytes >= limits_.max_read_ahead) return;
    ssize_t n = ::recv(c.fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n > 0) {
      c.in.append(buf.data(), static_cast<std::size_t>(n));
      if (!parse(c)) return;
      if (static_cast<std::size_t>(n) < buf.size()) return;  // the socket is empty for now
      continue;
    }
    if (n == 0) {
      if (secret_ && c.at == conn::stage::greeting && !c.in.empty())
        // libzmq closes without finishing its greeting when the mechanisms differ.
        kill(c, "it closed the connection during the greeting, as a client without CURVE keys does: security is on, "
                "CURVE is required", end_kind::refused);
      else
        kill(c, "it closed the connection", end_kind::closed);
      return;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      kill(c, fmt::format("read failed: {}", std::strerror(errno)), end_kind::closed);
    return;
  }
}

bool zmtp_router::parse(conn& c) {
  std::size_t pos = 0;
  if (c.at == conn::stage::greeting) {
    const auto g = zmtp::check_greeting(c.in, "connect a ZeroMQ DEALER socket");
    if (g.at == zmtp::greeting_check::state::broken) {
      kill(c, g.why, end_kind::fault);
      return false;
    }
    // With CURVE, our greeting goes once the client's signature (10 bytes) is here: a
    // libzmq client without CURVE keys reads it, sees the mechanisms differ and closes
    // at once, and that must not look like a peer that closed without a word.
    if (!c.greeted && c.in.size() >= 10) {
      const std::size_t before = c.out.data.size();
      c.out.data += zmtp::greeting("CURVE", true);
      c.appended += c.out.data.size() - before;
      c.greeted = true;
    }
    if (g.at == zmtp::greeting_check::state::partial) return true;
    const std::string_view ours = secret_ ? "CURVE" : "NULL";
    if (g.mechanism != ours) {
      if (secret_)
        kill(c, fmt::format("security is on: CURVE is required, and it offered {}", g.mechanism), end_kind::refused);
      else
        kill(c, fmt::format("it offered the {} mechanism; security is off on this hub (NULL)", g.mechanism),
             end_kind::fault);
      return false;
    }
    pos = zmtp::greeting_size;
    c.at = conn::stage::handshake;
  }
  for (;;) {
    const std::size_t avail = c.in.size() - pos;
    if (avail < 2) break;
    const auto flags = static_cast<std::uint8_t>(c.in[pos]);
    if ((flags & ~(zmtp::flag_more | zmtp::flag_long | zmtp::flag_command)) != 0) {
      kill(c, fmt::format("a frame with flags {:#04x}, not ZMTP", flags), end_kind::fault);
      return false;
    }
    std::size_t header = 2, size = static_cast<std::uint8_t>(c.in[pos + 1]);
    if (flags & zmtp::flag_long) {
      if (avail < 9) break;
      header = 9;
      const std::uint64_t long_size = zmtp::be64(c.in.data() + pos + 1);
      size = long_size > limits_.max_message_bytes ? limits_.max_message_bytes + 1 : static_cast<std::size_t>(long_size);
    }
    if (size > limits_.max_message_bytes || c.partial_bytes + size > limits_.max_message_bytes) {
      kill(c, fmt::format("it sent a message over {} bytes", limits_.max_message_bytes), end_kind::fault);
      return false;
    }
    if (avail < header + size) break;
    if (!on_frame(c, flags, std::string_view(c.in.data() + pos + header, size))) return false;
    pos += header + size;
  }
  c.in.erase(0, pos);
  return true;
}

bool zmtp_router::on_frame(conn& c, std::uint8_t flags, std::string_view body) {
  if (c.curve && c.at == conn::stage::ready) {
    // Every frame after the CURVE handshake is a MESSAGE box; libzmq sends it as a data
    // frame, its MORE and COMMAND bits inside the box.
    const auto cmd = zmtp::split_command(body);
    if (!cmd || cmd->name != "MESSAGE") {
      kill(c, "a frame that is not a CURVE MESSAGE after the handshake", end_kind::fault);
      return false;
    }
    std::uint8_t inner = 0;
    if (auto why = c.curve->open(cmd->data, inner, c.plain); !why.empty()) {
      kill(c, std::move(why), end_kind::fault);
      return false;
    }
    if (inner & 0x02) return on_command(c, c.plain);
    return on_data(c, (inner & 0x01) != 0, c.plain);
  }
  if (flags & zmtp::flag_command) return on_command(c, body);
  return on_data(c, (flags & zmtp::flag_more) != 0, body);
}

bool zmtp_router::on_command(conn& c, std::string_view body) {
  const auto cmd = zmtp::split_command(body);
  if (!cmd) {
    kill(c, "a command frame whose name does not fit it", end_kind::fault);
    return false;
  }
  const std::string_view name = cmd->name, data = cmd->data;
  if (name == "ERROR") {
    const std::string_view reason = data.empty() ? data : data.substr(1, static_cast<std::uint8_t>(data[0]));
    kill(c, fmt::format("it sent ERROR: {}", reason), end_kind::closed);
    return false;
  }
  std::string why;
  switch (c.at) {
    case conn::stage::greeting:
      break;
    case conn::stage::handshake:
      if (!c.curve) {
        if (name == "READY") return finish_handshake(c, data);
        why = fmt::format("it sent {} before READY", name);
      } else if (name == "HELLO") {
        const std::size_t before = c.out.data.size();
        why = c.curve->on_hello(data, c.out.data);
        c.appended += c.out.data.size() - before;
        if (why.empty()) {
          c.at = conn::stage::welcomed;
          return true;
        }
      } else {
        why = fmt::format("it sent {} before HELLO", name);
      }
      break;
    case conn::stage::welcomed:
      if (name == "INITIATE") {
        std::string ready;
        why = c.curve->on_initiate(data, ready_metadata(), ready);
        if (why.empty()) {
          if (!finish_handshake(c, c.curve->client_metadata())) return false;
          c.out.data += ready;
          c.appended += ready.size();
          return true;
        }
        if (c.at != conn::stage::welcomed) return false;
      } else {
        why = fmt::format("it sent {} before INITIATE", name);
      }
      break;
    case conn::stage::ready:
      if (name == "PING") {  // heartbeat: TTL (2 bytes), then a context the PONG returns
        if (c.out.queued() > limits_.max_read_ahead) {
          why = "it sends PINGs and does not read the PONGs";
          break;
        }
        put_command(c, "PONG", data.size() > 2 ? data.substr(2, 16) : std::string_view());
      }
      return true;  // other commands mean nothing to a ROUTER
  }
  kill(c, std::move(why), end_kind::fault);
  return false;
}

// The client's READY (NULL) or INITIATE metadata (CURVE) arrived: its socket type must
// talk to a ROUTER, and with CURVE its key must be admitted. Then it may send messages.
bool zmtp_router::finish_handshake(conn& c, std::string_view metadata) {
  bool broken = false;
  const std::string_view type = zmtp::find_property(metadata, "Socket-Type", broken).value_or("");
  if (broken) {
    kill(c, "a handshake with broken metadata", end_kind::fault);
    return false;
  }
  if (type != "DEALER" && type != "REQ" && type != "ROUTER") {
    kill(c, fmt::format("a {} socket cannot talk to the hub; connect a DEALER socket", type.empty() ? "nameless" : type),
         end_kind::fault);
    return false;
  }
  if (c.curve) {
    std::string user, why = hooks_.admit ? hooks_.admit(c.curve->client_key(), user) : "no admission rule";
    if (!why.empty()) {
      // The client learns why (RFC 26: ERROR may answer INITIATE), then the connection ends.
      std::string reason = why.substr(0, 255);
      reason.insert(reason.begin(), static_cast<char>(reason.size()));
      zmtp::put_command(c.out.data, "ERROR", reason);
      c.out.write_to(c.fd);
      kill(c, std::move(why), end_kind::refused);
      return false;
    }
    c.user = std::move(user);
  }
  c.at = conn::stage::ready;
  return true;
}

bool zmtp_router::on_data(conn& c, bool more, std::string_view body) {
  if (c.at != conn::stage::ready) {
    kill(c, "it sent a message before the handshake ended", end_kind::fault);
    return false;
  }
  if (c.partial.size() >= limits_.max_frames) {
    kill(c, fmt::format("it sent a message of more than {} frames", limits_.max_frames), end_kind::fault);
    return false;
  }
  c.partial.emplace_back(body.data(), body.size());
  c.partial_bytes += body.size();
  if (more) return true;
  c.inbox.push_back(std::move(c.partial));
  c.partial.clear();  // moved from: empty, and valid again
  c.inbox_bytes += c.partial_bytes;
  c.partial_bytes = 0;
  ++inbound_;
  return true;
}

bool zmtp_router::next(std::vector<zmq::message_t>& frames) {
  if (inbound_ == 0) return false;
  const std::size_t n = conns_.size();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (turn_ + k) % n;
    conn& c = *conns_[i];
    if (c.inbox.empty()) continue;
    frames.clear();
    frames.emplace_back(c.identity.data(), c.identity.size());
    for (auto& f : c.inbox.front()) {
      c.inbox_bytes -= f.size();
      frames.push_back(std::move(f));
    }
    c.inbox.pop_front();
    --inbound_;
    if (c.dead && c.inbox.empty()) reap_due_ = true;
    turn_ = i + 1;
    return true;
  }
  return false;
}

zmtp_router::send_result zmtp_router::send(std::string_view identity, std::span<const zmq::const_buffer> parts) {
  auto it = by_id_.find(std::string(identity));
  if (it == by_id_.end() || it->second->dead || it->second->at != conn::stage::ready) return send_result::unreachable;
  conn& c = *it->second;
  if (c.queued_messages() >= limits_.max_queued_messages) return send_result::full;
  for (std::size_t i = 0; i < parts.size(); ++i)
    put_frame(c, i + 1 < parts.size(), std::string_view(static_cast<const char*>(parts[i].data()), parts[i].size()));
  c.ends.push_back(c.appended);
  return send_result::sent;
}

void zmtp_router::put_frame(conn& c, bool more, std::string_view bytes) {
  const std::size_t before = c.out.data.size();
  if (c.curve) {
    c.curve->seal(more ? 0x01 : 0x00, bytes, c.out.data);
  } else {
    zmtp::put_frame_header(c.out.data, more ? zmtp::flag_more : 0, bytes.size());
    c.out.data.append(bytes);
  }
  c.appended += c.out.data.size() - before;
}

void zmtp_router::put_command(conn& c, std::string_view name, std::string_view data) {
  const std::size_t before = c.out.data.size();
  if (c.curve) {
    std::string body;
    body.push_back(static_cast<char>(name.size()));
    body.append(name);
    body.append(data);
    c.curve->seal(0x02, body, c.out.data);
  } else {
    zmtp::put_command(c.out.data, name, data);
  }
  c.appended += c.out.data.size() - before;
}

void zmtp_router::flush() {
  for (auto& c : conns_)
    if (!c->dead && c->out.queued() > 0) write_to(*c);
  if (reap_due_) reap();
}

void zmtp_router::write_to(conn& c) {
  const std::size_t before = c.out.queued();
  std::string why = c.out.write_to(c.fd);
  c.written += before - c.out.queued();
  if (!why.empty()) kill(c, std::move(why), end_kind::closed);
}

void zmtp_router::expire(clock::time_point now) {
  for (auto& c : conns_)
    if (!c->dead && c->at != conn::stage::ready && now - c->accepted > limits_.handshake_timeout)
      kill(*c, fmt::format("no ZMTP handshake within {} ms", limits_.handshake_timeout.count()), end_kind::fault);
  if (reap_due_) reap();
}

void zmtp_router::kill(conn& c, std::string why, end_kind kind) {
  if (c.dead) return;
  c.dead = true;
  c.why = std::move(why);
  c.kind = kind;
  if (c.fd >= 0) ::close(c.fd);
  c.fd = -1;
  c.out = {};
  c.ends.clear();
  c.partial.clear();  // a message cut short is not delivered
  reap_due_ = true;
}

void zmtp_router::reap() {
  reap_due_ = false;
  // A closed connection's whole messages are still taken by next(), as libzmq delivers
  // what a peer sent before it closed; it is forgotten once they are.
  auto gone = std::stable_partition(conns_.begin(), conns_.end(),
                                    [](const auto& c) { return !c->dead || !c->inbox.empty(); });
  std::vector<std::unique_ptr<conn>> ended;
  for (auto it = gone; it != conns_.end(); ++it) ended.push_back(std::move(*it));
  conns_.erase(gone, conns_.end());
  for (auto& c : ended) {
    by_id_.erase(c->identity);
    if (hooks_.ended)
      hooks_.ended(c->at == conn::stage::ready ? std::string_view(c->identity) : std::string_view(), c->peer, c->why,
                   c->kind);
  }
}

const std::string* zmtp_router::user_of(std::string_view identity) const {
  auto it = by_id_.find(std::string(identity));
  return it == by_id_.end() ? nullptr : &it->second->user;
}

zmtp_router::parse_outcome zmtp_router::parse_only(std::string_view bytes, std::size_t chunk, router_limits limits) {
  zmtp_router r(limits, std::nullopt, {});
  auto owned = std::make_unique<conn>();
  conn& c = *owned;
  r.conns_.push_back(std::move(owned));
  chunk = std::max<std::size_t>(chunk, 1);
  std::size_t messages = 0;
  for (std::size_t i = 0; i < bytes.size() && !c.dead; i += chunk) {
    c.in.append(bytes.substr(i, chunk));
    (void)r.parse(c);
    messages += c.inbox.size();
    r.inbound_ -= c.inbox.size();
    c.inbox.clear();
    c.inbox_bytes = 0;
  }
  return {!c.dead, c.why, c.at == conn::stage::ready, messages};
}

}  // namespace hub::broker

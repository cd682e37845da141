#include "adapters/sdk/sdk.h"

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <span>
#include <string_view>

#include <sys/stat.h>

#include <fstream>

#include <sodium.h>
#include <spdlog/spdlog.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "adapters/sdk/spool.h"
#include "schemas/schema.h"
#include "schemas/wire.h"

namespace hub::sdk {
namespace {

using clock = std::chrono::steady_clock;
using frames = std::vector<zmq::message_t>;

std::string_view text_of(const zmq::message_t& m) { return {m.data<char>(), m.size()}; }
std::span<const std::uint8_t> bytes_of(const zmq::message_t& m) {
  return {m.data<std::uint8_t>(), m.size()};
}
std::optional<std::uint64_t> u64_of(const zmq::message_t& m) { return wire::parse_u64(bytes_of(m)); }

void check_connection_options(const connection_options& c) {
  if (c.endpoints.empty()) throw error(error_kind::bad_options, "no hub endpoint given (e.g. tcp://127.0.0.1:7460)");
  for (const auto& e : c.endpoints)
    if (e.empty()) throw error(error_kind::bad_options, "an empty hub endpoint was given");
  if (c.heartbeat.count() <= 0 || c.hub_timeout <= c.heartbeat)
    throw error(error_kind::bad_options, "heartbeat must be positive and hub_timeout longer than heartbeat");
  if (!c.curve_server_public_key.empty() &&
      (c.curve_client_public_key.empty() || c.curve_client_secret_key.empty()))
    throw error(error_kind::bad_options,
                "CURVE: the server public key is set but the client key pair is missing");
}

// One DEALER socket to the hub, with failover over the endpoint list and liveness:
// HELLO at connect, PING when idle, rebuild when the hub is silent for hub_timeout.
class connection {
 public:
  // Called when the session is new: after a rebuild, or when the hub's id changed
  // (it restarted). The owner resends or resubscribes.
  std::function<void()> on_reset;
  // Called for every message other than WELCOME and PONG.
  std::function<void(frames&)> on_message;

  explicit connection(connection_options opts) : opts_(std::move(opts)) {
    check_connection_options(opts_);
    open();
  }
  ~connection() {
    if (sock_) {
      send({wire::cmd_bye});
      sock_->close();
    }
  }

  bool send(std::initializer_list<std::string_view> parts) { return send(std::span(parts.begin(), parts.size())); }
  bool send(std::span<const std::string_view> parts) {
    std::size_t i = 0;
    for (auto p : parts) {
      auto flags = zmq::send_flags::dontwait;
      if (++i < parts.size()) flags = flags | zmq::send_flags::sndmore;
      try {
        if (!sock_->send(zmq::const_buffer(p.data(), p.size()), flags)) return false;
      } catch (const zmq::error_t& e) {
        spdlog::warn("hub connection: send failed: {}", e.what());
        return false;
      }
    }
    return true;
  }

  // Waits up to `wait` for messages, handles them, then looks after liveness.
  void poll(std::chrono::milliseconds wait) {
    // The owner did not call poll() for this long: no PING could go out meanwhile.
    const auto unpolled = clock::now() - last_poll_;
    zmq::pollitem_t item{sock_->handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(&item, 1, wait);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
    }
    for (int n = 0; n < 10000; ++n) {  // bounded: leave room for liveness checks
      frames msg;
      std::optional<std::size_t> got;
      try {
        got = zmq::recv_multipart(*sock_, std::back_inserter(msg), zmq::recv_flags::dontwait);
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;
        throw;
      }
      if (!got) break;
      handle(msg);
    }
    tick(unpolled);
    last_poll_ = clock::now();
  }

  [[nodiscard]] bool alive() const {
    return answered_ && clock::now() - last_rx_ < opts_.hub_timeout;
  }
  [[nodiscard]] std::uint64_t reconnects() const { return reconnects_; }
  [[nodiscard]] std::uint64_t renewals() const { return renewals_; }
  [[nodiscard]] const std::string& endpoint() const { return opts_.endpoints[index_]; }

 private:
  void open() {
    sock_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer);
    sock_->set(zmq::sockopt::linger, 100);
    sock_->set(zmq::sockopt::immediate, 0);
    sock_->set(zmq::sockopt::sndhwm, 0);  // our own window bounds what is queued
    sock_->set(zmq::sockopt::rcvhwm, 0);  // credit bounds what the hub sends
    if (!opts_.curve_server_public_key.empty()) {
      sock_->set(zmq::sockopt::curve_serverkey, opts_.curve_server_public_key);
      sock_->set(zmq::sockopt::curve_publickey, opts_.curve_client_public_key);
      sock_->set(zmq::sockopt::curve_secretkey, opts_.curve_client_secret_key);
    }
    try {
      sock_->connect(endpoint());
    } catch (const zmq::error_t& e) {
      throw error(error_kind::bad_options, "cannot use hub endpoint \"" + endpoint() + "\": " + e.what());
    }
    answered_ = false;
    fresh_ = true;
    last_rx_ = clock::now();
    last_ping_ = clock::now();
    send({wire::cmd_hello, wire::protocol_version, opts_.client_name});
  }

  // A new session: on the next endpoint when the hub went silent, on the same one when
  // the owner left the connection unpolled (the hub may have timed the session out,
  // but nothing says it is down).
  void rebuild(std::chrono::milliseconds unpolled) {
    if (unpolled >= opts_.hub_timeout) {
      spdlog::info("hub connection not polled for {} ms; starting a new session with {}", unpolled.count(),
                   endpoint());
    } else {
      spdlog::warn("hub {} did not answer for {} ms; reconnecting", endpoint(), opts_.hub_timeout.count());
      index_ = (index_ + 1) % opts_.endpoints.size();
    }
    send({wire::cmd_bye});
    sock_->close();
    ++reconnects_;
    open();
    if (on_reset) on_reset();
  }

  void handle(frames& msg) {
    last_rx_ = clock::now();
    answered_ = true;
    if (msg.empty()) return;
    auto cmd = text_of(msg[0]);
    if (cmd == wire::rep_welcome || cmd == wire::rep_pong) {
      std::size_t at = cmd == wire::rep_welcome ? 2 : 1;
      if (msg.size() <= at) return;
      std::string id(text_of(msg[at]));
      bool changed = !hub_id_.empty() && id != hub_id_;
      bool just_opened = fresh_ && cmd == wire::rep_welcome;
      if (cmd == wire::rep_welcome) fresh_ = false;
      if (changed) spdlog::info("hub at {} is a new instance ({} before, {} now)", endpoint(), hub_id_, id);
      hub_id_ = std::move(id);
      // A PONG may say that the hub holds no session for this client any more: it timed
      // the client out (the link was down for longer than the hub's client_timeout) and
      // its subscriptions are gone. PONGs between a new HELLO and its WELCOME answer
      // PINGs sent before that HELLO and are not news.
      const bool forgotten =
          cmd == wire::rep_pong && !fresh_ && msg.size() > 2 && text_of(msg[2]) == wire::session_unknown;
      if (forgotten && !changed)
        spdlog::info("hub {} no longer holds this session (it timed it out); starting a new one", endpoint());
      // After a rebuild the owner has already resent; otherwise a new id means the
      // hub restarted behind the same socket and forgot this session.
      if ((changed && !just_opened) || forgotten) {
        if (!fresh_) {
          send({wire::cmd_hello, wire::protocol_version, opts_.client_name});
          fresh_ = true;
        }
        ++renewals_;
        if (on_reset) on_reset();
      }
      return;
    }
    if (on_message) on_message(msg);
  }

  void tick(clock::duration unpolled) {
    auto now = clock::now();
    if (now - last_rx_ > opts_.hub_timeout) {
      rebuild(std::chrono::duration_cast<std::chrono::milliseconds>(unpolled));
      return;
    }
    if (now - last_rx_ >= opts_.heartbeat && now - last_ping_ >= opts_.heartbeat) {
      send({wire::cmd_ping});
      last_ping_ = now;
    }
  }

  connection_options opts_;
  zmq::context_t ctx_{1};
  std::unique_ptr<zmq::socket_t> sock_;
  std::size_t index_ = 0;
  std::string hub_id_;
  bool answered_ = false;
  bool fresh_ = true;  // HELLO sent, its WELCOME not yet received
  clock::time_point last_rx_{};
  clock::time_point last_ping_{};
  clock::time_point last_poll_ = clock::now();
  std::uint64_t reconnects_ = 0;
  std::uint64_t renewals_ = 0;  // new sessions on the same socket
};

bool valid_pattern(std::string_view p, std::string* why) {
  if (p.empty()) {
    *why = "the pattern is empty";
    return false;
  }
  std::size_t start = 0;
  for (;;) {
    auto dot = p.find('.', start);
    auto tok = p.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (tok.empty()) {
      *why = "empty token (two dots, or a dot at either end)";
      return false;
    }
    if (tok.find_first_of(" \t\r\n") != std::string_view::npos) {
      *why = "a token contains white space";
      return false;
    }
    if (tok.size() > 1 && tok.find_first_of("*>") != std::string_view::npos) {
      *why = "`*` and `>` must be whole tokens";
      return false;
    }
    if (tok == ">" && dot != std::string_view::npos) {
      *why = "`>` may only be the last token";
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::string_view start_name(start_position::kind k) {
  switch (k) {
    case start_position::kind::new_only: return wire::start_new;
    case start_position::kind::earliest: return wire::start_earliest;
    case start_position::kind::at_offset: return wire::start_offset;
    case start_position::kind::at_time: return wire::start_time;
  }
  return wire::start_new;
}

bool is_temporary(schema::Reason r) {
  return r == schema::Reason::store_unavailable || r == schema::Reason::overloaded;
}

}  // namespace

// ---------------------------------------------------------------------------
// publisher

struct publisher::impl {
  struct pending {
    std::uint64_t spool_key = 0;  // 0: not spooled
    schema::Id128 id;
    std::vector<std::uint8_t> bytes;
    clock::time_point not_before{};  // after a temporary NAK
  };

  options opts;
  connection conn;
  std::unique_ptr<detail::spool> spool;
  std::deque<pending> backlog;                  // waiting to be sent, oldest first
  std::map<std::uint64_t, pending> in_flight;   // sent, by seq
  std::uint64_t next_seq = 1;
  std::chrono::milliseconds backoff{0};
  publisher_stats stats;
  std::function<void(const schema::Id128&, std::uint64_t, bool)> acked_cb;
  std::function<void(const schema::Id128&, schema::Reason, const std::string&)> refused_cb;

  std::vector<std::uint8_t> signing_key;  // Ed25519 secret key, empty when not signing

  void load_signing_key() {
    const auto& path = opts.signing_key_file;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
      throw error(error_kind::bad_options, "signing key file " + path.string() + " does not exist");
    if ((st.st_mode & 077) != 0)
      throw error(error_kind::bad_options, "signing key file " + path.string() +
                                               " must be readable by its owner alone (chmod 600)");
    std::ifstream in(path);
    std::string hex;
    in >> hex;
    signing_key.assign(crypto_sign_SECRETKEYBYTES, 0);
    std::size_t len = 0;
    if (sodium_init() < 0 ||
        sodium_hex2bin(signing_key.data(), signing_key.size(), hex.data(), hex.size(), nullptr, &len, nullptr) != 0 ||
        len != crypto_sign_SECRETKEYBYTES)
      throw error(error_kind::bad_options, "signing key file " + path.string() +
                                               " does not hold an Ed25519 secret key (128 hex digits)");
    sodium_memzero(hex.data(), hex.size());
  }

  explicit impl(options o) : opts(std::move(o)), conn(opts.connection) {
    if (opts.window == 0) throw error(error_kind::bad_options, "publisher window must be at least 1");
    if (!opts.signing_key_file.empty()) load_signing_key();
    conn.on_reset = [this] { requeue_all(); };
    conn.on_message = [this](frames& m) { handle(m); };
    if (!opts.spool_file.empty()) {
      spool = std::make_unique<detail::spool>(opts.spool_file, opts.spool_max_bytes);
      for (auto& e : spool->take_loaded()) {
        auto check = schema::check_envelope(e.bytes, SIZE_MAX);
        if (check.reason != schema::Reason::ok) {
          spdlog::warn("spool {}: entry {} is not a valid envelope ({}); dropped", opts.spool_file.string(),
                       e.key, check.detail);
          spool->mark_done(e.key);
          continue;
        }
        pending p{e.key, *check.envelope->id(), std::move(e.bytes), {}};
        backlog.push_back(std::move(p));
        ++stats.resent;
      }
      stats.spooled = spool->live();
    }
    pump();
  }

  [[nodiscard]] std::size_t total() const { return backlog.size() + in_flight.size(); }

  void send_one(std::uint64_t seq, const pending& p) {
    std::string_view env(reinterpret_cast<const char*>(p.bytes.data()), p.bytes.size());
    if (signing_key.empty()) {
      conn.send({wire::cmd_pub, wire::u64_frame(seq), env});
      return;
    }
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, nullptr, p.bytes.data(), p.bytes.size(), signing_key.data());
    conn.send({wire::cmd_pub, wire::u64_frame(seq), env,
               std::string_view(reinterpret_cast<const char*>(sig), sizeof sig)});
  }

  void pump() {
    auto now = clock::now();
    while (!backlog.empty() && in_flight.size() < opts.window && backlog.front().not_before <= now) {
      std::uint64_t seq = next_seq++;
      send_one(seq, backlog.front());
      in_flight.emplace(seq, std::move(backlog.front()));
      backlog.pop_front();
    }
  }

  // The session is new: everything unacknowledged goes out again, oldest first, with
  // the same bytes (same id; the hub acknowledges a resend without storing it twice).
  void requeue_all() {
    stats.reconnects = conn.reconnects();
    stats.renewals = conn.renewals();
    stats.resent += in_flight.size();
    for (auto it = in_flight.rbegin(); it != in_flight.rend(); ++it) backlog.push_front(std::move(it->second));
    in_flight.clear();
    for (auto& p : backlog) p.not_before = {};
    pump();
  }

  void done(pending& p) {
    if (spool && p.spool_key != 0) spool->mark_done(p.spool_key);
    if (spool) stats.spooled = spool->live();
  }

  void handle(frames& m) {
    auto cmd = text_of(m[0]);
    if (cmd == wire::rep_ack && (m.size() == 2 || m.size() == 3)) {
      auto b = bytes_of(m[1]);
      // The optional third frame lists the seqs that were resends of stored events.
      std::vector<std::uint64_t> dup_seqs;
      if (m.size() == 3) {
        auto d = bytes_of(m[2]);
        for (std::size_t i = 0; i + 8 <= d.size(); i += 8) dup_seqs.push_back(wire::get_u64(d.data() + i));
      }
      for (std::size_t i = 0; i + 16 <= b.size(); i += 16) {
        std::uint64_t seq = wire::get_u64(b.data() + i);
        std::uint64_t off = wire::get_u64(b.data() + i + 8);
        auto it = in_flight.find(seq);
        if (it == in_flight.end()) continue;  // an answer to a PUB sent before a reset
        bool duplicate = std::find(dup_seqs.begin(), dup_seqs.end(), seq) != dup_seqs.end();
        ++stats.acked;
        if (duplicate) ++stats.duplicates;
        pending p = std::move(it->second);
        in_flight.erase(it);
        done(p);
        if (acked_cb) acked_cb(p.id, off, duplicate);
      }
      backoff = std::chrono::milliseconds(0);
      pump();
      return;
    }
    if (cmd == wire::rep_nak && m.size() == 4) {
      auto seq = u64_of(m[1]);
      auto code = wire::parse_u16(bytes_of(m[2]));
      if (!seq || !code) return;
      auto it = in_flight.find(*seq);
      if (it == in_flight.end()) return;
      auto reason = static_cast<schema::Reason>(*code);
      std::string text(text_of(m[3]));
      pending p = std::move(it->second);
      in_flight.erase(it);
      if (is_temporary(reason)) {
        backoff = std::min(std::chrono::milliseconds(5000),
                           backoff.count() == 0 ? std::chrono::milliseconds(100) : backoff * 2);
        spdlog::warn("hub refused event {} for now ({}: {}); retrying in {} ms", schema::id_to_hex(p.id),
                     schema::reason_name(reason), text, backoff.count());
        p.not_before = clock::now() + backoff;
        ++stats.resent;
        backlog.push_front(std::move(p));
        return;
      }
      ++stats.refused;
      spdlog::warn("hub refused event {}: {}: {}", schema::id_to_hex(p.id), schema::reason_name(reason), text);
      done(p);
      if (refused_cb) refused_cb(p.id, reason, text);
      pump();
      return;
    }
    if (cmd == wire::rep_err && m.size() >= 3) {
      spdlog::warn("hub error: {}", text_of(m[2]));
    }
  }

  void serve(std::chrono::milliseconds wait) {
    pump();
    conn.poll(wait);
    stats.reconnects = conn.reconnects();
    stats.renewals = conn.renewals();
    pump();
  }
};

publisher::publisher(options opts) : impl_(std::make_unique<impl>(std::move(opts))) {}
publisher::~publisher() = default;

bool publisher::publish(std::span<const std::uint8_t> envelope) {
  flatbuffers::Verifier v(envelope.data(), envelope.size(), schema::verifier_max_depth,
                          schema::verifier_max_tables);
  if (envelope.size() < 8 || !schema::EnvelopeBufferHasIdentifier(envelope.data()))
    throw error(error_kind::bad_envelope, "publish: the bytes are not an envelope (identifier \"HUBE\" missing)");
  if (!schema::VerifyEnvelopeBuffer(v))
    throw error(error_kind::bad_envelope, "publish: the envelope fails the FlatBuffers verifier");
  const auto* e = schema::GetEnvelope(envelope.data());
  if (e->id() == nullptr || (e->id()->hi() == 0 && e->id()->lo() == 0))
    throw error(error_kind::bad_envelope, "publish: the envelope has no id (use new_event_id())");

  auto& d = *impl_;
  auto deadline = clock::now() + d.opts.publish_timeout;
  while (d.total() >= d.opts.window) {
    auto now = clock::now();
    if (now >= deadline) {
      spdlog::warn("publish: {} events are waiting for the hub at {}; event {} not queued after {} ms",
                   d.total(), d.conn.endpoint(), schema::id_to_hex(*e->id()), d.opts.publish_timeout.count());
      return false;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    d.serve(std::min(left, std::chrono::milliseconds(50)));
  }
  impl::pending p;
  p.id = *e->id();
  p.bytes.assign(envelope.begin(), envelope.end());
  if (d.spool) {
    auto key = d.spool->append(envelope);
    if (!key) {
      spdlog::error("publish: spool {} is full ({} bytes, limit {}); event {} not queued. "
                    "The hub has not acknowledged {} events; restore the link or raise spool_max_bytes",
                    d.spool->path().string(), d.spool->size_bytes(), d.opts.spool_max_bytes,
                    schema::id_to_hex(p.id), d.spool->live());
      return false;
    }
    d.spool->sync();
    p.spool_key = *key;
    d.stats.spooled = d.spool->live();
  }
  d.backlog.push_back(std::move(p));
  ++d.stats.published;
  d.pump();
  d.conn.poll(std::chrono::milliseconds(0));  // take in any acks without waiting
  return true;
}

void publisher::poll(std::chrono::milliseconds wait) { impl_->serve(wait); }

bool publisher::flush(std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  for (;;) {
    if (impl_->total() == 0) return true;
    auto now = clock::now();
    if (now >= deadline) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    impl_->serve(std::min(left, std::chrono::milliseconds(100)));
  }
}

std::size_t publisher::in_flight() const { return impl_->total(); }
const publisher_stats& publisher::stats() const { return impl_->stats; }
bool publisher::connected() const { return impl_->conn.alive(); }

void publisher::on_acked(std::function<void(const schema::Id128&, std::uint64_t, bool)> cb) {
  impl_->acked_cb = std::move(cb);
}
void publisher::on_refused(std::function<void(const schema::Id128&, schema::Reason, const std::string&)> cb) {
  impl_->refused_cb = std::move(cb);
}

// ---------------------------------------------------------------------------
// subscriber

struct subscriber::impl {
  options opts;
  connection conn;
  std::uint64_t sub_id = 0;
  std::uint64_t next_sub_id = 1;
  bool subscribed = false;   // SUBOK seen for sub_id
  bool failed = false;       // the hub refused the subscription for good
  bool batch_refused = false;  // the hub predates EVTS: SUB without the batch frame
  std::optional<std::uint64_t> first;
  std::optional<std::uint64_t> last_returned;
  std::deque<event> buffer;  // received, not yet returned
  std::uint32_t consumed = 0;
  std::optional<std::uint64_t> committed;
  bool commit_waiting = false;  // a COMMIT waits for its answer
  bool commit_refused = false;  // an ERR about this subscription came meanwhile
  std::string last_error;

  explicit impl(options o) : opts(std::move(o)), conn(opts.connection) {
    std::string why;
    if (!valid_pattern(opts.pattern, &why))
      throw error(error_kind::bad_options, "bad subscription pattern \"" + opts.pattern + "\": " + why);
    if (opts.credit_window == 0) throw error(error_kind::bad_options, "credit_window must be at least 1");
    conn.on_reset = [this] { subscribe(); };
    conn.on_message = [this](frames& m) { handle(m); };
    subscribe();
  }

  void subscribe() {
    if (failed) return;
    sub_id = next_sub_id++;
    subscribed = false;
    buffer.clear();
    consumed = 0;
    // Resume after the last event handed out; before that, where the first SUBOK said.
    start_position s = opts.start;
    if (last_returned) s = start_position::at_offset(*last_returned + 1);
    else if (first) s = start_position::at_offset(*first);
    const std::string id = wire::u64_frame(sub_id), arg = wire::u64_frame(s.arg),
                      credit = wire::u64_frame(opts.credit_window), batch = wire::u64_frame(opts.batch);
    const std::array<std::string_view, 8> f{wire::cmd_sub, id, opts.pattern, start_name(s.what), arg,
                                            opts.durable_name, credit, batch};
    // The eighth frame (batch) only when batches are wanted and the hub takes them.
    conn.send(std::span(f).first(opts.batch > 1 && !batch_refused ? 8 : 7));
  }

  // An event the hub sent (in an EVT or an EVTS), buffered until next() returns it.
  void take(std::uint64_t offset, std::string_view topic, std::span<const std::uint8_t> envelope,
            std::span<const std::uint8_t> signature) {
    event e;
    e.offset = offset;
    e.topic = std::string(topic);
    e.bytes.assign(envelope.begin(), envelope.end());
    e.signature.assign(signature.begin(), signature.end());
    buffer.push_back(std::move(e));
  }

  void handle(frames& m) {
    auto cmd = text_of(m[0]);
    if (cmd == wire::rep_evt && (m.size() == 5 || m.size() == 6)) {
      if (u64_of(m[1]) != sub_id) return;  // a subscription from before a reset
      auto off = u64_of(m[2]);
      if (!off) return;
      take(*off, text_of(m[3]), bytes_of(m[4]), m.size() == 6 ? bytes_of(m[5]) : std::span<const std::uint8_t>());
      return;
    }
    if (cmd == wire::rep_evts && m.size() == 3) {
      if (u64_of(m[1]) != sub_id) return;
      const bool whole = wire::evts_for_each(
          bytes_of(m[2]), [&](const wire::evts_record& r) { take(r.offset, r.topic, r.envelope, r.signature); });
      if (!whole) {
        // What the hub charged for cannot be known: start over after the last event
        // handed out (the buffered ones come again), so that nothing is lost.
        spdlog::error("subscription {}: an EVTS message from the hub ends in a malformed record; subscribing "
                      "again after the last event returned",
                      sub_id);
        conn.send({wire::cmd_unsub, wire::u64_frame(sub_id)});
        subscribe();
      }
      return;
    }
    if (cmd == wire::rep_subok && m.size() == 3) {
      if (u64_of(m[1]) != sub_id) return;
      subscribed = true;
      if (!first) first = u64_of(m[2]);
      return;
    }
    if (cmd == wire::rep_commitok && m.size() == 3) {
      if (u64_of(m[1]) == sub_id) committed = u64_of(m[2]);
      return;
    }
    if (cmd == wire::rep_err && m.size() == 4) {
      auto code = wire::parse_u16(bytes_of(m[1]));
      auto ref = u64_of(m[3]);
      if (ref && *ref != 0 && *ref != sub_id) return;
      last_error = std::string(text_of(m[2]));
      if (commit_waiting) commit_refused = true;
      auto reason = code ? static_cast<schema::Reason>(*code) : schema::Reason::internal_error;
      if (reason == schema::Reason::malformed_frames && !subscribed && opts.batch > 1 && !batch_refused) {
        // A hub that predates EVTS takes a SUB of seven frames only: ask again without
        // the batch frame (one EVT per event).
        spdlog::info("hub refused SUB with a batch frame ({}); subscribing again without it", last_error);
        batch_refused = true;
        subscribe();
      } else if (reason == schema::Reason::unknown_subscription) {
        spdlog::info("hub forgot subscription {} ({}); subscribing again", sub_id, last_error);
        subscribe();
      } else if (!subscribed && (reason == schema::Reason::bad_pattern || reason == schema::Reason::bad_start ||
                                 reason == schema::Reason::not_authorized ||
                                 reason == schema::Reason::too_many_subscriptions ||
                                 reason == schema::Reason::too_many_consumers ||
                                 reason == schema::Reason::protocol_version)) {
        spdlog::error("hub refused subscription to \"{}\": {}: {}", opts.pattern, schema::reason_name(reason),
                      last_error);
        failed = true;
      } else if (reason == schema::Reason::duplicate_subscription) {
        subscribe();
      } else {
        spdlog::warn("hub error for subscription {}: {}: {}", sub_id, schema::reason_name(reason), last_error);
      }
    }
  }

  void grant_if_due() {
    std::uint32_t half = std::max<std::uint32_t>(1, opts.credit_window / 2);
    if (consumed >= half && subscribed) {
      conn.send({wire::cmd_credit, wire::u64_frame(sub_id), wire::u64_frame(consumed)});
      consumed = 0;
    }
  }
};

subscriber::subscriber(options opts) : impl_(std::make_unique<impl>(std::move(opts))) {}
subscriber::~subscriber() = default;

std::optional<event> subscriber::next(std::chrono::milliseconds timeout) {
  auto& d = *impl_;
  auto deadline = clock::now() + timeout;
  for (;;) {
    if (!d.buffer.empty()) {
      event e = std::move(d.buffer.front());
      d.buffer.pop_front();
      d.last_returned = e.offset;
      ++d.consumed;
      d.grant_if_due();
      return e;
    }
    auto now = clock::now();
    if (now >= deadline && timeout.count() > 0) return std::nullopt;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    d.conn.poll(std::clamp(left, std::chrono::milliseconds(0), std::chrono::milliseconds(100)));
    if (timeout.count() <= 0 && d.buffer.empty()) return std::nullopt;
  }
}

bool subscriber::commit(std::uint64_t next_offset, std::chrono::milliseconds timeout) {
  auto& d = *impl_;
  d.committed.reset();
  d.commit_refused = false;
  d.commit_waiting = true;
  d.conn.send({wire::cmd_commit, wire::u64_frame(d.sub_id), wire::u64_frame(next_offset)});
  auto deadline = clock::now() + timeout;
  while (!d.committed && !d.commit_refused) {
    auto now = clock::now();
    if (now >= deadline) break;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    d.conn.poll(std::min(left, std::chrono::milliseconds(100)));
  }
  d.commit_waiting = false;
  return d.committed && *d.committed == next_offset;
}

std::optional<std::uint64_t> subscriber::first_offset() const { return impl_->first; }
const std::string& subscriber::last_error() const { return impl_->last_error; }

// ---------------------------------------------------------------------------

std::optional<std::string> fetch_status(const connection_options& conn, std::chrono::milliseconds timeout) {
  check_connection_options(conn);
  zmq::context_t ctx(1);
  auto deadline = clock::now() + timeout;
  for (std::size_t i = 0; i < conn.endpoints.size(); ++i) {
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    if (!conn.curve_server_public_key.empty()) {
      s.set(zmq::sockopt::curve_serverkey, conn.curve_server_public_key);
      s.set(zmq::sockopt::curve_publickey, conn.curve_client_public_key);
      s.set(zmq::sockopt::curve_secretkey, conn.curve_client_secret_key);
    }
    try {
      s.connect(conn.endpoints[i]);
    } catch (const zmq::error_t& e) {
      throw error(error_kind::bad_options, "cannot use hub endpoint \"" + conn.endpoints[i] + "\": " + e.what());
    }
    auto share = (deadline - clock::now()) / static_cast<long>(conn.endpoints.size() - i);
    auto until = clock::now() + share;
    s.send(zmq::buffer(wire::cmd_status), zmq::send_flags::dontwait);
    while (clock::now() < until) {
      zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now());
      zmq::poll(&item, 1, std::max(left, std::chrono::milliseconds(1)));
      frames m;
      if (!zmq::recv_multipart(s, std::back_inserter(m), zmq::recv_flags::dontwait)) continue;
      if (m.size() == 2 && text_of(m[0]) == wire::rep_status) return std::string(text_of(m[1]));
    }
  }
  return std::nullopt;
}

}  // namespace hub::sdk

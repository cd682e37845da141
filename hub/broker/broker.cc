#include "hub/broker/broker.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <random>
#include <span>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <zmq.hpp>

#include "hub/broker/commands.h"
#include "hub/broker/work_pool.h"
#include "hub/broker/zmtp_mirror.h"
#include "hub/broker/zmtp_router.h"
#include "hub/dedup/dedup.h"
#include "hub/topic/topic.h"
#include "schemas/schema.h"
#include "schemas/wire.h"

namespace hub::broker {
namespace {

using schema::Reason;

std::string_view view(const zmq::message_t& m) { return {static_cast<const char*>(m.data()), m.size()}; }
std::span<const std::uint8_t> bytes(const zmq::message_t& m) {
  return {static_cast<const std::uint8_t*>(m.data()), m.size()};
}
// An envelope is held either in the message (frame) it came in, or, when that was
// misaligned or the hub published it itself, in an owned copy.
std::span<const std::uint8_t> envelope_bytes(const zmq::message_t& m, const std::vector<std::uint8_t>& own) {
  return own.empty() ? bytes(m) : std::span<const std::uint8_t>(own);
}

std::string random_hub_id() {
  std::random_device rd;
  std::uint64_t a = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  return fmt::format("{:016x}", a);
}

// Printable form of a connection's routing id, for logs.
std::string peer_name(const std::string& identity) {
  std::string s;
  for (unsigned char c : identity) s += fmt::format("{:02x}", c);
  return s;
}

}  // namespace

struct broker::impl {
  struct subscription {
    std::uint64_t handle = 0;     // value in the trie
    std::string identity;         // owning client
    std::uint64_t sub_id = 0;
    std::string pattern;
    std::string durable;          // empty: ephemeral
    bool durable_known = false;   // the store holds an offset for `durable` (seen at SUB or COMMIT)
    std::uint64_t credit = 0;
    bool live = false;            // caught up: fed from the trie as events become durable
    offset cursor;                // when not live: the next offset to examine
    // Delivery in EVTS batches (SUB's batch frame): the events gathered this delivery
    // phase, sent when full and at the phase's end (flush_batches).
    std::uint64_t batch_max = 0;  // 0: one EVT per event
    std::string batch;            // the EVTS events frame being built
    std::uint64_t batch_n = 0;    // events in it (each took a credit)
    std::uint64_t batch_bytes = 0;  // their envelopes' bytes
    offset batch_first;           // the first one's offset
    bool batch_queued = false;    // listed in `batching`
  };

  struct client {
    std::string identity;
    std::string name;
    std::string user;            // the ACL identity (its CURVE key's name) when security is on
    millis last_seen = 0;
    millis connected_at = 0;
    std::map<std::uint64_t, std::uint64_t> subs;   // sub-id -> handle
    std::deque<std::vector<std::string>> outbox;   // replies a full pipe refused, in order
    std::string ack_entries;                        // ACK entries gathered this turn
    std::string ack_duplicates;                     // seqs among them that were resends
    bool published = false;                         // it has sent a PUB (its role in the status)
    bool hello = false;                             // it said HELLO to this hub instance
    bool unread = false;                            // its outbox overflowed: dropped at the turn's end
    bool unreachable = false;                       // its connection is gone (see mark_unreachable)
  };

  // A PUB of this turn waiting for its signature check (or behind one that does).
  struct deferred_pub {
    std::string identity;
    std::uint64_t seq = 0;
    zmq::message_t msg;
    std::vector<std::uint8_t> own;
    const security::identity* who = nullptr;
    std::vector<std::uint8_t> signature;
    bool verify = false;  // a signature to check
    bool ok = false;      // it verified (set by the check)
  };

  // A PUB accepted this turn, waiting for the store.
  struct pending_pub {
    std::string identity;       // empty for events the hub publishes itself
    std::uint64_t seq = 0;
    zmq::message_t envelope;
    std::vector<std::uint8_t> own;  // bytes of hub-published events (no zmq message)
    std::string topic;
    schema::Id128 id;
    offset off;
    std::size_t type_index = 0;
    std::vector<std::uint8_t> signature;  // the verified Ed25519 signature, stored with the event
  };

  // A record this broker appended and has not yet handed to advance_durable(): while
  // it waits to become durable (one sync under "fsync batch", none otherwise) its bytes
  // stay here, so that it is mirrored and delivered from memory instead of being read
  // back from the store. Only for a store that is its log's sole writer.
  struct appended_record {
    offset off;
    millis log_time = 0;
    schema::Id128 id;
    std::string topic;
    zmq::message_t envelope;
    std::vector<std::uint8_t> own;
    std::vector<std::uint8_t> signature;
    [[nodiscard]] store::record_view view() const {
      return {off, log_time, id, topic,
              envelope_bytes(envelope, own), signature};
    }
  };

  struct pending_ack {
    std::string identity;
    std::uint64_t seq;
    offset off;
    bool duplicate = false;  // a resend of an event stored before
    std::chrono::steady_clock::time_point received{};
  };

  broker_options opts;
  std::unique_ptr<store::store> st;
  broker_hooks hooks;
  broker_counters counters;
  std::string hub_id = random_hub_id();
  std::string bound_endpoint, bound_mirror;

  zmq::context_t ctx{1};
  std::unique_ptr<zmtp_router> clients_sock;  // the clients' ZMTP socket, read and written here
  std::unique_ptr<zmtp_mirror> mirror;  // when a mirror endpoint is set
  zmq::socket_t sync_sock{ctx, zmq::socket_type::pair};
  std::thread sync_thread;
  bool sync_in_flight = false;
  millis sync_retry_at = 0;
  int stop_pipe[2] = {-1, -1};
  std::atomic<bool> stopping{false};

  dedup::dedup_window dedup;
  topic::topic_trie trie;
  std::unordered_map<std::string, client> clients;
  std::unordered_map<std::uint64_t, subscription> subs;
  std::uint64_t next_handle = 1;

  std::vector<pending_pub> batch;
  std::vector<deferred_pub> deferred;    // this turn's PUBs waiting for signature checks
  std::unique_ptr<work_pool> verifiers;  // made when a turn first has two signatures to check
  std::deque<pending_ack> acks;
  std::deque<appended_record> appended;  // offsets ascending, all >= last_durable
  std::vector<std::vector<std::uint8_t>> internal_out;  // hub-published events for the next turn
  offset last_durable;
  millis started_at = now_millis();
  millis next_housekeeping = 0;
  millis next_retention = 0;
  millis next_status = 0;
  std::vector<std::uint64_t> match_buf;
  std::vector<zmq::message_t> frames;
  std::vector<frame> frame_views;
  std::chrono::steady_clock::time_point turn_started;  // when this turn's messages were read
  std::vector<std::string> gone;    // clients found unreachable this turn
  std::vector<std::string> unread;  // clients that left more than max_outbox replies unread
  std::size_t clients_index = 0, mirror_index = 0;

  impl(broker_options o, std::unique_ptr<store::store> s, broker_hooks h)
      : opts(std::move(o)), st(std::move(s)), hooks(std::move(h)), dedup(opts.dedup_window) {
    if (::pipe2(stop_pipe, O_NONBLOCK | O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  }

  ~impl() {
    if (sync_thread.joinable()) {
      try {
        sync_sock.send(zmq::str_buffer("quit"), zmq::send_flags::none);
      } catch (const zmq::error_t&) {
      }
      sync_thread.join();
    }
    ::close(stop_pipe[0]);
    ::close(stop_pipe[1]);
  }

  // ---------------------------------------------------------------- setup

  status bind() {
    router_limits rl;
    rl.max_queued_messages = static_cast<std::size_t>(std::max(opts.client_hwm, 1));
    // A message far beyond the envelope limit closes the connection; anything up to it
    // reaches the verifier and gets a clear NAK.
    rl.max_message_bytes = opts.max_envelope_bytes * 4 + 4096;
    std::optional<curve_key> secret;
    if (opts.acl) {
      curve_key k{};
      if (opts.curve_secret_key.size() != 40 ||
          zmq_z85_decode(k.data(), opts.curve_secret_key.c_str()) == nullptr)
        return status::config_error("the hub's CURVE secret key is not 40 characters of Z85");
      secret = k;
    }
    zmtp_router::hooks h;
    h.admit = [this](const curve_key& key, std::string& user) { return admit(key, user); };
    h.ended = [this](std::string_view identity, std::string_view peer, std::string_view why,
                     zmtp_router::end_kind kind) { connection_ended(identity, peer, why, kind); };
    clients_sock = std::make_unique<zmtp_router>(rl, secret, std::move(h));
    if (auto s = clients_sock->bind(opts.endpoint); !s) return s;
    bound_endpoint = clients_sock->endpoint();
    if (!opts.mirror_endpoint.empty()) {
      mirror = std::make_unique<zmtp_mirror>(opts.mirror);
      if (auto s = mirror->bind(opts.mirror_endpoint); !s) return s;
      bound_mirror = mirror->endpoint();
    }
    std::string inproc = "inproc://sync-" + hub_id;
    sync_sock.bind(inproc);
    sync_thread = std::thread([this, inproc] { sync_loop(inproc); });
    rebuild_dedup();
    last_durable = st->durable_end();
    return status::ok();
  }

  // Runs on the sync thread: makes appended records durable when asked (group commit:
  // everything appended before the request is covered by one sync).
  // A signal handled on this thread interrupts a blocking call (EINTR); that must not
  // end the thread, whose exception would abort the hub. (hubd routes its stop
  // signals to the loop's thread; a library that embeds the broker may not.)
  void sync_loop(const std::string& inproc) {
    zmq::socket_t s(ctx, zmq::socket_type::pair);
    s.connect(inproc);
    // Retries a blocking socket call that a signal interrupted.
    auto unless_interrupted = [](auto&& call) {
      for (;;) {
        try {
          return call();
        } catch (const zmq::error_t& e) {
          if (e.num() != EINTR) throw;
        }
      }
    };
    while (true) {
      zmq::message_t m;
      if (!unless_interrupted([&] { return s.recv(m); })) continue;
      if (view(m) == "quit") return;
      auto t0 = std::chrono::steady_clock::now();
      status r = st->sync();
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
      std::string reply = r ? fmt::format("ok {}", us) : "err " + r.message();
      unless_interrupted([&] { return s.send(zmq::buffer(reply), zmq::send_flags::none); });
    }
  }

  // The end of the log as far as this hub knows it: where a new subscription starts and
  // how far an offset may reach. For a store shared by several hubs (JetStream), end()
  // is only where this hub numbers its next batch and lags behind what the other hubs
  // appended (it is refreshed at upkeep); durable_end() follows the stream's live tail.
  [[nodiscard]] offset known_end() const { return std::max(st->end(), st->durable_end()); }

  // The dedup window survives restarts: refill it from the tail of the log.
  void rebuild_dedup() {
    offset end = st->end();
    offset from{end.value > opts.dedup_window ? end.value - opts.dedup_window : 0};
    std::size_t n = 0;
    while (from < end) {
      auto r = st->read(from, end, 65536, [&](const store::record_view& v) {
        dedup.insert(v.id, v.off);
        ++n;
        return true;
      });
      if (!r || r.value() <= from) break;
      from = r.value();
    }
    if (n > 0) spdlog::info("dedup window rebuilt from the log: {} recent event ids", n);
  }

  // ---------------------------------------------------------------- sending

  // Sends frames to a client. Returns false if its connection's queue is full; an
  // unreachable client counts as sent and is dropped at the end of the turn, so that
  // nothing iterating clients or subscriptions now sees them vanish.
  template <typename... F>
  bool send_to(const std::string& identity, F&&... f) {
    const std::array<zmq::const_buffer, sizeof...(F)> parts{zmq::buffer(f)...};
    return send_parts(identity, parts);  // on the stack: one EVT per event, no allocation
  }

  bool send_parts(const std::string& identity, std::span<const zmq::const_buffer> parts) {
    switch (clients_sock->send(identity, parts)) {
      case zmtp_router::send_result::sent:
        return true;
      case zmtp_router::send_result::full:
        return false;
      case zmtp_router::send_result::unreachable:
        gone.push_back(identity);
        return true;
    }
    return true;
  }

  // Control replies must not be lost to a full pipe: queue them in order.
  template <typename... F>
  void reply(const std::string& identity, F&&... f) {
    if (identity.empty()) return;
    auto it = clients.find(identity);
    if (it != clients.end() && !it->second.outbox.empty()) {
      queue_reply(it->second, {std::string(f)...});
      return;
    }
    if (!send_to(identity, std::forward<F>(f)...)) queue_reply(touch_client(identity, false), {std::string(f)...});
  }

  // A reply that the client's full pipe refused waits in its outbox. A client that lets
  // max_outbox of them pile up is not reading what it asked for: it is dropped at the end
  // of the turn (subscriptions, outbox and all), so that it cannot fill the hub's memory.
  void queue_reply(client& c, std::vector<std::string> parts) {
    if (c.outbox.size() < opts.max_outbox) {
      c.outbox.push_back(std::move(parts));
    } else if (!c.unread) {
      c.unread = true;
      unread.push_back(c.identity);
    }
  }

  void flush_outboxes() {
    for (auto& [id, c] : clients) {
      while (!c.outbox.empty()) {
        std::vector<zmq::const_buffer> parts;
        for (auto& s : c.outbox.front()) parts.push_back(zmq::buffer(s));
        const std::size_t gone_before = gone.size();
        if (!send_parts(id, parts)) break;
        if (gone.size() != gone_before) {
          c.outbox.clear();  // unreachable: nothing more to send it
          break;
        }
        c.outbox.pop_front();
      }
    }
  }

  // Client faults are logged at most `burst` times per reason and 10 s window; the rest
  // are counted and summed up in one line when the window ends, so a misbehaving client
  // cannot flood the log. Counters and NAK/ERR replies are never limited.
  struct log_limit {
    millis window_start = 0;
    unsigned logged = 0;
    std::uint64_t suppressed = 0;
  };
  std::array<log_limit, 64> limits{};
  // Keys: NAK reasons 0-31, ERR reasons 32-63; ended and refused connections take the
  // last two, which no reason code reaches.
  static constexpr std::size_t disconnect_log_key = 63, refusal_log_key = 62;
  bool may_log(std::size_t key, std::string_view what,
               spdlog::level::level_enum summary_level = spdlog::level::warn) {
    constexpr unsigned burst = 10;
    auto& l = limits[key % limits.size()];
    millis now = now_millis();
    if (now - l.window_start >= 10'000) {
      if (l.suppressed > 0)
        spdlog::log(summary_level, "{} more {} message(s) not logged in the last 10 s", l.suppressed, what);
      l = {now, 0, 0};
    }
    if (l.logged < burst) {
      ++l.logged;
      return true;
    }
    ++l.suppressed;
    return false;
  }

  void nak(const std::string& identity, std::uint64_t seq, Reason r, const std::string& text) {
    counters.naks[static_cast<std::size_t>(r) % 32]++;
    if (may_log(static_cast<std::size_t>(r), fmt::format("NAK {}", schema::reason_name(r))))
      spdlog::warn("NAK to {}: seq {}: {} ({})", client_label(identity), seq, text, schema::reason_name(r));
    reply(identity, wire::rep_nak, wire::u64_frame(seq), wire::u16_frame(static_cast<std::uint16_t>(r)), text);
  }

  void err(const std::string& identity, Reason r, const std::string& text, std::uint64_t ref = 0) {
    counters.errs[static_cast<std::size_t>(r) % 32]++;
    if (may_log(32 + static_cast<std::size_t>(r), fmt::format("ERR {}", schema::reason_name(r))))
      spdlog::warn("ERR to {}: {} ({})", client_label(identity), text, schema::reason_name(r));
    reply(identity, wire::rep_err, wire::u16_frame(static_cast<std::uint16_t>(r)), text, wire::u64_frame(ref));
  }

  std::string client_label(const std::string& identity) {
    auto it = clients.find(identity);
    if (it != clients.end() && !it->second.name.empty()) return it->second.name;
    return peer_name(identity);
  }

  // A connection on the client socket ended: the client closed it, hubd closed it for a
  // protocol fault or a limit (above all a message over max_envelope_bytes * 4 + 4 KiB),
  // or security refused it. Its client, if it had one, is dropped at the end of the turn.
  void connection_ended(std::string_view identity, std::string_view peer, std::string_view why,
                        zmtp_router::end_kind kind) {
    if (kind == zmtp_router::end_kind::refused) {
      counters.auth_denied++;
      if (may_log(refusal_log_key, "connection-refused"))
        spdlog::warn("connection from {} refused: {}", peer, why);
      return;
    }
    counters.disconnects++;
    if (!identity.empty() && clients.count(std::string(identity)) > 0) gone.emplace_back(identity);
    if (!may_log(disconnect_log_key, "connection-ended", spdlog::level::info)) return;
    if (kind == zmtp_router::end_kind::fault)
      spdlog::warn("a client connection ended ({} so far): the hub closed the connection from {}: {}",
                   counters.disconnects, peer, why);
    else
      spdlog::info("a client connection ended ({} so far): {} from {}", counters.disconnects, why, peer);
  }

  // ---------------------------------------------------------------- security

  // With security on: admits a CURVE client whose public key is on the ACL, and names it.
  std::string admit(const curve_key& key, std::string& user) {
    char z85[41];
    zmq_z85_encode(z85, key.data(), key.size());
    const auto* id = opts.acl ? opts.acl->by_public_key(z85) : nullptr;
    if (id == nullptr) return fmt::format("public key {} not on the hub's list", z85);
    user = id->name;
    return {};
  }

  // The ACL identity of a client, or nullptr (security off, or no longer listed).
  const security::identity* identity_of(const client& c) const {
    if (!opts.acl) return nullptr;
    return opts.acl->by_name(c.user);
  }

  // With security on: the client's identity, or a refusal (ERR/NAK sent) if its key was
  // removed from the list since it connected.
  bool authorized(client& c, const security::identity*& out, std::uint64_t seq, bool is_pub) {
    out = nullptr;
    if (!opts.acl) return true;
    out = identity_of(c);
    if (out != nullptr) return true;
    counters.acl_denied++;
    std::string why = fmt::format("identity '{}' is not on the hub's list", c.user);
    if (is_pub)
      nak(c.identity, seq, Reason::not_authorized, why);
    else
      err(c.identity, Reason::not_authorized, why);
    return false;
  }

  bool may_deliver(const subscription& s, const store::record_view& v) {
    if (!opts.acl) return true;
    auto cit = clients.find(s.identity);
    if (cit == clients.end()) return false;
    const auto* id = identity_of(cit->second);
    if (id == nullptr) return false;
    auto c = schema::GetEnvelope(v.envelope.data())->classification();
    if (security::may_receive(*id, v.topic, c)) return true;
    counters.acl_denied++;
    return false;
  }

  void set_acl(std::shared_ptr<const security::acl> a) {
    opts.acl = std::move(a);
    // Clients whose identity left the list lose their subscriptions now.
    std::vector<std::string> unlisted;
    for (auto& [id, c] : clients)
      if (identity_of(c) == nullptr) unlisted.push_back(id);
    for (auto& id : unlisted) drop_client(id, "identity no longer on the hub's list");
    spdlog::info("ACL reloaded: {} identities", opts.acl->identities().size());
  }

  // ---------------------------------------------------------------- clients

  client& touch_client(const std::string& identity, bool seen = true) {
    auto [it, fresh] = clients.try_emplace(identity);
    auto& c = it->second;
    if (fresh) {
      c.identity = identity;
      c.connected_at = now_millis();
      c.last_seen = c.connected_at;
    }
    if (seen) c.last_seen = now_millis();
    return c;
  }

  void drop_client(const std::string& identity, std::string_view why) {
    auto it = clients.find(identity);
    if (it == clients.end()) return;
    spdlog::info("client {} dropped: {}; {} subscription(s) ended", client_label(identity), why,
                 it->second.subs.size());
    for (auto& [sid, handle] : it->second.subs) remove_sub(handle);
    clients.erase(it);
    counters.clients_dropped++;
  }

  // The client's connection closed (it ended, or a reply found it gone). What it sent
  // before it closed may still wait on the hub's side: the client socket hands over a
  // closed connection's whole messages before it forgets it. So the client is dropped
  // once (logged, counted, subscriptions and outbox ended) and kept as unreachable: its
  // queued PUBs are still stored, their replies go nowhere, and its record is forgotten
  // quietly once it has been silent for client_timeout_ms. Every connection gets a new
  // routing id, so the identity never comes back.
  void mark_unreachable(const std::string& identity) {
    auto it = clients.find(identity);
    if (it == clients.end()) return;
    auto& c = it->second;
    if (!c.unreachable)
      spdlog::info("client {} dropped: unreachable; {} subscription(s) ended", client_label(identity), c.subs.size());
    for (auto& [sid, handle] : c.subs) remove_sub(handle);
    c.subs.clear();
    c.outbox.clear();
    if (!c.unreachable) counters.clients_dropped++;
    c.unreachable = true;
  }

  void remove_sub(std::uint64_t handle) {
    auto it = subs.find(handle);
    if (it == subs.end()) return;
    trie.erase(it->second.pattern, handle);
    subs.erase(it);
  }

  // ---------------------------------------------------------------- commands

  void handle_message(std::vector<zmq::message_t>& f) {
    if (f.size() < 2) return;  // ROUTER always gives identity + at least one frame
    std::string identity(view(f[0]));
    auto& cl = touch_client(identity);
    if (opts.acl && cl.user.empty()) {
      const std::string* user = clients_sock->user_of(identity);
      cl.user = user != nullptr ? *user : "";
    }
    frame_views.clear();
    for (std::size_t i = 1; i < f.size(); ++i) frame_views.push_back(bytes(f[i]));
    auto parsed = parse_command(frame_views);
    std::visit([&](auto& c) { on_command(identity, cl, f, c); }, parsed);
  }

  void on_command(const std::string& identity, client&, std::vector<zmq::message_t>&, const parse_error& e) {
    if (e.seq)
      nak(identity, *e.seq, e.reason, e.text);
    else
      err(identity, e.reason, e.text, e.ref);
  }

  void on_command(const std::string& identity, client& cl, std::vector<zmq::message_t>& f, const cmd_pub& c) {
    cl.published = true;
    const security::identity* who = nullptr;
    if (!authorized(cl, who, c.seq, true)) return;
    // The envelope frame (f[3]) is moved into the batch: no copy until the store.
    accept_pub(identity, c.seq, std::move(f[3]), {}, who, c.signature);
  }

  void on_command(const std::string& identity, client&, std::vector<zmq::message_t>&, const cmd_credit& c) {
    auto* s = find_sub(identity, c.sub_id);
    if (s == nullptr) {
      err(identity, Reason::unknown_subscription, fmt::format("CREDIT for unknown subscription {}", c.sub_id), c.sub_id);
      return;
    }
    s->credit += c.n;
  }

  void on_command(const std::string& identity, client& cl, std::vector<zmq::message_t>&, const cmd_sub& c) {
    handle_sub(identity, cl, c);
  }

  // A durable name the store does not know yet would be one more consumer: refused with
  // ERR too_many_consumers when the store already keeps max_consumers of them (each one
  // is a line of every checkpoint and a label of the lag metric).
  bool room_for_consumer(const std::string& identity, std::string_view name, std::uint64_t sub_id) {
    const std::size_t n = st->consumer_count();
    if (n < opts.max_consumers) return true;
    err(identity, Reason::too_many_consumers,
        fmt::format("the hub keeps {} durable consumers, as many as it allows; '{}' would be one more "
                    "(reuse a name, or remove one with hubctl)",
                    n, name),
        sub_id);
    return false;
  }

  void on_command(const std::string& identity, client&, std::vector<zmq::message_t>&, const cmd_commit& c) {
    auto* s = find_sub(identity, c.sub_id);
    if (s == nullptr) {
      err(identity, Reason::unknown_subscription, fmt::format("COMMIT for unknown subscription {}", c.sub_id), c.sub_id);
      return;
    }
    if (s->durable.empty()) {
      err(identity, Reason::bad_field, "COMMIT on a subscription that has no durable name", s->sub_id);
      return;
    }
    // A name this subscription has seen stored needs no check (no store read per COMMIT).
    if (!s->durable_known && !st->consumer_offset(s->durable) && !room_for_consumer(identity, s->durable, s->sub_id))
      return;
    auto r = st->commit_consumer(s->durable, offset{c.next});
    if (!r) {
      err(identity, Reason::store_unavailable, "cannot store the committed offset: " + r.message(), s->sub_id);
      return;
    }
    s->durable_known = true;
    reply(identity, wire::rep_commitok, wire::u64_frame(s->sub_id), wire::u64_frame(c.next));
  }

  void on_command(const std::string& identity, client& cl, std::vector<zmq::message_t>&, const cmd_unsub& c) {
    auto it = cl.subs.find(c.sub_id);
    if (it == cl.subs.end()) {
      err(identity, Reason::unknown_subscription, fmt::format("UNSUB for unknown subscription {}", c.sub_id), c.sub_id);
      return;
    }
    remove_sub(it->second);
    cl.subs.erase(it);
    reply(identity, wire::rep_unsubok, wire::u64_frame(c.sub_id));
  }

  // The second frame tells a client whether this hub still holds its session: "0" after
  // the hub timed it out (or never saw its HELLO), so that it says HELLO and subscribes
  // again instead of waiting for events on subscriptions that are gone.
  void on_command(const std::string& identity, client& cl, std::vector<zmq::message_t>&, const cmd_ping&) {
    reply(identity, wire::rep_pong, hub_id, cl.hello ? wire::session_known : wire::session_unknown);
  }

  void on_command(const std::string& identity, client& cl, std::vector<zmq::message_t>&, const cmd_hello& c) {
    cl.hello = true;
    cl.name = std::string(c.name);
    spdlog::info("client {} connected{}", cl.name, cl.user.empty() ? "" : " as " + cl.user);
    reply(identity, wire::rep_welcome, wire::protocol_version, hub_id, wire::u64_frame(opts.max_envelope_bytes));
  }

  void on_command(const std::string& identity, client&, std::vector<zmq::message_t>&, const cmd_status&) {
    reply(identity, wire::rep_status, status_json());
  }

  void on_command(const std::string& identity, client&, std::vector<zmq::message_t>&, const cmd_bye&) {
    drop_client(identity, "said BYE");
  }

  subscription* find_sub(const std::string& identity, std::uint64_t sub_id) {
    auto c = clients.find(identity);
    if (c == clients.end()) return nullptr;
    auto it = c->second.subs.find(sub_id);
    if (it == c->second.subs.end()) return nullptr;
    auto s = subs.find(it->second);
    return s == subs.end() ? nullptr : &s->second;
  }

  void handle_sub(const std::string& identity, client& c, const cmd_sub& cmd) {
    const std::uint64_t sub_id = cmd.sub_id;
    std::string pattern(cmd.pattern);
    if (auto bad = topic::validate_pattern(pattern)) {
      err(identity, Reason::bad_pattern, fmt::format("bad pattern '{}': {}", pattern.substr(0, 64), *bad), sub_id);
      return;
    }
    if (opts.acl) {
      const security::identity* who = nullptr;
      if (!authorized(c, who, 0, false)) return;
      if (auto why = security::check_subscribe(*who, pattern)) {
        counters.acl_denied++;
        err(identity, Reason::not_authorized, *why, sub_id);
        return;
      }
    }
    if (c.subs.count(sub_id)) {
      err(identity, Reason::duplicate_subscription, fmt::format("subscription {} already exists", sub_id), sub_id);
      return;
    }
    if (c.subs.size() >= opts.max_subscriptions) {
      err(identity, Reason::too_many_subscriptions,
          fmt::format("this client holds {} subscriptions, as many as the hub allows; UNSUB one first", c.subs.size()),
          sub_id);
      return;
    }
    std::string durable(cmd.durable);
    offset first;
    std::optional<offset> committed;
    if (!durable.empty()) committed = st->consumer_offset(durable);
    if (!durable.empty() && !committed && !room_for_consumer(identity, durable, sub_id)) return;
    if (committed) {
      first = std::max(*committed, st->begin());
    } else {
      switch (cmd.start) {
        case start_kind::new_only: first = known_end(); break;
        case start_kind::earliest: first = st->begin(); break;
        case start_kind::at_offset:
          if (const offset end = known_end(); cmd.start_arg > end.value) {
            err(identity, Reason::bad_start,
                fmt::format("offset {} is beyond the end of the log ({})", cmd.start_arg, end.value), sub_id);
            return;
          }
          first = std::max(offset{cmd.start_arg}, st->begin());
          break;
        case start_kind::at_time: first = st->offset_at_time(static_cast<millis>(cmd.start_arg)); break;
      }
    }
    subscription s;
    s.handle = next_handle++;
    s.identity = identity;
    s.sub_id = sub_id;
    s.pattern = std::move(pattern);
    s.durable = std::move(durable);
    s.durable_known = committed.has_value();
    s.credit = cmd.credit;
    s.batch_max = cmd.batch > 1 ? std::min(cmd.batch, wire::max_evts_events) : 0;
    s.cursor = first;
    s.live = false;
    trie.insert(s.pattern, s.handle);
    c.subs[s.sub_id] = s.handle;
    spdlog::info("client {} subscribed {} to '{}' from offset {}{}", client_label(identity), s.sub_id, s.pattern,
                 first.value, s.durable.empty() ? "" : " (durable " + s.durable + ")");
    subs.emplace(s.handle, std::move(s));
    reply(identity, wire::rep_subok, wire::u64_frame(sub_id), wire::u64_frame(first.value));
  }

  // Verifies one envelope and adds it to this turn's batch (or acks it as a resend).
  // A signature to check defers the PUB to verify_deferred() at the end of the turn, so
  // that the turn's signatures are checked in parallel.
  void accept_pub(const std::string& identity, std::uint64_t seq, zmq::message_t msg, std::vector<std::uint8_t> own,
                  const security::identity* who = nullptr, std::span<const std::uint8_t> signature = {}) {
    // A frame may sit at any byte position of its receive buffer, and
    // FlatBuffers reads scalars in place: a misaligned envelope is copied once.
    if (own.empty() && reinterpret_cast<std::uintptr_t>(msg.data()) % alignof(std::uint64_t) != 0) {
      auto b = bytes(msg);
      own.assign(b.begin(), b.end());
    }
    auto data = envelope_bytes(msg, own);
    auto check = schema::check_envelope(data, opts.max_envelope_bytes);
    if (check.reason != Reason::ok) {
      if (identity.empty()) {
        spdlog::error("hub-published event refused: {}", check.detail);
        return;
      }
      nak(identity, seq, check.reason, check.detail);
      return;
    }
    const auto* e = check.envelope;
    bool verify = false;
    if (who != nullptr) {
      std::string topic = schema::topic_of(*e);
      if (auto why = security::check_publish(*who, *e, topic)) {
        counters.acl_denied++;
        nak(identity, seq, Reason::not_authorized, fmt::format("event {}: {}", schema::id_to_hex(*e->id()), *why));
        return;
      }
      if (!signature.empty() || who->require_signature) {
        if (who->signing_key.empty() || signature.empty()) {
          signature_refused(identity, seq, *e, *who, signature.empty());
          return;
        }
        verify = true;
      }
    }
    // Every PUB of the turn waits here, in arrival order, until the turn's messages are
    // read: then the signatures are checked in parallel and the dedup window's slots are
    // loaded a few PUBs ahead of their lookups (verify_deferred).
    deferred.push_back({identity, seq, std::move(msg), std::move(own), who,
                        std::vector<std::uint8_t>(signature.begin(), signature.end()), verify, false});
  }

  void signature_refused(const std::string& identity, std::uint64_t seq, const schema::Envelope& e,
                         const security::identity& who, bool missing) {
    counters.acl_denied++;
    nak(identity, seq, Reason::bad_signature,
        missing ? fmt::format("event {}: identity '{}' must sign its envelopes", schema::id_to_hex(*e.id()), who.name)
                : fmt::format("event {}: signature does not verify against the key registered for '{}'",
                              schema::id_to_hex(*e.id()), who.name));
  }

  // Checks the signatures of the turn's deferred PUBs (in parallel) and then adds the
  // PUBs to the batch in their order.
  void verify_deferred() {
    if (deferred.empty()) return;
    std::size_t to_check = 0;
    for (auto& d : deferred) to_check += d.verify ? 1 : 0;
    if (to_check > 1 && !verifiers) {
      unsigned cores = std::thread::hardware_concurrency();
      verifiers = std::make_unique<work_pool>(std::min(cores > 1 ? cores - 1 : 0u, 7u));
    }
    auto check_one = [&](std::size_t i) {
      auto& d = deferred[i];
      if (!d.verify) return;
      auto data = envelope_bytes(d.msg, d.own);
      d.ok = security::verify_signature(d.who->signing_key, data, d.signature);
    };
    if (to_check > 0 && verifiers)
      verifiers->run(deferred.size(), check_one);
    else if (to_check > 0)
      for (std::size_t i = 0; i < deferred.size(); ++i) check_one(i);
    // Each lookup of a new id is a cache miss in a table far larger than the caches:
    // start loading the slot of the PUB a few places ahead (its envelope is verified).
    constexpr std::size_t ahead = 4;
    auto prefetch = [&](std::size_t i) {
      if (i >= deferred.size()) return;
      auto& d = deferred[i];
      auto data = envelope_bytes(d.msg, d.own);
      dedup.prefetch(*schema::GetEnvelope(data.data())->id());
    };
    for (std::size_t i = 0; i < ahead; ++i) prefetch(i);
    for (std::size_t i = 0; i < deferred.size(); ++i) {
      prefetch(i + ahead);
      auto& d = deferred[i];
      if (d.verify && !d.ok) {
        auto data = envelope_bytes(d.msg, d.own);
        signature_refused(d.identity, d.seq, *schema::GetEnvelope(data.data()), *d.who, false);
        continue;
      }
      add_to_batch(d.identity, d.seq, std::move(d.msg), std::move(d.own), d.who, d.signature);
    }
    deferred.clear();
  }

  // A verified envelope: acked at once as a resend, or added to the turn's batch.
  void add_to_batch(const std::string& identity, std::uint64_t seq, zmq::message_t msg, std::vector<std::uint8_t> own,
                    const security::identity* who, std::span<const std::uint8_t> signature) {
    auto data = envelope_bytes(msg, own);
    const auto* e = schema::GetEnvelope(data.data());
    schema::Id128 id = *e->id();
    if (auto prev = dedup.find(id)) {
      counters.duplicates++;
      spdlog::debug("event {} from {} is a resend of offset {}", schema::id_to_hex(id), client_label(identity),
                    prev->value);
      if (!identity.empty()) acks.push_back({identity, seq, *prev, true, turn_started});
      return;
    }
    pending_pub p;
    p.identity = identity;
    p.seq = seq;
    p.topic = schema::topic_of(*e);
    p.id = id;
    p.off = offset{st->end().value + batch.size()};
    p.type_index = static_cast<std::size_t>(e->payload_type());
    p.envelope = std::move(msg);
    p.own = std::move(own);
    // Only a signature that was verified against the identity's registered key is kept
    // (with security off nothing checks it, so nothing is stored).
    if (who != nullptr) p.signature.assign(signature.begin(), signature.end());
    dedup.insert(id, p.off);
    batch.push_back(std::move(p));
  }

  void append_batch() {
    if (batch.empty()) return;
    millis now = now_millis();
    std::vector<store::append_record> recs;
    recs.reserve(batch.size());
    for (auto& p : batch) {
      auto data = envelope_bytes(p.envelope, p.own);
      recs.push_back({now, p.id, p.topic, data, p.signature});
    }
    offset base = st->end();
    status r = st->append(recs);
    if (!r) {
      spdlog::error("store refused a batch of {} event(s): {}; publishers are told to retry", batch.size(), r.message());
      for (auto& p : batch) {
        dedup.erase(p.id);
        if (!p.identity.empty())
          nak(p.identity, p.seq, Reason::store_unavailable,
              fmt::format("event {}: the hub cannot store events now: {}", schema::id_to_hex(p.id), r.message()));
      }
      // Resends acked against offsets of the failed batch must be refused too.
      std::deque<pending_ack> keep;
      for (auto& a : acks) {
        if (a.off >= base)
          nak(a.identity, a.seq, Reason::store_unavailable, "the hub cannot store events now: " + r.message());
        else
          keep.push_back(std::move(a));
      }
      acks.swap(keep);
      batch.clear();
      return;
    }
    const bool keep = st->sole_writer();
    for (auto& p : batch) {
      counters.events_in++;
      counters.bytes_in += envelope_bytes(p.envelope, p.own).size();
      if (!p.identity.empty()) acks.push_back({p.identity, p.seq, p.off, false, turn_started});
      if (keep)
        appended.push_back({p.off, now, p.id, std::move(p.topic), std::move(p.envelope), std::move(p.own),
                            std::move(p.signature)});
    }
    batch.clear();
  }

  void request_sync(millis now) {
    if (sync_in_flight || !st->needs_sync() || st->durable_end() >= st->end() || now < sync_retry_at) return;
    // The sync thread's PAIR peer is connected from bind() on; a refused send only
    // means it is not ready yet, and the next turn asks again.
    if (sync_sock.send(zmq::str_buffer("sync"), zmq::send_flags::dontwait)) sync_in_flight = true;
  }

  std::uint64_t sync_failures = 0;  // failed syncs in a row
  millis sync_failure_logged_at = 0;

  void handle_sync_reply() {
    zmq::message_t m;
    while (sync_sock.recv(m, zmq::recv_flags::dontwait)) {
      sync_in_flight = false;
      auto v = view(m);
      if (v.substr(0, 3) == "ok " && hooks.on_sync) {
        try {
          hooks.on_sync(std::stod(std::string(v.substr(3))) / 1e6);
        } catch (const std::exception&) {
        }
      }
      if (v.substr(0, 3) == "err") {
        // Retried every 100 ms while it lasts: said at once, then every 5 s.
        const millis now = now_millis();
        if (sync_failures++ == 0 || now >= sync_failure_logged_at + 5000) {
          sync_failure_logged_at = now;
          spdlog::error("store sync failed{}: {}; acknowledgements wait until it succeeds",
                        sync_failures > 1 ? fmt::format(" ({} times in a row)", sync_failures) : "", v.substr(4));
        }
        sync_retry_at = now + 100;
        refuse_undurable(v.substr(4));
      } else if (sync_failures > 0) {
        spdlog::info("store sync succeeded after {} failure(s)", sync_failures);
        sync_failures = 0;
      }
    }
  }

  // After a failed sync the store may drop what it could not make durable (the log
  // cannot tell what reached the disk after a failed fsync). Every PUB waiting for a
  // dropped record is refused with store_unavailable and its id forgotten, so that the
  // publisher's resend is stored again instead of waiting on a record that is gone.
  void refuse_undurable(std::string_view why) {
    const offset before = st->end();
    st->discard_undurable();
    const offset kept = st->end();
    if (kept >= before) return;
    dedup.erase_from(kept);
    while (!appended.empty() && appended.back().off >= kept) appended.pop_back();
    std::size_t refused = 0;
    std::deque<pending_ack> keep;
    for (auto& a : acks) {
      if (a.off >= kept) {
        nak(a.identity, a.seq, Reason::store_unavailable, fmt::format("the hub could not make the event durable: {}", why));
        ++refused;
      } else {
        keep.push_back(std::move(a));
      }
    }
    acks.swap(keep);
    spdlog::error("store dropped {} record(s) from offset {} that were not durable; {} publish(es) refused with "
                  "store_unavailable, for their publishers to resend", before.value - kept.value, kept.value, refused);
  }

  // Mirrors, delivers and acks everything that became durable since the last turn. The
  // events go out first: subscribers wait for them, and a publisher's ACK follows in the
  // same turn (docs/protocol.md promises no order between the two).
  void advance_durable() {
    deliver_durable(st->durable_end());
    // ACKs: one message per client, entries for every PUB now durable (including
    // resends of events stored long ago, even when nothing new became durable).
    const auto ack_time = std::chrono::steady_clock::now();
    while (!acks.empty() && st->is_durable(acks.front().off)) {
      auto& a = acks.front();
      if (hooks.on_ack_latency) hooks.on_ack_latency(std::chrono::duration<double>(ack_time - a.received).count());
      auto it = clients.find(a.identity);
      if (it != clients.end()) {
        char buf[16];
        wire::put_u64(reinterpret_cast<std::uint8_t*>(buf), a.seq);
        wire::put_u64(reinterpret_cast<std::uint8_t*>(buf + 8), st->stored_offset(a.off).value);
        it->second.ack_entries.append(buf, 16);
        if (a.duplicate) it->second.ack_duplicates.append(buf, 8);
      }
      acks.pop_front();
    }
    for (auto& [id, c] : clients) {
      if (c.ack_entries.empty()) continue;
      std::string entries, dups;
      entries.swap(c.ack_entries);
      dups.swap(c.ack_duplicates);
      if (dups.empty())
        reply(id, wire::rep_ack, entries);
      else
        reply(id, wire::rep_ack, entries, dups);
    }
    clients_sock->flush();
  }

  // Reading records back can fail for a while (a shared store whose cluster is
  // electing a leader): what was not delivered is read again after a pause, never
  // skipped.
  std::chrono::steady_clock::time_point read_back_retry_at{};
  std::chrono::milliseconds read_back_backoff{0};

  void deliver_durable(offset d) {
    if (d <= last_durable) return;
    const auto now = std::chrono::steady_clock::now();
    if (now < read_back_retry_at) return;
    offset from = last_durable;
    last_durable = d;
    while (from < d) {
      while (!appended.empty() && appended.front().off < from) appended.pop_front();  // not expected
      if (!appended.empty() && appended.front().off == from) {
        on_new_record(appended.front().view());
        appended.pop_front();
        from = from.next();
        continue;
      }
      // Not appended by this broker in this run (written before a restart): read back.
      const offset upto = appended.empty() ? d : std::min(d, appended.front().off);
      auto r = st->read(from, upto, 4096, [&](const store::record_view& v) {
        on_new_record(v);
        return true;
      });
      if (!r || r.value() <= from) {
        // Delivered up to `from`; the rest waits for the next attempt.
        last_durable = from;
        read_back_backoff = std::clamp(read_back_backoff * 2, std::chrono::milliseconds(100),
                                       std::chrono::milliseconds(2000));
        read_back_retry_at = now + read_back_backoff;
        const std::string why = r ? "no progress" : r.error().message();
        if (read_back_backoff == std::chrono::milliseconds(100))
          spdlog::error("cannot read back durable records from offset {} to deliver them: {}; retrying", from.value,
                        why);
        else
          spdlog::debug("still cannot read back durable records from offset {}: {}; retrying in {} ms", from.value,
                        why, read_back_backoff.count());
        break;
      }
      from = r.value();
    }
    if (from == d && read_back_backoff.count() != 0) {
      spdlog::info("durable records read back again; delivered up to offset {}", d.value);
      read_back_backoff = std::chrono::milliseconds(0);
    }
    // The mirror's bytes go first: a plain write to each reader's socket, before the
    // batches and ACKs.
    if (mirror) mirror->flush();
    flush_batches();
    clients_sock->flush();
  }

  // Stored records may sit at any byte position (the log packs them); FlatBuffers reads
  // scalars in place and needs them aligned. A misaligned envelope is copied once into
  // an aligned scratch buffer before anything reads it.
  std::vector<std::uint64_t> align_buf;
  store::record_view aligned(const store::record_view& v) {
    if (reinterpret_cast<std::uintptr_t>(v.envelope.data()) % alignof(std::uint64_t) == 0) return v;
    align_buf.resize((v.envelope.size() + 7) / 8);
    std::memcpy(align_buf.data(), v.envelope.data(), v.envelope.size());
    store::record_view c = v;
    c.envelope = {reinterpret_cast<const std::uint8_t*>(align_buf.data()), v.envelope.size()};
    return c;
  }

  // A durable record: mirror it and deliver it to the live subscriptions whose pattern
  // it matches.
  void on_new_record(const store::record_view& stored) {
    const store::record_view v = aligned(stored);
    bool mirror_ok = !opts.acl || schema::GetEnvelope(v.envelope.data())->classification() ==
                                      schema::Classification::public_;
    if (mirror && mirror_ok) {
      counters.mirror_dropped += mirror->publish(v.topic, v.envelope.data(), v.envelope.size());
      counters.mirror_sent++;
    }
    match_buf.clear();
    trie.match(v.topic, match_buf);
    for (auto h : match_buf) {
      auto it = subs.find(h);
      if (it == subs.end()) continue;
      auto& s = it->second;
      if (!s.live) continue;
      if (!may_deliver(s, v)) continue;
      if (s.credit == 0) {
        s.live = false;
        s.cursor = v.off;
        counters.credit_stalls++;
        continue;
      }
      send_evt(s, v);  // if the pipe is full, s is no longer live and its cursor is set
    }
    if (hooks.on_durable) {
      try {
        hooks.on_durable(v, internal_out);
      } catch (const std::exception& e) {
        spdlog::error("module failed on event {} at offset {}: {}", schema::id_to_hex(v.id), v.off.value, e.what());
      }
    }
  }

  // Sends one event to a subscription (or adds it to its batch) and takes a credit.
  // False if the client's pipe is full: the subscription is then no longer live and its
  // cursor is the first event it did not get.
  bool send_evt(subscription& s, const store::record_view& v) {
    if (s.batch_max > 0) return batch_evt(s, v);
    std::string identity = s.identity;  // s may be removed if the client is gone
    const std::string_view env(reinterpret_cast<const char*>(v.envelope.data()), v.envelope.size());
    const std::string_view sig(reinterpret_cast<const char*>(v.signature.data()), v.signature.size());
    // A stored signature goes with the event as a fifth frame (docs/protocol.md).
    bool ok = v.signature.empty()
                  ? send_to(identity, wire::rep_evt, wire::u64_frame(s.sub_id), wire::u64_frame(v.off.value),
                            std::string_view(v.topic), env)
                  : send_to(identity, wire::rep_evt, wire::u64_frame(s.sub_id), wire::u64_frame(v.off.value),
                            std::string_view(v.topic), env, sig);
    if (!ok) {
      s.live = false;
      s.cursor = v.off;
      counters.pipe_stalls++;
      return false;
    }
    s.credit--;
    counters.events_out++;
    if (hooks.on_delivered) hooks.on_delivered(v);
    counters.bytes_out += v.envelope.size();
    return true;
  }

  // One EVTS frame carries at most this many bytes of events (one larger event goes alone).
  static constexpr std::size_t max_evts_bytes = 1u << 20;
  std::vector<std::uint64_t> batching;  // handles of subscriptions with events in their batch

  bool batch_evt(subscription& s, const store::record_view& v) {
    const std::size_t rec = wire::evts_record_bytes(v.topic.size(), v.envelope.size(), v.signature.size());
    if (s.batch_n > 0 && s.batch.size() + rec > max_evts_bytes && !flush_batch(s)) return false;
    if (s.batch_n == 0) {
      s.batch_first = v.off;
      if (!s.batch_queued) {
        batching.push_back(s.handle);
        s.batch_queued = true;
      }
    }
    wire::evts_append(s.batch, v.off.value, v.topic, v.envelope, v.signature);
    s.batch_n++;
    s.batch_bytes += v.envelope.size();
    s.credit--;
    return s.batch_n < s.batch_max || flush_batch(s);
  }

  // Sends a subscription's batch as one EVTS. If the pipe is full, none of it counts as
  // sent: the credits come back and the subscription reads again from the batch's first
  // event (it is in the store) once the pipe drains.
  bool flush_batch(subscription& s) {
    if (s.batch_n == 0) return true;
    const std::string identity = s.identity;
    const bool ok = send_to(identity, wire::rep_evts, wire::u64_frame(s.sub_id), std::string_view(s.batch));
    if (ok) {
      counters.events_out += s.batch_n;
      counters.bytes_out += s.batch_bytes;
      if (hooks.on_delivered) {
        const std::span<const std::uint8_t> events(reinterpret_cast<const std::uint8_t*>(s.batch.data()), s.batch.size());
        wire::evts_for_each(events, [&](const wire::evts_record& r) {
          store::record_view rv;
          rv.off = offset{r.offset};
          rv.topic = r.topic;
          rv.envelope = r.envelope;
          rv.signature = r.signature;
          hooks.on_delivered(rv);
        });
      }
    } else {
      counters.pipe_stalls++;
      s.credit += s.batch_n;
      s.live = false;
      s.cursor = s.batch_first;
    }
    s.batch.clear();
    s.batch_n = 0;
    s.batch_bytes = 0;
    return ok;
  }

  // Ends a delivery phase: every batch gathered in it goes out.
  void flush_batches() {
    for (auto h : batching) {
      auto it = subs.find(h);
      if (it == subs.end()) continue;
      it->second.batch_queued = false;
      flush_batch(it->second);
    }
    batching.clear();
  }

  // Subscriptions behind the live edge read from the store while they have credit, each
  // at most delivery_burst records per turn. Those whose cursors lie within a burst of
  // each other (subscribers of one stream that fell behind together) share one pass
  // over the store: a record is read and checked once and sent to each of them.
  struct lagging_reader {
    subscription* s;
    offset stop;           // examines records below this offset this turn
    bool done = false;  // its pipe is full, it is out of credit, or its burst is used up
  };
  std::vector<lagging_reader> lagging;

  void serve_lagging() {
    lagging.clear();
    for (auto& [h, s] : subs) {
      if (s.live) continue;
      if (s.cursor < st->begin()) s.cursor = st->begin();  // retention overtook it
      if (s.cursor >= last_durable) {
        if (s.cursor == last_durable) s.live = true;
        continue;
      }
      if (s.credit == 0) continue;
      lagging.push_back({&s, offset{std::min(last_durable.value, s.cursor.value + opts.delivery_burst)}});
    }
    std::sort(lagging.begin(), lagging.end(),
              [](const lagging_reader& a, const lagging_reader& b) { return a.s->cursor < b.s->cursor; });
    for (std::size_t i = 0; i < lagging.size();) {
      std::size_t j = i + 1;
      while (j < lagging.size() && lagging[j].s->cursor < lagging[i].stop) ++j;
      serve_group(std::span<lagging_reader>(lagging.data() + i, j - i));
      i = j;
    }
    flush_batches();
  }

  // One pass over the store for readers sorted by cursor, the first one's burst
  // covering every other's cursor.
  void serve_group(std::span<lagging_reader> group) {
    const offset from = group.front().s->cursor;
    offset upto = from;
    for (auto& g : group) upto = std::max(upto, g.stop);
    std::size_t active = group.size();
    auto r = st->read(from, upto, upto.value - from.value, [&](const store::record_view& stored) {
      std::optional<store::record_view> v;  // aligned on first use
      for (auto& g : group) {
        subscription& s = *g.s;
        if (g.done || stored.off < s.cursor) continue;
        if (stored.off >= g.stop) {
          g.done = true;
          --active;
          continue;
        }
        if (topic::matches(s.pattern, stored.topic)) {
          if (!v) v = aligned(stored);
          if (may_deliver(s, *v) && !send_evt(s, *v)) {
            g.done = true;
            --active;
            continue;
          }
        }
        s.cursor = stored.off.next();
        if (s.credit == 0) {
          g.done = true;
          --active;
        }
      }
      return active > 0;
    });
    for (auto& g : group) {
      subscription& s = *g.s;
      // Corrupt records the store skipped count as passed for a reader that went on.
      if (r && !g.done && s.credit > 0 && r.value() > s.cursor) s.cursor = std::min(r.value(), g.stop);
      if (s.cursor == last_durable) s.live = true;
    }
  }

  void publish_internal() {
    if (internal_out.empty()) return;
    auto out = std::move(internal_out);
    internal_out.clear();
    for (auto& bytes_ : out) accept_pub({}, 0, zmq::message_t(), std::move(bytes_));
  }

  void housekeeping(millis now) {
    if (now >= next_housekeeping) {
      next_housekeeping = now + 1000;
      clients_sock->expire(std::chrono::steady_clock::now());
      if (mirror) mirror->expire(std::chrono::steady_clock::now());
      std::vector<std::string> silent;
      for (auto& [id, c] : clients)
        if (now - c.last_seen > opts.client_timeout_ms) silent.push_back(id);
      for (auto& id : silent) {
        if (clients.at(id).unreachable)
          clients.erase(id);  // dropped and counted when it was found unreachable
        else
          drop_client(id, "silent for longer than client_timeout_ms");
      }
      if (hooks.on_tick) {
        try {
          hooks.on_tick(now, internal_out);
        } catch (const std::exception& e) {
          spdlog::error("module failed on tick: {}", e.what());
        }
      }
    }
    if (now >= next_retention) {
      next_retention = now + opts.retention_interval_ms;
      st->enforce_retention(now);
    }
    if (hooks.on_status && now >= next_status) {
      next_status = now + 500;
      hooks.on_status(status_json());
    }
  }

  std::string status_json() {
    using nlohmann::json;
    auto ss = st->stats();
    json j;
    j["hub_id"] = hub_id;
    j["hub_name"] = opts.hub_name;
    j["version"] = "0.1.0";
    j["uptime_s"] = (now_millis() - started_at) / 1000;
    j["store"] = {{"kind", opts.store_kind},          {"begin", st->begin().value},   {"end", st->end().value},
                  {"durable_end", st->durable_end().value}, {"records", ss.records},
                  {"bytes", ss.bytes},             {"segments", ss.segments},
                  {"writable", ss.writable},       {"last_error", ss.last_error},
                  {"corrupt_skipped", ss.corrupt_skipped}};
    if (!ss.chain_head.empty()) j["store"]["chain_head"] = ss.chain_head;
    json naks = json::object(), errs = json::object();
    for (std::size_t i = 0; i < 32; ++i) {
      if (counters.naks[i]) naks[std::string(schema::reason_name(static_cast<Reason>(i)))] = counters.naks[i];
      if (counters.errs[i]) errs[std::string(schema::reason_name(static_cast<Reason>(i)))] = counters.errs[i];
    }
    j["counters"] = {{"events_in", counters.events_in},     {"events_out", counters.events_out},
                     {"duplicates", counters.duplicates},   {"bytes_in", counters.bytes_in},
                     {"bytes_out", counters.bytes_out},     {"mirror_sent", counters.mirror_sent},
                     {"mirror_dropped", counters.mirror_dropped}, {"credit_stalls", counters.credit_stalls},
                     {"pipe_stalls", counters.pipe_stalls},
                     {"clients_dropped", counters.clients_dropped}, {"auth_denied", counters.auth_denied},
                     {"acl_denied", counters.acl_denied}, {"disconnects", counters.disconnects},
                     {"busy_polled_turns", counters.busy_polled_turns},
                     {"naks", naks}, {"errs", errs}};
    j["security"] = opts.acl ? "curve" : "off";
    j["idle_poll_us"] = opts.idle_poll.count();
    j["mirror_readers"] = mirror ? mirror->readers() : 0;  // SUB sockets past the handshake
    millis now = now_millis();
    json cl = json::array();
    std::unordered_map<std::string_view, std::size_t> in_flight_of;  // one pass over the pending ACKs
    for (const auto& a : acks) ++in_flight_of[a.identity];
    for (auto& [id, c] : clients) {
      if (c.unreachable) continue;  // dropped; only what it queued before it went is left
      auto f = in_flight_of.find(id);
      const std::size_t in_flight = f == in_flight_of.end() ? 0 : f->second;
      // Its role from what it has done: sent PUBs, holds subscriptions.
      const char* role = c.published ? (c.subs.empty() ? "publisher" : "both") : (c.subs.empty() ? "idle" : "subscriber");
      cl.push_back({{"identity", c.user.empty() ? peer_name(id) : c.user}, {"name", c.name}, {"role", role},
                    {"last_seen_ms_ago", now - c.last_seen},
                    {"in_flight", in_flight}, {"subscriptions", c.subs.size()}});
    }
    j["clients"] = cl;
    json sl = json::array();
    for (auto& [h, s] : subs) {
      offset next = s.live ? last_durable : s.cursor;
      sl.push_back({{"client", client_label(s.identity)}, {"sub_id", s.sub_id}, {"pattern", s.pattern},
                    {"next", next.value}, {"credit", s.credit},
                    {"lag", last_durable.value > next.value ? last_durable.value - next.value : 0},
                    {"live", s.live}, {"durable", s.durable}, {"batch", s.batch_max}});
    }
    j["subscriptions"] = sl;
    json cons = json::array();
    const offset end = known_end();
    for (auto& [name, off] : st->consumers())
      cons.push_back({{"name", name}, {"committed", off.value},
                      {"lag", end.value > off.value ? end.value - off.value : 0}});
    j["consumers"] = cons;
    if (hooks.extra_status) {
      try {
        auto extra = json::parse(hooks.extra_status());
        for (auto& [k, v] : extra.items()) j[k] = v;
      } catch (const std::exception& e) {
        spdlog::error("status section failed: {}", e.what());
      }
    }
    return j.dump();
  }

  // ---------------------------------------------------------------- loop

  void run() {
    spdlog::info("hub {} ({}) serving clients on {}{}", opts.hub_name, hub_id, bound_endpoint,
                 bound_mirror.empty() ? "" : ", mirror on " + bound_mirror);
    std::vector<zmq::pollitem_t> items = {
        {sync_sock.handle(), 0, ZMQ_POLLIN, 0},
        {nullptr, stop_pipe[0], ZMQ_POLLIN, 0},
    };
    // Then the clients' listener and connections, then the mirror's, as they are now.
    clients_index = items.size();
    auto last_work = std::chrono::steady_clock::time_point::min();
    while (!stopping.load()) {
      items.resize(clients_index);
      clients_sock->add_poll_items(items);
      mirror_index = items.size();
      if (mirror) mirror->add_poll_items(items);
      long timeout = 100;
      bool pending_work = !internal_out.empty() || clients_sock->pending() || has_deliverable_lagging();
      if (pending_work) timeout = 0;
      try {
        bool ready = !pending_work && idle_poll(items, last_work);
        if (ready || zmq::poll(items.data(), items.size(), std::chrono::milliseconds(timeout)) > 0)
          last_work = std::chrono::steady_clock::now();
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;
        spdlog::error("poll failed: {}", e.what());
        continue;
      }
      if (items[1].revents & ZMQ_POLLIN) {
        char c[16];
        bool reload = false;
        ssize_t got;
        while ((got = ::read(stop_pipe[0], c, sizeof c)) > 0)
          for (ssize_t i = 0; i < got; ++i)
            if (c[i] == 2) reload = true;
        if (stopping.load()) break;
        if (reload && hooks.on_reload) {
          try {
            hooks.on_reload();
          } catch (const std::exception& e) {
            spdlog::error("reload failed: {}", e.what());
          }
        }
      }
      turn(items);
    }
    shutdown();
  }

  // Polls without sleeping until a socket is ready or opts.idle_poll has passed since
  // the last wake-up that had work. True when something is ready (items' revents are set).
  bool idle_poll(std::vector<zmq::pollitem_t>& items, std::chrono::steady_clock::time_point last_work) {
    if (opts.idle_poll.count() <= 0) return false;
    const auto until = last_work + opts.idle_poll;
    while (std::chrono::steady_clock::now() < until) {
      if (zmq::poll(items.data(), items.size(), std::chrono::milliseconds(0)) > 0) {
        counters.busy_polled_turns++;
        return true;
      }
      // Any other thread ready on this core (the sync thread, a client's) runs first.
      ::sched_yield();
    }
    return false;
  }

  bool has_deliverable_lagging() const {
    for (const auto& [h, s] : subs)
      if (!s.live && s.credit > 0 && s.cursor < last_durable) return true;
    return false;
  }

  void turn(std::vector<zmq::pollitem_t>& items) {
    millis now = now_millis();
    turn_started = std::chrono::steady_clock::now();
    try {
      if (items[0].revents & ZMQ_POLLIN) handle_sync_reply();
      clients_sock->handle(items.data() + clients_index, mirror_index - clients_index);
      if (mirror) mirror->handle(items.data() + mirror_index, items.size() - mirror_index);
      publish_internal();
      for (std::size_t i = 0; i < opts.max_batch; ++i) {
        if (!clients_sock->next(frames)) break;
        try {
          handle_message(frames);
        } catch (const std::exception& e) {
          spdlog::error("internal error handling a message: {}", e.what());
          if (!frames.empty()) err(std::string(view(frames[0])), Reason::internal_error, "internal error; logged");
        }
      }
      verify_deferred();
      append_batch();
      request_sync(now);
      advance_durable();
      serve_lagging();
      flush_outboxes();
      housekeeping(now);
      clients_sock->flush();
      for (auto& id : gone) mark_unreachable(id);
      gone.clear();
      for (auto& id : unread) {
        auto it = clients.find(id);
        if (it == clients.end() || it->second.unreachable) continue;  // dropped above, counted once
        drop_client(id, fmt::format("it does not read its replies ({} waiting beyond its connection's queue of {})",
                                    opts.max_outbox, opts.client_hwm));
      }
      unread.clear();
    } catch (const std::exception& e) {
      spdlog::error("internal error in the event loop: {}", e.what());
    }
  }

  void shutdown() {
    spdlog::info("shutting down: finishing the last batch");
    verify_deferred();
    append_batch();
    // Let an in-flight or final sync finish so that everything acked is durable.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      handle_sync_reply();
      if (!sync_in_flight) {
        if (st->durable_end() >= st->end()) break;
        request_sync(now_millis());
        if (!sync_in_flight) break;
      }
      zmq::pollitem_t it{sync_sock.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&it, 1, std::chrono::milliseconds(50));
    }
    advance_durable();
    if (mirror) mirror->flush();
    flush_outboxes();
    clients_sock->flush();
    spdlog::info("stopped: {} events in, {} out, log end {}", counters.events_in, counters.events_out,
                 st->end().value);
  }
};

broker::broker(broker_options opts, std::unique_ptr<store::store> store, broker_hooks hooks)
    : impl_(std::make_unique<impl>(std::move(opts), std::move(store), std::move(hooks))) {}
broker::~broker() = default;
status broker::bind() { return impl_->bind(); }
const std::string& broker::endpoint() const { return impl_->bound_endpoint; }
const std::string& broker::mirror_endpoint() const { return impl_->bound_mirror; }
const std::string& broker::hub_id() const { return impl_->hub_id; }
void broker::run() { impl_->run(); }
void broker::stop() {
  impl_->stopping.store(true);
  char c = 1;
  [[maybe_unused]] auto r = ::write(impl_->stop_pipe[1], &c, 1);
}
void broker::request_reload() {
  char c = 2;
  [[maybe_unused]] auto r = ::write(impl_->stop_pipe[1], &c, 1);
}
void broker::set_acl(std::shared_ptr<const security::acl> acl) { impl_->set_acl(std::move(acl)); }
const broker_counters& broker::counters() const { return impl_->counters; }
store::store& broker::store() { return *impl_->st; }

}  // namespace hub::broker

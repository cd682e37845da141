#include "hub/jetstream/jetstream_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "hub/jetstream/nats_util.h"
#include "schemas/schema.h"

namespace hub::jetstream {
namespace {

using namespace detail;
using hub::store::append_record;
using hub::store::record_view;
using hub::store::record_visitor;
using clock = std::chrono::steady_clock;

constexpr const char* log_time_header = "Hub-Log-Time";
// The publisher's Ed25519 signature the hub verified, in hex (absent if unsigned).
constexpr const char* signature_header = "Hub-Signature";

// A durable consumer's next offset and the bucket revision that set it.
struct known_consumer {
  std::uint64_t next = 0;
  std::uint64_t revision = 0;
};

struct cached_record {
  millis log_time = 0;
  schema::Id128 id;
  std::string topic;
  std::vector<std::uint8_t> envelope;
  std::vector<std::uint8_t> signature;
};

// What a visitor sees of a record held at `off`.
record_view view_of(std::uint64_t off, const cached_record& r) {
  return record_view{offset{off}, r.log_time, r.id, r.topic, r.envelope, r.signature};
}

std::string to_hex(std::span<const std::uint8_t> b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * b.size());
  for (std::uint8_t c : b) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// Empty if the text is not an even number of hex digits.
std::vector<std::uint8_t> from_hex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<std::uint8_t> out;
  if (hex.size() % 2 != 0) return out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int a = nibble(hex[i]), b = nibble(hex[i + 1]);
    if (a < 0 || b < 0) return {};
    out.push_back(static_cast<std::uint8_t>(a * 16 + b));
  }
  return out;
}

// Key-value keys allow [-/_=.a-zA-Z0-9]; other bytes of a consumer name are written
// as "=XX" so that every name maps to one key and back.
std::string consumer_key(std::string_view name) {
  std::string k = "c.";
  for (unsigned char c : name) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_') {
      k += static_cast<char>(c);
    } else {
      k += fmt::format("={:02x}", c);
    }
  }
  return k;
}

std::optional<std::string> consumer_name(std::string_view key) {
  if (key.substr(0, 2) != "c.") return std::nullopt;
  std::string n;
  for (std::size_t i = 2; i < key.size(); ++i) {
    if (key[i] == '=' && i + 2 < key.size()) {
      unsigned v = 0;
      auto r = std::from_chars(key.data() + i + 1, key.data() + i + 3, v, 16);
      if (r.ec != std::errc()) return std::nullopt;
      n += static_cast<char>(v);
      i += 2;
    } else {
      n += key[i];
    }
  }
  return n;
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  std::uint64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

class jetstream_store final : public store::store {
 public:
  explicit jetstream_store(store_options o) : opts_(std::move(o)) {
    prefix_ = opts_.subject_prefix + ".";
  }

  ~jetstream_store() override {
    stop_upkeep();
    tail_.reset();
    reader_.reset();
    if (js_) {
      jsPubOptions po;
      jsPubOptions_Init(&po);
      po.MaxWait = 2000;
      js_PublishAsyncComplete(js_.get(), &po);
    }
    // Close the connection first: no callback runs after that, so the messages kept
    // for resending can be freed.
    kv_.reset();
    nc_.reset();
    js_.reset();
    for (natsMsg* m : failed_) natsMsg_Destroy(m);
  }

  status open() {
    auto c = connect(opts_.servers, opts_.name, opts_.open_timeout);
    if (!c) return c.error();
    nc_ = std::move(c.value());
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = std::max<std::int64_t>(opts_.publish_timeout.count(), 1000);
    jo.PublishAsync.MaxPending = static_cast<std::int64_t>(opts_.max_pending);
    jo.PublishAsync.AckHandler = &jetstream_store::on_ack;
    jo.PublishAsync.AckHandlerClosure = this;
    jo.PublishAsync.StallWait = 50;
    jsCtx* js = nullptr;
    natsStatus s = natsConnection_JetStream(&js, nc_.get(), &jo);
    if (s != NATS_OK) return status::unavailable(nats_error("cannot open a JetStream context", s));
    js_.reset(js);

    if (status st = ensure_stream(); !st) return st;
    auto kv = open_bucket(js_.get(), opts_.consumers_bucket, opts_.replicas, 0, opts_.open_timeout);
    if (!kv) return kv.error();
    kv_ = std::move(kv.value());
    if (status st = refresh_state(); !st) return st;
    end_ = stream_end_;
    if (status st = start_tail(); !st) return st;
    if (status st = start_watch(clock::now() + opts_.open_timeout); !st) return st;
    upkeep_ = std::thread([this] { upkeep_loop(); });
    spdlog::info("JetStream store: stream {} ({} replicas) on {}, offsets [{}, {})", opts_.stream, opts_.replicas,
                 server_list(), begin_.load(), end_);
    return status::ok();
  }

  // ------------------------------------------------------------------ writing

  status append(std::span<const append_record> batch) override {
    if (batch.empty()) return status::ok();
    if (!connected(nc_.get()))
      return status::unavailable(fmt::format(
          "JetStream cluster unreachable ({} is down); nothing stored, the client library reconnects by itself",
          server_list()));
    {
      std::lock_guard lk(mu_);
      if (!failed_.empty())
        return status::unavailable(fmt::format(
            "JetStream has not acknowledged {} event(s): {}; they are being resent, new events are refused until "
            "that succeeds",
            failed_.size(), last_error_));
      if (tokens_.size() + batch.size() > opts_.max_pending)
        return status::unavailable(fmt::format("{} events wait for JetStream's acknowledgement (limit {}); retry soon",
                                               tokens_.size(), opts_.max_pending));
    }
    // Build every message first so that a failure here leaves nothing half-published.
    std::vector<msg_ptr> msgs;
    msgs.reserve(batch.size());
    for (const auto& r : batch) {
      std::string subject = prefix_ + std::string(r.topic);
      natsMsg* m = nullptr;
      natsStatus s = natsMsg_Create(&m, subject.c_str(), nullptr, reinterpret_cast<const char*>(r.envelope.data()),
                                    static_cast<int>(r.envelope.size()));
      if (s != NATS_OK) return status::invalid_argument(nats_error("cannot build a message on " + subject, s));
      msgs.emplace_back(m);
      std::string hex = schema::id_to_hex(r.id);
      std::string lt = std::to_string(r.log_time);
      if (natsMsgHeader_Set(m, "Nats-Msg-Id", hex.c_str()) != NATS_OK ||
          natsMsgHeader_Set(m, log_time_header, lt.c_str()) != NATS_OK ||
          (!r.signature.empty() && natsMsgHeader_Set(m, signature_header, to_hex(r.signature).c_str()) != NATS_OK))
        return status::invalid_argument("cannot set the headers of event " + hex);
    }
    // Register the tokens before publishing: an ack may arrive before the loop below ends.
    std::uint64_t base = end_;
    {
      std::lock_guard lk(mu_);
      for (std::size_t i = 0; i < batch.size(); ++i) {
        std::uint64_t token = base + i;
        tokens_.insert(token);
        issued_ = std::max(issued_, token + 1);
        pending_.emplace(schema::id_to_hex(batch[i].id), token);
      }
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = opts_.publish_timeout.count();
    for (std::size_t i = 0; i < msgs.size(); ++i) {
      natsMsg* owned = msgs[i].release();
      natsStatus s = js_PublishMsgAsync(js_.get(), &owned, &po);
      if (s != NATS_OK) {
        // Kept for sync() to resend, so that the batch is complete in the end (its
        // tokens are registered). A message the library took (owned == nullptr)
        // comes back through on_ack instead.
        std::lock_guard lk(mu_);
        if (owned != nullptr) failed_.push_back(owned);
        last_error_ = nats_error("publish", s);
      }
    }
    end_ = base + batch.size();
    return status::ok();
  }

  // Returns as soon as JetStream acknowledged something (or a publish failed), so that
  // the hub ACKs each event when its acknowledgement arrives rather than when the
  // whole pipeline has drained; under load the pipeline never drains.
  status sync() override {
    std::vector<natsMsg*> resend;
    std::uint64_t acks_before = 0;
    {
      std::lock_guard lk(mu_);
      resend.swap(failed_);
      acks_before = acks_seen_;
    }
    if (!resend.empty()) {
      if (!connected(nc_.get())) {
        std::lock_guard lk(mu_);
        failed_.insert(failed_.end(), resend.begin(), resend.end());
        return status::unavailable(fmt::format("JetStream cluster unreachable; {} event(s) wait to be resent: {}",
                                               failed_.size(), last_error_));
      }
      // The hub retries sync() every 100 ms while this lasts: say it once per 5 s.
      auto now = clock::now();
      if (now - last_resend_log_ > std::chrono::seconds(5)) {
        last_resend_log_ = now;
        std::string why;
        {
          std::lock_guard lk(mu_);
          why = last_error_;
        }
        spdlog::warn("resending {} event(s) JetStream did not acknowledge ({})", resend.size(), why);
      }
      jsPubOptions rp;
      jsPubOptions_Init(&rp);
      rp.MaxWait = opts_.publish_timeout.count();
      for (natsMsg*& m : resend) {
        if (js_PublishMsgAsync(js_.get(), &m, &rp) != NATS_OK && m != nullptr) {
          std::lock_guard lk(mu_);
          failed_.push_back(m);
        }
      }
    }
    std::unique_lock lk(mu_);
    const bool progressed = acked_.wait_for(lk, opts_.publish_timeout + std::chrono::seconds(1), [&] {
      return tokens_.empty() || acks_seen_ != acks_before || !failed_.empty();
    });
    if (!failed_.empty())
      return status::unavailable(
          fmt::format("JetStream did not acknowledge {} event(s): {}", failed_.size(), last_error_));
    if (!progressed)
      return status::unavailable(fmt::format("no acknowledgement from JetStream within {} ms; {} event(s) wait",
                                             (opts_.publish_timeout + std::chrono::seconds(1)).count(),
                                             tokens_.size()));
    return status::ok();
  }

  bool needs_sync() const override { return true; }
  bool sole_writer() const override { return false; }  // other hubs append to the stream too

  offset durable_end() const override {
    std::lock_guard lk(mu_);
    std::uint64_t d = stream_end_;
    if (!tokens_.empty()) d = std::min(d, *tokens_.begin());
    return offset{d};
  }

  // Several hubs append to one stream, so the broker's numbers are tickets: a ticket
  // is durable once JetStream acknowledged its event, whose stream sequence the ack
  // carries (the first copy's, when the stream dropped it as a duplicate).
  bool is_durable(offset ticket) const override {
    std::lock_guard lk(mu_);
    // Below issued_: a ticket of this hub; below stream_end_: an offset read from the
    // stream (the dedup window rebuilt at start refers to those).
    return ticket.value < std::max(issued_, stream_end_) && tokens_.count(ticket.value) == 0;
  }

  offset stored_offset(offset ticket) const override {
    std::lock_guard lk(mu_);
    auto it = stored_.find(ticket.value);
    return it != stored_.end() ? offset{it->second} : ticket;
  }

  offset begin() const override { return offset{begin_.load()}; }
  offset end() const override { return offset{end_}; }

  // ------------------------------------------------------------------ reading

  result<offset> read(offset from, offset limit, std::size_t max_records, const record_visitor& visit) override {
    std::uint64_t o = std::max(from.value, begin_.load());
    std::uint64_t stop = limit.value;
    std::size_t n = 0;
    while (o < stop && n < max_records) {
      // Recent records come from memory (filled by acks and the live tail).
      std::optional<cached_record> hit;
      {
        std::lock_guard lk(mu_);
        auto it = cache_.find(o);
        if (it != cache_.end()) hit = it->second;
      }
      if (hit) {
        ++o;
        ++n;
        if (!visit(view_of(o - 1, *hit))) return offset{o};
        continue;
      }
      if (opts_.read_from_leader) {
        auto rec = get_from_leader(o);
        if (!rec) {
          if (o > std::max(from.value, begin_.load())) return offset{o};  // what was read stands
          return rec.error();
        }
        ++o;
        if (!rec.value()) continue;  // not in the stream (removed)
        ++n;
        if (!visit(view_of(o - 1, *rec.value()))) return offset{o};
        continue;
      }
      // Older ones from the stream through an ordered consumer, in batches.
      auto r = read_from_stream(o, stop, max_records - n, visit, n);
      if (!r) {
        if (o > std::max(from.value, begin_.load())) return offset{o};  // what was read stands
        return r.error();
      }
      if (r.value() == o) break;  // nothing more there
      bool stopped = reader_stopped_;
      o = r.value();
      if (stopped) break;
    }
    return offset{o};
  }

  offset offset_at_time(millis t) override {
    // Binary search on the hub's log time over committed records.
    std::uint64_t lo = begin_.load();
    std::uint64_t hi = durable_end().value;
    while (lo < hi) {
      std::uint64_t mid = lo + (hi - lo) / 2;
      auto lt = log_time_at(mid);
      if (!lt) {
        spdlog::warn("offset_at_time: {}; starting at {}", lt.error().message(), lo);
        return offset{lo};
      }
      if (lt.value() < t)
        lo = mid + 1;
      else
        hi = mid;
    }
    return offset{lo};
  }

  // ------------------------------------------------------------------ consumers

  status commit_consumer(std::string_view name, offset next) override {
    std::string key = consumer_key(name);
    std::string v = std::to_string(next.value);
    std::uint64_t rev = 0;
    natsStatus s = kvStore_PutString(&rev, kv_.get(), key.c_str(), v.c_str());
    if (s != NATS_OK)
      return status::unavailable(nats_error(fmt::format("cannot store the offset of consumer {}", name), s));
    // Seen in this hub's listing at once; the watch brings the same revision later.
    std::lock_guard lk(mu_);
    auto& known = consumers_[std::string(name)];
    if (rev >= known.revision) known = {next.value, rev};
    return status::ok();
  }

  // Read from the stream's leader, not with kvStore_Get: a key-value bucket allows direct
  // gets, which any replica answers, so a hub could read an offset another hub committed
  // a moment ago as it was before (or a removed consumer as still there).
  std::optional<offset> consumer_offset(std::string_view name) const override {
    const std::string stream = "KV_" + opts_.consumers_bucket;
    const std::string subject = "$KV." + opts_.consumers_bucket + "." + consumer_key(name);
    natsMsg* m = nullptr;
    jsErrCode code{};
    natsStatus s = js_GetLastMsg(&m, js_.get(), stream.c_str(), subject.c_str(), nullptr, &code);
    if (s != NATS_OK) {
      if (s != NATS_NOT_FOUND && code != JSNoMessageFoundErr)
        spdlog::warn("{}", nats_error(fmt::format("cannot read the offset of consumer {}", name), s, code));
      return std::nullopt;
    }
    const char* op = nullptr;
    const bool removed = natsMsgHeader_Get(m, "KV-Operation", &op) == NATS_OK && op != nullptr &&
                         (std::string_view(op) == "DEL" || std::string_view(op) == "PURGE");
    const char* data = natsMsg_GetData(m);
    const int len = natsMsg_GetDataLength(m);
    std::string value = data != nullptr && len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string();
    natsMsg_Destroy(m);
    if (removed) return std::nullopt;
    auto v = parse_u64(value);
    if (!v) {
      spdlog::warn("consumer {}: stored offset '{}' is not a number; ignored", name, value);
      return std::nullopt;
    }
    return offset{*v};
  }

  status remove_consumer(std::string_view name) override {
    if (!consumer_offset(name)) return status::not_found(fmt::format("no durable consumer named '{}'", name));
    std::string key = consumer_key(name);
    natsStatus s = kvStore_Delete(kv_.get(), key.c_str());
    if (s != NATS_OK) return status::unavailable(nats_error(fmt::format("cannot remove consumer {}", name), s));
    std::lock_guard lk(mu_);
    consumers_.erase(std::string(name));
    return status::ok();
  }

  // The listing comes from the bucket's watch, kept by the upkeep thread: the loop
  // thread asks for it twice a second (status, metrics) and must not wait on the
  // cluster, least of all while a node is down. Another hub's commit shows here as
  // soon as the watch delivers it (milliseconds when the cluster is healthy).
  std::size_t consumer_count() const override {
    std::lock_guard lk(mu_);
    return consumers_.size();
  }

  std::vector<std::pair<std::string, offset>> consumers() const override {
    std::vector<std::pair<std::string, offset>> out;
    std::lock_guard lk(mu_);
    out.reserve(consumers_.size());
    for (const auto& [name, c] : consumers_) out.emplace_back(name, offset{c.next});
    return out;  // sorted by name: consumers_ is a std::map
  }

  // ------------------------------------------------------------------ upkeep

  void enforce_retention(millis) override {
    // JetStream applies max_age and max_bytes itself; where the stream now begins and
    // how far it reaches (other hubs append too) the upkeep thread reads each second.
    std::lock_guard lk(mu_);
    // The next batch is numbered from the stream's end as this hub knows it. (Safe
    // here: the broker numbers and appends a batch within one turn, before upkeep.)
    end_ = tokens_.empty() ? stream_end_ : std::max(end_, stream_end_);
  }

  hub::store::store_stats stats() const override {
    hub::store::store_stats s;
    std::lock_guard lk(mu_);
    s.records = records_;
    s.bytes = bytes_;
    s.writable = connected(nc_.get()) && failed_.empty();
    s.last_error = failed_.empty() ? (connected(nc_.get()) ? "" : "JetStream cluster unreachable") : last_error_;
    return s;
  }

 private:
  std::string server_list() const {
    std::string list;
    for (const auto& u : opts_.servers) list += (list.empty() ? "" : ",") + u;
    return list;
  }

  status ensure_stream() {
    std::string subjects = prefix_ + ">";
    const char* subj[] = {subjects.c_str()};
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = opts_.stream.c_str();
    cfg.Subjects = subj;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Retention = js_LimitsPolicy;
    cfg.Discard = js_DiscardOld;
    cfg.Replicas = opts_.replicas;
    cfg.MaxAge = std::chrono::duration_cast<std::chrono::nanoseconds>(opts_.max_age).count();
    cfg.MaxBytes = opts_.max_bytes > 0 ? opts_.max_bytes : -1;
    cfg.Duplicates = std::chrono::duration_cast<std::chrono::nanoseconds>(opts_.duplicate_window).count();
    cfg.AllowDirect = true;
    auto until = clock::now() + opts_.open_timeout;
    std::string last;
    do {
      jsErrCode code{};
      natsStatus s = js_AddStream(nullptr, js_.get(), &cfg, nullptr, &code);
      if (s == NATS_OK) return status::ok();
      if (code == JSStreamNameExistErr) {
        s = js_UpdateStream(nullptr, js_.get(), &cfg, nullptr, &code);
        if (s == NATS_OK) return status::ok();
        // An existing stream with settings that cannot change (e.g. replicas on 2.9).
        return status::config_error(nats_error(
            fmt::format("stream {} exists with settings that cannot take these (replicas {}, subjects {})",
                        opts_.stream, opts_.replicas, subjects),
            s, code));
      }
      last = nats_error(fmt::format("cannot create stream {}", opts_.stream), s, code);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    } while (clock::now() < until);
    return status::unavailable(last + "; does the cluster have a JetStream leader and " +
                               std::to_string(opts_.replicas) + " servers?");
  }

  // Reads the stream's first and last sequence and its size. `wait_ms` bounds the
  // request (0: the context's publish timeout).
  status refresh_state(std::int64_t wait_ms = 0) {
    jsStreamInfo* si = nullptr;
    jsErrCode code{};
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = wait_ms;
    natsStatus s = js_GetStreamInfo(&si, js_.get(), opts_.stream.c_str(), wait_ms > 0 ? &jo : nullptr, &code);
    if (s != NATS_OK) return status::unavailable(nats_error("cannot read stream " + opts_.stream, s, code));
    std::uint64_t first = si->State.FirstSeq > 0 ? si->State.FirstSeq - 1 : 0;
    std::uint64_t last = si->State.LastSeq;
    {
      std::lock_guard lk(mu_);
      stream_end_ = std::max(stream_end_, last);
      records_ = si->State.Msgs;
      bytes_ = si->State.Bytes;
      // An empty stream reports first = last + 1.
      begin_.store(std::min(first, stream_end_));
      while (!cache_.empty() && cache_.begin()->first < begin_.load()) cache_.erase(cache_.begin());
    }
    jsStreamInfo_Destroy(si);
    return status::ok();
  }

  // A live tail of the stream (an ordered push consumer) from the current end: fills
  // the cache and tells this hub about events other hubs append.
  status start_tail() {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = opts_.stream.c_str();
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = stream_end_ + 1;
    std::string subject = prefix_ + ">";
    natsSubscription* sub = nullptr;
    natsStatus s = js_Subscribe(&sub, js_.get(), subject.c_str(), &jetstream_store::on_tail, this, nullptr, &so, nullptr);
    if (s != NATS_OK) return status::unavailable(nats_error("cannot follow stream " + opts_.stream, s));
    natsSubscription_SetPendingLimits(sub, -1, 256 << 20);
    tail_.reset(sub);
    return status::ok();
  }

  // ------------------------------------------------------------------ upkeep thread

  // Watches the consumers' bucket from its current values on. Until `deadline`, reads
  // the current values into consumers_ (replacing what was there, so a key removed
  // while the watch was down goes too); fails if they do not all arrive by then.
  status start_watch(clock::time_point deadline) {
    kvWatchOptions wo;
    kvWatchOptions_Init(&wo);
    wo.Timeout = std::max<std::int64_t>(
        1, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count());
    kvWatcher* w = nullptr;
    natsStatus s = kvStore_WatchAll(&w, kv_.get(), &wo);
    if (s != NATS_OK) return status::unavailable(nats_error("cannot watch the durable consumers' bucket", s));
    std::map<std::string, known_consumer> current;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
      kvEntry* e = nullptr;
      s = left > 0 ? kvWatcher_Next(&e, w, left) : NATS_TIMEOUT;
      if (s != NATS_OK) {
        kvWatcher_Destroy(w);
        return status::unavailable(nats_error("cannot read the durable consumers' bucket", s));
      }
      if (e == nullptr) break;  // the current values are all in
      apply(current, e);
      kvEntry_Destroy(e);
    }
    std::lock_guard wl(watch_mu_);
    if (stopping_) {
      kvWatcher_Destroy(w);
      return status::unavailable("the store is closing");
    }
    watcher_ = w;
    std::lock_guard lk(mu_);
    consumers_.swap(current);
    return status::ok();
  }

  // One entry of the bucket into `into`: a put sets the consumer's offset, a delete or
  // purge forgets it; an entry older than what is known is ignored.
  static void apply(std::map<std::string, known_consumer>& into, kvEntry* e) {
    auto name = consumer_name(kvEntry_Key(e));
    if (!name) return;
    const std::uint64_t rev = kvEntry_Revision(e);
    auto it = into.find(*name);
    if (it != into.end() && rev < it->second.revision) return;
    if (kvEntry_Operation(e) != kvOp_Put) {
      if (it != into.end()) into.erase(it);
      return;
    }
    const char* v = kvEntry_ValueString(e);
    auto next = parse_u64(v != nullptr ? v : "");
    if (!next) {
      spdlog::warn("consumer {}: stored offset '{}' is not a number; ignored", *name, v != nullptr ? v : "");
      return;
    }
    into.insert_or_assign(*name, known_consumer{*next, rev});
  }

  // Off the loop thread: follows the consumers' bucket and, each second, the stream's
  // bounds. Either may wait seconds for the cluster while a node is down or a leader
  // is being elected; the loop reads what they found under mu_.
  void upkeep_loop() {
    auto next_refresh = clock::now() + std::chrono::seconds(1);
    auto next_watch = clock::now();
    while (true) {
      kvWatcher* w = nullptr;
      {
        std::lock_guard wl(watch_mu_);
        if (stopping_) return;
        w = watcher_;
      }
      const auto now = clock::now();
      if (now >= next_refresh) {
        next_refresh = now + std::chrono::seconds(1);
        if (connected(nc_.get())) {
          if (status s = refresh_state(1000); !s) spdlog::debug("JetStream store: {}", s.message());
        }
      }
      if (w == nullptr) {
        if (now >= next_watch && connected(nc_.get())) {
          if (status s = start_watch(now + std::chrono::seconds(2)); !s) {
            spdlog::debug("JetStream store: {}", s.message());
            next_watch = now + std::chrono::seconds(1);
          }
        } else {
          std::unique_lock wl(watch_mu_);
          watch_cv_.wait_for(wl, std::chrono::milliseconds(250), [&] { return stopping_; });
        }
        continue;
      }
      kvEntry* e = nullptr;
      natsStatus s = kvWatcher_Next(&e, w, 250);
      if (s == NATS_OK) {
        if (e != nullptr) {
          std::lock_guard lk(mu_);
          apply(consumers_, e);
        }
        kvEntry_Destroy(e);
      } else if (s != NATS_TIMEOUT) {
        // Stopped (closing) or broken: start a new watch, which reads the values again.
        std::lock_guard wl(watch_mu_);
        if (!stopping_) spdlog::debug("{}", nats_error("JetStream store: the consumers' watch ended", s));
        kvWatcher_Destroy(watcher_);
        watcher_ = nullptr;
      }
    }
  }

  void stop_upkeep() {
    {
      std::lock_guard wl(watch_mu_);
      stopping_ = true;
      if (watcher_ != nullptr) kvWatcher_Stop(watcher_);
    }
    watch_cv_.notify_all();
    if (upkeep_.joinable()) upkeep_.join();
    std::lock_guard wl(watch_mu_);
    if (watcher_ != nullptr) kvWatcher_Destroy(watcher_);
    watcher_ = nullptr;
  }

  // Fills a cached record from a stream message. False if it is not one of ours.
  bool decode(natsMsg* m, cached_record& out) {
    const char* subj = natsMsg_GetSubject(m);
    std::string_view sv(subj != nullptr ? subj : "");
    if (sv.substr(0, prefix_.size()) != prefix_) return false;
    out.topic.assign(sv.substr(prefix_.size()));
    const char* data = natsMsg_GetData(m);
    int len = natsMsg_GetDataLength(m);
    out.envelope.assign(reinterpret_cast<const std::uint8_t*>(data),
                        reinterpret_cast<const std::uint8_t*>(data) + std::max(len, 0));
    const char* v = nullptr;
    if (natsMsgHeader_Get(m, log_time_header, &v) == NATS_OK && v != nullptr)
      out.log_time = static_cast<millis>(parse_u64(v).value_or(0));
    if (natsMsgHeader_Get(m, "Nats-Msg-Id", &v) == NATS_OK && v != nullptr) {
      if (auto id = schema::id_from_hex(v)) out.id = *id;
    }
    out.signature.clear();
    if (natsMsgHeader_Get(m, signature_header, &v) == NATS_OK && v != nullptr) out.signature = from_hex(v);
    return true;
  }

  void remember(std::uint64_t off, cached_record rec) {
    // mu_ held.
    if (off < begin_.load()) return;
    cache_.insert_or_assign(off, std::move(rec));
    while (cache_.size() > opts_.cache_records) cache_.erase(cache_.begin());
  }

  static void on_tail(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
    auto* self = static_cast<jetstream_store*>(closure);
    msg_ptr guard(m);
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, m) != NATS_OK) return;
    std::uint64_t seq = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
    {
      // An event this hub appended is usually cached already, from JetStream's ack.
      std::lock_guard lk(self->mu_);
      self->stream_end_ = std::max(self->stream_end_, seq);
      if (self->cache_.count(seq - 1) != 0) return;
    }
    cached_record rec;
    if (!self->decode(m, rec)) return;
    std::lock_guard lk(self->mu_);
    self->remember(seq - 1, std::move(rec));
  }

  static void on_ack(jsCtx*, natsMsg* m, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
    auto* self = static_cast<jetstream_store*>(closure);
    const char* idv = nullptr;
    std::string id;
    if (natsMsgHeader_Get(m, "Nats-Msg-Id", &idv) == NATS_OK && idv != nullptr) id = idv;
    std::unique_lock lk(self->mu_);
    if (pa != nullptr) {
      // Cached unless the stream dropped it as a duplicate or the tail brought it first.
      if (!pa->Duplicate && self->cache_.count(pa->Sequence - 1) == 0) {
        cached_record rec;
        if (self->decode(m, rec)) self->remember(pa->Sequence - 1, std::move(rec));
      }
      self->stream_end_ = std::max(self->stream_end_, pa->Sequence);
      auto it = self->pending_.find(id);
      if (it != self->pending_.end()) {
        auto t = self->tokens_.find(it->second);
        if (t != self->tokens_.end()) self->tokens_.erase(t);
        self->stored_.insert_or_assign(it->second, pa->Sequence - 1);
        while (self->stored_.size() > stored_kept) self->stored_.erase(self->stored_.begin());
        self->pending_.erase(it);
      }
      ++self->acks_seen_;
      lk.unlock();
      self->acked_.notify_all();
      natsMsg_Destroy(m);
      return;
    }
    // Failed or timed out: keep the message; sync() resends it with the same id, and
    // JetStream drops it if the first attempt was stored after all.
    std::string why = "unknown publish error";
    if (pae != nullptr) {
      why = natsStatus_GetText(pae->Err);
      if (pae->ErrText != nullptr && why != pae->ErrText) why += std::string(": ") + pae->ErrText;
      if (pae->Err == NATS_NO_RESPONDERS) why += " (the stream has no leader: is a quorum of the cluster up?)";
    }
    self->last_error_ = why;
    self->failed_.push_back(m);
    lk.unlock();
    self->acked_.notify_all();
  }

  // Reads committed records from `o` through an ordered consumer kept between calls
  // while reads continue where the last one stopped.
  result<std::uint64_t> read_from_stream(std::uint64_t o, std::uint64_t stop, std::size_t max,
                                         const record_visitor& visit, std::size_t& n) {
    reader_stopped_ = false;
    if (!reader_ || reader_next_ != o) {
      reader_.reset();
      jsSubOptions so;
      jsSubOptions_Init(&so);
      so.Stream = opts_.stream.c_str();
      so.Ordered = true;
      so.Config.DeliverPolicy = js_DeliverByStartSequence;
      so.Config.OptStartSeq = o + 1;
      std::string subject = prefix_ + ">";
      natsSubscription* sub = nullptr;
      natsStatus s = js_SubscribeSync(&sub, js_.get(), subject.c_str(), nullptr, &so, nullptr);
      if (s != NATS_OK) return status::unavailable(nats_error(fmt::format("cannot read the stream from offset {}", o), s));
      natsSubscription_SetPendingLimits(sub, -1, 256 << 20);
      reader_.reset(sub);
      reader_next_ = o;
    }
    std::size_t got = 0;
    while (o < stop && got < max) {
      natsMsg* raw = nullptr;
      natsStatus s = natsSubscription_NextMsg(&raw, reader_.get(), opts_.read_timeout.count());
      if (s != NATS_OK) {
        reader_.reset();
        if (got > 0) return o;
        return status::unavailable(nats_error(fmt::format("cannot read offset {} from stream {}", o, opts_.stream), s));
      }
      msg_ptr m(raw);
      jsMsgMetaData* meta = nullptr;
      if (natsMsg_GetMetaData(&meta, raw) != NATS_OK) continue;
      std::uint64_t seq = meta->Sequence.Stream;
      jsMsgMetaData_Destroy(meta);
      if (seq - 1 < o) continue;  // already seen (redelivered after a reset)
      // A consumer can start past the offset it was asked for: seen when JetStream
      // placed it on a replica still catching up after a restart, which skipped a
      // stretch of the stream. The stretch is read from the stream's leader, one
      // record at a time; only a record the leader does not have either is passed.
      if (o < seq - 1)
        spdlog::info("JetStream store: the stream's reader skipped offsets [{}, {}); reading them from the leader", o,
                     seq - 1);
      while (o < seq - 1 && o < stop && got < max) {
        auto filled = get_from_leader(o);
        if (!filled) {
          reader_.reset();
          if (got > 0) return o;
          return filled.error();
        }
        ++o;
        if (!filled.value()) continue;  // not in the stream (removed)
        ++got;
        ++n;
        if (!visit(view_of(o - 1, *filled.value()))) {
          reader_.reset();
          reader_stopped_ = true;
          return o;
        }
      }
      if (o != seq - 1) {  // stopped inside the stretch; the reader is past it
        reader_.reset();
        return o;
      }
      cached_record rec;
      if (!decode(raw, rec)) {
        o = seq;
        reader_next_ = o;
        continue;
      }
      o = seq;
      reader_next_ = o;
      ++got;
      ++n;
      if (!visit(view_of(seq - 1, rec))) {
        reader_stopped_ = true;
        return o;
      }
    }
    return o;
  }

  // The record at `off` as the stream's leader has it; nullopt when the stream no
  // longer holds it (or it is not one of ours).
  result<std::optional<cached_record>> get_from_leader(std::uint64_t off) {
    natsMsg* raw = nullptr;
    jsErrCode code{};
    natsStatus s = js_GetMsg(&raw, js_.get(), opts_.stream.c_str(), off + 1, nullptr, &code);
    if (s == NATS_NOT_FOUND || code == JSNoMessageFoundErr) return std::optional<cached_record>();
    if (s != NATS_OK) return status::unavailable(nats_error(fmt::format("cannot read offset {}", off), s, code));
    msg_ptr m(raw);
    cached_record rec;
    if (!decode(raw, rec)) return std::optional<cached_record>();
    return std::optional<cached_record>(std::move(rec));
  }

  result<millis> log_time_at(std::uint64_t off) {
    {
      std::lock_guard lk(mu_);
      auto it = cache_.find(off);
      if (it != cache_.end()) return it->second.log_time;
    }
    auto rec = get_from_leader(off);
    if (!rec) return rec.error();
    return rec.value() ? rec.value()->log_time : millis{0};  // gone or not ours: before any time
  }

  store_options opts_;
  std::string prefix_;
  connection_ptr nc_;
  js_ptr js_;
  kv_ptr kv_;
  sub_ptr tail_;
  sub_ptr reader_;
  std::uint64_t reader_next_ = 0;  // offset the reader delivers next
  bool reader_stopped_ = false;    // the last read stopped because the visitor said so
  clock::time_point last_resend_log_{};  // sync thread

  std::uint64_t end_ = 0;  // loop thread: the next offset the broker numbers from
  std::atomic<std::uint64_t> begin_{0};

  // Shared with libnats callbacks.
  mutable std::mutex mu_;
  std::uint64_t stream_end_ = 0;  // every offset below is committed in the stream
  std::multiset<std::uint64_t> tokens_;                     // offsets of events awaiting an ack
  std::unordered_map<std::string, std::uint64_t> pending_;  // event id hex -> its token
  // Ticket -> stream offset of acknowledged events, the latest stored_kept of them (for
  // the broker's ACKs; an older ticket is reported as itself).
  static constexpr std::size_t stored_kept = 1 << 16;
  std::map<std::uint64_t, std::uint64_t> stored_;
  std::uint64_t issued_ = 0;  // one past the highest ticket handed out
  std::uint64_t acks_seen_ = 0;        // acknowledgements received, for sync() to wait on
  std::condition_variable acked_;      // an acknowledgement arrived or a publish failed
  std::vector<natsMsg*> failed_;                            // owned; resent by sync()
  std::string last_error_;
  std::map<std::uint64_t, cached_record> cache_;
  std::uint64_t records_ = 0;
  std::uint64_t bytes_ = 0;
  std::map<std::string, known_consumer> consumers_;  // durable consumers, from the bucket's watch

  // The upkeep thread and the bucket watch it reads (watch_mu_ guards both pointers'
  // hand-over and stopping_).
  std::thread upkeep_;
  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  kvWatcher* watcher_ = nullptr;
  bool stopping_ = false;
};

}  // namespace

result<std::unique_ptr<store::store>> open_store(const store_options& opts) {
  if (opts.servers.empty())
    return status::config_error("store.servers is empty: list the nats://host:port URLs of the JetStream cluster");
  if (opts.replicas < 1 || opts.replicas > 5)
    return status::config_error(fmt::format("store.replicas is {}: JetStream takes 1 to 5", opts.replicas));
  if (opts.subject_prefix.empty() || opts.subject_prefix.find_first_of("*> ") != std::string::npos)
    return status::config_error("store.subject_prefix must be a plain subject token such as 'hub'");
  auto s = std::make_unique<jetstream_store>(opts);
  if (status st = s->open(); !st) return st;
  return std::unique_ptr<store::store>(std::move(s));
}

}  // namespace hub::jetstream

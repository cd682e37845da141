#include "hub/log/log.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sodium.h>

#include "hub/log/crc32c.h"
#include "hub/log/format.h"
#include "hub/log/record.h"

namespace hub::log {

namespace format {
std::string segment_name(std::uint64_t base) { return fmt::format("{:020}.log", base); }
std::string index_name(std::uint64_t base) { return fmt::format("{:020}.index", base); }
}  // namespace format

namespace {

namespace f = format;
namespace fs = std::filesystem;

constexpr std::int64_t no_time = std::numeric_limits<std::int64_t>::min();
constexpr std::size_t read_window_bytes = 64 * 1024;
// Sealed segments keep a descriptor open only while recently read; at most this many.
constexpr std::size_t max_open_sealed = 64;

struct index_entry {
  std::uint64_t off = 0;
  std::uint64_t pos = 0;
  std::int64_t time_before = no_time;  // max log_time of the segment's records before this one
};

// One segment file. Records occupy [segment_header_bytes, size); offsets [base, end).
// Positions below size never change while the segment exists (append-only), which
// is what lets the reader cache windows of it.
struct segment {
  std::uint64_t base = 0;
  std::uint64_t end = 0;
  std::uint64_t size = f::segment_header_bytes;
  std::int64_t max_time = no_time;
  std::vector<index_entry> index;
  std::shared_ptr<file> data;  // the segment file
  record::hash prev{};         // from the header: the hash of the record before base
  record::hash_kind kind = record::hash_kind::sha256;  // its records' chain hash (by format)
};

// A cached window of one segment file, reused for every read: the only read buffer
// the log holds, so memory stays bounded by the largest record.
class window_reader {
 public:
  // Pointer to bytes [pos, pos+n) of the file, reading at most up to limit; nullptr
  // if the range goes beyond limit or the read fails.
  const std::uint8_t* get(const file& fl, std::uint64_t pos, std::size_t n, std::uint64_t limit) {
    if (pos + n > limit) return nullptr;
    if (&fl == file_ && pos >= pos_ && pos + n <= pos_ + len_) return buf_.data() + (pos - pos_);
    std::size_t want = static_cast<std::size_t>(
        std::min<std::uint64_t>(std::max(n, read_window_bytes), limit - pos));
    if (buf_.size() < want) buf_.resize(want);
    file_ = nullptr;
    auto got = fl.read_at(pos, std::span<std::uint8_t>(buf_.data(), want));
    if (!got || got.value() < n) return nullptr;
    file_ = &fl;
    pos_ = pos;
    len_ = got.value();
    return buf_.data();
  }
  void invalidate() { file_ = nullptr; }

 private:
  std::vector<std::uint8_t> buf_;
  const file* file_ = nullptr;
  std::uint64_t pos_ = 0;
  std::size_t len_ = 0;
};

struct decoded {
  hub::store::record_view view;
  std::uint64_t pos = 0;       // where the record starts
  std::uint64_t next_pos = 0;  // where the next one starts
  record::hash hash{};         // of the whole record: the next record's prev-hash
};

// Decodes and checks the record at pos: frame fits below limit, lengths agree, CRC
// matches, offset within [min_off, max_off). Views point into the reader's window.
std::optional<decoded> decode_at(window_reader& rd, const file& fl, std::uint64_t pos,
                                 std::uint64_t limit, std::uint64_t min_off, std::uint64_t max_off,
                                 std::optional<record::hash_kind> hash_with = std::nullopt) {
  const std::uint8_t* h = rd.get(fl, pos, f::record_header_bytes, limit);
  if (h == nullptr) return std::nullopt;
  auto flen = record::frame_length(h);
  if (!flen) return std::nullopt;
  std::uint64_t off = record::offset_of(h);
  if (off < min_off || off >= max_off) return std::nullopt;
  const std::uint8_t* p = rd.get(fl, pos, *flen, limit);
  if (p == nullptr) return std::nullopt;
  auto r = record::parse(p, *flen);
  if (!r) return std::nullopt;
  decoded d;
  d.view.off = offset{off};
  d.view.log_time = r->log_time;
  d.view.id = schema::Id128(r->id_hi, r->id_lo);
  d.view.topic = r->topic;
  d.view.envelope = r->envelope;
  d.view.signature = r->signature;
  d.pos = pos;
  d.next_pos = pos + *flen;
  if (hash_with) d.hash = record::hash_of(*hash_with, r->frame);
  return d;
}

// After a bad record at pos: the next position holding a valid record with an offset
// in [min_off, max_off), searching byte by byte (corruption may have hit the length).
std::optional<decoded> resync(window_reader& rd, const file& fl, std::uint64_t pos,
                              std::uint64_t limit, std::uint64_t min_off, std::uint64_t max_off,
                              std::optional<record::hash_kind> hash_with = std::nullopt) {
  for (std::uint64_t q = pos + 1; q + f::record_header_bytes <= limit; ++q) {
    const std::uint8_t* h = rd.get(fl, q, f::record_header_bytes, limit);
    if (h == nullptr) return std::nullopt;
    std::uint64_t off = record::offset_of(h);
    if (off < min_off || off >= max_off) continue;
    if (auto d = decode_at(rd, fl, q, limit, min_off, max_off, hash_with)) return d;
  }
  return std::nullopt;
}

status prefix(const status& s, const std::string& what) {
  return status::error(s.code(), what + s.message());
}

class event_log final : public hub::store::store {
 public:
  event_log(fs::path dir, log_options opts, file_system& fsys)
      : dir_(std::move(dir)), opts_(opts), fs_(fsys) {}

  ~event_log() override {
    if (interval_thread_.joinable()) {
      {
        std::lock_guard lk(timer_mu_);
        stop_ = true;
      }
      timer_cv_.notify_all();
      interval_thread_.join();
    }
    if (opts_.fsync != fsync_policy::never && !sync_failed_.load()) {
      auto s = do_sync();
      if (!s) spdlog::error("event log {}: final sync at close failed: {}", dir_.string(), s.error().message());
    }
  }
  event_log(const event_log&) = delete;
  event_log& operator=(const event_log&) = delete;

  status open() {
    if (sodium_init() < 0) return status::unavailable("event log: libsodium failed to initialise");
    if (auto s = fs_.create_dirs(dir_); !s)
      return prefix(s, "event log: cannot use data directory " + dir_.string() + ": ");
    auto lk = fs_.lock(dir_ / f::lock_name);
    if (!lk) {
      if (lk.error().code() == errc::unavailable)
        return status::unavailable("event log: data directory " + lk.error().message());
      return prefix(lk.error(), "event log: cannot lock data directory " + dir_.string() +
                                    " (check that it is readable and writable by this user): ");
    }
    lock_ = std::move(lk.value());
    auto names = fs_.list(dir_);
    if (!names) return prefix(names.error(), "event log: ");
    std::vector<std::uint64_t> bases;
    for (const auto& n : names.value()) {
      if (n.size() == 24 && n.ends_with(".log") &&
          std::all_of(n.begin(), n.begin() + 20, [](char c) { return c >= '0' && c <= '9'; }))
        bases.push_back(std::stoull(n.substr(0, 20)));
      if (n == f::checkpoint_temp_name) (void)fs_.remove(dir_ / n);
    }
    std::sort(bases.begin(), bases.end());
    for (std::size_t i = 0; i < bases.size(); ++i) {
      bool last = i + 1 == bases.size();
      if (auto s = load_segment(bases[i], last); !s) return s;
    }
    if (segments_.empty()) {
      if (auto s = create_segment(0, record::hash{}); !s)
        return prefix(s, "event log: cannot create the first segment: ");
    }
    for (const auto& s : segments_) total_bytes_ += s.size;
    begin_ = segments_.front().base;
    end_ = std::max(segments_.back().end, segments_.back().base);
    appended_end_ = end_;
    appended_at_ = {segments_.back().base, segments_.back().size};
    // What survived on disk (after cutting a torn tail) is durable from now on.
    if (opts_.fsync != fsync_policy::never) {
      if (auto s = segments_.back().data->sync(); !s) return prefix(s, "event log: ");
      if (auto s = fs_.sync_dir(dir_); !s) return prefix(s, "event log: ");
    }
    durable_end_.store(end_);
    synced_end_ = end_;
    synced_at_ = appended_at_;
    active_file_ = segments_.back().data;
    if (auto s = load_checkpoint(); !s) return s;
    if (opts_.fsync == fsync_policy::interval) interval_thread_ = std::thread([this] { interval_loop(); });
    spdlog::info("event log {}: opened, offsets {}..{}, {} segments, {} bytes, fsync {}", dir_.string(),
                 begin_, end_, segments_.size(), total_bytes_, fsync_policy_name(opts_.fsync));
    return status::ok();
  }

  // --- store interface -------------------------------------------------------------

  status append(std::span<const hub::store::append_record> batch) override {
    if (batch.empty()) return status::ok();
    // After a failed fsync, writes resume only once discard_undurable() has cut the log
    // back to what was synced and a fresh fsync of that has worked (tried again here).
    if (sync_failed_.load() && !(rolled_back_ && writable_again())) {
      std::lock_guard lk(mu_);
      return status::io_error(sync_error_);
    }
    std::uint64_t total = 0;
    for (const auto& r : batch) {
      if (r.topic.size() > f::max_topic_bytes || r.signature.size() > f::max_signature_bytes ||
          f::body_bytes_for(r.topic.size(), r.signature.size(), r.envelope.size()) > f::max_body_bytes)
        return status::invalid_argument(fmt::format(
            "event log: record too large (topic {} bytes, envelope {} bytes, signature {} bytes); nothing of the "
            "batch was stored",
            r.topic.size(), r.envelope.size(), r.signature.size()));
      total += f::frame_bytes + f::body_bytes_for(r.topic.size(), r.signature.size(), r.envelope.size());
    }
    if (segments_.back().size > f::segment_header_bytes && segments_.back().size + total > opts_.segment_bytes) {
      if (auto s = roll(); !s) return fail_write(s);
    }
    segment& seg = segments_.back();
    if (write_buf_.size() < total) write_buf_.resize(static_cast<std::size_t>(total));
    const std::size_t index_before = seg.index.size();
    const std::int64_t max_time_before = seg.max_time;
    std::uint64_t pos = seg.size;
    std::uint64_t last_index_pos = seg.index.empty() ? 0 : seg.index.back().pos;
    std::uint8_t* p = write_buf_.data();
    std::uint64_t off = end_;
    record::hash head = head_;
    for (const auto& r : batch) {
      if (seg.index.empty() || pos - last_index_pos >= opts_.index_interval_bytes) {
        seg.index.push_back(index_entry{off, pos, seg.max_time});
        last_index_pos = pos;
      }
      const auto topic_len = static_cast<std::uint16_t>(r.topic.size());
      const auto sig_len = static_cast<std::uint16_t>(r.signature.size());
      const auto env_len = static_cast<std::uint32_t>(r.envelope.size());
      const auto len = static_cast<std::uint32_t>(f::body_bytes_for(topic_len, sig_len, env_len));
      f::put_u32(p, len);
      f::put_u64(p + f::at_offset, off);
      f::put_u64(p + f::at_log_time, static_cast<std::uint64_t>(r.log_time));
      f::put_u64(p + f::at_id_hi, r.id.hi());
      f::put_u64(p + f::at_id_lo, r.id.lo());
      std::memcpy(p + f::at_prev_hash, head.data(), head.size());
      f::put_u16(p + f::at_topic_len, topic_len);
      f::put_u16(p + f::at_sig_len, sig_len);
      f::put_u32(p + f::at_env_len, env_len);
      std::uint8_t* v = p + f::record_header_bytes;
      if (env_len > 0) std::memcpy(v, r.envelope.data(), env_len);
      if (sig_len > 0) std::memcpy(v + env_len, r.signature.data(), sig_len);
      if (topic_len > 0) std::memcpy(v + env_len + sig_len, r.topic.data(), topic_len);
      const std::size_t used = f::body_fixed_bytes + topic_len + sig_len + env_len;
      std::memset(p + f::frame_bytes + used, 0, len - used);  // padding
      f::put_u32(p + 4, crc32c_extend(crc32c(std::span<const std::uint8_t>(p, 4)),
                                      std::span<const std::uint8_t>(p + 8, len)));
      head = record::hash_of(seg.kind, std::span<const std::uint8_t>(p, f::frame_bytes + len));
      seg.max_time = std::max(seg.max_time, r.log_time);
      p += f::frame_bytes + len;
      pos += f::frame_bytes + len;
      ++off;
    }
    auto st = seg.data->write_at(seg.size, std::span<const std::uint8_t>(write_buf_.data(), static_cast<std::size_t>(total)));
    if (!st) {
      seg.index.resize(index_before);
      seg.max_time = max_time_before;
      if (auto t = seg.data->truncate(seg.size); !t)
        spdlog::warn("event log {}: cutting back a failed write: {} (recovery at the next open cuts it)",
                     dir_.string(), t.message());
      return fail_write(st);
    }
    seg.size += total;
    seg.end = off;
    total_bytes_ += total;
    end_ = off;
    head_ = head;
    {
      std::lock_guard lk(mu_);
      appended_end_ = end_;
      appended_at_ = {seg.base, seg.size};
    }
    if (opts_.fsync != fsync_policy::batch) durable_end_.store(end_);
    if (!writable_) {
      spdlog::info("event log {}: writes work again at offset {}", dir_.string(), end_);
      writable_ = true;
    }
    return status::ok();
  }

  status sync() override {
    auto covered = do_sync();
    if (!covered) return covered.error();
    std::uint64_t d = durable_end_.load();
    while (d < covered.value() && !durable_end_.compare_exchange_weak(d, covered.value())) {
    }
    return status::ok();
  }

  bool needs_sync() const override {
    // After a failed fsync nothing can become durable; do not make the sync thread spin.
    return opts_.fsync == fsync_policy::batch && !sync_failed_.load() && durable_end_.load() < end_;
  }

  // After a failed fsync (batch policy): cut the log back to the last point an fsync
  // covered and forget everything after it. Those records were never acknowledged (the
  // hub ACKs only below durable_end(), which is that point). Rewriting them from memory
  // is not safe: after a failed fsync Linux may have marked the pages clean without
  // writing them, so what the page cache shows is not what the disk holds; truncating
  // throws those pages away, and an fsync of the truncated file that works proves the
  // disk agrees with the log again. Under interval or never the records past the synced
  // point may have been acknowledged, so nothing is dropped and the error stays sticky.
  void discard_undurable() override {
    if (!sync_failed_.load() || opts_.fsync != fsync_policy::batch || rolled_back_) return;
    std::lock_guard sl(sync_mu_);  // the sync thread is idle (it reported the error); be sure
    const std::uint64_t old_end = end_;
    const std::size_t keep = segment_for(synced_at_.base);
    // A fresh descriptor for the segment of the synced point: the old one may report the
    // old fsync error once more. Nothing changes unless it can be had.
    std::shared_ptr<file> fresh;
    if (segments_[keep].base == synced_at_.base) {
      auto fl = fs_.open(dir_ / f::segment_name(synced_at_.base), open_mode::read_write);
      if (fl) fresh = std::move(fl.value());
    }
    if (!fresh) {
      spdlog::error("event log {}: cannot reopen segment {} (the last synced point) after the failed fsync; the log "
                    "stays read-only until the hub restarts", dir_.string(), f::segment_name(synced_at_.base));
      return;
    }
    // Segments created since the synced point go entirely. Removing one may fail (the
    // disk is in trouble); writable_again() tries again before anything is written.
    while (segments_.size() > keep + 1) {
      stale_files_.push_back(dir_ / f::segment_name(segments_.back().base));
      std::erase(open_sealed_, segments_.back().base);
      segments_.pop_back();
    }
    segment& seg = segments_.back();
    // It is the active segment again: an index file written when it was sealed is stale.
    stale_files_.push_back(dir_ / f::index_name(seg.base));
    std::erase(open_sealed_, seg.base);
    seg.data = std::move(fresh);
    reader_.invalidate();
    hint_ = {};
    // Rebuild the segment's index, end, newest time and the chain's head from the
    // synced bytes (a rare path; at most one segment is read).
    seg.max_time = no_time;
    head_ = scan(seg, synced_at_.size);
    end_ = seg.end;
    total_bytes_ = 0;
    for (const auto& sg : segments_) total_bytes_ += sg.size;
    {
      std::lock_guard lk(mu_);
      appended_end_ = end_;
      appended_at_ = {seg.base, seg.size};
      unsynced_.clear();
      active_file_ = seg.data;
      dir_dirty_ = true;
    }
    rolled_back_ = true;
    spdlog::warn("event log {}: dropped {} record(s) at offsets {}..{} that the failed fsync may not have written; "
                 "they were never acknowledged, and the log continues at offset {}",
                 dir_.string(), old_end - end_, end_, old_end, end_);
    (void)writable_again();
  }

  // Loop thread, after discard_undurable(): removes the files it left behind, cuts the
  // active segment to the synced point and fsyncs it. True once all that worked: the
  // disk holds exactly what the log holds, and appends go on.
  bool writable_again() {
    status s;
    while (s && !stale_files_.empty()) {
      s = fs_.remove(stale_files_.back());
      if (s) stale_files_.pop_back();
    }
    segment& seg = segments_.back();
    if (s) s = seg.data->truncate(seg.size);
    if (s) s = seg.data->sync();
    if (s) s = fs_.sync_dir(dir_);
    std::lock_guard lk(mu_);
    if (!s) {
      sync_error_ = "event log: fsync failed before and still fails (" + s.message() +
                    "); new events are refused until it works again";
      return false;
    }
    dir_dirty_ = false;
    sync_error_.clear();
    rolled_back_ = false;
    sync_failed_.store(false);
    spdlog::info("event log {}: fsync works again; writes resume at offset {}", dir_.string(), end_);
    return true;
  }

  offset durable_end() const override { return offset{durable_end_.load()}; }
  offset begin() const override { return offset{begin_}; }
  offset end() const override { return offset{end_}; }

  result<offset> read(offset from_off, offset limit_off, std::size_t max_records,
                      const hub::store::record_visitor& visit) override {
    std::uint64_t from = std::max(from_off.value, begin_);
    const std::uint64_t limit = std::min(limit_off.value, end_);
    std::uint64_t next = from;
    if (from >= limit || max_records == 0) return offset{next};
    std::size_t si = segment_for(from);
    std::uint64_t pos = position_for(si, from);
    std::size_t visited = 0;
    while (next < limit && visited < max_records) {
      segment& seg = segments_[si];
      if (pos < seg.size && next < seg.end) {
        if (auto s = ensure_open(si); !s) return s;
      }
      if (pos >= seg.size || next >= seg.end) {
        if (si + 1 >= segments_.size()) break;
        ++si;
        pos = f::segment_header_bytes;
        next = std::max(next, segments_[si].base);
        continue;
      }
      auto d = decode_at(reader_, *seg.data, pos, seg.size, seg.base, seg.end);
      if (!d) {
        auto r = resync(reader_, *seg.data, pos, seg.size, next, seg.end);
        std::uint64_t resume = r ? r->view.off.value : seg.end;
        report_corrupt(seg, pos, resume > next ? resume - next : 0);
        next = std::max(next, resume);
        pos = r ? resync_pos_of(*r) : seg.size;
        continue;
      }
      const std::uint64_t o = d->view.off.value;
      if (o < from) {
        pos = d->next_pos;
        continue;
      }
      if (o >= limit) break;
      pos = d->next_pos;
      next = o + 1;
      ++visited;
      hint_ = {seg.base, next, pos};
      if (!visit(d->view)) break;
    }
    return offset{next};
  }

  offset offset_at_time(millis t) override {
    for (std::size_t si = 0; si < segments_.size(); ++si) {
      segment& seg = segments_[si];
      if (seg.end <= seg.base || seg.max_time < t) continue;
      if (auto s = ensure_open(si); !s) {
        spdlog::error("event log {}: {}", dir_.string(), s.message());
        continue;
      }
      // The last index entry whose preceding records are all older than t.
      auto it = std::partition_point(seg.index.begin(), seg.index.end(),
                                     [t](const index_entry& e) { return e.time_before < t; });
      std::uint64_t pos = it == seg.index.begin() ? f::segment_header_bytes : std::prev(it)->pos;
      std::uint64_t next = it == seg.index.begin() ? seg.base : std::prev(it)->off;
      while (pos < seg.size) {
        auto d = decode_at(reader_, *seg.data, pos, seg.size, seg.base, seg.end);
        if (!d) {
          auto r = resync(reader_, *seg.data, pos, seg.size, next, seg.end);
          report_corrupt(seg, pos, (r ? r->view.off.value : seg.end) - next);
          if (!r) break;
          pos = resync_pos_of(*r);
          continue;
        }
        if (d->view.log_time >= t) return d->view.off;
        next = d->view.off.value + 1;
        pos = d->next_pos;
      }
    }
    return offset{end_};
  }

  status commit_consumer(std::string_view name, offset next) override {
    if (name.empty() || name.size() > 0xFFFF)
      return status::invalid_argument("event log: a consumer name must have 1 to 65535 bytes");
    auto updated = consumers_;
    updated[std::string(name)] = next;
    if (auto s = write_checkpoint(updated); !s)
      return prefix(s, fmt::format("event log: committing consumer '{}' at offset {} failed; the previous "
                                   "checkpoint is kept: ", name, next.value));
    consumers_ = std::move(updated);
    return status::ok();
  }

  status remove_consumer(std::string_view name) override {
    auto updated = consumers_;
    auto it = updated.find(name);
    if (it == updated.end()) return status::not_found(fmt::format("event log: no durable consumer named '{}'", name));
    updated.erase(it);
    if (auto s = write_checkpoint(updated); !s)
      return prefix(s, fmt::format("event log: removing consumer '{}' failed; the previous checkpoint is kept: ", name));
    consumers_ = std::move(updated);
    return status::ok();
  }

  // Writes the checkpoint file for these consumers atomically (temp file, fsync, rename,
  // directory fsync). On failure the previous file is untouched.
  status write_checkpoint(const std::map<std::string, offset, std::less<>>& updated) {
    std::vector<std::uint8_t> buf(12);
    std::memcpy(buf.data(), f::checkpoint_magic.data(), 8);
    f::put_u32(buf.data() + 8, static_cast<std::uint32_t>(updated.size()));
    for (const auto& [n, o] : updated) {
      std::size_t at = buf.size();
      buf.resize(at + 2 + n.size() + 8);
      f::put_u16(buf.data() + at, static_cast<std::uint16_t>(n.size()));
      std::memcpy(buf.data() + at + 2, n.data(), n.size());
      f::put_u64(buf.data() + at + 2 + n.size(), o.value);
    }
    std::size_t at = buf.size();
    buf.resize(at + 4);
    f::put_u32(buf.data() + at, crc32c(std::span<const std::uint8_t>(buf.data(), at)));

    const fs::path tmp = dir_ / f::checkpoint_temp_name;
    auto fl = fs_.open(tmp, open_mode::truncate);
    status s = fl ? fl.value()->write_at(0, buf) : fl.error();
    if (s) s = fl.value()->sync();
    if (fl) fl.value().reset();
    if (s) s = fs_.rename(tmp, dir_ / f::checkpoint_name);
    if (s) s = fs_.sync_dir(dir_);
    if (!s) (void)fs_.remove(tmp);
    return s;
  }

  std::optional<offset> consumer_offset(std::string_view name) const override {
    auto it = consumers_.find(name);
    if (it == consumers_.end()) return std::nullopt;
    return it->second;
  }

  std::vector<std::pair<std::string, offset>> consumers() const override {
    return {consumers_.begin(), consumers_.end()};
  }

  void enforce_retention(millis now) override {
    const std::int64_t age_ms = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.retention_age).count();
    while (segments_.size() > 1) {
      const segment& front = segments_.front();
      bool by_size = opts_.retention_bytes != 0 && total_bytes_ > opts_.retention_bytes;
      bool by_age = age_ms > 0 && (front.end <= front.base || front.max_time < now - age_ms);
      if (!by_size && !by_age) break;
      const fs::path log_path = dir_ / f::segment_name(front.base);
      if (auto s = fs_.remove(log_path); !s) {
        spdlog::warn("event log {}: retention could not remove {}: {}", dir_.string(), log_path.string(), s.message());
        break;
      }
      (void)fs_.remove(dir_ / f::index_name(front.base));
      spdlog::info("event log {}: retention dropped segment {} (offsets {}..{}, {} bytes, by {})", dir_.string(),
                   f::segment_name(front.base), front.base, front.end, front.size, by_size ? "size" : "age");
      total_bytes_ -= front.size;
      reader_.invalidate();
      std::erase(open_sealed_, front.base);
      segments_.pop_front();
      begin_ = segments_.front().base;
    }
  }

  hub::store::store_stats stats() const override {
    hub::store::store_stats s;
    s.records = end_ - begin_;
    s.bytes = total_bytes_;
    s.segments = segments_.size();
    s.corrupt_skipped = corrupt_skipped_;
    s.writable = writable_ && !sync_failed_.load();
    s.last_error = last_error_;
    s.chain_head = record::to_hex(head_);
    if (sync_failed_.load()) {
      std::lock_guard lk(mu_);
      s.last_error = sync_error_;
    }
    return s;
  }

 private:
  static std::uint64_t resync_pos_of(const decoded& d) { return d.pos; }

  // Opens the descriptor of segment si if it was closed, closing the least recently
  // opened sealed segment beyond max_open_sealed (descriptors are a bounded resource;
  // the sync thread keeps its own reference to a file it still has to sync).
  status ensure_open(std::size_t si) {
    segment& seg = segments_[si];
    if (seg.data) return status::ok();
    auto fl = fs_.open(dir_ / f::segment_name(seg.base), open_mode::read_only);
    if (!fl) return prefix(fl.error(), "event log: cannot reopen a sealed segment: ");
    seg.data = std::shared_ptr<file>(std::move(fl.value()));
    note_open(seg.base);
    return status::ok();
  }

  void note_open(std::uint64_t base) {
    open_sealed_.push_back(base);
    while (open_sealed_.size() > max_open_sealed) {
      std::uint64_t victim = open_sealed_.front();
      open_sealed_.pop_front();
      std::size_t vi = segment_for(victim);
      if (vi + 1 < segments_.size() && segments_[vi].base == victim) {
        segments_[vi].data.reset();
        reader_.invalidate();
      }
    }
  }

  std::size_t segment_for(std::uint64_t off) const {
    auto it = std::upper_bound(segments_.begin(), segments_.end(), off,
                               [](std::uint64_t o, const segment& s) { return o < s.base; });
    return it == segments_.begin() ? 0 : static_cast<std::size_t>(it - segments_.begin()) - 1;
  }

  std::uint64_t position_for(std::size_t si, std::uint64_t off) const {
    const segment& seg = segments_[si];
    if (hint_.base == seg.base && hint_.off == off && hint_.pos <= seg.size) return hint_.pos;
    auto it = std::upper_bound(seg.index.begin(), seg.index.end(), off,
                               [](std::uint64_t o, const index_entry& e) { return o < e.off; });
    return it == seg.index.begin() ? f::segment_header_bytes : std::prev(it)->pos;
  }

  void report_corrupt(const segment& seg, std::uint64_t pos, std::uint64_t records) {
    if (!reported_.insert({seg.base, pos}).second) return;
    corrupt_skipped_ += std::max<std::uint64_t>(records, 1);
    spdlog::error("event log {}: segment {}: bad record at byte {}; {} record(s) skipped, never served",
                  dir_.string(), f::segment_name(seg.base), pos, std::max<std::uint64_t>(records, 1));
  }

  status fail_write(const status& s) {
    writable_ = false;
    last_error_ = s.message();
    return status::error(s.code(), "event log: append at offset " + std::to_string(end_) + " failed: " +
                                       s.message() + "; nothing of this batch was stored, reads go on, "
                                       "and the next append retries");
  }

  // Opens the segment with this base, checks or rebuilds its index, and for the last
  // segment scans every record and cuts a torn or corrupt tail.
  status load_segment(std::uint64_t base, bool last) {
    const fs::path path = dir_ / f::segment_name(base);
    auto fl = fs_.open(path, open_mode::read_write);
    if (!fl) return prefix(fl.error(), "event log: ");
    segment seg;
    seg.base = base;
    seg.end = base;
    seg.data = std::shared_ptr<file>(std::move(fl.value()));
    auto sz = seg.data->size();
    if (!sz) return prefix(sz.error(), "event log: ");
    std::uint64_t file_size = sz.value();
    std::uint8_t hdr[f::segment_header_bytes] = {};
    bool header_ok = false;
    if (file_size >= f::segment_magic.size()) {
      auto got = seg.data->read_at(0, hdr);
      if (!got) return prefix(got.error(), "event log: ");
      if (std::memcmp(hdr, f::segment_magic_v1.data(), 8) == 0)
        return status::corruption(
            "event log: segment " + path.string() +
            " is in log format 1 (HUBLOG01), written before records were hash-chained; this hub reads formats 2 "
            "and 3 only. Keep that directory for the hub version that wrote it (its events can be read with hubctl "
            "replay from that hub) and start this hub with a new --data-dir");
      const int format = record::segment_format(hdr);
      header_ok = got.value() == f::segment_header_bytes && format != 0 && f::get_u64(hdr + 8) == base;
      if (header_ok) {
        std::memcpy(seg.prev.data(), hdr + 16, f::hash_bytes);
        seg.kind = record::hash_kind_of_format(format);
      }
    }
    if (!header_ok) {
      if (!last || file_size > f::segment_header_bytes) {
        spdlog::error("event log {}: segment {} has no valid header ({} bytes); its records are skipped",
                      dir_.string(), path.filename().string(), file_size);
        ++corrupt_skipped_;
        seg.size = f::segment_header_bytes;
        if (!last) {
          seg.data.reset();
          segments_.push_back(std::move(seg));
          return status::ok();
        }
      }
      // A segment created just before a crash: write its header again, chained to the
      // last record of the segment before.
      seg.prev = segments_.empty() ? record::hash{} : tail_hash(segments_.back());
      if (auto s = write_segment_header(*seg.data, base, seg.prev); !s) return prefix(s, "event log: ");
      file_size = f::segment_header_bytes;
    }
    if (!last && load_index(seg, file_size)) {
      seg.data.reset();  // opened again when read
      segments_.push_back(std::move(seg));
      return status::ok();
    }
    const record::hash last_hash = scan(seg, file_size);
    if (last) head_ = last_hash;  // recovery: the chain goes on from the last good record
    if (seg.size < file_size) {
      if (auto s = seg.data->truncate(seg.size); !s) return prefix(s, "event log: cannot cut the torn tail: ");
    }
    if (!last) {
      write_index(seg);
      seg.data.reset();  // opened again when read
    }
    segments_.push_back(std::move(seg));
    return status::ok();
  }

  // Reads every record of seg, rebuilding its index; sets size to the end of the
  // last good record and logs what lies beyond it. Returns the hash of the last good
  // record (the header's prev-hash if there is none).
  record::hash scan(segment& seg, std::uint64_t file_size) {
    record::hash last_hash = seg.prev;
    window_reader rd;
    std::uint64_t pos = f::segment_header_bytes;
    std::uint64_t expected = seg.base;
    std::uint64_t last_index_pos = 0;
    seg.index.clear();
    while (pos < file_size) {
      std::uint64_t max_off = expected + (file_size - pos) / f::record_header_bytes + 1;
      auto d = decode_at(rd, *seg.data, pos, file_size, expected, max_off, seg.kind);
      if (!d) {
        auto r = resync(rd, *seg.data, pos, file_size, expected, max_off, seg.kind);
        if (!r) break;
        std::uint64_t rpos = resync_pos_of(*r);
        report_corrupt(seg, pos, r->view.off.value - expected);
        expected = r->view.off.value;
        pos = rpos;
        continue;
      }
      last_hash = d->hash;
      if (seg.index.empty() || pos - last_index_pos >= opts_.index_interval_bytes) {
        seg.index.push_back(index_entry{d->view.off.value, pos, seg.max_time});
        last_index_pos = pos;
      }
      seg.max_time = std::max(seg.max_time, d->view.log_time);
      expected = d->view.off.value + 1;
      pos = d->next_pos;
    }
    seg.size = pos;
    seg.end = expected;
    if (pos < file_size) {
      // Count the frames that look complete in what is cut, for the message.
      std::uint64_t frames = 0;
      for (std::uint64_t q = pos; q + f::frame_bytes <= file_size && frames < 1000000;) {
        std::uint8_t lenb[4];
        auto got = seg.data->read_at(q, lenb);
        if (!got || got.value() < 4) break;
        std::uint32_t len = f::get_u32(lenb);
        if (len < f::body_fixed_bytes || len > f::max_body_bytes) break;
        ++frames;
        q += f::frame_bytes + len;
      }
      spdlog::warn("event log {}: segment {}: torn or corrupt tail at byte {}; cut {} bytes ({} incomplete or "
                   "corrupt record(s)); the log continues at offset {}",
                   dir_.string(), f::segment_name(seg.base), pos, file_size - pos, std::max<std::uint64_t>(frames, 1),
                   expected);
      cut_bytes_ += file_size - pos;
    }
    return last_hash;
  }

  // The hash of the last good record of a sealed segment (its header's prev-hash if it
  // has none), read from its last index entry on.
  record::hash tail_hash(const segment& seg) {
    record::hash h = seg.prev;
    auto fl = fs_.open(dir_ / f::segment_name(seg.base), open_mode::read_only);
    if (!fl) return h;
    window_reader rd;
    std::uint64_t pos = seg.index.empty() ? f::segment_header_bytes : seg.index.back().pos;
    while (pos < seg.size) {
      auto d = decode_at(rd, *fl.value(), pos, seg.size, seg.base, seg.end, seg.kind);
      if (!d) d = resync(rd, *fl.value(), pos, seg.size, seg.base, seg.end, seg.kind);
      if (!d) break;
      h = d->hash;
      pos = d->next_pos;
    }
    return h;
  }

  bool load_index(segment& seg, std::uint64_t file_size) {
    auto fl = fs_.open(dir_ / f::index_name(seg.base), open_mode::read_only);
    if (!fl) return false;
    auto sz = fl.value()->size();
    if (!sz || sz.value() < f::index_header_bytes + 4 || sz.value() > (1ull << 31)) return false;
    std::vector<std::uint8_t> buf(static_cast<std::size_t>(sz.value()));
    auto got = fl.value()->read_at(0, buf);
    if (!got || got.value() != buf.size()) return false;
    const std::uint8_t* p = buf.data();
    std::uint64_t count = f::get_u64(p + 40);
    if (std::memcmp(p, f::index_magic.data(), 8) != 0 || f::get_u64(p + 8) != seg.base ||
        f::get_u64(p + 24) != file_size || buf.size() != f::index_header_bytes + count * f::index_entry_bytes + 4 ||
        crc32c(std::span<const std::uint8_t>(p, buf.size() - 4)) != f::get_u32(p + buf.size() - 4)) {
      spdlog::warn("event log {}: index {} is missing or does not match its segment; rebuilding it", dir_.string(),
                   f::index_name(seg.base));
      return false;
    }
    seg.end = f::get_u64(p + 16);
    seg.size = file_size;
    seg.max_time = static_cast<std::int64_t>(f::get_u64(p + 32));
    seg.index.resize(static_cast<std::size_t>(count));
    for (std::size_t i = 0; i < count; ++i) {
      const std::uint8_t* e = p + f::index_header_bytes + i * f::index_entry_bytes;
      seg.index[i] = {f::get_u64(e), f::get_u64(e + 8), static_cast<std::int64_t>(f::get_u64(e + 16))};
    }
    return true;
  }

  // Best effort: an index that is missing or wrong is rebuilt at the next open.
  void write_index(const segment& seg) {
    std::vector<std::uint8_t> buf(f::index_header_bytes + seg.index.size() * f::index_entry_bytes + 4);
    std::uint8_t* p = buf.data();
    std::memcpy(p, f::index_magic.data(), 8);
    f::put_u64(p + 8, seg.base);
    f::put_u64(p + 16, seg.end);
    f::put_u64(p + 24, seg.size);
    f::put_u64(p + 32, static_cast<std::uint64_t>(seg.max_time));
    f::put_u64(p + 40, seg.index.size());
    for (std::size_t i = 0; i < seg.index.size(); ++i) {
      std::uint8_t* e = p + f::index_header_bytes + i * f::index_entry_bytes;
      f::put_u64(e, seg.index[i].off);
      f::put_u64(e + 8, seg.index[i].pos);
      f::put_u64(e + 16, static_cast<std::uint64_t>(seg.index[i].time_before));
    }
    f::put_u32(p + buf.size() - 4, crc32c(std::span<const std::uint8_t>(p, buf.size() - 4)));
    auto fl = fs_.open(dir_ / f::index_name(seg.base), open_mode::truncate);
    status s = fl ? fl.value()->write_at(0, buf) : fl.error();
    if (!s) spdlog::warn("event log {}: cannot write index: {} (it is rebuilt at the next open)", dir_.string(), s.message());
  }

  status write_segment_header(file& fl, std::uint64_t base, const record::hash& prev) {
    std::uint8_t hdr[f::segment_header_bytes];
    std::memcpy(hdr, f::segment_magic.data(), 8);
    f::put_u64(hdr + 8, base);
    std::memcpy(hdr + 16, prev.data(), prev.size());
    if (auto s = fl.truncate(0); !s) return s;
    return fl.write_at(0, hdr);
  }

  status create_segment(std::uint64_t base, const record::hash& prev) {
    const fs::path path = dir_ / f::segment_name(base);
    auto fl = fs_.open(path, open_mode::truncate);
    if (!fl) return fl.error();
    std::shared_ptr<file> sf(std::move(fl.value()));
    if (auto s = write_segment_header(*sf, base, prev); !s) {
      sf.reset();
      (void)fs_.remove(path);
      return s;
    }
    segment seg;
    seg.base = base;
    seg.end = base;
    seg.data = std::move(sf);
    seg.prev = prev;
    segments_.push_back(std::move(seg));
    return status::ok();
  }

  // Seals the active segment and starts a new one at end_.
  status roll() {
    if (auto s = create_segment(end_, head_); !s) return s;
    segment& sealed = segments_[segments_.size() - 2];
    write_index(sealed);
    total_bytes_ += f::segment_header_bytes;
    std::lock_guard lk(mu_);
    unsynced_.push_back(sealed.data);
    active_file_ = segments_.back().data;
    note_open(sealed.base);
    dir_dirty_ = true;
    return status::ok();
  }

  status load_checkpoint() {
    const fs::path path = dir_ / f::checkpoint_name;
    auto fl = fs_.open(path, open_mode::read_only);
    if (!fl) return status::ok();  // no consumer has committed yet
    auto sz = fl.value()->size();
    if (!sz) return prefix(sz.error(), "event log: ");
    std::vector<std::uint8_t> buf(static_cast<std::size_t>(std::min<std::uint64_t>(sz.value(), 64u << 20)));
    auto got = fl.value()->read_at(0, buf);
    if (!got) return prefix(got.error(), "event log: ");
    auto bad = [&](const char* why) {
      return status::corruption("event log: consumer checkpoint " + path.string() + " is corrupt (" + why +
                                "); move it away to start durable consumers from their default position");
    };
    if (buf.size() < 16 || std::memcmp(buf.data(), f::checkpoint_magic.data(), 8) != 0) return bad("bad header");
    if (crc32c(std::span<const std::uint8_t>(buf.data(), buf.size() - 4)) != f::get_u32(buf.data() + buf.size() - 4))
      return bad("bad checksum");
    std::uint32_t count = f::get_u32(buf.data() + 8);
    std::size_t at = 12;
    const std::size_t stop = buf.size() - 4;
    for (std::uint32_t i = 0; i < count; ++i) {
      if (at + 2 > stop) return bad("truncated entry");
      std::uint16_t n = f::get_u16(buf.data() + at);
      if (at + 2 + n + 8 > stop) return bad("truncated entry");
      std::string name(reinterpret_cast<const char*>(buf.data() + at + 2), n);
      consumers_[name] = offset{f::get_u64(buf.data() + at + 2 + n)};
      at += 2 + n + 8;
    }
    return status::ok();
  }

  // fdatasyncs everything appended so far; returns the end offset it covers. Sync
  // thread or the interval thread; serialised by sync_mu_, never blocks the loop for
  // longer than copying a few pointers under mu_.
  result<std::uint64_t> do_sync() {
    std::lock_guard sl(sync_mu_);
    if (sync_failed_.load()) {
      std::lock_guard lk(mu_);
      return status::io_error(sync_error_);
    }
    std::uint64_t target = 0;
    file_point at;
    bool dir = false;
    {
      std::lock_guard lk(mu_);
      target = appended_end_;
      at = appended_at_;
      if (target == synced_end_ && unsynced_.empty() && !dir_dirty_) return target;
      for (auto& fl : unsynced_) sync_files_.push_back(std::move(fl));
      unsynced_.clear();
      sync_files_.push_back(active_file_);
      dir = dir_dirty_;
      dir_dirty_ = false;
    }
    status s;
    for (auto& fl : sync_files_)
      if (s) s = fl->sync();
    sync_files_.clear();
    if (s && dir) s = fs_.sync_dir(dir_);
    if (!s) {
      std::lock_guard lk(mu_);
      sync_error_ = "event log: fsync failed: " + s.message() + "; what was written since offset " +
                    std::to_string(synced_end_) + " may not be on disk, so the log refuses new writes" +
                    (opts_.fsync == fsync_policy::batch
                         ? "; it drops those records (never acknowledged) and writes again once fsync works"
                         : "; restart the hub to recover from disk");
      sync_failed_.store(true);
      spdlog::error("{}", sync_error_);
      return status::io_error(sync_error_);
    }
    synced_end_ = target;
    synced_at_ = at;
    return target;
  }

  void interval_loop() {
    std::unique_lock lk(timer_mu_);
    while (!stop_) {
      timer_cv_.wait_for(lk, opts_.fsync_interval, [this] { return stop_; });
      if (stop_) break;
      lk.unlock();
      (void)do_sync();  // errors are logged and make the log refuse writes
      lk.lock();
    }
  }

  // A byte position in a segment: where a given end offset lies.
  struct file_point {
    std::uint64_t base = 0;                      // the segment's base offset
    std::uint64_t size = f::segment_header_bytes;  // bytes of it up to that offset
  };

  struct read_hint {
    std::uint64_t base = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t off = 0;
    std::uint64_t pos = 0;
  };

  const fs::path dir_;
  const log_options opts_;
  file_system& fs_;
  std::unique_ptr<dir_lock> lock_;

  // Loop thread only.
  std::deque<segment> segments_;
  std::uint64_t begin_ = 0;
  std::uint64_t end_ = 0;
  std::uint64_t total_bytes_ = 0;
  std::uint64_t corrupt_skipped_ = 0;
  std::uint64_t cut_bytes_ = 0;
  bool writable_ = true;
  std::string last_error_;
  std::vector<std::uint8_t> write_buf_;
  record::hash head_{};  // hash of the record at end_ - 1: the chain's head
  window_reader reader_;
  read_hint hint_;
  std::set<std::pair<std::uint64_t, std::uint64_t>> reported_;
  std::deque<std::uint64_t> open_sealed_;  // bases of sealed segments with an open descriptor, oldest first
  std::map<std::string, offset, std::less<>> consumers_;
  bool rolled_back_ = false;               // cut back after a failed fsync, not yet writable again
  std::vector<fs::path> stale_files_;      // left by discard_undurable(), removed before writing

  // Shared between the loop and the syncing thread. Lock order: sync_mu_, then mu_.
  mutable std::mutex mu_;
  std::shared_ptr<file> active_file_;                // guarded by mu_
  std::vector<std::shared_ptr<file>> unsynced_;      // rolled, not yet synced; mu_
  std::uint64_t appended_end_ = 0;                   // mu_
  file_point appended_at_;                           // where appended_end_ lies; mu_
  bool dir_dirty_ = false;                           // a new segment name to sync; mu_
  std::string sync_error_;                           // mu_
  std::atomic<bool> sync_failed_{false};
  std::atomic<std::uint64_t> durable_end_{0};

  std::mutex sync_mu_;
  std::vector<std::shared_ptr<file>> sync_files_;    // sync_mu_
  std::uint64_t synced_end_ = 0;                     // sync_mu_
  file_point synced_at_;                             // where synced_end_ lies; sync_mu_

  std::mutex timer_mu_;
  std::condition_variable timer_cv_;
  bool stop_ = false;  // timer_mu_
  std::thread interval_thread_;
};

}  // namespace

const char* fsync_policy_name(fsync_policy p) {
  switch (p) {
    case fsync_policy::batch: return "batch";
    case fsync_policy::interval: return "interval";
    case fsync_policy::never: return "never";
  }
  return "unknown";
}

std::optional<fsync_policy> fsync_policy_from_name(std::string_view name) {
  if (name == "batch") return fsync_policy::batch;
  if (name == "interval") return fsync_policy::interval;
  if (name == "never") return fsync_policy::never;
  return std::nullopt;
}

result<std::unique_ptr<store::store>> open_log(const std::filesystem::path& dir, const log_options& opts,
                                              file_system* fsys) {
  if (dir.empty()) return status::invalid_argument("event log: the data directory is empty; pass --data-dir");
  if (opts.segment_bytes < 4096)
    return status::invalid_argument("event log: segment_bytes must be at least 4096, got " +
                                    std::to_string(opts.segment_bytes));
  if (opts.fsync == fsync_policy::interval && opts.fsync_interval.count() <= 0)
    return status::invalid_argument("event log: fsync interval must be positive for fsync=interval");
  auto log = std::make_unique<event_log>(dir, opts, fsys != nullptr ? *fsys : default_file_system());
  if (auto s = log->open(); !s) return s;
  return std::unique_ptr<store::store>(std::move(log));
}

}  // namespace hub::log

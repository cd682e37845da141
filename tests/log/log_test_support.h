// Helpers for the event log tests: records with recognisable contents, reading a
// whole log back, a file system that fails on purpose, and capturing log lines.
#pragma once

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "hub/log/file_system.h"
#include "hub/log/log.h"
#include "hub/store/store.h"

namespace hub::log::test {

// Owns the bytes of a batch of records so that append_record views stay valid.
struct batch_data {
  std::vector<std::string> topics;
  std::vector<std::vector<std::uint8_t>> envelopes;
  std::vector<store::append_record> records;
};

// Record number n: id {n+1, n}, log_time = time_base + n * 10, envelope of `size`
// bytes derived from n, topic "peacekeeping.SSD.mandate_activity".
inline std::vector<std::uint8_t> envelope_for(std::uint64_t n, std::size_t size) {
  std::vector<std::uint8_t> e(size);
  for (std::size_t i = 0; i < size; ++i) e[i] = static_cast<std::uint8_t>((n * 31 + i * 7) & 0xFF);
  return e;
}

inline batch_data make_batch(std::uint64_t first, std::size_t count, std::size_t size = 100,
                             millis time_base = 1'700'000'000'000) {
  batch_data b;
  b.topics.reserve(count);
  b.envelopes.reserve(count);
  for (std::uint64_t n = first; n < first + count; ++n) {
    b.topics.push_back(n % 2 == 0 ? "peacekeeping.SSD.mandate_activity" : "development.SSD.programme_activity");
    b.envelopes.push_back(envelope_for(n, size));
  }
  for (std::size_t i = 0; i < count; ++i) {
    std::uint64_t n = first + i;
    b.records.push_back(store::append_record{time_base + static_cast<millis>(n) * 10,
                                             schema::Id128(n + 1, n), b.topics[i], b.envelopes[i]});
  }
  return b;
}

// Appends records [first, first+count) in batches of batch_size; false on any error.
inline bool append_range(store::store& s, std::uint64_t first, std::size_t count, std::size_t batch_size = 10,
                         std::size_t size = 100) {
  for (std::size_t done = 0; done < count;) {
    std::size_t n = std::min(batch_size, count - done);
    auto b = make_batch(first + done, n, size);
    if (!s.append(b.records)) return false;
    done += n;
  }
  return true;
}

struct read_record {
  std::uint64_t off = 0;
  millis log_time = 0;
  std::uint64_t id_hi = 0;
  std::uint64_t id_lo = 0;
  std::string topic;
  std::vector<std::uint8_t> envelope;
};

inline std::vector<read_record> read_all(store::store& s, std::uint64_t from = 0) {
  std::vector<read_record> out;
  auto r = s.read(offset{from}, s.end(), static_cast<std::size_t>(-1), [&](const store::record_view& v) {
    out.push_back({v.off.value, v.log_time, v.id.hi(), v.id.lo(), std::string(v.topic),
                   std::vector<std::uint8_t>(v.envelope.begin(), v.envelope.end())});
    return true;
  });
  (void)r;
  return out;
}

// True if rec is record number n as made by make_batch (with envelope size `size`).
inline bool is_record(const read_record& rec, std::uint64_t n, std::size_t size = 100) {
  return rec.id_hi == n + 1 && rec.id_lo == n && rec.envelope == envelope_for(n, size) &&
         rec.log_time == 1'700'000'000'000 + static_cast<millis>(n) * 10 &&
         rec.topic == (n % 2 == 0 ? "peacekeeping.SSD.mandate_activity" : "development.SSD.programme_activity");
}

// A file system that passes everything to the real one, except what a test arms:
// every write from number fail_write_from on fails with "no space" (after writing
// half of its bytes when partial is set), fsync fails when fail_sync is set, the
// lock fails with "permission denied" when deny_lock is set, and between hold_syncs()
// and release_syncs() every file fsync waits (then fails or not, by fail_sync).
class faulty_file_system final : public file_system {
 public:
  std::atomic<int> writes{0};
  std::atomic<int> fail_write_from{-1};
  std::atomic<bool> partial{false};
  std::atomic<bool> fail_sync{false};
  std::atomic<int> syncs{0};
  std::atomic<bool> deny_lock{false};

  void hold_syncs() {
    std::lock_guard lk(gate_mu_);
    held_ = true;
  }
  void release_syncs() {
    {
      std::lock_guard lk(gate_mu_);
      held_ = false;
    }
    gate_cv_.notify_all();
  }
  // File fsyncs waiting at the gate now.
  int syncs_waiting() {
    std::lock_guard lk(gate_mu_);
    return waiting_;
  }

  result<std::unique_ptr<file>> open(const std::filesystem::path& p, open_mode mode) override {
    auto f = real().open(p, mode);
    if (!f) return f.error();
    return std::unique_ptr<file>(std::make_unique<faulty_file>(*this, std::move(f.value())));
  }
  status rename(const std::filesystem::path& a, const std::filesystem::path& b) override { return real().rename(a, b); }
  status remove(const std::filesystem::path& p) override { return real().remove(p); }
  status sync_dir(const std::filesystem::path& d) override {
    if (fail_sync.load()) return status::io_error(d.string() + ": directory fsync failed: Input/output error (injected)");
    return real().sync_dir(d);
  }
  status create_dirs(const std::filesystem::path& d) override { return real().create_dirs(d); }
  result<std::vector<std::string>> list(const std::filesystem::path& d) override { return real().list(d); }
  result<std::unique_ptr<dir_lock>> lock(const std::filesystem::path& p) override {
    if (deny_lock.load()) return status::io_error(p.string() + ": cannot open lock file: Permission denied (injected)");
    return real().lock(p);
  }

 private:
  static file_system& real() { return default_file_system(); }

  void wait_at_gate() {
    std::unique_lock lk(gate_mu_);
    ++waiting_;
    gate_cv_.wait(lk, [this] { return !held_; });
    --waiting_;
  }

  std::mutex gate_mu_;
  std::condition_variable gate_cv_;
  bool held_ = false;
  int waiting_ = 0;

  class faulty_file final : public file {
   public:
    faulty_file(faulty_file_system& owner, std::unique_ptr<file> f) : owner_(owner), f_(std::move(f)) {}
    status write_at(std::uint64_t pos, std::span<const std::uint8_t> data) override {
      int n = owner_.writes.fetch_add(1);
      int from = owner_.fail_write_from.load();
      if (from >= 0 && n >= from) {
        if (owner_.partial.load() && data.size() > 1) (void)f_->write_at(pos, data.first(data.size() / 2));
        return status::no_space("write at byte " + std::to_string(pos) + " failed: No space left on device (injected)");
      }
      return f_->write_at(pos, data);
    }
    result<std::size_t> read_at(std::uint64_t pos, std::span<std::uint8_t> out) const override {
      return f_->read_at(pos, out);
    }
    status sync() override {
      owner_.wait_at_gate();
      owner_.syncs.fetch_add(1);
      if (owner_.fail_sync.load()) return status::io_error("fdatasync failed: Input/output error (injected)");
      return f_->sync();
    }
    status truncate(std::uint64_t size) override { return f_->truncate(size); }
    result<std::uint64_t> size() const override { return f_->size(); }

   private:
    faulty_file_system& owner_;
    std::unique_ptr<file> f_;
  };
};

// Captures what the code logs through spdlog's default logger while it lives.
class log_capture {
 public:
  log_capture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  }
  ~log_capture() { spdlog::set_default_logger(previous_); }
  log_capture(const log_capture&) = delete;
  log_capture& operator=(const log_capture&) = delete;
  [[nodiscard]] std::string text() const { return out_.str(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream out_;
};

inline std::unique_ptr<store::store> open_or_fail(const std::filesystem::path& dir, const log_options& o = {},
                                                  file_system* fs = nullptr) {
  auto r = open_log(dir, o, fs);
  if (!r) throw std::runtime_error(r.error().message());
  return std::move(r.value());
}

inline std::vector<std::filesystem::path> segment_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".log") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace hub::log::test

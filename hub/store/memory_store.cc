#include "hub/store/memory_store.h"

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

namespace hub::store {
namespace {

class memory_store final : public store {
 public:
  explicit memory_store(memory_store_options opts) : opts_(opts) {}

  status append(std::span<const append_record> batch) override {
    for (const auto& r : batch) {
      entry e;
      e.log_time = r.log_time;
      e.id = r.id;
      e.topic.assign(r.topic);
      e.envelope.assign(r.envelope.begin(), r.envelope.end());
      e.signature.assign(r.signature.begin(), r.signature.end());
      bytes_ += e.envelope.size();
      entries_.push_back(std::move(e));
    }
    end_ += batch.size();
    durable_end_.store(end_, std::memory_order_release);
    trim();
    return status::ok();
  }

  status sync() override { return status::ok(); }
  bool needs_sync() const override { return false; }
  offset durable_end() const override { return offset{durable_end_.load(std::memory_order_acquire)}; }
  offset begin() const override { return offset{end_ - entries_.size()}; }
  offset end() const override { return offset{end_}; }

  result<offset> read(offset from, offset limit, std::size_t max_records,
                      const record_visitor& visit) override {
    std::uint64_t o = std::max(from.value, begin().value);
    std::uint64_t stop = std::min(limit.value, end_);
    std::size_t n = 0;
    while (o < stop && n < max_records) {
      const entry& e = entries_[o - begin().value];
      record_view v{offset{o}, e.log_time, e.id, e.topic, e.envelope, e.signature};
      ++o;
      ++n;
      if (!visit(v)) break;
    }
    return offset{o};
  }

  offset offset_at_time(millis t) override {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), t,
                               [](const entry& e, millis x) { return e.log_time < x; });
    return offset{begin().value + static_cast<std::uint64_t>(it - entries_.begin())};
  }

  status commit_consumer(std::string_view name, offset next) override {
    consumers_[std::string(name)] = next;
    return status::ok();
  }
  std::optional<offset> consumer_offset(std::string_view name) const override {
    auto it = consumers_.find(std::string(name));
    if (it == consumers_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<std::pair<std::string, offset>> consumers() const override {
    return {consumers_.begin(), consumers_.end()};
  }
  status remove_consumer(std::string_view name) override {
    if (consumers_.erase(std::string(name)) == 0)
      return status::not_found("no durable consumer named '" + std::string(name) + "'");
    return status::ok();
  }

  void enforce_retention(millis) override { trim(); }

  store_stats stats() const override {
    store_stats s;
    s.records = entries_.size();
    s.bytes = bytes_;
    return s;
  }

 private:
  struct entry {
    millis log_time = 0;
    schema::Id128 id;
    std::string topic;
    std::vector<std::uint8_t> envelope;
    std::vector<std::uint8_t> signature;
  };

  void trim() {
    while (!entries_.empty() &&
           ((opts_.max_records != 0 && entries_.size() > opts_.max_records) ||
            (opts_.max_bytes != 0 && bytes_ > opts_.max_bytes))) {
      bytes_ -= entries_.front().envelope.size();
      entries_.pop_front();
    }
  }

  memory_store_options opts_;
  std::deque<entry> entries_;
  std::uint64_t end_ = 0;
  std::atomic<std::uint64_t> durable_end_{0};
  std::uint64_t bytes_ = 0;
  std::map<std::string, offset, std::less<>> consumers_;
};

}  // namespace

std::unique_ptr<store> make_memory_store(memory_store_options opts) {
  return std::make_unique<memory_store>(opts);
}

}  // namespace hub::store

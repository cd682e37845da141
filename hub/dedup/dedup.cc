#include "hub/dedup/dedup.h"

namespace hub::dedup {

dedup_window::dedup_window(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {
  map_.reserve(capacity_);
  ring_.reserve(capacity_);
}

std::optional<offset> dedup_window::find(const schema::Id128& id) const {
  auto it = map_.find(key{id.hi(), id.lo()});
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

void dedup_window::insert(const schema::Id128& id, offset off) {
  key k{id.hi(), id.lo()};
  auto [it, inserted] = map_.try_emplace(k, off);
  if (!inserted) {
    it->second = off;
    return;
  }
  if (ring_.size() < capacity_) {
    ring_.push_back(k);
    return;
  }
  // Evict the oldest id, unless it was erased or re-inserted meanwhile.
  map_.erase(ring_[next_]);
  ring_[next_] = k;
  next_ = (next_ + 1) % capacity_;
}

void dedup_window::erase(const schema::Id128& id) {
  // The ring keeps the stale key; eviction of a missing key is harmless.
  map_.erase(key{id.hi(), id.lo()});
}

void dedup_window::erase_from(offset from) {
  std::erase_if(map_, [from](const auto& kv) { return kv.second >= from; });
}

}  // namespace hub::dedup

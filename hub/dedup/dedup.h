// The dedup window: the last N event ids the hub stored, with their offsets, so that a
// publisher resending after a timeout or a restart creates no duplicate. Fixed memory
// (N ids), O(1) per lookup and insert, no allocation per event once full. Loop thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "hub/common/types.h"
#include "schemas/events_generated.h"

namespace hub::dedup {

class dedup_window {
 public:
  explicit dedup_window(std::size_t capacity);
  // The offset stored for id, if it is within the window.
  [[nodiscard]] std::optional<offset> find(const schema::Id128& id) const;
  // Remembers id at off, forgetting the oldest id when full.
  void insert(const schema::Id128& id, offset off);
  // Forgets id (used when an append failed after the id was reserved).
  void erase(const schema::Id128& id);
  // Forgets every id stored at offset `from` or later (records the store dropped after
  // a failed sync). Walks the whole window: for that rare fault only.
  void erase_from(offset from);
  [[nodiscard]] std::size_t size() const { return map_.size(); }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }

 private:
  struct key {
    std::uint64_t hi, lo;
    bool operator==(const key&) const = default;
  };
  struct key_hash {
    std::size_t operator()(const key& k) const noexcept {
      // Ids are random or hashed already; mix both halves.
      return static_cast<std::size_t>(k.lo ^ (k.hi * 0x9e3779b97f4a7c15ull));
    }
  };
  std::size_t capacity_;
  std::unordered_map<key, offset, key_hash> map_;
  std::vector<key> ring_;   // insertion order, for eviction
  std::size_t next_ = 0;    // next ring slot to overwrite
};

}  // namespace hub::dedup

// The dedup window: the last N event ids the hub stored, with their offsets, so that a
// publisher resending after a timeout or a restart creates no duplicate. Loop thread only.
//
// Every PUB looks its id up and almost every one is new, so the table is built for a
// miss: one flat, open-addressed array (linear probing, at most half full, so a miss
// reads about two slots of one cache line), no node per id and no allocation per event.
// Memory: 24 bytes per slot plus a ring of the N newest ids in insertion order (24 bytes
// each), which says which id to forget when the window is full. The table starts at
// 64 Ki slots and doubles as ids arrive, up to 2N..4N slots, so a hub's memory grows
// with the ids it has seen, not with the window it may fill one day. Each table is
// committed whole when made (huge pages where allowed), so lookups never fault.
// Clients choose ids, so the slot of an id comes from a hash keyed with a random seed per
// process: nobody can prepare ids that pile up in one run of slots.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "hub/common/types.h"
#include "schemas/events_generated.h"

namespace hub::dedup {

class dedup_window {
 public:
  explicit dedup_window(std::size_t capacity);
  // The offset stored for id, if it is within the window.
  [[nodiscard]] std::optional<offset> find(const schema::Id128& id) const;
  // Remembers id at off (a known id takes the new offset), forgetting the oldest id
  // when the window is full.
  void insert(const schema::Id128& id, offset off);
  // Starts loading the cache line find(id) will read first.
  void prefetch(const schema::Id128& id) const { __builtin_prefetch(&slots_[home(id.hi(), id.lo())]); }
  // Forgets id (used when an append failed after the id was reserved).
  void erase(const schema::Id128& id);
  // Forgets every id stored at offset `from` or later (records the store dropped after
  // a failed sync). Walks the whole table: for that rare fault only.
  void erase_from(offset from);
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }

 private:
  // An id and its offset + 1; 0 marks a free slot, so that fresh zero pages from the
  // kernel are an empty table.
  struct entry {
    std::uint64_t hi = 0, lo = 0, off1 = 0;
  };
  struct unmap {
    std::size_t bytes;
    void operator()(entry* p) const;
  };

  void allocate(std::size_t slots);  // an empty table of this many slots (a power of two)
  void grow();                        // doubles the table, keeping every entry
  [[nodiscard]] std::size_t home(std::uint64_t hi, std::uint64_t lo) const;
  [[nodiscard]] std::size_t slot_of(std::uint64_t hi, std::uint64_t lo) const;  // the id's slot or a free one
  void erase_slot(std::size_t i);

  // 1.5 MiB: a hub that has just started does not rehash on the loop thread every few
  // thousand events.
  static constexpr std::size_t initial_slots = std::size_t{1} << 16;

  std::size_t capacity_;
  std::size_t mask_ = 0;      // slots - 1 (slots is a power of two)
  std::size_t max_slots_;     // the size the table grows to: at most half full when the window is
  std::uint64_t seed_[2];     // keys the slot hash
  std::unique_ptr<entry[], unmap> slots_;  // an anonymous mapping of zero pages
  std::size_t size_ = 0;
  // Insertion order: each id with the offset it had when inserted. When the window is
  // full, the oldest ring entry is forgotten only if the table still holds that id with
  // that offset (an id erased, or inserted again later, is left alone).
  std::vector<entry> ring_;
  std::size_t next_ = 0;  // next ring slot to overwrite once full
};

}  // namespace hub::dedup

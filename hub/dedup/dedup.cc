#include "hub/dedup/dedup.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <new>

#include <sodium.h>

namespace hub::dedup {

namespace {

// 64x64 -> 128-bit multiply, folded: the mixer of wyhash-like hashes. With secret seeds,
// ids that a client picks do not land in predictable slots.
std::uint64_t fold_mul(std::uint64_t a, std::uint64_t b) {
  __extension__ using u128 = unsigned __int128;
  const auto p = static_cast<u128>(a) * b;
  return static_cast<std::uint64_t>(p) ^ static_cast<std::uint64_t>(p >> 64);
}

constexpr std::size_t huge_page = std::size_t{2} << 20;
#ifdef MADV_POPULATE_WRITE
constexpr int populate_write = MADV_POPULATE_WRITE;
#else
constexpr int populate_write = 23;  // Linux 5.14; older kernels refuse it with EINVAL
#endif

}  // namespace

void dedup_window::unmap::operator()(entry* p) const { ::munmap(p, bytes); }

dedup_window::dedup_window(std::size_t capacity)
    : capacity_(capacity == 0 ? 1 : capacity), max_slots_(std::bit_ceil(capacity_ * 2)) {
  allocate(std::min<std::size_t>(max_slots_, initial_slots));
  if (sodium_init() < 0) {
    seed_[0] = 0x9e3779b97f4a7c15ull;  // randombytes is unavailable; still a good spread
    seed_[1] = 0xc2b2ae3d27d4eb4full;
  } else {
    randombytes_buf(seed_, sizeof seed_);
  }
}

void dedup_window::allocate(std::size_t slots) {
  // Every PUB probes a random slot, so once the table holds a few ids per page every
  // page is in use: it is committed whole when it is made (MADV_POPULATE_WRITE), in huge
  // pages where the kernel allows. Touching fresh zero pages one lookup at a time cost
  // two faults a page (a read maps the zero page, the write copies it) on the loop
  // thread, and 4 KiB pages a TLB miss on most probes (docs/benchmarks.md). The table
  // still grows with the ids seen, never past twice the ids held.
  const std::size_t bytes = slots * sizeof(entry);
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  slots_ = std::unique_ptr<entry[], unmap>(static_cast<entry*>(p), unmap{bytes});
  mask_ = slots - 1;
  if (bytes >= huge_page) ::madvise(p, bytes, MADV_HUGEPAGE);  // a hint: refused is fine
  if (::madvise(p, bytes, populate_write) != 0) {
    // Kernels before 5.14: touch each page once, so that lookups do not fault.
    auto* b = static_cast<volatile char*>(p);
    for (std::size_t i = 0; i < bytes; i += 4096) b[i] = 0;
  }
}

void dedup_window::grow() {
  const std::size_t old_slots = mask_ + 1;
  auto old = std::move(slots_);
  allocate(old_slots * 2);
  // Every entry lands on a random slot of the new table: load the slot of the entry a
  // few places ahead while this one is placed, so that the misses overlap.
  constexpr std::size_t ahead = 8;
  for (std::size_t j = 0; j < old_slots; ++j) {
    if (j + ahead < old_slots && old[j + ahead].off1 != 0)
      __builtin_prefetch(&slots_[home(old[j + ahead].hi, old[j + ahead].lo)], 1);
    if (old[j].off1 != 0) slots_[slot_of(old[j].hi, old[j].lo)] = old[j];
  }
}

std::size_t dedup_window::home(std::uint64_t hi, std::uint64_t lo) const {
  return static_cast<std::size_t>(fold_mul(hi ^ seed_[0], lo ^ seed_[1])) & mask_;
}

std::size_t dedup_window::slot_of(std::uint64_t hi, std::uint64_t lo) const {
  std::size_t i = home(hi, lo);
  while (slots_[i].off1 != 0 && (slots_[i].hi != hi || slots_[i].lo != lo)) i = (i + 1) & mask_;
  return i;
}

std::optional<offset> dedup_window::find(const schema::Id128& id) const {
  const entry& e = slots_[slot_of(id.hi(), id.lo())];
  if (e.off1 == 0) return std::nullopt;
  return offset{e.off1 - 1};
}

void dedup_window::insert(const schema::Id128& id, offset off) {
  const entry k{id.hi(), id.lo(), off.value + 1};
  if (ring_.size() == capacity_) {
    // Full: forget the oldest id first, unless it was erased or inserted again since.
    const entry& old = ring_[next_];
    const std::size_t i = slot_of(old.hi, old.lo);
    if (slots_[i].off1 == old.off1) erase_slot(i);
    ring_[next_] = k;
    next_ = (next_ + 1) % capacity_;
    // The id to forget next is a cache miss of its own: start loading its slot now.
    const entry& soon = ring_[(next_ + 8) % capacity_];
    __builtin_prefetch(&slots_[home(soon.hi, soon.lo)]);
  } else {
    ring_.push_back(k);
  }
  // Kept at most half full: a miss (the common case) then probes about two slots.
  if ((size_ + 1) * 2 > mask_ + 1 && mask_ + 1 < max_slots_) grow();
  const std::size_t i = slot_of(k.hi, k.lo);
  if (slots_[i].off1 == 0) ++size_;
  slots_[i] = k;
}

void dedup_window::erase(const schema::Id128& id) {
  const std::size_t i = slot_of(id.hi(), id.lo());
  if (slots_[i].off1 != 0) erase_slot(i);
}

void dedup_window::erase_from(offset from) {
  std::vector<entry> doomed;
  for (std::size_t j = 0; j <= mask_; ++j)
    if (slots_[j].off1 != 0 && slots_[j].off1 - 1 >= from.value) doomed.push_back(slots_[j]);
  for (const entry& e : doomed) erase_slot(slot_of(e.hi, e.lo));
}

// Backward-shift deletion: moves later entries of the probe run into the hole when their
// home is at or before it, so lookups never need tombstones.
void dedup_window::erase_slot(std::size_t i) {
  --size_;
  std::size_t j = i;
  for (;;) {
    j = (j + 1) & mask_;
    if (slots_[j].off1 == 0) break;
    const std::size_t h = home(slots_[j].hi, slots_[j].lo);
    // Entry j may move to i when i lies cyclically in [h, j).
    if (((j - h) & mask_) >= ((j - i) & mask_)) {
      slots_[i] = slots_[j];
      i = j;
    }
  }
  slots_[i].off1 = 0;
}

}  // namespace hub::dedup
